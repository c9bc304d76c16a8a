//! Leaderboards as sorted indexes: each board (who is ranked, by what, in
//! which scope, period and category) is a run of sled keys whose entries
//! are `(score descending, id)`, so the top k is a range scan from the
//! board's first key.
//!
//! Entries are stored in pages rather than one key each: sled costs about
//! one write per key, and a volunteer sits on dozens of boards. Where a page
//! starts is decided by the entries themselves (an entry whose hash falls
//! below a threshold closes a page), so the pages, like every other row, are
//! a function of the board's content alone: a rebuild writes the same bytes
//! as incremental updates did.

use fxhash::FxHashMap;
use ledger_core::domain::Category;
use ledger_core::values::UnitId;

use crate::keys::{table, Key, KEY_CAPACITY};
use crate::period::Period;
use crate::rows::Metric;
use crate::store::{prefix_end, Overlay, Read, StoreError};

/// One entry in this many closes its page, on average.
const PAGE_ODDS: u16 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ranked {
    Volunteers,
    Units,
}

/// Which board: ranked subjects within `scope`. For volunteers the scope is
/// a unit's subtree; for units it is the parent whose children are ranked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board<'a> {
    pub ranked: Ranked,
    pub metric: Metric,
    pub scope: &'a UnitId,
    pub period: &'a Period,
    pub category: Option<Category>,
}

impl Board<'_> {
    pub fn prefix(&self) -> Vec<u8> {
        self.prefix_in(Vec::with_capacity(KEY_CAPACITY))
    }

    /// The prefix, written over `buf` (its allocation reused).
    fn prefix_in(&self, mut buf: Vec<u8>) -> Vec<u8> {
        buf.clear();
        buf.push(table::BOARD);
        let kind = match (self.ranked, self.metric) {
            (Ranked::Volunteers, Metric::Hours) => 0,
            (Ranked::Volunteers, Metric::Points) => 1,
            (Ranked::Units, Metric::Hours) => 2,
            (Ranked::Units, Metric::Points) => 3,
        };
        Key(buf)
            .u8(kind)
            .str(self.scope.as_str())
            .period(self.period)
            .category(self.category)
            .into_bytes()
    }
}

/// A ranked subject and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub subject: String,
    pub score: u64,
}

fn entry(subject: &str, score: u64) -> Vec<u8> {
    let mut e = (!score).to_be_bytes().to_vec();
    e.extend_from_slice(subject.as_bytes());
    e
}

fn standing(entry: &[u8]) -> Option<Standing> {
    let (score, subject) = entry.split_at_checked(8)?;
    Some(Standing {
        score: !u64::from_be_bytes(score.try_into().ok()?),
        subject: String::from_utf8(subject.to_vec()).ok()?,
    })
}

fn closes_page(entry: &[u8]) -> bool {
    let h = blake3::hash(entry);
    let b = h.as_bytes();
    u16::from_be_bytes([b[0], b[1]]) < u16::MAX / PAGE_ODDS
}

fn encode_page(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 1).sum());
    for e in entries {
        // Entries are 8 bytes of score and an id of at most 64 bytes.
        out.push(e.len() as u8);
        out.extend_from_slice(e);
    }
    out
}

fn decode_page(key: &[u8], mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut entries = Vec::new();
    while let Some((&len, rest)) = bytes.split_first() {
        let len = usize::from(len);
        if rest.len() < len {
            return Err(StoreError::Corrupt {
                key: hex::encode(key),
                reason: "a board page ends inside an entry".into(),
            });
        }
        entries.push(rest[..len].to_vec());
        bytes = &rest[len..];
    }
    Ok(entries)
}

/// A page's key and its entries.
type Page = (Vec<u8>, Vec<Vec<u8>>);

/// The key of the last page, which holds the entries after the last one
/// that closes a page. It sorts after every entry: a stored score is at
/// least 1, so an entry's first eight bytes are never all 0xFF.
fn tail_key(prefix: &[u8]) -> Vec<u8> {
    [prefix, &[0xFF; 8][..]].concat()
}

/// The page that holds (or would hold) `key`: the first page whose key is
/// at or after it. Only forward scans: sled 0.34's reverse iteration can
/// lose its way in a large tree.
fn page_from<B: Read>(
    store: &Overlay<B>,
    prefix: &[u8],
    key: &[u8],
) -> Result<Option<Page>, StoreError> {
    let end = prefix_end(prefix).unwrap_or_else(|| vec![0xFF; 256]);
    match store.range(key, &end, false).next() {
        None => Ok(None),
        Some(found) => {
            let (k, v) = found?;
            let entries = decode_page(&k, &v)?;
            Ok(Some((k, entries)))
        }
    }
}

fn write_page<B: Read>(store: &mut Overlay<B>, key: Vec<u8>, entries: &[Vec<u8>]) {
    if entries.is_empty() {
        store.delete(key);
    } else {
        store.put(key, encode_page(entries));
    }
}

/// Board moves not yet written to pages. A volunteer's confirmed credit
/// moves them on dozens of boards, and an active volunteer moves on the same
/// boards many times in a batch: only where each subject stood when the batch
/// began and where it stands now matter, and each touched page is then
/// rewritten once for all the moves that land in it.
#[derive(Debug, Default)]
pub struct Moves {
    /// Board prefix → subject → (score at the start, latest score).
    boards: FxHashMap<Vec<u8>, FxHashMap<String, (u64, u64)>>,
    bytes: usize,
    /// The last board prefix built: a credit records dozens of moves, and
    /// each is looked up by a prefix built here, not in an allocation of
    /// its own.
    scratch: Vec<u8>,
}

impl Moves {
    /// Moves `subject` from score `old` to `new` (0: not on the board).
    pub fn record(&mut self, board: &Board<'_>, subject: &str, old: u64, new: u64) {
        if old == new {
            return;
        }
        let prefix = board.prefix_in(std::mem::take(&mut self.scratch));
        let subjects = match self.boards.get_mut(&prefix) {
            Some(subjects) => subjects,
            None => {
                self.bytes += prefix.len() + 64;
                self.boards.entry(prefix.clone()).or_default()
            }
        };
        self.scratch = prefix;
        match subjects.get_mut(subject) {
            Some(standing) => standing.1 = new,
            None => {
                self.bytes += subject.len() + 48;
                subjects.insert(subject.to_owned(), (old, new));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.boards.is_empty()
    }

    /// Roughly how many bytes the recorded moves hold.
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Writes the net moves into the boards' pages and forgets them. Boards
    /// occupy disjoint key ranges, so the order they are written in does
    /// not matter.
    pub fn write<B: Read>(&mut self, store: &mut Overlay<B>) -> Result<(), StoreError> {
        self.bytes = 0;
        for (prefix, subjects) in self.boards.drain() {
            let mut changes = Vec::with_capacity(subjects.len() * 2);
            for (subject, (first, last)) in subjects {
                if first == last {
                    continue;
                }
                if first > 0 {
                    changes.push(Change::Remove(entry(&subject, first)));
                }
                if last > 0 {
                    changes.push(Change::Insert(entry(&subject, last)));
                }
            }
            // Entries are unique: two subjects never share one, and a
            // subject is removed at one score and inserted at another.
            changes.sort_unstable_by(|a, b| a.entry().cmp(b.entry()));
            apply(store, &prefix, &changes)?;
        }
        Ok(())
    }
}

enum Change {
    Remove(Vec<u8>),
    Insert(Vec<u8>),
}

impl Change {
    fn entry(&self) -> &[u8] {
        match self {
            Change::Remove(e) | Change::Insert(e) => e,
        }
    }
}

/// Applies sorted `changes` to one board. Changes are taken a run of pages
/// at a time: the page holding the first change left, then, for as long as
/// the merged entries do not end with one that closes a page (its closing
/// entry was removed), the page after it. The run is then cut again where
/// its entries say.
fn apply<B: Read>(
    store: &mut Overlay<B>,
    prefix: &[u8],
    changes: &[Change],
) -> Result<(), StoreError> {
    let tail = tail_key(prefix);
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let start = [prefix, first.entry()].concat();
        let (mut page, mut held) =
            page_from(store, prefix, &start)?.unwrap_or_else(|| (tail.clone(), Vec::new()));
        let mut old_pages = Vec::new();
        let mut merged = Vec::new();
        loop {
            let bound = &page[prefix.len()..];
            let upto = rest.partition_point(|c| c.entry() <= bound);
            merge(&mut merged, held, &rest[..upto], prefix)?;
            rest = &rest[upto..];
            let done = page == tail || merged.last().is_none_or(|e| closes_page(e));
            let mut after = page.clone();
            old_pages.push(page);
            if done {
                break;
            }
            after.push(0);
            (page, held) =
                page_from(store, prefix, &after)?.unwrap_or_else(|| (tail.clone(), Vec::new()));
        }
        for old in old_pages {
            store.delete(old);
        }
        let mut from = 0;
        for (at, e) in merged.iter().enumerate() {
            if closes_page(e) {
                write_page(store, [prefix, e].concat(), &merged[from..=at]);
                from = at + 1;
            }
        }
        if from < merged.len() {
            write_page(store, tail.clone(), &merged[from..]);
        }
    }
    Ok(())
}

/// Appends `held` (a page's entries) with `changes` applied to `merged`.
fn merge(
    merged: &mut Vec<Vec<u8>>,
    held: Vec<Vec<u8>>,
    changes: &[Change],
    prefix: &[u8],
) -> Result<(), StoreError> {
    let mut held = held.into_iter().peekable();
    for change in changes {
        while let Some(e) = held.next_if(|e| e.as_slice() < change.entry()) {
            merged.push(e);
        }
        let present = held.next_if(|e| e.as_slice() == change.entry());
        match (change, present) {
            (Change::Remove(_), Some(_)) => {}
            (Change::Remove(e), None) => return Err(missing(&[prefix, e].concat())),
            (Change::Insert(e), _) => merged.push(e.clone()),
        }
    }
    merged.extend(held);
    Ok(())
}

fn missing(key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        reason: "a board lacks an entry its tallies say it has".into(),
    }
}

/// Standings from place `offset` (0-based), at most `limit` of them.
pub fn top<R: Read + ?Sized>(
    store: &R,
    board: &Board<'_>,
    offset: usize,
    limit: usize,
) -> Result<Vec<Standing>, StoreError> {
    let prefix = board.prefix();
    let end = prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 256]);
    let mut skipped = 0;
    let mut out = Vec::with_capacity(limit.min(1000));
    for page in store.range(&prefix, &end, false) {
        let (key, value) = page?;
        let entries = decode_page(&key, &value)?;
        if skipped + entries.len() <= offset {
            skipped += entries.len();
            continue;
        }
        for e in entries {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if out.len() == limit {
                return Ok(out);
            }
            out.push(standing(&e).ok_or_else(|| StoreError::Corrupt {
                key: hex::encode(&key),
                reason: "a board entry is malformed".into(),
            })?);
        }
    }
    Ok(out)
}

/// How many standings score more than `score`: the rank of a place with
/// that score is one more, so that equal scores share it. Reads the board
/// only as far as those standings go.
pub fn count_above<R: Read + ?Sized>(
    store: &R,
    board: &Board<'_>,
    score: u64,
) -> Result<u64, StoreError> {
    let prefix = board.prefix();
    let end = prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 256]);
    // Entries sort by the complement of their score: those that score more
    // sort before the first entry of `score`.
    let bound = entry("", score);
    let mut above = 0;
    for page in store.range(&prefix, &end, false) {
        let (key, value) = page?;
        for e in decode_page(&key, &value)? {
            if e >= bound {
                return Ok(above);
            }
            above += 1;
        }
    }
    Ok(above)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Memory;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn board(scope: &UnitId) -> Board<'_> {
        Board {
            ranked: Ranked::Volunteers,
            metric: Metric::Hours,
            scope,
            period: &Period::All,
            category: None,
        }
    }

    proptest! {
        /// Whatever the order of updates and wherever the moves are written
        /// out, the board lists every subject with a score, highest first,
        /// and its bytes depend on the scores alone.
        #[test]
        fn boards_are_sorted_and_canonical(
            updates in proptest::collection::vec((0u16..300, 0u64..50, 0u8..12), 1..600),
        ) {
            let scope = UnitId::new("city").unwrap();
            let b = board(&scope);
            let mut store = Overlay::new(Memory::default());
            let mut moves = Moves::default();
            let mut scores: BTreeMap<String, u64> = BTreeMap::new();
            for (i, (who, score, write)) in updates.iter().enumerate() {
                let who = format!("v{who}");
                let old = scores.get(&who).copied().unwrap_or(0);
                moves.record(&b, &who, old, *score);
                scores.insert(who, *score);
                if *write == 0 {
                    moves.write(&mut store).unwrap();
                }
                if i % 97 == 0 {
                    moves.write(&mut store).unwrap();
                    store.commit();
                }
            }
            moves.write(&mut store).unwrap();
            prop_assert!(moves.is_empty());
            let mut expected: Vec<(u64, String)> = scores.iter()
                .filter(|(_, s)| **s > 0)
                .map(|(w, s)| (*s, w.clone()))
                .collect();
            expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let got: Vec<(u64, String)> = top(&store, &b, 0, usize::MAX).unwrap()
                .into_iter().map(|s| (s.score, s.subject)).collect();
            prop_assert_eq!(&got, &expected);
            let page: Vec<(u64, String)> = top(&store, &b, 5, 7).unwrap()
                .into_iter().map(|s| (s.score, s.subject)).collect();
            prop_assert_eq!(&page[..], &expected[expected.len().min(5)..expected.len().min(12)]);
            // Ties share a rank: what scores more is counted, page after page.
            for score in [0, 1, 25, 49, 50] {
                let above = expected.iter().filter(|(s, _)| *s > score).count() as u64;
                prop_assert_eq!(count_above(&store, &b, score).unwrap(), above);
            }

            // The same scores written one by one give the same bytes.
            let mut fresh = Overlay::new(Memory::default());
            for (who, score) in &scores {
                moves.record(&b, who, 0, *score);
                moves.write(&mut fresh).unwrap();
            }
            prop_assert_eq!(fresh.into_memory(), store.into_memory());
        }
    }

    #[test]
    fn removing_what_is_not_there_is_an_error() {
        let scope = UnitId::new("city").unwrap();
        let mut store = Overlay::new(Memory::default());
        let mut moves = Moves::default();
        moves.record(&board(&scope), "v1", 5, 6);
        assert!(matches!(
            moves.write(&mut store),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_move_back_to_where_it_began_writes_nothing() {
        let scope = UnitId::new("city").unwrap();
        let mut store = Overlay::new(Memory::default());
        let mut moves = Moves::default();
        moves.record(&board(&scope), "v1", 0, 6);
        moves.record(&board(&scope), "v1", 6, 0);
        moves.write(&mut store).unwrap();
        assert_eq!(store.pending_keys(), 0);
    }
}
