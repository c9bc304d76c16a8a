//! The ledger's signing key: it signs checkpoints, and each new key is
//! endorsed by the one before it. Only verification and signing with a
//! given secret live here; making a key (randomness) is the service's job.
//!
//! Signed messages are domain-separated byte strings:
//!
//! ```text
//! checkpoint: "union-volunteer-ledger checkpoint v1" 0x00 len(ledger) ledger tree_size(u64 LE) root(32)
//! rotation:   "union-volunteer-ledger key rotation v1" 0x00 len(ledger) ledger new_public_key(32)
//! block seal: "union-volunteer-ledger block v1" 0x00 len(ledger) ledger last_sequence(u64 LE) last_hash(32)
//! ```
//! where `len(ledger)` is one byte (ledger ids are at most 64 bytes).

use std::fmt;

use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::values::{deserialize_fixed, serialize_fixed, Digest, LedgerId, Signature};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("{0} is not an ed25519 public key")]
    BadKey(String),
    #[error("the signature does not verify")]
    Invalid,
}

/// An ed25519 public key of the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fixed(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fixed::<D, 32>(d, "public key").map(PublicKey)
    }
}

fn message(purpose: &str, ledger: &LedgerId, body: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + ledger.as_str().len() + 40);
    m.extend_from_slice(purpose.as_bytes());
    m.push(0);
    m.push(ledger.as_str().len() as u8);
    m.extend_from_slice(ledger.as_str().as_bytes());
    for part in body {
        m.extend_from_slice(part);
    }
    m
}

pub fn checkpoint_message(ledger: &LedgerId, tree_size: u64, root: &Digest) -> Vec<u8> {
    message(
        "union-volunteer-ledger checkpoint v1",
        ledger,
        &[&tree_size.to_le_bytes(), &root.0],
    )
}

pub fn rotation_message(ledger: &LedgerId, new_key: &PublicKey) -> Vec<u8> {
    message(
        "union-volunteer-ledger key rotation v1",
        ledger,
        &[&new_key.0],
    )
}

/// What the ledger signs for a volunteer's statement: its body's JSON.
pub fn statement_message(ledger: &LedgerId, body_json: &[u8]) -> Vec<u8> {
    message("union-volunteer-ledger statement v1", ledger, &[body_json])
}

/// What the writer signs for each block it appends: the head after it.
pub fn block_message(ledger: &LedgerId, last_sequence: u64, last_hash: &Digest) -> Vec<u8> {
    message(
        "union-volunteer-ledger block v1",
        ledger,
        &[&last_sequence.to_le_bytes(), &last_hash.0],
    )
}

pub fn verify(
    key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.0)
        .map_err(|_| SignatureError::BadKey(key.to_hex()))?;
    key.verify(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
        .map_err(|_| SignatureError::Invalid)
}

/// Checks many signatures at once (ed25519 batch verification, with
/// coefficients derived from the inputs), several times faster per
/// signature than one by one. `Err` if any fails or any key is not a key;
/// which one is for the caller to find with [`verify`], which stays the
/// definition: a batch only ever answers faster what those would answer.
pub fn verify_all(
    keys: &[PublicKey],
    messages: &[&[u8]],
    signatures: &[Signature],
) -> Result<(), SignatureError> {
    // A ledger has one key at a time: each distinct key is decoded once.
    let mut decoded: Vec<ed25519_dalek::VerifyingKey> = Vec::with_capacity(keys.len());
    let mut last: Option<(&PublicKey, ed25519_dalek::VerifyingKey)> = None;
    for key in keys {
        let verifying = match last {
            Some((k, v)) if k == key => v,
            _ => ed25519_dalek::VerifyingKey::from_bytes(&key.0)
                .map_err(|_| SignatureError::BadKey(key.to_hex()))?,
        };
        last = Some((key, verifying));
        decoded.push(verifying);
    }
    let signatures: Vec<ed25519_dalek::Signature> = signatures
        .iter()
        .map(|s| ed25519_dalek::Signature::from_bytes(&s.0))
        .collect();
    ed25519_dalek::verify_batch(messages, &signatures, &decoded)
        .map_err(|_| SignatureError::Invalid)
}

/// The ledger's secret key, held by the writer.
pub struct LedgerSigner {
    key: ed25519_dalek::SigningKey,
}

impl LedgerSigner {
    pub fn from_secret(secret: &[u8; 32]) -> LedgerSigner {
        LedgerSigner {
            key: ed25519_dalek::SigningKey::from_bytes(secret),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for LedgerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerSigner({})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_verify_only_with_their_key_and_contents() {
        let ledger = LedgerId::new("lyg").unwrap();
        let signer = LedgerSigner::from_secret(&[7; 32]);
        let root = Digest::of(b"root");
        let sig = signer.sign(&checkpoint_message(&ledger, 10, &root));
        let key = signer.public_key();
        assert_eq!(
            verify(&key, &checkpoint_message(&ledger, 10, &root), &sig),
            Ok(())
        );
        assert!(verify(&key, &checkpoint_message(&ledger, 11, &root), &sig).is_err());
        let other = LedgerId::new("dl").unwrap();
        assert!(verify(&key, &checkpoint_message(&other, 10, &root), &sig).is_err());
        let stranger = LedgerSigner::from_secret(&[8; 32]).public_key();
        assert!(verify(&stranger, &checkpoint_message(&ledger, 10, &root), &sig).is_err());
        // A checkpoint signature is no rotation endorsement.
        assert!(verify(&key, &rotation_message(&ledger, &key), &sig).is_err());
    }
}
