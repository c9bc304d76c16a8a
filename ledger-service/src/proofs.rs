//! Proofs an auditor can check offline with the ledger's public key alone:
//! that an event is in the tree a signed checkpoint commits to (inclusion),
//! and that a later checkpoint extends an earlier one (consistency).

use std::collections::BTreeMap;
use std::path::Path;

use ledger_core::chain::Verified;
use ledger_core::domain::Checkpoint;
use ledger_core::merkle::{
    self, BlockError, ConsistencyProof, HashBlocks, InMemory, InclusionProof, Log,
};
use ledger_core::signing::{self, checkpoint_message, PublicKey};
use ledger_core::values::{Digest, LedgerId};
use ledger_core::Event;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("no checkpoint covers sequence {0} yet")]
    NotCheckpointed(u64),
    #[error("no checkpoint over {0} events")]
    NoSuchCheckpoint(u64),
    #[error("the ledger has no key yet")]
    NoKey,
    #[error(transparent)]
    Merkle(#[from] merkle::ProofError),
    #[error("the checkpoint's signature does not verify with the given key")]
    BadSignature,
    #[error("the proof is for index {index} in a tree of {tree_size}, not sequence {sequence} under this checkpoint")]
    Mismatch {
        sequence: u64,
        index: u64,
        tree_size: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionDocument {
    pub ledger: LedgerId,
    pub sequence: u64,
    pub event_hash: Digest,
    pub checkpoint: Checkpoint,
    pub public_key: PublicKey,
    pub proof: InclusionProof,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyDocument {
    pub ledger: LedgerId,
    pub old: Checkpoint,
    pub new: Checkpoint,
    pub public_key: PublicKey,
    pub proof: ConsistencyProof,
}

mod file;

pub use file::FileBlocks;

/// What proofs are made from: every event hash, and the checkpoints.
#[derive(Debug)]
pub struct ProofLog {
    log: Log<Blocks>,
    checkpoints: BTreeMap<u64, Checkpoint>,
    ledger: Option<LedgerId>,
    key: Option<PublicKey>,
}

/// Where the log's complete blocks of event hashes are: in memory for a
/// log that lives as long as one command, in a file for a service's.
#[derive(Debug)]
enum Blocks {
    Memory(InMemory),
    File(FileBlocks),
}

impl HashBlocks for Blocks {
    fn keep(&mut self, n: u64, hashes: &[Digest]) -> Result<(), BlockError> {
        match self {
            Blocks::Memory(m) => m.keep(n, hashes),
            Blocks::File(f) => f.keep(n, hashes),
        }
    }

    fn read(&self, n: u64, out: &mut [Digest]) -> Result<(), BlockError> {
        match self {
            Blocks::Memory(m) => m.read(n, out),
            Blocks::File(f) => f.read(n, out),
        }
    }
}

impl Default for ProofLog {
    fn default() -> ProofLog {
        ProofLog::keeping(Blocks::Memory(InMemory::default()))
    }
}

impl ProofLog {
    /// A log held in memory.
    pub fn new() -> ProofLog {
        ProofLog::default()
    }

    /// A log whose event hashes go to a new file at `path`.
    pub fn in_file(path: &Path) -> std::io::Result<ProofLog> {
        Ok(ProofLog::keeping(Blocks::File(FileBlocks::create(path)?)))
    }

    fn keeping(blocks: Blocks) -> ProofLog {
        ProofLog {
            log: Log::keeping_blocks(blocks),
            checkpoints: BTreeMap::new(),
            ledger: None,
            key: None,
        }
    }

    /// Takes in one verified event, in order. If its hash cannot be kept,
    /// the log is as it was.
    pub fn record(&mut self, verified: &Verified) -> Result<(), BlockError> {
        self.log.push(&verified.head.hash)?;
        match &verified.record.event {
            Event::LedgerOpened(e) => self.ledger = Some(e.ledger.clone()),
            Event::LedgerKeyPublished(e) => self.key = Some(e.public_key),
            Event::CheckpointRecorded(e) => {
                self.checkpoints
                    .insert(e.checkpoint.tree_size, e.checkpoint.clone());
            }
            _ => {}
        }
        Ok(())
    }

    /// The checkpoints recorded so far, newest first.
    pub fn checkpoints(&self) -> impl Iterator<Item = &Checkpoint> {
        self.checkpoints.values().rev()
    }

    pub fn latest_checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoints.values().next_back()
    }

    pub fn key(&self) -> Option<PublicKey> {
        self.key
    }

    fn checkpoint(&self, tree_size: u64) -> Result<&Checkpoint, ProofError> {
        self.checkpoints
            .get(&tree_size)
            .ok_or(ProofError::NoSuchCheckpoint(tree_size))
    }

    fn identity(&self) -> Result<(LedgerId, PublicKey), ProofError> {
        match (&self.ledger, self.key) {
            (Some(l), Some(k)) => Ok((l.clone(), k)),
            _ => Err(ProofError::NoKey),
        }
    }

    /// Event `sequence` against the checkpoint over `tree_size` events, or
    /// the first checkpoint that covers it.
    pub fn inclusion(
        &self,
        sequence: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionDocument, ProofError> {
        let checkpoint = match tree_size {
            Some(size) => self.checkpoint(size)?,
            None => self
                .checkpoints
                .range(sequence..)
                .next()
                .map(|(_, c)| c)
                .ok_or(ProofError::NotCheckpointed(sequence))?,
        };
        if sequence == 0 || sequence > checkpoint.tree_size {
            return Err(ProofError::NotCheckpointed(sequence));
        }
        let (ledger, public_key) = self.identity()?;
        let proof = self.log.inclusion(sequence - 1, checkpoint.tree_size)?;
        Ok(InclusionDocument {
            ledger,
            sequence,
            event_hash: self.event_hash(sequence)?,
            checkpoint: checkpoint.clone(),
            public_key,
            proof,
        })
    }

    /// The hash of the event with ledger sequence `sequence`.
    pub fn event_hash(&self, sequence: u64) -> Result<Digest, ProofError> {
        let index = sequence
            .checked_sub(1)
            .ok_or(ProofError::NotCheckpointed(sequence))?;
        match self.log.event_hash(index) {
            Err(merkle::ProofError::OutOfRange { .. }) => {
                Err(ProofError::NotCheckpointed(sequence))
            }
            other => Ok(other?),
        }
    }

    /// The hashes of events `1 ..= count`, in order.
    pub fn event_hashes(&self, count: u64) -> Result<Vec<Digest>, ProofError> {
        Ok(self.log.event_hashes(0, count)?)
    }

    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyDocument, ProofError> {
        let (ledger, public_key) = self.identity()?;
        Ok(ConsistencyDocument {
            ledger,
            old: self.checkpoint(old)?.clone(),
            new: self.checkpoint(new)?.clone(),
            public_key,
            proof: self.log.consistency(old, new)?,
        })
    }
}

fn check_signed(ledger: &LedgerId, c: &Checkpoint, key: &PublicKey) -> Result<(), ProofError> {
    let signature = c.signature.as_ref().ok_or(ProofError::BadSignature)?;
    signing::verify(
        key,
        &checkpoint_message(ledger, c.tree_size, &c.root),
        signature,
    )
    .map_err(|_| ProofError::BadSignature)
}

/// Offline: the checkpoint is signed by `key`, and the event is in its tree.
pub fn verify_inclusion(doc: &InclusionDocument, key: &PublicKey) -> Result<(), ProofError> {
    check_signed(&doc.ledger, &doc.checkpoint, key)?;
    if doc.proof.index + 1 != doc.sequence || doc.proof.tree_size != doc.checkpoint.tree_size {
        return Err(ProofError::Mismatch {
            sequence: doc.sequence,
            index: doc.proof.index,
            tree_size: doc.proof.tree_size,
        });
    }
    merkle::verify_inclusion(&doc.event_hash, &doc.proof, &doc.checkpoint.root)?;
    Ok(())
}

/// Offline: both checkpoints are signed by `key`, and the new extends the old.
pub fn verify_consistency(doc: &ConsistencyDocument, key: &PublicKey) -> Result<(), ProofError> {
    check_signed(&doc.ledger, &doc.old, key)?;
    check_signed(&doc.ledger, &doc.new, key)?;
    if doc.proof.old_size != doc.old.tree_size || doc.proof.new_size != doc.new.tree_size {
        return Err(ProofError::Mismatch {
            sequence: doc.old.tree_size,
            index: doc.proof.old_size,
            tree_size: doc.proof.new_size,
        });
    }
    merkle::verify_consistency(&doc.proof, &doc.old.root, &doc.new.root)?;
    Ok(())
}
