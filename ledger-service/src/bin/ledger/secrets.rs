//! Secrets in files only their owner may read: the identity key, the
//! signing key and bearer tokens (`ledger keys`, and local mode's).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use ledger_core::domain::IdentityKey;
use ledger_core::signing::LedgerSigner;
use ledger_core::values::Digest;

#[derive(Subcommand)]
pub enum KeysKind {
    /// 32 random bytes in a new file only its owner may read: an identity
    /// key (--identity-key) or the ledger's signing key (--signing-key).
    NewSecret { out: PathBuf },
    /// The ledger's public key (hex) for a signing key: what the federation
    /// publishes, and auditors pass to `ledger verify --key`.
    PublicKey {
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// A new bearer token, and the BLAKE3 hash the accounts file keeps of it.
    NewToken,
}

/// A local secret of 32 random bytes, made once per data folder.
pub fn local_secret(data: &Path, name: &str) -> anyhow::Result<[u8; 32]> {
    let path = data.join(name);
    if path.exists() {
        make_private(&path)?;
    } else {
        write_private(&path, &random_bytes::<32>()?)?;
    }
    read_secret(&path)
}

/// Lets only the owner read a secret an earlier version left readable.
pub fn make_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} readable by its owner only", path.display()))
}

/// Writes a secret into a file only its owner may read.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::io::Write::write_all(&mut file, bytes))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes)
}

/// `ledger keys …`.
pub fn keys(what: KeysKind) -> anyhow::Result<()> {
    match what {
        KeysKind::NewSecret { out } => {
            use std::os::unix::fs::OpenOptionsExt as _;
            // Never over an existing key: a changed identity key would let
            // people register twice, a lost signing key ends the ledger's.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| {
                    format!(
                        "creating {} (an existing file is never replaced)",
                        out.display()
                    )
                })?;
            std::io::Write::write_all(&mut file, &random_bytes::<32>()?)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote 32 random bytes to {}", out.display());
        }
        KeysKind::PublicKey { signing_key } => {
            let secret = read_secret(&signing_key)?;
            println!("{}", LedgerSigner::from_secret(&secret).public_key());
        }
        KeysKind::NewToken => {
            let token = hex::encode(random_bytes::<24>()?);
            println!("token: {token}");
            println!("token_blake3: {}", Digest::of(token.as_bytes()).to_hex());
        }
    }
    Ok(())
}

/// The local identity-commitment key.
pub fn identity_key(data: &Path) -> anyhow::Result<IdentityKey> {
    local_secret(data, "identity.key").map(IdentityKey)
}

pub fn read_key(path: &Path) -> anyhow::Result<IdentityKey> {
    read_secret(path).map(IdentityKey)
}

pub fn read_secret(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()))
}
