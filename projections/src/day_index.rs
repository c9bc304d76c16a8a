//! Which credits and awards fall on each day: what a leaderboard over any
//! range of days and a campaign declared late are computed from.
//!
//! The ledger numbers credits and awards in order, and those issued on one
//! day mostly sit close together, so the index keeps them 64 numbers to a
//! key: (day, kind, number / 64) holds a bitmap of which of the 64 are
//! there. One key for a day's run of credits instead of one key each keeps
//! sled's page table and the writes of a catch-up small.

use ledger_core::time::{Day, DayRange};

use crate::keys::{table, Key};
use crate::store::{Overlay, Read, StoreError};

/// What an entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    Credit(u64),
    Award(u64),
}

const CREDIT: u8 = 0;
const AWARD: u8 = 1;

/// Numbers per key: the bits of the value.
const SPAN: u64 = 64;

impl Entry {
    fn kind_and_number(self) -> (u8, u64) {
        match self {
            Entry::Credit(n) => (CREDIT, n),
            Entry::Award(n) => (AWARD, n),
        }
    }
}

fn key(day: Day, kind: u8, number: u64) -> Vec<u8> {
    Key::table(table::DAY)
        .day(day)
        .u8(kind)
        .u64(number / SPAN)
        .into_bytes()
}

/// Files `entry` under `day`.
pub fn add<B: Read>(store: &mut Overlay<B>, day: Day, entry: Entry) -> Result<(), StoreError> {
    let (kind, number) = entry.kind_and_number();
    let key = key(day, kind, number);
    let bits = match store.get(&key)? {
        Some(value) => bitmap(&key, &value)?,
        None => 0,
    };
    let bits = bits | 1 << (number % SPAN);
    store.put(key, bits.to_be_bytes().to_vec());
    Ok(())
}

/// The entries filed under the days of `days`, by day, credits before
/// awards, each kind in number order.
pub fn entries<R: Read + ?Sized>(store: &R, days: DayRange) -> Result<Vec<Entry>, StoreError> {
    let from = Key::table(table::DAY).day(days.first).into_bytes();
    let to = Key::table(table::DAY)
        .day(Day(days.last.0.saturating_add(1)))
        .into_bytes();
    let mut out = Vec::new();
    for row in store.range(&from, &to, false) {
        let (key, value) = row?;
        let (kind, base) = match &key[..] {
            [_, _, _, _, _, kind, chunk @ ..] => match <[u8; 8]>::try_from(chunk) {
                Ok(chunk) => (*kind, u64::from_be_bytes(chunk).saturating_mul(SPAN)),
                Err(_) => return Err(malformed(&key, "a malformed day-index key")),
            },
            _ => return Err(malformed(&key, "a malformed day-index key")),
        };
        let mut bits = bitmap(&key, &value)?;
        while bits != 0 {
            let number = base + u64::from(bits.trailing_zeros());
            bits &= bits - 1;
            out.push(match kind {
                CREDIT => Entry::Credit(number),
                AWARD => Entry::Award(number),
                _ => return Err(malformed(&key, "a day-index key of no known kind")),
            });
        }
    }
    Ok(out)
}

fn bitmap(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(value)
        .map(u64::from_be_bytes)
        .map_err(|_| malformed(key, "a day-index value is not a bitmap of 8 bytes"))
}

fn malformed(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::store::Memory;

    fn range(first: i32, last: i32) -> DayRange {
        DayRange {
            first: Day(first),
            last: Day(last),
        }
    }

    proptest! {
        /// Whatever is filed, in whatever order and over however many
        /// batches, a range of days gives back exactly what was filed on
        /// its days, in day, kind and number order.
        #[test]
        fn a_range_gives_back_what_was_filed_on_its_days(
            filed in prop::collection::vec((-3i32..6, any::<bool>(), 0u64..400), 0..200),
            commit_every in 1usize..50,
            first in -4i32..7,
            len in 0i32..8,
        ) {
            let mut store = Overlay::new(Memory::default());
            for (i, (day, credit, number)) in filed.iter().enumerate() {
                let entry = if *credit { Entry::Credit(*number) } else { Entry::Award(*number) };
                add(&mut store, Day(*day), entry).unwrap();
                if i % commit_every == 0 {
                    store.commit();
                }
            }
            let days = range(first, first + len);
            let expected: BTreeSet<(i32, Entry)> = filed
                .iter()
                .filter(|(day, _, _)| (days.first.0..=days.last.0).contains(day))
                .map(|(day, credit, number)| {
                    (*day, if *credit { Entry::Credit(*number) } else { Entry::Award(*number) })
                })
                .collect();
            let expected: Vec<Entry> = expected.into_iter().map(|(_, e)| e).collect();
            prop_assert_eq!(entries(&store, days).unwrap(), expected);
        }
    }

    #[test]
    fn sixty_four_numbers_share_a_key() {
        let mut store = Overlay::new(Memory::default());
        for n in 128..192 {
            add(&mut store, Day(10), Entry::Credit(n)).unwrap();
        }
        add(&mut store, Day(10), Entry::Credit(192)).unwrap();
        store.commit();
        assert_eq!(store.base().0.len(), 2);
        let all = entries(&store, range(10, 10)).unwrap();
        assert_eq!(all.len(), 65);
        assert_eq!(all.first(), Some(&Entry::Credit(128)));
        assert_eq!(all.last(), Some(&Entry::Credit(192)));
    }

    #[test]
    fn a_value_that_is_not_a_bitmap_is_named() {
        let mut store = Overlay::new(Memory::default());
        store.put(key(Day(1), CREDIT, 5), vec![1, 2, 3]);
        let err = entries(&store, range(1, 1)).unwrap_err();
        assert!(err.to_string().contains("bitmap"), "{err}");
        let err = add(&mut store, Day(1), Entry::Credit(6)).unwrap_err();
        assert!(err.to_string().contains("bitmap"), "{err}");
    }
}
