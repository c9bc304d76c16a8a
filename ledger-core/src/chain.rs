//! Linking frames into a chain, and verifying one.
//!
//! A [`Chain`] is the writer's side: it numbers and links each record.
//! A [`Verifier`] is the auditor's side: fed frames in order, it re-hashes
//! and re-links each and names the first one that is wrong, at the sequence
//! where it should stand.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::Checkpoint;
use crate::event::{Event, EventRecord};
use crate::frame::{self, BodyError, FrameError, FORMAT_VERSION};
use crate::merkle::{Frontier, Subtree};
use crate::signing::{self, checkpoint_message, rotation_message, PublicKey};
use crate::values::Digest;
use crate::values::{ActorId, LedgerId, Signature};

mod ahead;
mod body;
mod seals;

use ahead::Prepared;
#[cfg(test)]
use ahead::{ONE_THREAD_BYTES, WINDOW};
use seals::Seals;

/// The last link of a chain: its sequence and hash. The empty chain's head
/// is sequence 0 with a hash of zeros, which the first frame links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Head {
    pub sequence: u64,
    pub hash: Digest,
}

impl Head {
    pub const EMPTY: Head = Head {
        sequence: 0,
        hash: Digest::ZERO,
    };
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Fault {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("frame format {0} is not known")]
    UnknownFormat(u16),
    #[error("bad hash: the frame's bytes hash to {computed}, its trailer says {stored}")]
    BadHash { computed: Digest, stored: Digest },
    #[error("gap: sequence {found} where {expected} was due")]
    Gap { expected: u64, found: u64 },
    #[error("bad link: the frame names {found} as previous, but the previous frame's hash is {expected}")]
    BadLink { expected: Digest, found: Digest },
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("{0} bytes follow the frame")]
    TrailingBytes(usize),
    #[error("checkpoint mismatch: it commits to {tree_size} events with root {root}, but the {expected_size} events before it have root {expected_root}")]
    CheckpointMismatch {
        tree_size: u64,
        root: Digest,
        expected_size: u64,
        expected_root: Digest,
    },
    #[error("bad signature on a {0}: it does not verify with the ledger's key")]
    BadSignature(&'static str),
    #[error("a request names {named} as the admin who asked, but was recorded as {actor}'s")]
    ForeignRequester { named: ActorId, actor: ActorId },
    #[error("missing: the chain ends at {last}, but reached {expected} before")]
    Missing { last: u64, expected: u64 },
    #[error("rewritten: the frame here hashes to {found}, but to {expected} when verified before")]
    Rewritten { expected: Digest, found: Digest },
}

/// The first bad frame of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("sequence {sequence}: {fault}")]
pub struct ChainError {
    /// Where the bad frame stands: the sequence that was due there.
    pub sequence: u64,
    pub fault: Fault,
}

/// The writer's end: turns records into linked frames.
#[derive(Clone, Debug, Default)]
pub struct Chain {
    head: Head,
}

impl Chain {
    pub fn new() -> Chain {
        Chain { head: Head::EMPTY }
    }

    /// Continues a chain whose last verified frame is `head`.
    pub fn resume(head: Head) -> Chain {
        Chain { head }
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// Appends the frame for `record` to `out` and advances the head.
    pub fn append(&mut self, record: &EventRecord, out: &mut Vec<u8>) -> Result<Head, FrameError> {
        let sequence = self.head.sequence + 1;
        let hash = frame::encode_frame(sequence, &self.head.hash, record, out)?;
        self.head = Head { sequence, hash };
        Ok(self.head)
    }
}

/// One verified frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub head: Head,
    pub record: EventRecord,
}

/// What a verifier that has seen the chain from its first frame knows
/// beyond the links: the Merkle frontier over every event hash, the
/// ledger's id and current key, so it can check checkpoints and rotations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub frontier: Frontier,
    pub ledger: Option<LedgerId>,
    pub key: Option<PublicKey>,
    pub last_checkpoint: Option<Checkpoint>,
}

impl Audit {
    fn check(&self, record: &EventRecord) -> Result<(), Fault> {
        match &record.event {
            Event::CheckpointRecorded(e) => {
                let c = &e.checkpoint;
                let expected_root = self.frontier.root();
                if c.tree_size != self.frontier.size() || c.root != expected_root {
                    return Err(Fault::CheckpointMismatch {
                        tree_size: c.tree_size,
                        root: c.root,
                        expected_size: self.frontier.size(),
                        expected_root,
                    });
                }
                let signed = match (&self.key, &self.ledger, &c.signature) {
                    (Some(key), Some(ledger), Some(sig)) => {
                        signing::verify(key, &checkpoint_message(ledger, c.tree_size, &c.root), sig)
                            .is_ok()
                    }
                    _ => false,
                };
                if !signed {
                    return Err(Fault::BadSignature("checkpoint"));
                }
            }
            Event::LedgerKeyPublished(e) => {
                let endorsed = match (&self.key, &self.ledger, &e.endorsement) {
                    (None, _, None) => true,
                    (Some(key), Some(ledger), Some(sig)) => {
                        signing::verify(key, &rotation_message(ledger, &e.public_key), sig).is_ok()
                    }
                    _ => false,
                };
                if !endorsed {
                    return Err(Fault::BadSignature("key rotation"));
                }
            }
            // Whose approval would be his own is read from this name, so
            // it must be the record's own actor.
            Event::EntryRequested(e) if e.requested_by != record.actor => {
                return Err(Fault::ForeignRequester {
                    named: e.requested_by.clone(),
                    actor: record.actor.clone(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn accept(&mut self, hash: &Digest, record: &EventRecord) {
        self.accept_leaf(crate::merkle::leaf_hash(hash), None, record);
    }

    /// As `accept`, with the event's Merkle leaf hashed ahead, and perhaps
    /// the subtree it closes (see `Frontier::push_leaf_closing`).
    fn accept_leaf(&mut self, leaf: Digest, closes: Option<Subtree>, record: &EventRecord) {
        match &record.event {
            Event::LedgerOpened(e) => self.ledger = Some(e.ledger.clone()),
            Event::LedgerKeyPublished(e) => self.key = Some(e.public_key),
            Event::CheckpointRecorded(e) => self.last_checkpoint = Some(e.checkpoint.clone()),
            _ => {}
        }
        self.frontier.push_leaf_closing(leaf, closes);
    }
}

/// The auditor's end: checks frames one by one, in order. It serialises,
/// so a projection can keep it beside its state and resume verifying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    head: Head,
    /// Present when verifying from the first frame; a verifier resumed in
    /// the middle of a chain checks links only.
    audit: Option<Audit>,
}

impl Default for Verifier {
    /// From the first frame, checkpoints included.
    fn default() -> Verifier {
        Verifier::new()
    }
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier {
            head: Head::EMPTY,
            audit: Some(Audit::default()),
        }
    }

    /// Verifies a suffix of a chain whose earlier part is known good up to
    /// `head` (links and hashes; checkpoints need the whole chain).
    pub fn resume(head: Head) -> Verifier {
        Verifier { head, audit: None }
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// The frontier, key and last checkpoint, for a verifier run from the start.
    pub fn audit(&self) -> Option<&Audit> {
        self.audit.as_ref()
    }

    /// Checks the writer's seal on a block that has just been pushed: once
    /// the ledger has a key, every block carries the key's signature over
    /// the head after it, so a writer without the key cannot append even
    /// well-linked frames. Blocks before any key are unsealed.
    pub fn check_seal(
        &self,
        first_sequence: u64,
        seal: Option<&Signature>,
    ) -> Result<(), ChainError> {
        let Some((key, message)) = self.seal_due() else {
            return Ok(());
        };
        if seal.is_some_and(|sig| signing::verify(&key, &message, sig).is_ok()) {
            Ok(())
        } else {
            Err(bad_seal(first_sequence))
        }
    }

    /// The key the block just pushed must be sealed with and the message
    /// its seal signs; `None` while the ledger has no key (or when this
    /// verifier did not start at the first frame).
    fn seal_due(&self) -> Option<(PublicKey, Vec<u8>)> {
        let audit = self.audit.as_ref()?;
        let (key, ledger) = (audit.key?, audit.ledger.as_ref()?);
        let message = signing::block_message(ledger, self.head.sequence, &self.head.hash);
        Some((key, message))
    }

    /// Takes in a frame its holder wrote itself (the writer), whose hash is
    /// `head.hash`: moves the head and keeps the audit state current.
    pub fn accept_own(&mut self, head: Head, record: &EventRecord) {
        if let Some(audit) = &mut self.audit {
            audit.accept(&head.hash, record);
        }
        self.head = head;
    }

    /// Checks one frame that fills `bytes` exactly.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Verified, ChainError> {
        let (verified, rest) = self.push_front(bytes)?;
        if !rest.is_empty() {
            return Err(self.fault(Fault::TrailingBytes(rest.len())));
        }
        Ok(verified)
    }

    /// Checks the frame at the front of `buf` (frames stored back to back)
    /// and returns what follows it.
    pub fn push_front<'b>(&mut self, buf: &'b [u8]) -> Result<(Verified, &'b [u8]), ChainError> {
        let (frame, rest) = frame::parse_frame(buf).map_err(|e| self.fault(e.into()))?;
        let prepared = Prepared::of(&frame);
        self.push_prepared(&prepared)?;
        let verified = prepared
            .body
            .into_verified()
            .map_err(|e| self.fault(e.into()))?;
        Ok((verified, rest))
    }

    /// Checks every frame of `buf` (stored back to back) and hands each,
    /// verified, to `each`, in order. With more than one worker, the checks
    /// that do not depend on earlier frames (hash, leaf, body) are done
    /// ahead on the other threads and on this one, while this one checks
    /// the rest in order (sequence, link, checkpoints, the frontier); see
    /// [`ahead`]. The first fault is the one [`Verifier::push_front`] would
    /// have named.
    pub fn push_all(
        &mut self,
        buf: &[u8],
        workers: usize,
        mut each: impl FnMut(&Verified),
    ) -> Result<(), ChainError> {
        ahead::in_order(buf, workers, |window| {
            for prepared in &window.frames {
                each(self.push_prepared(prepared)?);
            }
            match window.unreadable.take() {
                Some(e) => Err(self.fault(e.into())),
                None => Ok(()),
            }
        })
    }

    /// Checks blocks stored back to back in `buf` (`blocks` gives each
    /// one's length in bytes and its seal) as [`Verifier::push_all`] and
    /// then [`Verifier::check_seal`] would check each in turn, with the same
    /// first fault, but prepared ahead across all of them: a block of the
    /// live stream is too small to share between threads on its own.
    pub fn push_sealed(
        &mut self,
        buf: &[u8],
        blocks: &[(usize, Option<Signature>)],
        workers: usize,
        mut each: impl FnMut(&Verified),
    ) -> Result<(), ChainError> {
        // Blocks that cut cleanly into frames are checked together. From
        // the first that does not (or holds none, or when the lengths do
        // not add up to `buf`), the block by block path takes over, which
        // names the fault exactly.
        let total = blocks.iter().try_fold(0usize, |sum, (len, _)| {
            (*len > 0).then(|| sum.checked_add(*len)).flatten()
        });
        let (from, at) = match total {
            Some(total) if total == buf.len() => {
                match self.push_together(buf, blocks, workers, &mut each)? {
                    Some(uncut) => uncut,
                    None => return Ok(()),
                }
            }
            _ => (0, 0),
        };
        let mut rest = &buf[at.min(buf.len())..];
        for (len, seal) in &blocks[from.min(blocks.len())..] {
            let (block, tail) = rest.split_at((*len).min(rest.len()));
            let first = self.head.sequence + 1;
            self.push_all(block, workers, &mut each)?;
            self.check_seal(first, seal.as_ref())?;
            rest = tail;
        }
        Ok(())
    }

    /// [`Verifier::push_sealed`] across blocks that add up to `buf`, each
    /// cut into frames when its first frame is due (a pass of its own over
    /// every frame first left the other threads waiting). Stops before the
    /// first block that does not cut cleanly and says which it is and where
    /// it starts in `buf`, once the seals before it are checked.
    fn push_together(
        &mut self,
        buf: &[u8],
        blocks: &[(usize, Option<Signature>)],
        workers: usize,
        each: &mut impl FnMut(&Verified),
    ) -> Result<Option<(usize, usize)>, ChainError> {
        let mut next = 0;
        // Where block `next` starts, and how many of its frames are still
        // to come (none counted yet while it has not started).
        let mut at = 0;
        let mut left = 0u64;
        let mut first = self.head.sequence + 1;
        // Seals are queued and checked in batches; before any other fault
        // is named, the seals of the blocks before it are checked, so that
        // the first fault is still the first.
        let mut seals = Seals::new(workers);
        let outcome = ahead::in_order(buf, workers, |window| {
            for prepared in &window.frames {
                if left == 0 {
                    let block = blocks.get(next).and_then(|(len, _)| buf.get(at..at + len));
                    left = block.and_then(frames_in).ok_or(None)?;
                }
                let verified = match self.push_prepared(prepared) {
                    Ok(verified) => verified,
                    Err(e) => return Err(Some(seals.check().err().unwrap_or(e))),
                };
                each(verified);
                left -= 1;
                if left == 0 {
                    // Always there: its frames were counted from it.
                    let Some((len, seal)) = blocks.get(next) else {
                        return Err(None);
                    };
                    self.queue_seal(&mut seals, first, seal.as_ref())
                        .map_err(Some)?;
                    first = self.head.sequence + 1;
                    at += len;
                    next += 1;
                }
            }
            // A frame that does not read lies in a block that does not cut
            // cleanly: the next, since every one before it did.
            match window.unreadable {
                Some(_) => Err(None),
                None => Ok(()),
            }
        });
        match outcome {
            Ok(()) => seals.check().map(|()| None),
            Err(Some(fault)) => Err(fault),
            Err(None) => seals.check().map(|()| Some((next, at))),
        }
    }

    /// As [`Verifier::check_seal`], but a seal to check is queued in `seals`.
    fn queue_seal(
        &self,
        seals: &mut Seals,
        first_sequence: u64,
        seal: Option<&Signature>,
    ) -> Result<(), ChainError> {
        let Some((key, message)) = self.seal_due() else {
            return Ok(());
        };
        match seal {
            Some(seal) => seals.push(first_sequence, key, message, *seal),
            None => {
                seals.check()?;
                Err(bad_seal(first_sequence))
            }
        }
    }

    /// Checks a parsed frame whose own hash was worked out ahead.
    fn push_prepared<'p>(&mut self, prepared: &'p Prepared) -> Result<&'p Verified, ChainError> {
        self.check(prepared)?;
        let verified = prepared.body.verified().map_err(|e| self.fault(e.into()))?;
        if let Some(audit) = &mut self.audit {
            audit.check(&verified.record).map_err(|fault| ChainError {
                sequence: self.head.sequence + 1,
                fault,
            })?;
            audit.accept_leaf(prepared.leaf, prepared.closes, &verified.record);
        }
        self.head = verified.head;
        Ok(verified)
    }

    /// The frame's own integrity first (so a changed byte is blamed on the
    /// frame that holds it), then its place in the chain; its body after.
    fn check(&self, frame: &Prepared) -> Result<(), ChainError> {
        let header = &frame.header;
        if header.format != FORMAT_VERSION {
            return Err(self.fault(Fault::UnknownFormat(header.format)));
        }
        if frame.computed != frame.stored {
            return Err(self.fault(Fault::BadHash {
                computed: frame.computed,
                stored: frame.stored,
            }));
        }
        let expected = self.head.sequence + 1;
        if header.sequence != expected {
            return Err(self.fault(Fault::Gap {
                expected,
                found: header.sequence,
            }));
        }
        if header.previous != self.head.hash {
            return Err(self.fault(Fault::BadLink {
                expected: self.head.hash,
                found: header.previous,
            }));
        }
        Ok(())
    }

    fn fault(&self, fault: Fault) -> ChainError {
        ChainError {
            sequence: self.head.sequence + 1,
            fault,
        }
    }
}

/// Verifies a whole chain from its first frame, one frame per item, and
/// returns its head (sequence 0 for an empty chain).
pub fn verify<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> Result<Head, ChainError> {
    let mut verifier = Verifier::new();
    for bytes in frames {
        verifier.push(bytes)?;
    }
    Ok(verifier.head())
}

/// Where a block of frames ends: its last frame's sequence and hash,
/// read from the block alone (its links to what came before are not
/// checked). `None` when the block does not parse as whole frames.
pub fn block_end(mut block: &[u8]) -> Option<Head> {
    let mut end = None;
    while !block.is_empty() {
        let (frame, rest) = crate::frame::parse_frame(block).ok()?;
        end = Some(Head {
            sequence: frame.header.sequence,
            hash: frame.computed_hash(),
        });
        block = rest;
    }
    end
}

/// Verifies frames stored back to back in one buffer (a block, a bundle).
pub fn verify_concatenated(mut buf: &[u8], from: Head) -> Result<Head, ChainError> {
    let mut verifier = Verifier::resume(from);
    while !buf.is_empty() {
        let (_, rest) = verifier.push_front(buf)?;
        buf = rest;
    }
    Ok(verifier.head())
}

/// A block whose seal is missing or does not verify, named at its first
/// frame.
fn bad_seal(first_sequence: u64) -> ChainError {
    ChainError {
        sequence: first_sequence,
        fault: Fault::BadSignature("block"),
    }
}

/// How many frames `block` cuts into, or `None` if it does not cut cleanly.
fn frames_in(mut block: &[u8]) -> Option<u64> {
    let mut frames = 0;
    while !block.is_empty() {
        block = frame::parse_frame(block).ok()?.1;
        frames += 1;
    }
    Some(frames)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::{Event, WishWithdrawn};
    use crate::testing::{actor, text, world};
    use crate::time::Timestamp;
    use crate::values::WishId;

    /// A chain of real events from the test world, then filler up to `n`.
    fn records(n: usize) -> Vec<EventRecord> {
        let events = world().events();
        (0..n)
            .map(|i| EventRecord {
                recorded_at: Timestamp(1_772_000_000_000_000 + i as i64 * 1_000_000),
                actor: actor("admin-city"),
                submission: None,
                event: events.get(i).cloned().unwrap_or_else(|| {
                    Event::WishWithdrawn(WishWithdrawn {
                        wish: WishId::new(format!("w{i}")).unwrap(),
                        reason: text("重复发布"),
                    })
                }),
            })
            .collect()
    }

    fn frames(n: usize) -> Vec<Vec<u8>> {
        framed(&records(n)).0
    }

    /// Each record framed and linked after the one before: the frames, and
    /// the head after each.
    fn framed(records: &[EventRecord]) -> (Vec<Vec<u8>>, Vec<Head>) {
        let mut chain = Chain::new();
        records
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                let head = chain.append(r, &mut out).unwrap();
                (out, head)
            })
            .unzip()
    }

    fn shared_chain() -> &'static [Vec<u8>] {
        static CHAIN: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        CHAIN.get_or_init(|| frames(2_000))
    }

    #[test]
    fn a_request_is_recorded_under_the_admin_it_names() {
        use crate::domain::ManualEntry;
        use crate::event::EntryRequested;
        use crate::values::{RequestId, VolunteerId};
        let request = |by: &str| {
            let mut records = records(10);
            records[9].event = Event::EntryRequested(Box::new(EntryRequested {
                request: RequestId(1),
                entry: ManualEntry::Award {
                    volunteer: VolunteerId::new("v1").unwrap(),
                    points: 5,
                },
                reason: text("微心愿"),
                requested_by: actor(by),
            }));
            framed(&records).0
        };
        let own = request("admin-city");
        assert_eq!(verify(own.iter().map(Vec::as_slice)).unwrap().sequence, 10);
        let foreign = request("admin-d1");
        let err = verify(foreign.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, 10);
        assert_eq!(
            err.fault,
            Fault::ForeignRequester {
                named: actor("admin-d1"),
                actor: actor("admin-city")
            }
        );
    }

    #[test]
    fn a_sound_chain_verifies_to_its_head() {
        let frames = frames(50);
        let head = verify(frames.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(head.sequence, 50);
        let (last, _) = frame::parse_frame(&frames[49]).unwrap();
        assert_eq!(head.hash, last.stored_hash);
        assert_eq!(verify(std::iter::empty()).unwrap(), Head::EMPTY);
        let joined: Vec<u8> = frames.concat();
        assert_eq!(verify_concatenated(&joined, Head::EMPTY).unwrap(), head);
    }

    #[test]
    fn decoded_records_are_the_ones_written() {
        let records = records(30);
        let frames = frames(30);
        let mut verifier = Verifier::new();
        for (record, bytes) in records.iter().zip(&frames) {
            assert_eq!(&verifier.push(bytes).unwrap().record, record);
        }
    }

    #[test]
    fn a_missing_frame_is_a_gap_and_a_swapped_one_a_bad_link() {
        let mut frames = frames(10);
        let removed = frames.remove(4);
        let err = verify(frames.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, 5);
        assert_eq!(
            err.fault,
            Fault::Gap {
                expected: 5,
                found: 6
            }
        );
        frames.insert(4, removed);
        frames.swap(2, 3);
        let err = verify(frames.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, 3);
        assert!(matches!(
            err.fault,
            Fault::Gap {
                expected: 3,
                found: 4
            }
        ));
    }

    #[test]
    fn a_frame_forged_with_a_valid_hash_breaks_the_next_link() {
        let records = records(5);
        let frames = frames(5);
        // A writer without the chain's history re-hashes a changed frame 3.
        let mut forged_record = records[2].clone();
        forged_record.actor = actor("intruder");
        let mut forged = Vec::new();
        let (original, _) = frame::parse_frame(&frames[2]).unwrap();
        frame::encode_frame(3, &original.header.previous, &forged_record, &mut forged).unwrap();
        let mut tampered = frames.clone();
        tampered[2] = forged;
        let err = verify(tampered.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, 4);
        assert!(matches!(err.fault, Fault::BadLink { .. }));
    }

    #[test]
    fn unknown_schema_and_trailing_bytes_are_named() {
        let records = records(1);
        let mut out = Vec::new();
        frame::encode_frame(1, &Digest::ZERO, &records[0], &mut out).unwrap();
        // Rewrite the schema and re-hash, as a future writer would.
        out[2] = 9;
        let body_end = out.len() - HASH_LEN_FOR_TESTS;
        let hash = frame::hash_frame(&out[..body_end]);
        out[body_end..].copy_from_slice(&hash.0);
        let err = verify([out.as_slice()]).unwrap_err();
        assert_eq!(err.fault, Fault::Body(BodyError::UnknownSchema(9)));
        let mut padded = frames(1).remove(0);
        padded.push(0);
        let err = verify([padded.as_slice()]).unwrap_err();
        assert_eq!(err.fault, Fault::TrailingBytes(1));
    }

    const HASH_LEN_FOR_TESTS: usize = frame::HASH_LEN;

    /// A chain of the test world, the ledger key, then a checkpoint signed
    /// by `signer` over `root` (None: the true root).
    fn checkpointed(signer: &signing::LedgerSigner, root: Option<Digest>) -> (Vec<Vec<u8>>, u64) {
        use crate::domain::Checkpoint;
        use crate::event::{CheckpointRecorded, LedgerKeyPublished};
        let key = signing::LedgerSigner::from_secret(&[1; 32]);
        let mut events = world().events();
        events.push(Event::LedgerKeyPublished(LedgerKeyPublished {
            public_key: key.public_key(),
            endorsement: None,
        }));
        let mut chain = Chain::new();
        let mut frontier = Frontier::new();
        let mut frames = Vec::new();
        let record = |event| EventRecord {
            recorded_at: Timestamp(0),
            actor: actor("ledger"),
            submission: None,
            event,
        };
        for event in events {
            let mut out = Vec::new();
            let head = chain.append(&record(event), &mut out).unwrap();
            frontier.push(&head.hash);
            frames.push(out);
        }
        let tree_size = frontier.size();
        let root = root.unwrap_or_else(|| frontier.root());
        let ledger = LedgerId::new("lyg").unwrap();
        let checkpoint = Checkpoint {
            tree_size,
            root,
            signature: Some(signer.sign(&checkpoint_message(&ledger, tree_size, &root))),
        };
        let mut out = Vec::new();
        chain
            .append(
                &record(Event::CheckpointRecorded(CheckpointRecorded { checkpoint })),
                &mut out,
            )
            .unwrap();
        frames.push(out);
        (frames, tree_size + 1)
    }

    #[test]
    fn checkpoints_are_checked_against_the_tree_and_the_key() {
        let key = signing::LedgerSigner::from_secret(&[1; 32]);
        let (frames, at) = checkpointed(&key, None);
        assert_eq!(
            verify(frames.iter().map(Vec::as_slice)).unwrap().sequence,
            at
        );

        let (frames, at) = checkpointed(&key, Some(Digest::of(b"not the root")));
        let err = verify(frames.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, at);
        assert!(
            matches!(err.fault, Fault::CheckpointMismatch { .. }),
            "{err}"
        );

        let stranger = signing::LedgerSigner::from_secret(&[2; 32]);
        let (frames, at) = checkpointed(&stranger, None);
        let err = verify(frames.iter().map(Vec::as_slice)).unwrap_err();
        assert_eq!(err.sequence, at);
        assert_eq!(err.fault, Fault::BadSignature("checkpoint"));
    }

    #[test]
    fn on_several_threads_a_whole_chain_verifies_as_on_one() {
        let joined = shared_chain().concat();
        let mut one = Verifier::new();
        let mut records = Vec::new();
        let mut rest: &[u8] = &joined;
        while !rest.is_empty() {
            let (v, tail) = one.push_front(rest).unwrap();
            records.push(v);
            rest = tail;
        }
        assert!(joined.len() > 4 * ONE_THREAD_BYTES && records.len() > 4 * WINDOW);
        for workers in [2, 4] {
            let mut many = Verifier::new();
            let mut got = Vec::new();
            many.push_all(&joined, workers, |v| got.push(v.clone()))
                .unwrap();
            assert_eq!(got, records);
            assert_eq!(many, one);
        }
    }

    /// A chain written under light load: the test world, the ledger's key,
    /// then filler; and each frame's head.
    fn sealed_chain() -> &'static (Vec<Vec<u8>>, Vec<Head>) {
        use crate::event::LedgerKeyPublished;
        static CHAIN: std::sync::OnceLock<(Vec<Vec<u8>>, Vec<Head>)> = std::sync::OnceLock::new();
        CHAIN.get_or_init(|| {
            let mut records = records(world().events().len());
            records.push(EventRecord {
                recorded_at: Timestamp(1_772_000_000_000_000),
                actor: actor("ledger"),
                submission: None,
                event: Event::LedgerKeyPublished(LedgerKeyPublished {
                    public_key: sealer().public_key(),
                    endorsement: None,
                }),
            });
            let key_at = records.len();
            records.extend(records_from(key_at, 1_400));
            framed(&records)
        })
    }

    fn sealer() -> signing::LedgerSigner {
        signing::LedgerSigner::from_secret(&[5; 32])
    }

    /// Filler records numbered from `from`, `n` of them.
    fn records_from(from: usize, n: usize) -> Vec<EventRecord> {
        (from..from + n)
            .map(|i| EventRecord {
                recorded_at: Timestamp(1_772_000_000_000_000 + i as i64 * 1_000_000),
                actor: actor("admin-city"),
                submission: None,
                event: Event::WishWithdrawn(WishWithdrawn {
                    wish: WishId::new(format!("w{i}")).unwrap(),
                    reason: text("重复发布"),
                }),
            })
            .collect()
    }

    /// Blocks back to back in `joined`, checked as a follower checks them:
    /// each block's frames, then its seal, until the first fault. Returns
    /// the verifier, the sequences handed over, and the outcome.
    fn one_block_at_a_time(
        joined: &[u8],
        blocks: &[(usize, Option<Signature>)],
    ) -> (Verifier, Vec<u64>, Result<(), ChainError>) {
        let mut verifier = Verifier::new();
        let mut seen = Vec::new();
        let mut tail = joined;
        for (len, seal) in blocks {
            let (block, next) = tail.split_at(*len);
            tail = next;
            let first = verifier.head().sequence + 1;
            let checked = verifier
                .push_all(block, 1, |v| seen.push(v.head.sequence))
                .and_then(|()| verifier.check_seal(first, seal.as_ref()));
            if checked.is_err() {
                return (verifier, seen, checked);
            }
        }
        (verifier, seen, Ok(()))
    }

    /// A block whose very first frame does not read (cut short, or a length
    /// past the limit) is named as checking block by block names it, after
    /// every block before it is checked and handed over, wherever it
    /// stands and on any number of threads; the frames of the blocks
    /// before it are what lets the together path start at all.
    #[test]
    fn a_block_whose_first_frame_does_not_read_is_named_as_one_by_one() {
        let chain = &shared_chain()[..600];
        for at in [1usize, 7, 300, 599] {
            for broken in ["cut short", "too long"] {
                let mut joined = chain[..at].concat();
                let mut bad = chain[at].clone();
                match broken {
                    "cut short" => bad.truncate(bad.len() - 1),
                    _ => bad[44..48].copy_from_slice(&u32::MAX.to_le_bytes()),
                }
                let before = joined.len();
                joined.extend_from_slice(&bad);
                // One frame a block, as a chain written under light load.
                let mut blocks: Vec<(usize, Option<Signature>)> =
                    chain[..at].iter().map(|f| (f.len(), None)).collect();
                blocks.push((joined.len() - before, None));
                let (one_by_one, seen_one, expected) = one_block_at_a_time(&joined, &blocks);
                assert!(expected.is_err(), "{broken} at {at}");
                for workers in [1, 2] {
                    let mut together = Verifier::new();
                    let mut seen = Vec::new();
                    let got = together
                        .push_sealed(&joined, &blocks, workers, |v| seen.push(v.head.sequence));
                    assert_eq!(got, expected, "{broken} at {at}, {workers} workers");
                    assert_eq!(seen, seen_one);
                    assert_eq!(together.head(), one_by_one.head());
                }
            }
        }
    }

    /// What a bundle or the live stream can get wrong about a block.
    #[derive(Clone, Debug)]
    enum Damage {
        Frame(prop::sample::Index, u8),
        Seal(prop::sample::Index, prop::sample::Index, u8),
        NoSeal(prop::sample::Index),
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any single changed byte in any frame of a chain of thousands is
        /// reported at that frame's sequence, whether the frames are stored
        /// one per message or back to back.
        #[test]
        fn any_changed_byte_is_named_at_its_frame(
            frame_pick in any::<prop::sample::Index>(),
            byte_pick in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let chain = shared_chain();
            let k = frame_pick.index(chain.len());
            let mut tampered = chain[k].clone();
            let at = byte_pick.index(tampered.len());
            tampered[at] ^= flip;

            let mut verifier = Verifier::new();
            let mut failure = None;
            for (i, bytes) in chain.iter().enumerate() {
                let bytes = if i == k { &tampered } else { bytes };
                if let Err(e) = verifier.push(bytes) {
                    failure = Some(e);
                    break;
                }
            }
            let err = failure.expect("a changed byte must be found");
            prop_assert_eq!(err.sequence, k as u64 + 1, "{}", err);

            let joined: Vec<u8> = chain[..k].concat().into_iter()
                .chain(tampered.iter().copied())
                .chain(chain[k + 1..].concat())
                .collect();
            let err = verify_concatenated(&joined, Head::EMPTY).unwrap_err();
            prop_assert_eq!(err.sequence, k as u64 + 1, "{}", err);

            // Hashed and decoded on several threads: the same fault, and
            // every frame before it handed over, in order.
            for workers in [1, 2, 3] {
                let mut verifier = Verifier::new();
                let mut seen = Vec::new();
                let parallel = verifier
                    .push_all(&joined, workers, |v| seen.push(v.head.sequence))
                    .unwrap_err();
                prop_assert_eq!(&parallel, &err);
                prop_assert_eq!(seen, (1..=k as u64).collect::<Vec<_>>());
            }
        }

        /// Blocks checked together (`push_sealed`) give what checking them
        /// one by one gives: the same frames handed over, the same head or
        /// the same first fault, wherever the blocks are cut and whatever
        /// byte is changed (or cut off).
        #[test]
        fn blocks_checked_together_are_checked_as_one_by_one(
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            damage in prop::option::of((any::<prop::sample::Index>(), 0u8..=255)),
            frames_wanted in 1usize..2_000,
        ) {
            let chain = &shared_chain()[..frames_wanted];
            let mut joined = chain.concat();
            // Block boundaries fall between frames, as a writer cuts them.
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(chain.len())).collect();
            at.push(chain.len());
            at.sort_unstable();
            at.dedup();
            let offsets: Vec<usize> = chain.iter().scan(0, |o, f| { *o += f.len(); Some(*o) }).collect();
            let mut blocks = Vec::new();
            let mut start = 0;
            for end in at.iter().filter(|&&i| i > 0).map(|&i| offsets[i - 1]) {
                if end > start {
                    blocks.push((end - start, None));
                    start = end;
                }
            }
            if let Some((pick, flip)) = damage {
                let i = pick.index(joined.len());
                // 0 cuts the rest of the block off; otherwise flip a byte.
                if flip == 0 { joined.truncate(i); } else { joined[i] ^= flip; }
            }
            let mut rest = joined.len();
            for block in blocks.iter_mut() {
                block.0 = block.0.min(rest);
                rest -= block.0;
            }

            let (one_by_one, seen_one, expected) = one_block_at_a_time(&joined, &blocks);
            for workers in [1, 2] {
                let mut together = Verifier::new();
                let mut seen = Vec::new();
                let got = together.push_sealed(&joined, &blocks, workers, |v| seen.push(v.head.sequence));
                prop_assert_eq!(&got, &expected);
                prop_assert_eq!(&seen, &seen_one);
                prop_assert_eq!(together.head(), one_by_one.head());
            }
        }
    }

    proptest! {
        // Each case signs and checks hundreds of seals.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Sealed blocks checked together, their seals in batches, give the
        /// first fault that checking each block and then its seal in turn
        /// gives: whatever frame byte or seal byte is changed, or seal left
        /// out, across hundreds of small blocks.
        #[test]
        fn sealed_blocks_checked_together_name_the_first_fault(
            sizes in prop::collection::vec(1usize..4, 250..450),
            damage in prop::option::of(prop_oneof![
                (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, b)| Damage::Frame(i, b)),
                (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1u8..=255)
                    .prop_map(|(i, j, b)| Damage::Seal(i, j, b)),
                any::<prop::sample::Index>().prop_map(Damage::NoSeal),
            ]),
        ) {
            let (frames, heads) = sealed_chain();
            let ledger = LedgerId::new("lyg").unwrap();
            let signer = sealer();
            // The first block ends with the key; small blocks follow.
            let key_end = world().events().len() + 1;
            let mut ends = vec![key_end];
            for size in sizes {
                let end = ends[ends.len() - 1] + size;
                if end > frames.len() {
                    break;
                }
                ends.push(end);
            }
            let mut joined = frames[..ends[ends.len() - 1]].concat();
            let mut blocks: Vec<(usize, Option<Signature>)> = Vec::new();
            let mut start = 0;
            for &end in &ends {
                let len = frames[start..end].iter().map(Vec::len).sum();
                let head = heads[end - 1];
                let seal = signer.sign(&signing::block_message(&ledger, head.sequence, &head.hash));
                blocks.push((len, Some(seal)));
                start = end;
            }
            match damage {
                Some(Damage::Frame(i, flip)) => {
                    let i = i.index(joined.len());
                    joined[i] ^= flip;
                }
                Some(Damage::Seal(b, i, flip)) => {
                    if let Some(seal) = &mut blocks[b.index(ends.len())].1 {
                        seal.0[i.index(64)] ^= flip;
                    }
                }
                Some(Damage::NoSeal(b)) => blocks[b.index(ends.len())].1 = None,
                None => {}
            }

            let (one_by_one, seen_one, expected) = one_block_at_a_time(&joined, &blocks);
            prop_assert_eq!(expected.is_err(), damage.is_some());
            for workers in [1, 2] {
                let mut together = Verifier::new();
                let mut seen = Vec::new();
                let got = together.push_sealed(&joined, &blocks, workers, |v| seen.push(v.head.sequence));
                prop_assert_eq!(&got, &expected);
                // Past a bad seal, frames of the blocks after it may have
                // been handed over before the batch was checked.
                prop_assert_eq!(&seen[..seen_one.len()], &seen_one[..]);
                if expected.is_ok() {
                    prop_assert_eq!(seen.len(), seen_one.len());
                    prop_assert_eq!(together.head(), one_by_one.head());
                }
            }
        }
    }
}

/// The two frames of `docs/chain.md`'s worked example. A test checks the
/// page's hex and hashes against these, so the page cannot drift.
#[cfg(test)]
pub(crate) mod worked_example {
    use super::*;
    use crate::domain::{Unit, UnitKind};
    use crate::event::{Event, LedgerOpened, UnitRegistered};
    use crate::time::{Timestamp, UtcOffset};
    use crate::values::{ActorId, LedgerId, SubmissionKey, Text, UnitId};

    pub fn records() -> [EventRecord; 2] {
        let actor = ActorId::new("admin-city").unwrap();
        [
            EventRecord {
                recorded_at: Timestamp::parse("2026-01-01T08:00:00+08:00").unwrap(),
                actor: actor.clone(),
                submission: None,
                event: Event::LedgerOpened(LedgerOpened {
                    ledger: LedgerId::new("lyg").unwrap(),
                    name: Text::new("连云港").unwrap(),
                    objection_window_days: 3,
                    utc_offset_minutes: UtcOffset::CHINA,
                    number_prefix: "LYG".into(),
                }),
            },
            EventRecord {
                recorded_at: Timestamp::parse("2026-01-01T08:00:01+08:00").unwrap(),
                actor,
                submission: Some(SubmissionKey::new("setup-2").unwrap()),
                event: Event::UnitRegistered(UnitRegistered {
                    unit: Unit {
                        id: UnitId::new("city").unwrap(),
                        name: Text::new("市总工会").unwrap(),
                        kind: UnitKind::CityFederation,
                        parent: None,
                        quota: Some(5800),
                    },
                }),
            },
        ]
    }

    pub fn frames() -> Vec<(Vec<u8>, Head)> {
        let mut chain = Chain::new();
        records()
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                let head = chain.append(r, &mut out).unwrap();
                (out, head)
            })
            .collect()
    }

    /// The hex lines of the code block after `marker` in docs/chain.md:
    /// the first token of each line.
    fn documented_hex(page: &str, marker: &str) -> String {
        let after = page.split(marker).nth(1).expect("marker in docs/chain.md");
        let block = after.split("```").nth(1).expect("code block after marker");
        block
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .collect()
    }

    #[test]
    fn a_block_ends_at_its_last_frame() {
        let frames = frames();
        let block: Vec<u8> = frames.iter().flat_map(|(f, _)| f.clone()).collect();
        assert_eq!(block_end(&block), Some(frames[1].1));
        assert_eq!(block_end(&frames[0].0), Some(frames[0].1));
        assert_eq!(block_end(&block[..block.len() - 1]), None);
        assert_eq!(block_end(&[]), None);
    }

    #[test]
    fn docs_worked_example_matches() {
        let page = include_str!("../../docs/chain.md");
        let frames = frames();
        for (i, (bytes, head)) in frames.iter().enumerate() {
            let documented = documented_hex(page, &format!("<!-- frame {} -->", i + 1));
            assert_eq!(
                documented,
                hex::encode(bytes),
                "frame {} in docs/chain.md",
                i + 1
            );
            assert!(page.contains(&format!("Frame {}'s hash", i + 1)));
            assert!(page.contains(&head.hash.to_hex()));
        }
        let head = verify(frames.iter().map(|(b, _)| b.as_slice())).unwrap();
        assert_eq!(head, frames[1].1);
        assert_eq!(frames[0].0.len(), 122);
        assert_eq!(frames[1].0.len(), 132);
    }
}
