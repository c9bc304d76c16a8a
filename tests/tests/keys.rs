//! `ledger keys`: the secrets and tokens an operator makes before the first
//! start, and the public key the federation publishes for auditors.

use std::os::unix::fs::PermissionsExt as _;

use ledger_core::signing::LedgerSigner;
use ledger_core::values::Digest;
use ledger_tests::*;

#[test]
fn secrets_are_new_files_for_their_owner_and_the_public_key_is_the_signers() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("signing.key");
    let file = path.to_str().expect("a path");
    let (code, said) = ledger(&["keys", "new-secret", file]);
    assert_eq!(code, 0, "{said}");
    let secret: [u8; 32] = std::fs::read(&path)
        .expect("the key")
        .try_into()
        .expect("32 bytes");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    let (code, said) = ledger(&["keys", "new-secret", file]);
    assert_ne!(code, 0, "an existing key was replaced: {said}");
    assert_eq!(std::fs::read(&path).expect("the key"), secret, "{said}");

    let (code, said) = ledger(&["keys", "public-key", "--signing-key", file]);
    assert_eq!(code, 0, "{said}");
    let public = LedgerSigner::from_secret(&secret).public_key().to_hex();
    assert_eq!(said.trim(), public);
}

#[test]
fn a_new_token_comes_with_the_hash_the_accounts_file_keeps() {
    let (code, said) = ledger(&["keys", "new-token"]);
    assert_eq!(code, 0, "{said}");
    let field = |name: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {said}"))
            .to_owned()
    };
    let token = field("token: ");
    assert_eq!(token.len(), 48, "{token}");
    assert_eq!(
        field("token_blake3: "),
        Digest::of(token.as_bytes()).to_hex()
    );
    let (_, again) = ledger(&["keys", "new-token"]);
    assert!(!again.contains(&token), "the same token twice");
}
