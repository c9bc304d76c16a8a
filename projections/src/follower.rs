//! The core state, followed frame by frame from the verified chain.

use ledger_core::chain::{Chain, Head, Verified, Verifier};
use ledger_core::frame::FrameError;
use ledger_core::values::Signature;
use ledger_core::{ChainError, EventRecord, Ledger};

/// The state as of the last verified frame.
#[derive(Clone, Debug, Default)]
pub struct Follower {
    state: Ledger,
    verifier: Verifier,
}

impl Follower {
    pub fn new() -> Follower {
        Follower::default()
    }

    pub fn head(&self) -> Head {
        self.verifier.head()
    }

    pub fn state(&self) -> &Ledger {
        &self.state
    }

    /// The Merkle frontier over every event so far, the ledger's key and
    /// last checkpoint.
    pub fn audit(&self) -> Option<&ledger_core::chain::Audit> {
        self.verifier.audit()
    }

    /// The writer's side: frames and links `record` after the head, appends
    /// the frame to `out`, and applies the event, so that the next command is
    /// decided against it.
    pub fn append(&mut self, record: &EventRecord, out: &mut Vec<u8>) -> Result<Head, FrameError> {
        let head = Chain::resume(self.head()).append(record, out)?;
        self.state.apply(&record.event);
        self.verifier.accept_own(head, record);
        Ok(head)
    }

    /// Verifies a whole block: its frames, then the writer's seal on it
    /// (required once the ledger has a key).
    pub fn apply_block(
        &mut self,
        frames: &[u8],
        seal: Option<&Signature>,
        each: impl FnMut(&Verified, &Ledger),
    ) -> Result<(), ChainError> {
        let first = self.head().sequence + 1;
        self.apply_frames(frames, each)?;
        self.verifier.check_seal(first, seal)
    }

    /// As [`Follower::apply_block`] for many blocks stored back to back in
    /// `frames` (`blocks` gives each one's length and seal), hashed and
    /// decoded on `workers` threads and their seals checked in batches.
    /// Stops at the first fault, named as block by block would name it;
    /// past a bad seal, frames of later blocks may be applied already, so a
    /// caller that gets an error starts again from nothing.
    pub fn apply_blocks(
        &mut self,
        frames: &[u8],
        blocks: &[(usize, Option<Signature>)],
        workers: usize,
        mut each: impl FnMut(&Verified, &Ledger),
    ) -> Result<(), ChainError> {
        let Follower { state, verifier } = self;
        verifier.push_sealed(frames, blocks, workers, |verified| {
            each(verified, state);
            state.apply(&verified.record.event);
        })
    }

    /// Verifies and applies frames stored back to back (a block), calling
    /// `each` with every verified record and the state just before it. Stops at the first bad frame and
    /// says where the chain broke; what came before it stays applied.
    pub fn apply_frames(
        &mut self,
        mut frames: &[u8],
        mut each: impl FnMut(&Verified, &Ledger),
    ) -> Result<(), ChainError> {
        while !frames.is_empty() {
            let (verified, rest) = self.verifier.push_front(frames)?;
            each(&verified, &self.state);
            self.state.apply(&verified.record.event);
            frames = rest;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::testing::{actor, world};
    use ledger_core::Event;

    fn record(i: usize, event: &Event) -> EventRecord {
        EventRecord {
            recorded_at: ledger_core::time::Timestamp(i as i64),
            actor: actor("admin-city"),
            submission: None,
            event: event.clone(),
        }
    }

    #[test]
    fn follows_a_chain_and_stops_at_a_broken_link() {
        let world = world();
        let mut chain = Chain::new();
        let mut frames = Vec::new();
        for (i, event) in world.events.iter().enumerate() {
            chain.append(&record(i, event), &mut frames).unwrap();
        }
        let mut follower = Follower::new();
        let mut seen = 0;
        follower.apply_frames(&frames, |_, _| seen += 1).unwrap();
        assert_eq!(seen, world.events.len());
        assert_eq!(follower.state(), &world.state);
        assert_eq!(follower.head(), chain.head());

        // The writer's own appends produce the same frames.
        let mut writer = Follower::new();
        let mut own = Vec::new();
        for (i, event) in world.events.iter().enumerate() {
            writer.append(&record(i, event), &mut own).unwrap();
        }
        assert_eq!(own, frames);
        assert_eq!(writer.state(), follower.state());

        let mut broken = frames.clone();
        let middle = broken.len() / 2;
        broken[middle] ^= 1;
        let mut follower = Follower::new();
        let err = follower.apply_frames(&broken, |_, _| {}).unwrap_err();
        assert!(err.sequence > 1);
        assert_eq!(follower.head().sequence, err.sequence - 1);
    }
}
