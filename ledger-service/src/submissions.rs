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
//!   (rejections, acceptances with nothing to record) is kept whole, boxed;
//! - the writer's index (`spilling_to`) keeps only the newest pages whole:
//!   of older ones it keeps the ids, which finding an entry compares, and
//!   puts the rest (48 of 64 bytes) in a file, read back for a retry of
//!   an old submission, which is rare.
//!
//! Two different submissions share an entry only if their 128-bit digests
//! collide: about 10^-25 at ten million entries, and only the submitter's
//! own submissions could be made to (the actor is part of the digest).

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::LazyLock;

use thiserror::Error;

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

/// Pages kept whole in memory, the newest: a command's events are next to
/// each other on the chain, so only the latest entries still change.
const HELD_PAGES: usize = 2;

/// A page of entries: whole, or its ids only, the rest in the answers'
/// file. The ids stay in memory because the index compares them to find
/// an entry and hashes them when it grows.
enum Page {
    Held(Vec<Recorded>),
    Spilled(Box<[SubmissionId]>),
}

impl Page {
    fn id(&self, i: usize) -> &SubmissionId {
        match self {
            Page::Held(entries) => &entries[i].id,
            Page::Spilled(ids) => &ids[i],
        }
    }
}

#[derive(Debug, Error)]
#[error("the submissions' answers file, entry {entry}: {source}")]
pub struct SpillError {
    entry: u64,
    #[source]
    source: std::io::Error,
}

pub struct Submissions {
    pages: Vec<Page>,
    recorded: usize,
    /// Entries a page holds (`PAGE`, fewer under test).
    page: usize,
    /// Where each recorded entry is (its number across the pages), by its id.
    index: SlotIndex,
    /// Every other answer, whole: rejections, acceptances with nothing to
    /// record, and anything else an answer may say.
    others: Map<SubmissionId, Box<Answer>>,
    /// Where the answers of pages no longer held go; `None`: all in memory.
    file: Option<AnswersFile>,
}

impl Submissions {
    /// An index held wholly in memory.
    pub fn new() -> Submissions {
        Submissions {
            pages: Vec::new(),
            recorded: 0,
            page: PAGE,
            index: SlotIndex::default(),
            others: Map::default(),
            file: None,
        }
    }

    /// An index that keeps the answers of all but its newest pages in a
    /// file of its own in `dir` (48 of an entry's 64 bytes), unnamed, so
    /// that it goes when the index does.
    pub fn spilling_to(dir: &Path) -> std::io::Result<Submissions> {
        Ok(Submissions {
            file: Some(AnswersFile::create(dir)?),
            ..Submissions::new()
        })
    }

    pub fn len(&self) -> usize {
        self.recorded + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer given to this submission before, if any.
    pub fn get(&self, id: &SubmissionId) -> Result<Option<Answer>, SpillError> {
        match self.find(id) {
            Some(n) => Ok(Some(self.entry(n)?.answer())),
            None => Ok(self.others.get(id).map(|answer| (**answer).clone())),
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
    pub fn record_event(&mut self, id: SubmissionId, head: Head) -> Result<(), SpillError> {
        if let Some(n) = self.find(&id) {
            let mut entry = self.entry(n)?;
            match head.sequence.checked_sub(entry.first).map(u32::try_from) {
                Some(Ok(more)) => {
                    entry.more = more;
                    entry.hash = head.hash;
                    entry.events += 1;
                    self.set_entry(n, entry)?;
                }
                // Events of one command are next to each other on the
                // chain; one before its first, or four billion events on,
                // cannot be that command's.
                _ => tracing::warn!(
                    sequence = head.sequence,
                    "an event out of its submission's run is not counted in its answer"
                ),
            }
            return Ok(());
        }
        if self.others.contains_key(&id) {
            return Ok(());
        }
        self.push(Recorded {
            id,
            first: head.sequence,
            more: 0,
            events: 1,
            hash: head.hash,
        });
        Ok(())
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
        let (pages, page) = (&self.pages, self.page);
        self.index.find(id, |n| id_in(pages, page, n))
    }

    fn entry(&self, n: u32) -> Result<Recorded, SpillError> {
        let (page, i) = self.place(n);
        match &self.pages[page] {
            Page::Held(entries) => Ok(entries[i]),
            Page::Spilled(ids) => self.spilled(n).read(u64::from(n), ids[i]),
        }
    }

    fn set_entry(&mut self, n: u32, entry: Recorded) -> Result<(), SpillError> {
        let (page, i) = self.place(n);
        match &mut self.pages[page] {
            Page::Held(entries) => {
                entries[i] = entry;
                Ok(())
            }
            Page::Spilled(_) => self.spilled(n).write(u64::from(n), &[entry]),
        }
    }

    /// The file of a spilled page's entry (a page is spilled only when
    /// there is one).
    fn spilled(&self, n: u32) -> &AnswersFile {
        match &self.file {
            Some(file) => file,
            None => unreachable!("entry {n} is in a spilled page, and there is no file"),
        }
    }

    fn place(&self, n: u32) -> (usize, usize) {
        let n = n as usize;
        (n / self.page, n % self.page)
    }

    fn push(&mut self, entry: Recorded) {
        // Four billion accepted submissions would be 256 GiB of entries:
        // a writer never holds that many.
        let n = u32::try_from(self.recorded).unwrap_or(u32::MAX);
        if self.recorded.is_multiple_of(self.page) {
            self.spill_oldest_held();
            self.pages.push(Page::Held(Vec::with_capacity(self.page)));
        }
        let id = entry.id;
        if let Some(Page::Held(entries)) = self.pages.last_mut() {
            entries.push(entry);
        }
        self.recorded += 1;
        let (pages, page) = (&self.pages, self.page);
        self.index.insert_new(&id, n, |m| id_in(pages, page, m));
    }

    /// Writes out the answers of the page that falls out of the newest
    /// [`HELD_PAGES`]. If the file cannot take them the page stays whole
    /// in memory: the index then holds more, and loses nothing.
    fn spill_oldest_held(&mut self) {
        let Some(file) = &self.file else { return };
        let Some(p) = self.pages.len().checked_sub(HELD_PAGES) else {
            return;
        };
        let Page::Held(entries) = &self.pages[p] else {
            return;
        };
        let first = (p * self.page) as u64;
        match file.write(first, entries) {
            Ok(()) => {
                let ids = entries.iter().map(|e| e.id).collect();
                self.pages[p] = Page::Spilled(ids);
            }
            Err(e) => tracing::warn!(error = %e, "a page of answers stays in memory"),
        }
    }
}

impl Default for Submissions {
    fn default() -> Submissions {
        Submissions::new()
    }
}

fn id_in(pages: &[Page], page: usize, n: u32) -> &SubmissionId {
    let n = n as usize;
    pages[n / page].id(n % page)
}

/// An entry's answer as the file keeps it: its first sequence, how many
/// more up to its last, how many events, the last one's hash.
const ANSWER_BYTES: usize = 8 + 4 + 4 + 32;

/// The answers of spilled pages, entry `n` at byte `n * ANSWER_BYTES`.
struct AnswersFile {
    file: std::fs::File,
}

impl AnswersFile {
    fn create(dir: &Path) -> std::io::Result<AnswersFile> {
        std::fs::create_dir_all(dir)?;
        Ok(AnswersFile {
            file: tempfile::tempfile_in(dir)?,
        })
    }

    /// Writes `entries`' answers from entry `first` on.
    fn write(&self, first: u64, entries: &[Recorded]) -> Result<(), SpillError> {
        let mut bytes = Vec::with_capacity(entries.len() * ANSWER_BYTES);
        for e in entries {
            bytes.extend_from_slice(&e.first.to_le_bytes());
            bytes.extend_from_slice(&e.more.to_le_bytes());
            bytes.extend_from_slice(&e.events.to_le_bytes());
            bytes.extend_from_slice(&e.hash.0);
        }
        self.file
            .write_all_at(&bytes, first * ANSWER_BYTES as u64)
            .map_err(|source| SpillError {
                entry: first,
                source,
            })
    }

    /// Entry `n`, whose id is `id`.
    fn read(&self, n: u64, id: SubmissionId) -> Result<Recorded, SpillError> {
        let mut bytes = [0u8; ANSWER_BYTES];
        self.file
            .read_exact_at(&mut bytes, n * ANSWER_BYTES as u64)
            .map_err(|source| SpillError { entry: n, source })?;
        let mut first = [0u8; 8];
        let (mut more, mut events, mut hash) = ([0u8; 4], [0u8; 4], [0u8; 32]);
        first.copy_from_slice(&bytes[..8]);
        more.copy_from_slice(&bytes[8..12]);
        events.copy_from_slice(&bytes[12..16]);
        hash.copy_from_slice(&bytes[16..]);
        Ok(Recorded {
            id,
            first: u64::from_le_bytes(first),
            more: u32::from_le_bytes(more),
            events: u32::from_le_bytes(events),
            hash: Digest(hash),
        })
    }
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
                submissions
                    .get(&id("kiosk-1", &format!("k{i}")))
                    .unwrap()
                    .as_ref(),
                Some(answer)
            );
        }
        assert_eq!(submissions.get(&id("kiosk-2", "k0")).unwrap(), None);
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
        assert_eq!(submissions.get(&id("a", "k")).unwrap(), Some(first));
    }

    #[test]
    fn events_read_back_make_one_answer_per_submission() {
        let mut submissions = Submissions::new();
        for sequence in 4..=6 {
            submissions
                .record_event(id("a", "k"), head(sequence))
                .unwrap();
        }
        assert_eq!(
            submissions.get(&id("a", "k")).unwrap(),
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
        earlier.record_event(id("a", "recorded"), head(1)).unwrap();
        let mut rebuilt = Submissions::new();
        rebuilt.keep_unrecorded(earlier);
        assert_eq!(rebuilt.get(&id("a", "rejected")).unwrap(), Some(rejected));
        assert_eq!(
            rebuilt.get(&id("a", "nothing")).unwrap(),
            Some(Answer::nothing_recorded())
        );
        assert_eq!(rebuilt.get(&id("a", "recorded")).unwrap(), None);
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
            // The writer's index, and one in pages of two entries that
            // keeps all but its newest in its file.
            let dir = tempfile::tempdir().unwrap();
            let mut indexes = [Submissions::new(), spilling_in_pages(dir.path(), 2)];
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
                            for index in &mut indexes {
                                index.remember(ids(a, k), &given);
                            }
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
                        let rebuilt = [Submissions::new(), spilling_in_pages(dir.path(), 2)];
                        for (index, mut rebuilt) in indexes.iter_mut().zip(rebuilt) {
                            for &(a, k, at) in &chain {
                                rebuilt.record_event(ids(a, k), head(at)).unwrap();
                            }
                            rebuilt.keep_unrecorded(std::mem::take(index));
                            *index = rebuilt;
                        }
                    }
                }
                for (which, index) in indexes.iter().enumerate() {
                    for a in 0..3 {
                        for k in 0..4 {
                            prop_assert_eq!(index.get(&ids(a, k)).unwrap(), model.get(&(a, k)).cloned(), "index {} actor {} key {}", which, a, k);
                        }
                    }
                }
            }
        }
    }

    /// A spilling index in pages of `page` entries, so that a few entries
    /// go to its file.
    fn spilling_in_pages(dir: &Path, page: usize) -> Submissions {
        Submissions {
            page,
            ..Submissions::spilling_to(dir).unwrap()
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
        let submissions = entries_are_found_across_pages_of(Submissions::new(), PAGE);
        assert!(submissions.file.is_none());
    }

    /// The same in pages of 16, all but the newest two in the file: the
    /// event added to the first entry is written back there.
    #[test]
    fn entries_are_found_across_spilled_pages() {
        let dir = tempfile::tempdir().unwrap();
        let submissions = spilling_in_pages(dir.path(), 16);
        let submissions = entries_are_found_across_pages_of(submissions, 16);
        let spilled = |p: &Page| matches!(p, Page::Spilled(_));
        let pages: Vec<bool> = submissions.pages.iter().map(spilled).collect();
        assert_eq!(pages, [true, true, true, true, false, false]);
    }

    fn entries_are_found_across_pages_of(mut submissions: Submissions, page: usize) -> Submissions {
        let n = page as u64 * 5 + 10;
        for i in 0..n {
            submissions
                .record_event(id("a", &format!("k{i}")), head(i * 3 + 1))
                .unwrap();
        }
        submissions.record_event(id("a", "k0"), head(2)).unwrap();
        submissions
            .record_event(id("a", &format!("k{}", n - 1)), head(n * 3 - 1))
            .unwrap();
        assert_eq!(submissions.len() as u64, n);
        for i in [0, 1, page as u64 - 1, page as u64, n - 1] {
            let (last, events) = match i {
                0 => (2, 2),
                i if i == n - 1 => (n * 3 - 1, 2),
                i => (i * 3 + 1, 1),
            };
            assert_eq!(
                submissions.get(&id("a", &format!("k{i}"))).unwrap(),
                Some(Answer::Accepted {
                    first_sequence: Some(i * 3 + 1),
                    last_sequence: Some(last),
                    hash: Some(head(last).hash),
                    events,
                }),
                "entry {i}"
            );
        }
        submissions
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
            assert_eq!(
                submissions.get(&id("a", &format!("k{i}"))).unwrap(),
                Some(answer)
            );
        }
    }
}
