//! The writer's memory of the submissions it has answered, so that a retry
//! with the same key gets the same answer and never counts twice.
//!
//! It holds one entry for every keyed command ever accepted (rebuilt from
//! the chain) and every rejection answered (from the rejection log): at
//! ten million events, millions of entries, the largest thing the writer
//! keeps besides the state. So an entry is small and of fixed size:
//! - the actor and key are kept as 16 bytes of BLAKE3 over both, not as
//!   two ids of up to 64 bytes each;
//! - an accepted submission with events, nearly every entry, is kept as
//!   where its events are and the last one's hash; any other answer
//!   (rejections, acceptances with nothing to record) is kept whole, boxed.
//!
//! Two different submissions share an entry only if their 128-bit digests
//! collide: about 10^-25 at ten million entries, and only the submitter's
//! own submissions could be made to (the actor is part of the digest).

use std::sync::LazyLock;

use ledger_core::hashing::{Map, SlotIndex};

use blake3::hazmat::{ContextKey, HasherExt};
use ledger_core::chain::Head;
use ledger_core::values::{ActorId, Digest, SubmissionKey};

use crate::answer::Answer;

/// Which submission: its actor and key, hashed together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubmissionId([u8; 16]);

static CONTEXT: LazyLock<ContextKey> = LazyLock::new(|| {
    blake3::hazmat::hash_derive_key_context("union-volunteer-ledger 2026-11-24 submission index")
});

impl SubmissionId {
    pub fn of(actor: &ActorId, key: &SubmissionKey) -> SubmissionId {
        // The actor's length first, so that no two (actor, key) pairs run
        // together into the same bytes.
        let actor = actor.as_str().as_bytes();
        let hash = blake3::Hasher::new_from_context_key(&CONTEXT)
            .update(&(actor.len() as u64).to_le_bytes())
            .update(actor)
            .update(key.as_str().as_bytes())
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_bytes()[..16]);
        SubmissionId(id)
    }
}

/// An accepted submission with events: nearly every entry. Its events are
/// `first ..= first + more`, `events` of them, the last with hash `hash`.
/// 64 bytes, kept in pages of a fixed size, so that the index grows without
/// copying millions of entries at once or keeping room for as many again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Recorded {
    id: SubmissionId,
    first: u64,
    more: u32,
    events: u32,
    hash: Digest,
}

impl Recorded {
    /// The entry for `answer`, if it fits one: accepted, with events whose
    /// sequences are in order and less than four billion apart.
    fn of(id: SubmissionId, answer: &Answer) -> Option<Recorded> {
        match answer {
            &Answer::Accepted {
                first_sequence: Some(first),
                last_sequence: Some(last),
                hash: Some(hash),
                events,
            } => Some(Recorded {
                id,
                first,
                more: u32::try_from(last.checked_sub(first)?).ok()?,
                events,
                hash,
            }),
            _ => None,
        }
    }

    fn answer(&self) -> Answer {
        Answer::Accepted {
            first_sequence: Some(self.first),
            last_sequence: Some(self.first + u64::from(self.more)),
            hash: Some(self.hash),
            events: self.events,
        }
    }
}

/// Entries in a page. A page is 256 KiB: small beside millions of entries,
/// large enough that the pages' own list stays short.
const PAGE: usize = 4096;

#[derive(Default)]
pub struct Submissions {
    pages: Vec<Vec<Recorded>>,
    recorded: usize,
    /// Where each recorded entry is (its number across the pages), by its id.
    index: SlotIndex,
    /// Every other answer, whole: rejections, acceptances with nothing to
    /// record, and anything else an answer may say.
    others: Map<SubmissionId, Box<Answer>>,
}

impl Submissions {
    pub fn new() -> Submissions {
        Submissions::default()
    }

    pub fn len(&self) -> usize {
        self.recorded + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer given to this submission before, if any.
    pub fn get(&self, id: &SubmissionId) -> Option<Answer> {
        match self.find(id) {
            Some(n) => Some(self.entry(n).answer()),
            None => self.others.get(id).map(|answer| (**answer).clone()),
        }
    }

    /// Remembers `answer`, unless the submission has one already.
    pub fn remember(&mut self, id: SubmissionId, answer: &Answer) {
        if self.find(&id).is_some() || self.others.contains_key(&id) {
            return;
        }
        match Recorded::of(id, answer) {
            Some(entry) => self.push(entry),
            None => {
                self.others.insert(id, Box::new(answer.clone()));
            }
        }
    }

    /// Adds one event read back from the chain to its submission's answer
    /// (a command may produce several events, all under its key).
    pub fn record_event(&mut self, id: SubmissionId, head: Head) {
        if let Some(n) = self.find(&id) {
            let entry = self.entry_mut(n);
            match head.sequence.checked_sub(entry.first).map(u32::try_from) {
                Some(Ok(more)) => {
                    entry.more = more;
                    entry.hash = head.hash;
                    entry.events += 1;
                }
                // Events of one command are next to each other on the
                // chain; one before its first, or four billion events on,
                // cannot be that command's.
                _ => tracing::warn!(
                    sequence = head.sequence,
                    "an event out of its submission's run is not counted in its answer"
                ),
            }
            return;
        }
        if self.others.contains_key(&id) {
            return;
        }
        self.push(Recorded {
            id,
            first: head.sequence,
            more: 0,
            events: 1,
            hash: head.hash,
        });
    }

    /// Takes over from `earlier` the answers the chain does not hold
    /// (after this index was rebuilt from the chain).
    pub fn keep_unrecorded(&mut self, earlier: Submissions) {
        for (id, answer) in earlier.others {
            let leaves_no_event = matches!(
                *answer,
                Answer::Rejected { .. } | Answer::Accepted { events: 0, .. }
            );
            if leaves_no_event && self.find(&id).is_none() {
                self.others.entry(id).or_insert(answer);
            }
        }
    }

    fn find(&self, id: &SubmissionId) -> Option<u32> {
        self.index.find(id, |n| &self.entry(n).id)
    }

    fn entry(&self, n: u32) -> &Recorded {
        entry_in(&self.pages, n)
    }

    fn entry_mut(&mut self, n: u32) -> &mut Recorded {
        let n = n as usize;
        &mut self.pages[n / PAGE][n % PAGE]
    }

    fn push(&mut self, entry: Recorded) {
        // Four billion accepted submissions would be 256 GiB of entries:
        // a writer never holds that many.
        let n = u32::try_from(self.recorded).unwrap_or(u32::MAX);
        if self.recorded.is_multiple_of(PAGE) {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        let id = entry.id;
        if let Some(page) = self.pages.last_mut() {
            page.push(entry);
        }
        self.recorded += 1;
        let pages = &self.pages;
        self.index.insert_new(&id, n, |m| &entry_in(pages, m).id);
    }
}

fn entry_in(pages: &[Vec<Recorded>], n: u32) -> &Recorded {
    let n = n as usize;
    &pages[n / PAGE][n % PAGE]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(actor: &str, key: &str) -> SubmissionId {
        SubmissionId::of(
            &ActorId::new(actor).unwrap(),
            &SubmissionKey::new(key).unwrap(),
        )
    }

    fn head(sequence: u64) -> Head {
        Head {
            sequence,
            hash: Digest::of(&sequence.to_le_bytes()),
        }
    }

    #[test]
    fn actor_and_key_never_run_together() {
        assert_ne!(id("kiosk-1", "2-abc"), id("kiosk-12", "-abc"));
        assert_ne!(id("kiosk-1", "a"), id("kiosk-2", "a"));
        assert_eq!(id("kiosk-1", "a"), id("kiosk-1", "a"));
    }

    #[test]
    fn every_kind_of_answer_comes_back_as_it_was_given() {
        let answers = [
            Answer::Accepted {
                first_sequence: Some(7),
                last_sequence: Some(9),
                hash: Some(Digest::of(b"ninth")),
                events: 3,
            },
            Answer::nothing_recorded(),
            Answer::Rejected {
                code: "ALREADY_CHECKED_IN".into(),
                message: "already checked in".into(),
                field: Some("volunteer".into()),
            },
        ];
        let mut submissions = Submissions::new();
        for (i, answer) in answers.iter().enumerate() {
            submissions.remember(id("kiosk-1", &format!("k{i}")), answer);
        }
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(
                submissions.get(&id("kiosk-1", &format!("k{i}"))).as_ref(),
                Some(answer)
            );
        }
        assert_eq!(submissions.get(&id("kiosk-2", "k0")), None);
    }

    #[test]
    fn the_first_answer_stays() {
        let mut submissions = Submissions::new();
        let first = Answer::nothing_recorded();
        submissions.remember(id("a", "k"), &first);
        submissions.remember(
            id("a", "k"),
            &Answer::Unavailable {
                message: "x".into(),
            },
        );
        assert_eq!(submissions.get(&id("a", "k")), Some(first));
    }

    #[test]
    fn events_read_back_make_one_answer_per_submission() {
        let mut submissions = Submissions::new();
        for sequence in 4..=6 {
            submissions.record_event(id("a", "k"), head(sequence));
        }
        assert_eq!(
            submissions.get(&id("a", "k")),
            Some(Answer::Accepted {
                first_sequence: Some(4),
                last_sequence: Some(6),
                hash: Some(head(6).hash),
                events: 3,
            })
        );
    }

    #[test]
    fn a_rebuild_keeps_only_what_the_chain_does_not_hold() {
        let mut earlier = Submissions::new();
        let rejected = Answer::Rejected {
            code: "FULL".into(),
            message: "the activity is full".into(),
            field: None,
        };
        earlier.remember(id("a", "rejected"), &rejected);
        earlier.remember(id("a", "nothing"), &Answer::nothing_recorded());
        earlier.record_event(id("a", "recorded"), head(1));
        let mut rebuilt = Submissions::new();
        rebuilt.keep_unrecorded(earlier);
        assert_eq!(rebuilt.get(&id("a", "rejected")), Some(rejected));
        assert_eq!(
            rebuilt.get(&id("a", "nothing")),
            Some(Answer::nothing_recorded())
        );
        assert_eq!(rebuilt.get(&id("a", "recorded")), None);
        assert_eq!(rebuilt.len(), 2);
    }

    /// What the writer does with the index, on a few actors and keys so
    /// that they meet: answers a submission (an accepted one with events
    /// puts those on the chain), or rebuilds from the chain after a failed
    /// append or at start.
    #[derive(Clone, Debug)]
    enum Op {
        Answer(u8, u8, u8),
        Rebuild,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..3, 0u8..4, 0u8..4).prop_map(|(a, k, n)| Op::Answer(a, k, n)),
            1 => Just(Op::Rebuild),
        ]
    }

    fn answer(n: u8, at: u64) -> Answer {
        match n {
            0 => Answer::nothing_recorded(),
            1 => Answer::Rejected {
                code: "FULL".into(),
                message: "the activity is full".into(),
                field: None,
            },
            2 => Answer::Unavailable {
                message: "retry".into(),
            },
            _ => Answer::Accepted {
                first_sequence: Some(at),
                last_sequence: Some(at + 1),
                hash: Some(head(at + 1).hash),
                events: 2,
            },
        }
    }

    type Model = std::collections::HashMap<(u8, u8), Answer>;

    /// The writer's index before this module, rebuilt from the chain: the
    /// whole answer under the two ids, events added up as read back.
    fn model_from_chain(chain: &[(u8, u8, u64)]) -> Model {
        let mut model = Model::new();
        for &(a, k, at) in chain {
            let entry = model.entry((a, k)).or_insert(Answer::Accepted {
                first_sequence: Some(at),
                last_sequence: None,
                hash: None,
                events: 0,
            });
            if let Answer::Accepted {
                last_sequence,
                hash,
                events,
                ..
            } = entry
            {
                *last_sequence = Some(at);
                *hash = Some(head(at).hash);
                *events += 1;
            }
        }
        model
    }

    proptest! {
        /// The index answers every submission as the plain map of whole
        /// answers the writer kept before it did, through answers given
        /// (the first stays; `unavailable` is never kept) and rebuilds
        /// (the chain's answers, and the others kept from before).
        #[test]
        fn it_answers_as_the_map_of_whole_answers_did(ops in proptest::collection::vec(op(), 0..60)) {
            let ids = |a: u8, k: u8| id(&format!("actor-{a}"), &format!("key-{k}"));
            let mut model = Model::new();
            let mut index = Submissions::new();
            let mut chain: Vec<(u8, u8, u64)> = Vec::new();
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Answer(a, k, n) => {
                        if model.contains_key(&(a, k)) {
                            // A retry: the writer answers from the index.
                            continue;
                        }
                        let at = step as u64 * 10 + 1;
                        let given = answer(n, at);
                        if let Answer::Accepted { events: 2, .. } = given {
                            chain.extend([(a, k, at), (a, k, at + 1)]);
                        }
                        if !matches!(given, Answer::Unavailable { .. }) {
                            model.insert((a, k), given.clone());
                            index.remember(ids(a, k), &given);
                        }
                    }
                    Op::Rebuild => {
                        let mut fresh = model_from_chain(&chain);
                        for (key, answer) in model.drain() {
                            if matches!(answer, Answer::Rejected { .. } | Answer::Accepted { events: 0, .. }) {
                                fresh.entry(key).or_insert(answer);
                            }
                        }
                        model = fresh;
                        let mut rebuilt = Submissions::new();
                        for &(a, k, at) in &chain {
                            rebuilt.record_event(ids(a, k), head(at));
                        }
                        rebuilt.keep_unrecorded(std::mem::take(&mut index));
                        index = rebuilt;
                    }
                }
                for a in 0..3 {
                    for k in 0..4 {
                        prop_assert_eq!(index.get(&ids(a, k)), model.get(&(a, k)).cloned(), "actor {} key {}", a, k);
                    }
                }
            }
        }
    }

    #[test]
    fn an_entry_is_small() {
        // The point of this module: an accepted submission in 64 bytes,
        // where the two ids and a whole answer took 128.
        assert!(std::mem::size_of::<Recorded>() <= 64);
    }

    /// More entries than a page holds, each found again, with an event
    /// added to one in the first page and one in the last.
    #[test]
    fn entries_are_found_across_pages() {
        let mut submissions = Submissions::new();
        let n = PAGE as u64 * 2 + 10;
        for i in 0..n {
            submissions.record_event(id("a", &format!("k{i}")), head(i * 3 + 1));
        }
        submissions.record_event(id("a", "k0"), head(2));
        submissions.record_event(id("a", &format!("k{}", n - 1)), head(n * 3 - 1));
        assert_eq!(submissions.len() as u64, n);
        for i in [0, 1, PAGE as u64 - 1, PAGE as u64, n - 1] {
            let (last, events) = match i {
                0 => (2, 2),
                i if i == n - 1 => (n * 3 - 1, 2),
                i => (i * 3 + 1, 1),
            };
            assert_eq!(
                submissions.get(&id("a", &format!("k{i}"))),
                Some(Answer::Accepted {
                    first_sequence: Some(i * 3 + 1),
                    last_sequence: Some(last),
                    hash: Some(head(last).hash),
                    events,
                }),
                "entry {i}"
            );
        }
    }

    /// An accepted answer whose sequences do not fit an entry is kept whole.
    #[test]
    fn an_answer_that_fits_no_entry_is_kept_whole() {
        let odd = [(9, 7), (1, 1 + (1 << 33))];
        let mut submissions = Submissions::new();
        for (i, (first, last)) in odd.into_iter().enumerate() {
            let answer = Answer::Accepted {
                first_sequence: Some(first),
                last_sequence: Some(last),
                hash: Some(head(last).hash),
                events: 2,
            };
            submissions.remember(id("a", &format!("k{i}")), &answer);
            assert_eq!(submissions.get(&id("a", &format!("k{i}"))), Some(answer));
        }
    }
}
