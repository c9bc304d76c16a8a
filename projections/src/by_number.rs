//! Rows of what the ledger numbers (credits, awards), 64 numbers to a key.
//!
//! The ledger numbers credits and awards counting up, and a volunteer's
//! attendance makes one of each: a key apiece was two sled keys (and their
//! share of sled's page table) for every attendance. Keyed by number / 64,
//! the rows of 64 neighbours share one value, each row kept as its encoded
//! bytes behind its place in the span and its length, so one row is read or
//! replaced without decoding the others.
//!
//! A value is a run of entries in place order: the place (number % 64, one
//! byte), the row's length (postcard's varint) and the row's bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::keys::Key;
use crate::store::{Overlay, Read, StoreError};

/// Numbers per key.
const SPAN: u64 = 64;

fn key(table: u8, number: u64) -> Vec<u8> {
    Key::table(table).u64(number / SPAN).into_bytes()
}

/// The row numbered `number` in `table`.
pub fn get<T: DeserializeOwned, R: Read + ?Sized>(
    store: &R,
    table: u8,
    number: u64,
) -> Result<Option<T>, StoreError> {
    let key = key(table, number);
    let Some(value) = store.get(&key)? else {
        return Ok(None);
    };
    let place = (number % SPAN) as u8;
    for entry in Entries::over(&key, &value) {
        let (at, row) = entry?;
        if at == place {
            return postcard::from_bytes(row)
                .map(Some)
                .map_err(|e| corrupt(&key, &e.to_string()));
        }
    }
    Ok(None)
}

/// Writes the row numbered `number` in `table`, in place of any before.
pub fn put<T: Serialize, B: Read>(
    store: &mut Overlay<B>,
    table: u8,
    number: u64,
    row: &T,
) -> Result<(), StoreError> {
    let key = key(table, number);
    let place = (number % SPAN) as u8;
    // Rows are plain data: postcard cannot fail on them.
    let row = postcard::to_allocvec(row).unwrap_or_default();
    let old = store.get(&key)?.unwrap_or_default();
    let mut value = Vec::with_capacity(old.len() + row.len() + 6);
    let mut written = false;
    for entry in Entries::over(&key, &old) {
        let (at, bytes) = entry?;
        if at >= place && !written {
            push_entry(&mut value, place, &row);
            written = true;
        }
        if at != place {
            push_entry(&mut value, at, bytes);
        }
    }
    if !written {
        push_entry(&mut value, place, &row);
    }
    store.put(key, value);
    Ok(())
}

fn push_entry(value: &mut Vec<u8>, place: u8, row: &[u8]) {
    value.push(place);
    let mut len = row.len();
    // postcard's varint: seven bits a byte, the high bit set on all but the
    // last.
    while len >= 0x80 {
        value.push((len as u8 & 0x7F) | 0x80);
        len >>= 7;
    }
    value.push(len as u8);
    value.extend_from_slice(row);
}

/// The entries of one value, each as (place, row bytes).
struct Entries<'a> {
    key: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Entries<'a> {
    fn over(key: &'a [u8], value: &'a [u8]) -> Entries<'a> {
        Entries { key, rest: value }
    }

    fn next_entry(&mut self) -> Option<(u8, &'a [u8])> {
        let (&place, mut rest) = self.rest.split_first()?;
        let mut len = 0usize;
        for shift in (0..).step_by(7).take(5) {
            let (&byte, tail) = rest.split_first()?;
            rest = tail;
            len |= usize::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                let (row, tail) = rest.split_at_checked(len)?;
                self.rest = tail;
                return Some((place, row));
            }
        }
        None
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(u8, &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match self.next_entry() {
            Some(entry) => Some(Ok(entry)),
            None => {
                self.rest = &[];
                Some(Err(corrupt(self.key, "a truncated entry of numbered rows")))
            }
        }
    }
}

fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::store::Memory;

    const TABLE: u8 = 0x05;

    proptest! {
        /// Written in any order, overwritten, over any number of batches
        /// and of any length (long rows take more than one length byte),
        /// every row reads back as last written, and no other number
        /// reads as written.
        #[test]
        fn every_row_reads_back_as_last_written(
            writes in prop::collection::vec((0u64..300, prop::collection::vec(any::<u8>(), 0..200)), 0..300),
            commit_every in 1usize..40,
        ) {
            let mut store = Overlay::new(Memory::default());
            let mut expected = BTreeMap::new();
            for (i, (number, row)) in writes.iter().enumerate() {
                put(&mut store, TABLE, *number, row).unwrap();
                expected.insert(*number, row.clone());
                if i % commit_every == 0 {
                    store.commit();
                }
            }
            for number in 0..320 {
                let found: Option<Vec<u8>> = get(&store, TABLE, number).unwrap();
                prop_assert_eq!(found.as_ref(), expected.get(&number), "number {}", number);
            }
            // The same rows written afresh in number order give the same
            // bytes: a value depends on its rows, not on their history.
            let mut fresh = Overlay::new(Memory::default());
            for (number, row) in &expected {
                put(&mut fresh, TABLE, *number, row).unwrap();
            }
            store.commit();
            fresh.commit();
            prop_assert_eq!(store.base(), fresh.base());
        }
    }

    #[test]
    fn sixty_four_numbers_share_a_key() {
        let mut store = Overlay::new(Memory::default());
        for n in 64..129 {
            put(&mut store, TABLE, n, &n).unwrap();
        }
        store.commit();
        assert_eq!(store.base().0.len(), 2);
        assert_eq!(get::<u64, _>(&store, TABLE, 100).unwrap(), Some(100));
        assert_eq!(get::<u64, _>(&store, TABLE, 63).unwrap(), None);
    }

    #[test]
    fn a_truncated_value_is_named() {
        let mut store = Overlay::new(Memory::default());
        put(&mut store, TABLE, 3, &vec![7u8; 10]).unwrap();
        let key = key(TABLE, 3);
        let mut value = store.get(&key).unwrap().unwrap();
        value.truncate(value.len() - 1);
        store.put(key, value);
        let err = get::<Vec<u8>, _>(&store, TABLE, 3).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = put(&mut store, TABLE, 4, &1u8).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
