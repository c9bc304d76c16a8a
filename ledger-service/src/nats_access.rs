//! How the service and the auditor's commands sign in to NATS: the
//! servers' URLs and, on a production cluster, TLS and a credential (a
//! creds file from an operator's accounts, or an NKEY seed).
//!
//! Every file named is read and checked before connecting, so that a wrong
//! path or a file of the wrong kind is named as such rather than reported
//! as a connection that failed for some other reason.

use std::path::{Path, PathBuf};

use async_nats::{Client, ConnectOptions, ServerAddr};
use thiserror::Error;

/// Where NATS is and how to sign in to it.
#[derive(Clone, Debug, Default)]
pub struct NatsAccess {
    /// Server URLs, comma-separated. A URL may carry `user:password@`.
    pub urls: String,
    /// A creds file: a user JWT and its NKEY seed (operator mode).
    pub creds: Option<PathBuf>,
    /// A file holding a user's NKEY seed (`SU…`).
    pub nkey_seed: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the servers' TLS certificates.
    pub tls_ca: Option<PathBuf>,
    /// This client's certificate and its private key (PEM), for servers
    /// that verify their clients.
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Error)]
pub enum AccessError {
    #[error("no NATS URL given")]
    NoUrl,
    #[error("NATS URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("a creds file and an NKEY seed both given: sign in with one")]
    TwoCredentials,
    #[error("reading the NATS {what} {path}: {source}")]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the NATS {what} {path} is not {expected}")]
    Malformed {
        what: &'static str,
        path: PathBuf,
        expected: String,
    },
    #[error("connecting to NATS at {urls}: {source}")]
    Connect {
        urls: String,
        source: async_nats::ConnectError,
    },
}

impl NatsAccess {
    /// Plain access: URLs alone (tests, a local server).
    pub fn urls(urls: impl Into<String>) -> NatsAccess {
        NatsAccess {
            urls: urls.into(),
            ..NatsAccess::default()
        }
    }

    /// Connects, under `name` as the servers list the connection.
    pub async fn connect(&self, name: &str) -> Result<Client, AccessError> {
        let servers = self.servers()?;
        self.options()?
            .name(name)
            .connect(servers.as_slice())
            .await
            .map_err(|source| AccessError::Connect {
                urls: self.urls.clone(),
                source,
            })
    }

    fn servers(&self) -> Result<Vec<ServerAddr>, AccessError> {
        let servers = self
            .urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| {
                url.parse::<ServerAddr>().map_err(|e| AccessError::BadUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(AccessError::NoUrl);
        }
        Ok(servers)
    }

    /// The connection's options, every file read and checked.
    fn options(&self) -> Result<ConnectOptions, AccessError> {
        let mut options = match (&self.creds, &self.nkey_seed) {
            (Some(_), Some(_)) => return Err(AccessError::TwoCredentials),
            (Some(path), None) => with_creds(path)?,
            (None, Some(path)) => ConnectOptions::new().nkey(read_seed(path)?),
            (None, None) => ConnectOptions::new(),
        };
        if let Some(ca) = &self.tls_ca {
            expect_pem(ca, "CA file", "CERTIFICATE")?;
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_client {
            expect_pem(cert, "client certificate", "CERTIFICATE")?;
            expect_pem(key, "client key", "PRIVATE KEY")?;
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

fn read(path: &Path, what: &'static str) -> Result<String, AccessError> {
    std::fs::read_to_string(path).map_err(|source| AccessError::Unreadable {
        what,
        path: path.to_owned(),
        source,
    })
}

fn with_creds(path: &Path) -> Result<ConnectOptions, AccessError> {
    let contents = read(path, "creds file")?;
    ConnectOptions::with_credentials(&contents).map_err(|e| AccessError::Malformed {
        what: "creds file",
        path: path.to_owned(),
        expected: format!("a user JWT and its NKEY seed ({e})"),
    })
}

fn read_seed(path: &Path) -> Result<String, AccessError> {
    let seed = read(path, "NKEY seed file")?.trim().to_owned();
    // A user's seed; an account's or operator's would sign in as nobody.
    match nkeys::KeyPair::from_seed(&seed) {
        Ok(pair) if pair.key_pair_type() == nkeys::KeyPairType::User => Ok(seed),
        _ => Err(AccessError::Malformed {
            what: "NKEY seed file",
            path: path.to_owned(),
            expected: "one user's NKEY seed (SU…)".into(),
        }),
    }
}

fn expect_pem(path: &Path, what: &'static str, label: &str) -> Result<(), AccessError> {
    let text = read(path, what)?;
    if text.contains(&format!("-----BEGIN {label}")) || text.contains(&format!(" {label}-----")) {
        Ok(())
    } else {
        Err(AccessError::Malformed {
            what,
            path: path.to_owned(),
            expected: format!("PEM holding a {}", label.to_lowercase()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file written");
        path
    }

    #[test]
    fn urls_are_split_on_commas_and_none_at_all_is_refused() {
        let access = NatsAccess::urls("nats://a:4222, nats://b:4222,");
        assert_eq!(access.servers().expect("two URLs").len(), 2);
        assert!(matches!(
            NatsAccess::urls(" , ").servers(),
            Err(AccessError::NoUrl)
        ));
        assert!(matches!(
            NatsAccess::urls("nats://a:notaport").servers(),
            Err(AccessError::BadUrl { url, .. }) if url == "nats://a:notaport"
        ));
    }

    #[test]
    fn a_missing_file_is_named_before_any_connection() {
        let access = NatsAccess {
            creds: Some("/nonexistent/ledger.creds".into()),
            ..NatsAccess::urls("nats://127.0.0.1:4222")
        };
        match access.options() {
            Err(AccessError::Unreadable { what, path, .. }) => {
                assert_eq!(what, "creds file");
                assert_eq!(path, Path::new("/nonexistent/ledger.creds"));
            }
            other => panic!("expected the creds file named, got {other:?}"),
        }
    }

    #[test]
    fn files_of_the_wrong_kind_are_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        let text = file(&dir, "notes.txt", "not a key\n");
        let account_seed = nkeys::KeyPair::new_account()
            .seed()
            .expect("an account seed");
        let account = file(&dir, "account.nk", &account_seed);
        for access in [
            NatsAccess {
                creds: Some(text.clone()),
                ..NatsAccess::default()
            },
            NatsAccess {
                nkey_seed: Some(text.clone()),
                ..NatsAccess::default()
            },
            NatsAccess {
                nkey_seed: Some(account),
                ..NatsAccess::default()
            },
            NatsAccess {
                tls_ca: Some(text.clone()),
                ..NatsAccess::default()
            },
        ] {
            assert!(
                matches!(access.options(), Err(AccessError::Malformed { .. })),
                "{access:?} was taken"
            );
        }
    }

    #[test]
    fn a_user_seed_is_taken_and_two_credentials_are_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        let seed = nkeys::KeyPair::new_user().seed().expect("a user seed");
        let seed = file(&dir, "user.nk", &format!("{seed}\n"));
        let access = NatsAccess {
            nkey_seed: Some(seed.clone()),
            ..NatsAccess::default()
        };
        assert!(access.options().is_ok());
        let both = NatsAccess {
            creds: Some(seed),
            ..access
        };
        assert!(matches!(both.options(), Err(AccessError::TwoCredentials)));
    }
}
