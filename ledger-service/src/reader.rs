//! The read side of one instance: it follows the stream as it grows,
//! verifies every block, and keeps what proofs and statements are made of
//! (every event's hash, the checkpoints, each volunteer's events). It keeps
//! no replica of the state: what admins read comes from the read models.
//! It stops at a broken link and says where the chain broke instead of
//! serving past it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ledger_core::chain::{Head, Verifier};
use ledger_core::domain::Checkpoint;
use ledger_core::merkle::{BlockError, InclusionProof};
use ledger_core::owners::{volunteer_of, Owners};
use ledger_core::signing::PublicKey;
use ledger_core::time::UtcOffset;
use ledger_core::values::{LedgerId, VolunteerId};
use ledger_core::{ChainError, Event};
use tracing::{error, warn};

use crate::proofs::ProofLog;
use crate::sequences::Sequences;
use crate::store::{Block, ChainStore};

/// What a statement is made of, as the reader knows it.
pub struct StatementInputs {
    pub ledger: (LedgerId, UtcOffset),
    pub key: PublicKey,
    pub checkpoint: Checkpoint,
    /// (ledger sequence, stream sequence of its block, proof)
    pub events: Vec<(u64, u64, InclusionProof)>,
}

#[derive(Default)]
struct ReadState {
    verifier: Verifier,
    proofs: ProofLog,
    /// Who owns each entry, to file events that name an entry, not a
    /// volunteer.
    owners: Owners,
    /// Each volunteer's events, by ledger sequence, at the volunteer's
    /// slot in `owners`.
    by_volunteer: Vec<Sequences>,
    /// The ledger's id and clock, once it is open.
    opened: Option<(LedgerId, UtcOffset)>,
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
    /// A reader whose proof log is held in memory.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// A reader whose proof log keeps its event hashes in a new file at
    /// `path`: the part of what it keeps that grows with the chain.
    pub fn with_proof_file(path: &std::path::Path) -> std::io::Result<Reader> {
        let state = ReadState {
            proofs: ProofLog::in_file(path)?,
            ..ReadState::default()
        };
        Ok(Reader {
            inner: Arc::new(RwLock::new(state)),
        })
    }

    /// What has been read, unless the chain broke (then why).
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
        let listed = inner
            .owners
            .slot_of(volunteer)
            .and_then(|n| inner.by_volunteer.get(n as usize));
        for sequence in listed.into_iter().flat_map(Sequences::iter) {
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
            ledger: inner.opened.clone().ok_or("the ledger is not open")?,
            key: inner.proofs.key().ok_or("the ledger has no key")?,
            checkpoint,
            events,
        })
    }

    pub fn head(&self) -> Head {
        self.inner
            .read()
            .map(|i| i.verifier.head())
            .unwrap_or_default()
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

/// Verifies one stored block and files its events, or marks where the
/// chain broke (what came before the bad frame stays filed). A proof log
/// that cannot keep an event's hash stops reads too: proofs past it would
/// be missing.
fn apply(state: &mut ReadState, block: &Block) {
    state
        .blocks
        .push((state.verifier.head().sequence + 1, block.stream_sequence));
    let stopped = match verify_and_file(state, block) {
        Ok(()) => {
            state.stream_sequence = block.stream_sequence;
            return;
        }
        Err(Unfiled::Chain(e)) => format!(
            "the chain is broken in stream message {}: {e}",
            block.stream_sequence
        ),
        Err(Unfiled::ProofLog(e)) => format!(
            "stream message {} could not be filed: {e}",
            block.stream_sequence
        ),
    };
    error!(stream_sequence = block.stream_sequence, error = %stopped, "reads stop here");
    state.broken = Some(stopped);
}

/// Why a block's events were not all filed.
enum Unfiled {
    Chain(ChainError),
    ProofLog(BlockError),
}

/// Each frame is verified, then filed; the writer's seal on the block is
/// checked after its last frame, as the verifier requires.
fn verify_and_file(state: &mut ReadState, block: &Block) -> Result<(), Unfiled> {
    let ReadState {
        verifier,
        proofs,
        owners,
        by_volunteer,
        opened,
        ..
    } = state;
    let first = verifier.head().sequence + 1;
    let mut unrecorded = None;
    // One worker: the reader follows block by block beside the service's
    // other work, and its blocks are small.
    let verified = verifier.push_all(&block.frames, 1, |verified| {
        if unrecorded.is_none() {
            unrecorded = proofs.record(verified).err();
        }
        let event = &verified.record.event;
        if let Some(volunteer) = volunteer_of(owners, event) {
            let slot = owners.slot(&volunteer) as usize;
            if by_volunteer.len() <= slot {
                by_volunteer.resize_with(slot + 1, Sequences::default);
            }
            by_volunteer[slot].push(verified.head.sequence);
        }
        owners.record(event);
        if let Event::LedgerOpened(e) = event {
            *opened = Some((e.ledger.clone(), e.utc_offset_minutes));
        }
    });
    verified.map_err(Unfiled::Chain)?;
    if let Some(e) = unrecorded {
        return Err(Unfiled::ProofLog(e));
    }
    verifier
        .check_seal(first, block.seal.as_ref())
        .map_err(Unfiled::Chain)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ledger_core::testing::random::{play, record, step};
    use ledger_core::testing::world;
    use ledger_core::{Chain, EventRecord, Ledger};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    use super::*;

    /// A season played at random: check-outs, credits, disputes, awards,
    /// redemptions and reversals, each naming its entry and not its
    /// volunteer.
    fn season() -> Vec<EventRecord> {
        let mut runner = TestRunner::deterministic();
        let steps = proptest::collection::vec((step(), 0i64..120), 2000)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        play(&steps).1
    }

    fn block_of(records: &[EventRecord]) -> Block {
        let mut chain = Chain::new();
        let mut frames = Vec::new();
        for record in records {
            chain.append(record, &mut frames).unwrap();
        }
        Block {
            stream_sequence: 1,
            frames: frames.into(),
            seal: None,
        }
    }

    #[test]
    fn files_each_event_under_the_volunteer_the_whole_state_names() {
        let records = season();
        let events: Vec<&Event> = records.iter().map(|r| &r.event).collect();
        let mut state = ReadState::default();
        apply(&mut state, &block_of(&records));
        assert_eq!(state.broken, None);
        assert_eq!(state.verifier.head().sequence, events.len() as u64);

        let mut replica = Ledger::new();
        let mut expected: HashMap<VolunteerId, Vec<u64>> = HashMap::new();
        let mut by_entry = 0;
        for (i, event) in events.iter().enumerate() {
            by_entry += usize::from(matches!(
                event,
                Event::CheckedOut(_)
                    | Event::CreditConfirmed(_)
                    | Event::CreditDisputed(_)
                    | Event::EntryReversed(_)
            ));
            if let Some(v) = replica.volunteer_of(event) {
                expected.entry(v).or_default().push(i as u64 + 1);
            }
            replica.apply(event);
        }
        assert!(by_entry > 40, "only {by_entry} events name an entry");
        for (volunteer, sequences) in &expected {
            let n = state.owners.slot_of(volunteer).unwrap() as usize;
            let filed: Vec<u64> = state.by_volunteer[n].iter().collect();
            assert_eq!(&filed, sequences, "{volunteer}");
        }
        let filed: usize = state.by_volunteer.iter().map(Sequences::len).sum();
        assert_eq!(filed, expected.values().map(Vec::len).sum::<usize>());
        let config = replica.config.unwrap();
        assert_eq!(state.opened, Some((config.ledger, config.utc_offset)));
    }

    #[test]
    fn a_changed_byte_stops_reading_where_it_is() {
        let world = world();
        let records: Vec<EventRecord> = world
            .events
            .iter()
            .map(|e| record(&world, e.clone()))
            .collect();
        let mut block = block_of(&records);
        let mut frames = block.frames.to_vec();
        let middle = frames.len() / 2;
        frames[middle] ^= 1;
        block.frames = frames.into();
        let mut state = ReadState::default();
        apply(&mut state, &block);
        let broken = state.broken.expect("the chain is broken");
        assert!(broken.contains("stream message 1"), "{broken}");
        assert!(state.verifier.head().sequence < world.events.len() as u64);
        assert_eq!(state.stream_sequence, 0);
    }

    /// A proof log whose file takes nothing (a full disk) stops reads at
    /// the block it could not file, naming the file, rather than serving
    /// proofs with hashes missing.
    #[test]
    fn a_proof_log_that_cannot_be_written_stops_reading() {
        let records = season();
        let full = std::path::Path::new("/dev/full");
        let mut state = ReadState {
            proofs: ProofLog::in_file(full).unwrap(),
            ..ReadState::default()
        };
        apply(&mut state, &block_of(&records));
        let broken = state.broken.expect("reads stopped");
        assert!(
            broken.contains("stream message 1 could not be filed"),
            "{broken}"
        );
        assert!(broken.contains("/dev/full"), "{broken}");
        assert_eq!(state.stream_sequence, 0);
    }
}
