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

use ledger_core::domain::Category;
use ledger_core::values::UnitId;

use crate::keys::{table, Key};
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
        let kind = match (self.ranked, self.metric) {
            (Ranked::Volunteers, Metric::Hours) => 0,
            (Ranked::Volunteers, Metric::Points) => 1,
            (Ranked::Units, Metric::Hours) => 2,
            (Ranked::Units, Metric::Points) => 3,
        };
        Key::table(table::BOARD)
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

/// Moves `subject` from score `old` to `new` (0: not on the board).
pub fn update<B: Read>(
    store: &mut Overlay<B>,
    board: &Board<'_>,
    subject: &str,
    old: u64,
    new: u64,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    let prefix = board.prefix();
    if old > 0 {
        remove(store, &prefix, entry(subject, old))?;
    }
    if new > 0 {
        insert(store, &prefix, entry(subject, new))?;
    }
    Ok(())
}

/// Pages end at entries that close one (and are keyed by them); the rest
/// sit in the tail page.
fn insert<B: Read>(store: &mut Overlay<B>, prefix: &[u8], e: Vec<u8>) -> Result<(), StoreError> {
    let key = [prefix, &e].concat();
    let (page, mut entries) =
        page_from(store, prefix, &key)?.unwrap_or_else(|| (tail_key(prefix), Vec::new()));
    let at = entries.partition_point(|x| x < &e);
    if entries.get(at) == Some(&e) {
        return Ok(());
    }
    entries.insert(at, e);
    if closes_page(&entries[at]) {
        let after = entries.split_off(at + 1);
        write_page(store, key, &entries);
        write_page(store, page, &after);
    } else {
        write_page(store, page, &entries);
    }
    Ok(())
}

fn remove<B: Read>(store: &mut Overlay<B>, prefix: &[u8], e: Vec<u8>) -> Result<(), StoreError> {
    let key = [prefix, &e].concat();
    let Some((page, mut entries)) = page_from(store, prefix, &key)? else {
        return Err(missing(&key));
    };
    let Ok(at) = entries.binary_search(&e) else {
        return Err(missing(&key));
    };
    entries.remove(at);
    if page != key {
        write_page(store, page, &entries);
        return Ok(());
    }
    // The entry closed its page: what came before it joins the next page.
    store.delete(page);
    let mut after = key.clone();
    after.push(0);
    let (next, rest) =
        page_from(store, prefix, &after)?.unwrap_or_else(|| (tail_key(prefix), Vec::new()));
    entries.extend(rest);
    write_page(store, next, &entries);
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
        /// Whatever the order of updates, the board lists every subject with
        /// a score, highest first, and its bytes depend on the scores alone.
        #[test]
        fn boards_are_sorted_and_canonical(
            updates in proptest::collection::vec((0u16..300, 0u64..50), 1..600),
        ) {
            let scope = UnitId::new("city").unwrap();
            let b = board(&scope);
            let mut store = Overlay::new(Memory::default());
            let mut scores: BTreeMap<String, u64> = BTreeMap::new();
            for (i, (who, score)) in updates.iter().enumerate() {
                let who = format!("v{who}");
                let old = scores.get(&who).copied().unwrap_or(0);
                update(&mut store, &b, &who, old, *score).unwrap();
                scores.insert(who, *score);
                if i % 97 == 0 {
                    store.commit();
                }
            }
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

            // The same scores written in one go give the same bytes.
            let mut fresh = Overlay::new(Memory::default());
            for (who, score) in &scores {
                update(&mut fresh, &b, who, 0, *score).unwrap();
            }
            prop_assert_eq!(fresh.into_memory(), store.into_memory());
        }
    }

    #[test]
    fn removing_what_is_not_there_is_an_error() {
        let scope = UnitId::new("city").unwrap();
        let mut store = Overlay::new(Memory::default());
        assert!(update(&mut store, &board(&scope), "v1", 5, 6).is_err());
    }
}
