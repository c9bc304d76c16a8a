//! Block seals checked many at a time.
//!
//! Every block after the ledger's key carries a seal, and a chain written
//! under light load is mostly blocks of one or two events: checked one by
//! one, the seals cost an auditor far more than the frames. So a verifier
//! checking many blocks in one go queues their seals and checks them in
//! batches, and only where a batch fails one by one, to name the first
//! bad seal exactly as checking each in turn would.

use super::{bad_seal, ChainError};
use crate::signing::{self, PublicKey};
use crate::values::Signature;

/// Seals checked together: enough for the batch to pay, few enough that a
/// fault is not long in coming.
const BATCH: usize = 256;

/// A block's seal, not yet checked.
struct Queued {
    /// The block's first sequence, where a bad seal is named.
    first: u64,
    key: PublicKey,
    message: Vec<u8>,
    seal: Signature,
}

#[derive(Default)]
pub(super) struct Seals {
    queued: Vec<Queued>,
}

impl Seals {
    /// Queues the seal of the block starting at `first`, checking the queue
    /// when it is full.
    pub fn push(
        &mut self,
        first: u64,
        key: PublicKey,
        message: Vec<u8>,
        seal: Signature,
    ) -> Result<(), ChainError> {
        self.queued.push(Queued {
            first,
            key,
            message,
            seal,
        });
        if self.queued.len() >= BATCH {
            self.check()?;
        }
        Ok(())
    }

    /// Checks every queued seal; the first bad one in order is the fault.
    pub fn check(&mut self) -> Result<(), ChainError> {
        let queued = std::mem::take(&mut self.queued);
        if queued.is_empty() {
            return Ok(());
        }
        let keys: Vec<PublicKey> = queued.iter().map(|q| q.key).collect();
        let messages: Vec<&[u8]> = queued.iter().map(|q| q.message.as_slice()).collect();
        let seals: Vec<Signature> = queued.iter().map(|q| q.seal).collect();
        if signing::verify_all(&keys, &messages, &seals).is_ok() {
            return Ok(());
        }
        match queued
            .iter()
            .find(|q| signing::verify(&q.key, &q.message, &q.seal).is_err())
        {
            Some(bad) => Err(bad_seal(bad.first)),
            None => Ok(()),
        }
    }
}
