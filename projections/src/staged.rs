//! Unit tallies changed by the staged events, kept decoded until the batch
//! is settled. A confirmed credit changes the tallies of every unit above
//! its volunteer in every period it falls in, and the same few thousand
//! tallies change again and again within a batch: each is read once, changed
//! in place, and encoded once when the batch is settled.

use std::collections::hash_map::Entry;

use fxhash::FxHashMap;

use crate::fold::decode;
use crate::keys::Key;
use crate::rows::UnitTally;
use crate::store::{Overlay, Read, StoreError};

#[derive(Debug, Default)]
pub struct UnitTallies {
    /// Key → the tally as the staged events leave it.
    tallies: FxHashMap<Vec<u8>, UnitTally>,
}

/// What one staged tally holds, roughly: its key, the tally, the table's
/// own room.
const BYTES_PER_TALLY: usize = 32 + std::mem::size_of::<UnitTally>() + 16;

impl UnitTallies {
    /// The tally under `key`, read from `store` the first time it is
    /// touched in the batch.
    pub fn get_mut<B: Read>(
        &mut self,
        store: &Overlay<B>,
        key: Key,
    ) -> Result<&mut UnitTally, StoreError> {
        match self.tallies.entry(key.into_bytes()) {
            Entry::Occupied(staged) => Ok(staged.into_mut()),
            Entry::Vacant(fresh) => {
                let stored = match store.get(fresh.key())? {
                    Some(value) => decode(fresh.key(), &value)?,
                    None => UnitTally::default(),
                };
                Ok(fresh.insert(stored))
            }
        }
    }

    pub fn pending_bytes(&self) -> usize {
        self.tallies.len() * BYTES_PER_TALLY
    }

    /// Writes the staged tallies into `store` (an empty tally deletes its
    /// row) and forgets them.
    pub fn write<B: Read>(&mut self, store: &mut Overlay<B>) {
        for (key, tally) in self.tallies.drain() {
            if tally == UnitTally::default() {
                store.delete(key);
            } else {
                store.put(key, postcard::to_allocvec(&tally).unwrap_or_default());
            }
        }
    }
}
