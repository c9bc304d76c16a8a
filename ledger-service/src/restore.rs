//! Restoring the chain's stream from a bundle: after the stream was lost
//! (every replica's disk, or a stream deleted by mistake), or to move a
//! ledger to new servers. The bundle is what auditors already hold, so any
//! one of their copies is a backup.
//!
//! Nothing is written unless the whole bundle verifies, sealed with the
//! ledger key the federation publishes outside the chain. Every block is
//! checked again just before it is written, so a file changed in between
//! is caught before its block is stored; each block is appended fenced on
//! the one before it, so a writer running meanwhile cannot interleave. A
//! stream that already holds the start of the bundle's chain (a restore
//! that stopped half-way) is completed; a stream that holds anything else
//! is left as it is.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;

use bytes::Bytes;
use indicatif::ProgressBar;
use ledger_core::signing::PublicKey;
use ledger_core::values::Signature;
use ledger_core::ChainError;
use thiserror::Error;

use crate::audit::{self, Audit, AuditError, Summary};
use crate::bundle::{BundleError, BundleHeader, BundleReader, Next};
use crate::store::{ChainStore, Sent, StoreError};

#[derive(Debug, Error)]
pub enum RestoreError {
    /// The bundle does not verify, or is not sealed with the key given.
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bundle holds the ledger of shard {bundle}, not of shard {shard}")]
    OtherShard { bundle: String, shard: String },
    #[error("the stream {stream} holds {stored} blocks, more than the bundle's {bundle}: it is left as it is")]
    StreamLonger {
        stream: String,
        stored: u64,
        bundle: u64,
    },
    #[error("the stream {stream} holds another chain: its block {block} differs from the bundle's; it is left as it is")]
    StreamDiffers { stream: String, block: u64 },
    #[error("{path} changed after it was verified: at block {block}, {why}; blocks before it are stored, run the restore again")]
    BundleChanged {
        path: String,
        block: u64,
        why: String,
    },
    #[error("{path} changed after it was verified: it no longer verifies at {source}; nothing from that block's batch on was written, run the restore again")]
    NoLongerVerifies { path: String, source: ChainError },
    #[error("the stream {stream} was read back after the restore and ends at event {found}, not at the bundle's {expected}")]
    ReadBack {
        stream: String,
        found: u64,
        expected: u64,
    },
}

/// What a restore found and did.
#[derive(Clone, Debug)]
pub struct Restored {
    pub header: BundleHeader,
    /// The chain as verified in the bundle, and read back from the stream.
    pub summary: Summary,
    /// Blocks the stream held already (the start of the same chain).
    pub found: u64,
    pub written: u64,
}

/// Blocks to write, each with its seal.
type Batch = Vec<(Option<Signature>, Bytes)>;

/// Blocks are checked and then written this many bytes at a time.
const BATCH_BYTES: usize = 8 << 20;
/// Appends awaiting their acknowledgement, at most.
const IN_FLIGHT: usize = 64;

/// Writes the chain of the bundle at `path` into the shard's stream,
/// creating it with `replicas` when missing.
pub async fn restore(
    store: &ChainStore,
    path: &Path,
    key: &PublicKey,
    replicas: usize,
    show_progress: bool,
) -> Result<Restored, RestoreError> {
    let (header, summary) = audit::verify_bundle_file(path, None, show_progress)?;
    summary.check_key(key)?;
    let shard = store.shard().id().to_string();
    if header.shard != shard {
        return Err(RestoreError::OtherShard {
            bundle: header.shard,
            shard,
        });
    }
    store.ensure(replicas).await?;
    let found = store.last_sequence().await?;
    if found > header.blocks {
        return Err(RestoreError::StreamLonger {
            stream: store.shard().stream(),
            stored: found,
            bundle: header.blocks,
        });
    }

    let name = path.display().to_string();
    let reader = BufReader::with_capacity(1 << 20, audit::open_bundle(path)?);
    let (_, mut bundle) = BundleReader::open(reader, &name)?;
    let mut audit = Audit::checking_when_asked();
    compare_stored(store, &mut bundle, &mut audit).await?;

    let bar = if show_progress {
        audit::progress(header.blocks - found, "blocks written")
    } else {
        ProgressBar::hidden()
    };
    let mut block = found;
    while block < header.blocks {
        let batch = next_batch(&mut bundle, &mut audit, block, header.blocks)?;
        let count = batch.len() as u64;
        append_all(store, batch, block).await?;
        block += count;
        bar.inc(count);
    }
    bar.finish_and_clear();
    if let Next::Block { .. } = bundle.next_record()? {
        return Err(changed(
            &bundle,
            block + 1,
            "it holds more blocks than verified",
        ));
    }

    let read_back = audit::verify_stream(store, None, false).await?;
    if read_back.head != summary.head {
        return Err(RestoreError::ReadBack {
            stream: store.shard().stream(),
            found: read_back.head.sequence,
            expected: summary.head.sequence,
        });
    }
    Ok(Restored {
        header,
        summary: read_back,
        found,
        written: block - found,
    })
}

/// Checks that the blocks the stream holds are the bundle's first ones,
/// byte for byte with their seals, and passes them through `audit`, which
/// the blocks written after them continue.
async fn compare_stored<R: BufRead>(
    store: &ChainStore,
    bundle: &mut BundleReader<R>,
    audit: &mut Audit,
) -> Result<(), RestoreError> {
    let mut failure: Option<RestoreError> = None;
    let mut block = 0u64;
    let mut pending = 0usize;
    store
        .replay(1, |stored| {
            block += 1;
            if failure.is_some() {
                return Ok(());
            }
            failure = match read_block(bundle, block) {
                Ok((seal, frames)) if seal == stored.seal && frames == stored.frames => {
                    pending += frames.len();
                    let checked = audit.push_block(&frames, seal.as_ref()).and_then(|()| {
                        // A batch at a time: a long start already stored
                        // is not held whole in memory.
                        if pending < BATCH_BYTES {
                            return Ok(());
                        }
                        pending = 0;
                        audit.check_pending()
                    });
                    checked.err().map(|e| no_longer_verifies(bundle, e))
                }
                Ok(_) => Some(RestoreError::StreamDiffers {
                    stream: store.shard().stream(),
                    block,
                }),
                Err(e) => Some(e),
            };
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e);
    }
    audit
        .check_pending()
        .map_err(|e| no_longer_verifies(bundle, e))
}

/// The next blocks to write, about [`BATCH_BYTES`] of them, checked after
/// the ones before: the bundle verified as a whole, but the file may have
/// changed since it was read.
fn next_batch<R: BufRead>(
    bundle: &mut BundleReader<R>,
    audit: &mut Audit,
    written: u64,
    total: u64,
) -> Result<Batch, RestoreError> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut block = written;
    while block < total && bytes < BATCH_BYTES {
        block += 1;
        let (seal, frames) = read_block(bundle, block)?;
        audit
            .push_block(&frames, seal.as_ref())
            .map_err(|e| no_longer_verifies(bundle, e))?;
        bytes += frames.len();
        batch.push((seal, Bytes::from(frames)));
    }
    audit
        .check_pending()
        .map_err(|e| no_longer_verifies(bundle, e))?;
    Ok(batch)
}

/// Appends `blocks` after stream sequence `after`, each fenced on the one
/// before it, with up to [`IN_FLIGHT`] awaiting their acknowledgement.
async fn append_all(store: &ChainStore, blocks: Batch, after: u64) -> Result<(), RestoreError> {
    let mut waiting: VecDeque<Sent> = VecDeque::new();
    for (k, (seal, frames)) in blocks.into_iter().enumerate() {
        if waiting.len() == IN_FLIGHT {
            if let Some(sent) = waiting.pop_front() {
                sent.stored().await?;
            }
        }
        waiting.push_back(store.send(frames, after + k as u64, seal.as_ref()).await?);
    }
    for sent in waiting {
        sent.stored().await?;
    }
    Ok(())
}

/// Block number `block` of the bundle, whole.
fn read_block<R: BufRead>(
    bundle: &mut BundleReader<R>,
    block: u64,
) -> Result<(Option<Signature>, Vec<u8>), RestoreError> {
    match bundle.next_record()? {
        Next::Block { seal, len } => {
            let mut frames = Vec::with_capacity(len);
            let got = bundle.frames(len, &mut frames)?;
            if got < len {
                return Err(changed(bundle, block, "it ends inside the block"));
            }
            Ok((seal, frames))
        }
        Next::Cut { .. } | Next::End => Err(changed(bundle, block, "it ends before the block")),
    }
}

fn changed<R>(bundle: &BundleReader<R>, block: u64, why: &str) -> RestoreError {
    RestoreError::BundleChanged {
        path: bundle.name().to_owned(),
        block,
        why: why.to_owned(),
    }
}

fn no_longer_verifies<R>(bundle: &BundleReader<R>, source: ChainError) -> RestoreError {
    RestoreError::NoLongerVerifies {
        path: bundle.name().to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn batch_of(bytes: &[u8]) -> Result<Batch, RestoreError> {
        let (header, mut bundle) = BundleReader::open(Cursor::new(bytes), "lyg.bundle")?;
        next_batch(
            &mut bundle,
            &mut Audit::checking_when_asked(),
            0,
            header.blocks,
        )
    }

    #[test]
    fn blocks_are_handed_on_only_once_checked_again() {
        let (bytes, starts) = crate::audit::tests::bundle();
        let batch = batch_of(&bytes).expect("the bundle verifies");
        assert_eq!(batch.len(), starts.len());

        // A byte of the second block's frames changed since the bundle was
        // verified: nothing of the batch is handed on, and its sequence is
        // named.
        let (second_at, second_first) = starts[1];
        let mut changed = bytes.clone();
        changed[second_at + crate::bundle::RECORD_HEAD + 20] ^= 1;
        match batch_of(&changed) {
            Err(RestoreError::NoLongerVerifies { source, .. }) => {
                assert_eq!(source.sequence, second_first)
            }
            other => panic!("{:?}", other.map(|b| b.len())),
        }
        // Cut inside the last block, or before it.
        for cut in [bytes.len() - 1, starts[2].0] {
            match batch_of(&bytes[..cut]) {
                Err(RestoreError::BundleChanged { block, .. }) => assert_eq!(block, 3),
                other => panic!("cut at {cut}: {:?}", other.map(|b| b.len())),
            }
        }
    }
}
