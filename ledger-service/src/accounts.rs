//! Who may use the service: admin and auditor tokens for HTTP, and the
//! publishing systems that submit over NATS, each with its role. Tokens are
//! kept as BLAKE3 hashes only. Without an accounts file (development) every
//! caller acts as a city admin; `serve` says so loudly.

use std::collections::HashMap;
use std::path::Path;

use ledger_core::rights::Role;
use ledger_core::values::{ActorId, Digest};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccountsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid accounts file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenAccount {
    /// BLAKE3 of the bearer token, hex.
    pub token_blake3: Digest,
    pub actor: ActorId,
    #[serde(flatten)]
    pub role: Role,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemAccount {
    pub system: ActorId,
    #[serde(flatten)]
    pub role: Role,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    #[serde(default)]
    pub tokens: Vec<TokenAccount>,
    #[serde(default)]
    pub systems: Vec<SystemAccount>,
}

/// A caller, once recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub actor: ActorId,
    pub role: Role,
}

#[derive(Clone, Debug, Default)]
pub struct Accounts {
    open: bool,
    tokens: HashMap<Digest, Principal>,
    systems: HashMap<ActorId, Role>,
}

impl Accounts {
    /// Development only: everyone is a city admin, every token is accepted.
    pub fn open() -> Accounts {
        Accounts {
            open: true,
            ..Accounts::default()
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn from_file(path: &Path) -> Result<Accounts, AccountsError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccountsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file: AccountsFile =
            serde_json::from_str(&text).map_err(|source| AccountsError::Parse {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Accounts::from(file))
    }

    /// The principal a bearer token stands for.
    pub fn by_token(&self, token: &str) -> Option<Principal> {
        if self.open {
            return ActorId::new("developer").ok().map(|actor| Principal {
                actor,
                role: Role::CityAdmin,
            });
        }
        self.tokens.get(&Digest::of(token.as_bytes())).cloned()
    }

    /// The role of a publishing system submitting over NATS.
    pub fn system_role(&self, system: &ActorId) -> Option<Role> {
        if self.open {
            return Some(Role::CityAdmin);
        }
        self.systems.get(system).cloned()
    }
}

impl From<AccountsFile> for Accounts {
    fn from(file: AccountsFile) -> Accounts {
        Accounts {
            open: false,
            tokens: file
                .tokens
                .into_iter()
                .map(|t| {
                    (
                        t.token_blake3,
                        Principal {
                            actor: t.actor,
                            role: t.role,
                        },
                    )
                })
                .collect(),
            systems: file
                .systems
                .into_iter()
                .map(|s| (s.system, s.role))
                .collect(),
        }
    }
}
