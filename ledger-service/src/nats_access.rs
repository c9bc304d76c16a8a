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
    /// The first token of this client's reply subjects (NATS's own is
    /// `_INBOX`): see [`NatsAccess::inbox_for`].
    pub inbox_prefix: Option<String>,
}

/// The reply prefix of the ledger's own connections for `shard`, which
/// only the service's NATS user may subscribe to.
pub fn ledger_inbox_prefix(shard: &str) -> String {
    format!("_INBOX_ledger_{shard}")
}

/// A user name and password from the URLs, decoded.
type UserPassword = (String, String);

#[derive(Debug, Error)]
pub enum AccessError {
    #[error("no NATS URL given")]
    NoUrl,
    #[error("NATS URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("more than one way to sign in given (a creds file, an NKEY seed, a user in the URLs): sign in with one")]
    TwoCredentials,
    #[error("the NATS URLs name different users: {0}")]
    MixedUsers(String),
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

    /// These settings, with the ledger's own reply prefix for `shard`
    /// unless one was given. Replies carry everything the service reads —
    /// blocks, lease, rejections, personal records and their keys — and a
    /// user allowed `_INBOX.>`, as every requester must be under NATS's
    /// default prefix, would receive them all: under a prefix of its own,
    /// only a user granted it does.
    pub fn inbox_for(mut self, shard: &str) -> NatsAccess {
        if self.inbox_prefix.is_none() {
            self.inbox_prefix = Some(ledger_inbox_prefix(shard));
        }
        self
    }

    /// Connects, under `name` as the servers list the connection.
    pub async fn connect(&self, name: &str) -> Result<Client, AccessError> {
        let (servers, user) = self.servers()?;
        self.options(user)?
            .name(name)
            .event_callback(|event| async move { log_refusal(event) })
            .connect(servers.as_slice())
            .await
            .map_err(|source| AccessError::Connect {
                urls: redacted(&self.urls),
                source,
            })
    }

    /// The servers, without the user and password a URL may carry (the
    /// client would not send them, and logs would show them), and that
    /// user and password, the same in every URL that names one.
    fn servers(&self) -> Result<(Vec<ServerAddr>, Option<UserPassword>), AccessError> {
        let mut servers = Vec::new();
        let mut user = None;
        for url in self
            .urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            let bad = |e: &dyn std::fmt::Display| AccessError::BadUrl {
                url: redacted(url),
                reason: e.to_string(),
            };
            let addr = url.parse::<ServerAddr>().map_err(|e| bad(&e))?;
            if let Some(name) = addr.username() {
                let named = (
                    percent_decoded(name).map_err(|e| bad(&e))?,
                    percent_decoded(addr.password().unwrap_or_default()).map_err(|e| bad(&e))?,
                );
                match &user {
                    Some(before) if *before != named => {
                        return Err(AccessError::MixedUsers(redacted(&self.urls)))
                    }
                    _ => user = Some(named),
                }
            }
            let plain = without_user(url);
            servers.push(plain.parse::<ServerAddr>().map_err(|e| bad(&e))?);
        }
        if servers.is_empty() {
            return Err(AccessError::NoUrl);
        }
        Ok((servers, user))
    }

    /// The connection's options, every file read and checked.
    fn options(&self, user: Option<UserPassword>) -> Result<ConnectOptions, AccessError> {
        let mut options = match (&self.creds, &self.nkey_seed, user) {
            (None, None, Some((name, password))) => {
                ConnectOptions::with_user_and_password(name, password)
            }
            (Some(path), None, None) => with_creds(path)?,
            (None, Some(path), None) => ConnectOptions::new().nkey(read_seed(path)?),
            (None, None, None) => ConnectOptions::new(),
            _ => return Err(AccessError::TwoCredentials),
        };
        if let Some(prefix) = &self.inbox_prefix {
            options = options.custom_inbox_prefix(prefix.as_str());
        }
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

/// The client logs each event at `info`; a server's refusal (a permission
/// missing, most often) then reads like routine, while what the service
/// says next ("JetStream does not answer yet") misleads. So it is said
/// again as an error, with where to look.
fn log_refusal(event: async_nats::Event) {
    if let async_nats::Event::ServerError(refusal) = event {
        tracing::error!(
            %refusal,
            "the NATS server refused a request of this connection: check its permissions (docs/operations.md, NATS permissions)"
        );
    }
}

/// `urls` with each password shown as `***`: for messages.
fn redacted(urls: &str) -> String {
    urls.split(',')
        .map(|url| match user_part(url) {
            Some((start, end)) => match url[start..end].split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[end..]),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `url` without its `user:password@`.
fn without_user(url: &str) -> String {
    match user_part(url) {
        Some((start, end)) => format!("{}{}", &url[..start], &url[end + 1..]),
        None => url.to_owned(),
    }
}

/// Where a URL's `user:password` lies: from `start` to the `@` at `end`.
fn user_part(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    Some((start, at))
}

/// A URL's user or password as written, `%XX` escapes decoded.
fn percent_decoded(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a % escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a % escape is not hex")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a % escape is not UTF-8")
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
        assert_eq!(access.servers().expect("two URLs").0.len(), 2);
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
        match access.options(None) {
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
                matches!(access.options(None), Err(AccessError::Malformed { .. })),
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
        assert!(access.options(None).is_ok());
        let user = Some(("ledger".to_owned(), "secret".to_owned()));
        assert!(matches!(
            access.options(user),
            Err(AccessError::TwoCredentials)
        ));
        let both = NatsAccess {
            creds: Some(seed),
            ..access
        };
        assert!(matches!(
            both.options(None),
            Err(AccessError::TwoCredentials)
        ));
    }

    #[test]
    fn a_user_in_the_urls_is_taken_out_of_them_decoded_and_never_shown() {
        let access = NatsAccess::urls("nats://ledger:p%40ss%2Fw@n1:4222,nats://n2:4222");
        let (servers, user) = access.servers().expect("URLs with a user");
        assert_eq!(user, Some(("ledger".to_owned(), "p@ss/w".to_owned())));
        assert!(servers.iter().all(|s| s.username().is_none()));
        assert_eq!(servers[0].host(), "n1");
        assert_eq!(
            redacted(&access.urls),
            "nats://ledger:***@n1:4222,nats://n2:4222"
        );
        assert!(matches!(
            NatsAccess::urls("nats://a:x@n1:4222,nats://b:y@n2:4222").servers(),
            Err(AccessError::MixedUsers(urls)) if !urls.contains(":x@") && !urls.contains(":y@")
        ));
        match NatsAccess::urls("nats://ledger:secret@n1:notaport").servers() {
            Err(AccessError::BadUrl { url, .. }) => assert!(!url.contains("secret"), "{url}"),
            other => panic!("{other:?}"),
        }
    }
}
