//! The read side of one instance: a verified replica of the state that
//! follows the stream as it grows, for the HTTP API's reads. It stops at a
//! broken link and says where the chain broke instead of serving past it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ledger_core::chain::Head;
use ledger_core::Ledger;
use projections::Follower;
use tracing::{error, warn};

use crate::proofs::ProofLog;
use ledger_core::domain::Checkpoint;
use ledger_core::merkle::InclusionProof;
use ledger_core::signing::PublicKey;
use ledger_core::time::UtcOffset;
use ledger_core::values::{LedgerId, VolunteerId};
use std::collections::HashMap;

/// What a statement is made of, as the reader knows it.
pub struct StatementInputs {
    pub ledger: (LedgerId, UtcOffset),
    pub key: PublicKey,
    pub checkpoint: Checkpoint,
    /// (ledger sequence, stream sequence of its block, proof)
    pub events: Vec<(u64, u64, InclusionProof)>,
}
use crate::store::{Block, ChainStore};

#[derive(Default)]
struct ReadState {
    follower: Follower,
    proofs: ProofLog,
    /// Each volunteer's events, by ledger sequence.
    by_volunteer: HashMap<VolunteerId, Vec<u64>>,
    /// The first ledger sequence of each stored block, and its stream sequence.
    blocks: Vec<(u64, u64)>,
    stream_sequence: u64,
    broken: Option<String>,
}

#[derive(Clone, Default)]
pub struct Reader {
    inner: Arc<RwLock<ReadState>>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// The replica for reading, unless the chain broke (then why).
    fn sound(&self) -> Result<std::sync::RwLockReadGuard<'_, ReadState>, String> {
        let inner = self
            .inner
            .read()
            .map_err(|_| "the reader failed".to_owned())?;
        match &inner.broken {
            Some(broken) => Err(broken.clone()),
            None => Ok(inner),
        }
    }

    /// Reads the state as of the current head, or says why it cannot.
    pub fn read<T>(&self, f: impl FnOnce(&Ledger, Head) -> T) -> Result<T, String> {
        let inner = self.sound()?;
        Ok(f(inner.follower.state(), inner.follower.head()))
    }

    /// Reads the proof log, or says why it cannot.
    pub fn proofs<T>(&self, f: impl FnOnce(&ProofLog) -> T) -> Result<T, String> {
        Ok(f(&self.sound()?.proofs))
    }

    /// A volunteer's events up to the latest checkpoint, each with its proof
    /// and the stream message that holds it.
    pub fn statement_inputs(&self, volunteer: &VolunteerId) -> Result<StatementInputs, String> {
        let inner = self.sound()?;
        let checkpoint = inner
            .proofs
            .latest_checkpoint()
            .cloned()
            .ok_or("no checkpoint yet")?;
        let mut events = Vec::new();
        for &sequence in inner.by_volunteer.get(volunteer).into_iter().flatten() {
            if sequence > checkpoint.tree_size {
                break;
            }
            let doc = inner
                .proofs
                .inclusion(sequence, Some(checkpoint.tree_size))
                .map_err(|e| e.to_string())?;
            let block = inner
                .blocks
                .partition_point(|(first, _)| *first <= sequence);
            let stream_sequence = inner.blocks[block.saturating_sub(1)].1;
            events.push((sequence, stream_sequence, doc.proof));
        }
        Ok(StatementInputs {
            ledger: inner
                .follower
                .state()
                .config
                .as_ref()
                .map(|c| (c.ledger.clone(), c.utc_offset))
                .ok_or("the ledger is not open")?,
            key: inner.proofs.key().ok_or("the ledger has no key")?,
            checkpoint,
            events,
        })
    }

    pub fn head(&self) -> Head {
        self.inner
            .read()
            .map(|i| i.follower.head())
            .unwrap_or_default()
    }

    /// Waits until the replica has applied ledger sequence `sequence`.
    pub async fn caught_up(&self, sequence: u64, limit: Duration) -> bool {
        let started = std::time::Instant::now();
        while self.head().sequence < sequence {
            if started.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Follows the stream for as long as the instance runs.
    pub async fn follow(self, store: ChainStore) {
        loop {
            let after = match self.inner.read() {
                Ok(i) if i.broken.is_some() => return,
                Ok(i) => i.stream_sequence,
                Err(_) => return,
            };
            let inner = self.inner.clone();
            let result = store
                .follow(after, move |block| {
                    let Ok(mut state) = inner.write() else { return };
                    if state.broken.is_some() || block.stream_sequence <= state.stream_sequence {
                        return;
                    }
                    crate::cpu::heavy(|| apply(&mut state, &block));
                })
                .await;
            if let Err(e) = result {
                warn!(error = %e, "following the stream failed; resuming");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Applies one stored block to the replica, or marks where the chain broke.
fn apply(state: &mut ReadState, block: &Block) {
    let ReadState {
        follower,
        proofs,
        by_volunteer,
        blocks,
        ..
    } = state;
    blocks.push((follower.head().sequence + 1, block.stream_sequence));
    let applied = follower.apply_block(&block.frames, block.seal.as_ref(), |v, before| {
        proofs.record(v);
        if let Some(volunteer) = before.volunteer_of(&v.record.event) {
            by_volunteer
                .entry(volunteer)
                .or_default()
                .push(v.head.sequence);
        }
    });
    match applied {
        Ok(()) => state.stream_sequence = block.stream_sequence,
        Err(e) => {
            error!(stream_sequence = block.stream_sequence, error = %e, "the chain is broken; reads stop here");
            state.broken = Some(format!(
                "the chain is broken in stream message {}: {e}",
                block.stream_sequence
            ));
        }
    }
}
