//! Rows that the staged events change again and again, kept decoded until
//! the batch is settled. A confirmed credit changes its volunteer's row
//! twice (the history line, then the tallies) and the tallies of every
//! unit above them in every period it falls in; an active volunteer and
//! the same few thousand unit tallies change many times within a batch.
//! Each such row is read and decoded once per batch, changed in place, and
//! encoded once when the batch is settled.
//!
//! Each row also keeps its scores as the batch found them, so that the
//! board moves a batch makes are worked out once, when it is settled, from
//! where each volunteer and unit stood before it and where they stand
//! after: a board only ever holds a subject at its latest score, so the
//! moves in between never mattered. (A confirmed credit used to record
//! about 80 moves as it was folded: its volunteer on every board of every
//! unit above them, and each of those units on its parent's boards.)

use std::collections::hash_map::Entry;

use fxhash::FxHashMap;
use ledger_core::domain::Category;
use ledger_core::values::UnitId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::board::{Board, Moves, Ranked};
use crate::fold::{decode, Context};
use crate::keys::Key;
use crate::period::Period;
use crate::rows::{Metric, Tally, TallyKey, UnitTally, VolunteerRow};
use crate::store::{Overlay, Read, StoreError};
use crate::tallies::Tallies;

/// A staged row, and what it scored when the batch first touched it.
#[derive(Debug)]
struct Slot<T, F> {
    /// `None`: no row.
    row: Option<T>,
    first: F,
}

#[derive(Debug)]
pub struct Staged<T, F> {
    rows: FxHashMap<Vec<u8>, Slot<T, F>>,
    /// Roughly what the rows hold, counted as they were first read.
    bytes: usize,
}

impl<T, F> Default for Staged<T, F> {
    fn default() -> Self {
        Staged {
            rows: FxHashMap::default(),
            bytes: 0,
        }
    }
}

/// Room a staged row takes besides its encoded bytes: the table's slot,
/// the decoded form's growth.
const OVERHEAD: usize = 96;

impl<T: Serialize + DeserializeOwned, F> Staged<T, F> {
    /// The row under `key`, read from `store` the first time it is touched
    /// in the batch; `first` then tells what it scores.
    pub fn get_mut<B: Read>(
        &mut self,
        store: &Overlay<B>,
        key: Key,
        first: impl FnOnce(Option<&T>) -> F,
    ) -> Result<&mut Option<T>, StoreError> {
        match self.rows.entry(key.into_bytes()) {
            Entry::Occupied(staged) => Ok(&mut staged.into_mut().row),
            Entry::Vacant(fresh) => {
                let stored = store.get(fresh.key())?;
                // The row, and its scores kept beside it.
                self.bytes +=
                    fresh.key().len() + 2 * stored.as_ref().map_or(0, Vec::len) + OVERHEAD;
                let row = match stored {
                    Some(value) => Some(decode(fresh.key(), &value)?),
                    None => None,
                };
                let first = first(row.as_ref());
                Ok(&mut fresh.insert(Slot { row, first }).row)
            }
        }
    }

    /// Takes the row under `key` out, to change it and [`Staged::put`] it
    /// back: `None` if there is none.
    pub fn take<B: Read>(
        &mut self,
        store: &Overlay<B>,
        key: Key,
        first: impl FnOnce(Option<&T>) -> F,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.get_mut(store, key, first)?.take())
    }

    /// Sets the row under `key`, whatever it was; `first` tells what it
    /// scored if the batch had not touched it yet.
    pub fn put(&mut self, key: Key, row: T, first: impl FnOnce() -> F) {
        match self.rows.entry(key.into_bytes()) {
            Entry::Occupied(mut staged) => staged.get_mut().row = Some(row),
            Entry::Vacant(fresh) => {
                self.bytes += fresh.key().len() + OVERHEAD * 2;
                fresh.insert(Slot {
                    row: Some(row),
                    first: first(),
                });
            }
        }
    }

    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Writes the staged rows into `store` and forgets them: a row `keep`
    /// refuses, or none, deletes its key.
    fn write<B: Read>(&mut self, store: &mut Overlay<B>, keep: impl Fn(&T) -> bool) {
        self.bytes = 0;
        for (key, slot) in self.rows.drain() {
            match slot.row.filter(|r| keep(r)) {
                // Rows are plain data: postcard cannot fail on them.
                Some(row) => store.put(key, postcard::to_allocvec(&row).unwrap_or_default()),
                None => store.delete(key),
            }
        }
    }
}

/// Which unit tally a staged one is, and what it was when first touched.
#[derive(Debug)]
pub struct FirstTally {
    pub unit: UnitId,
    pub period: Period,
    pub category: Option<Category>,
    pub tally: Tally,
}

/// The rows kept decoded while a batch is staged.
#[derive(Debug, Default)]
pub struct StagedRows {
    /// Each volunteer's row, and their tallies when first touched.
    pub volunteers: Staged<VolunteerRow, Tallies>,
    pub unit_tallies: Staged<UnitTally, FirstTally>,
    /// What the board moves will hold once they are worked out, roughly:
    /// the batch's budget counts them before they exist.
    pub move_bytes: usize,
}

/// What one subject's move on one board holds, roughly: the subject, its
/// two scores, its share of the board's own entry and the tables' room
/// (measured against [`Moves::pending_bytes`] on the benchmark's chain).
pub fn move_bytes(subject: &str) -> usize {
    subject.len() + 56
}

impl StagedRows {
    pub fn pending_bytes(&self) -> usize {
        self.volunteers.pending_bytes() + self.unit_tallies.pending_bytes() + self.move_bytes
    }

    /// Whether the volunteer under `key` still has `tally` under
    /// `tally_key` as the batch first found it: a change from there is the
    /// first in the batch to move them on that period's and category's
    /// boards.
    pub fn first_change(&self, key: &Key, tally_key: &TallyKey, tally: &Tally) -> bool {
        self.volunteers
            .rows
            .get(key.bytes())
            .is_none_or(|slot| slot.first.get(tally_key).copied().unwrap_or_default() == *tally)
    }

    /// Records, for every staged volunteer and unit tally whose score
    /// changed in the batch, its move on every board it is ranked on.
    pub fn record_moves(&self, ctx: &Context, moves: &mut Moves) {
        for slot in self.volunteers.rows.values() {
            let Some(v) = &slot.row else { continue };
            let mut units = None;
            for ((period, category), old, new) in slot.first.changes(&v.tallies) {
                let units = units.get_or_insert_with(|| ctx.ancestry(&v.home_unit));
                for metric in Metric::ALL {
                    for scope in units.iter() {
                        let board = Board {
                            ranked: Ranked::Volunteers,
                            metric,
                            scope,
                            period,
                            category: *category,
                        };
                        moves.record(
                            &board,
                            v.volunteer.as_str(),
                            old.score(metric),
                            new.score(metric),
                        );
                    }
                }
            }
        }
        for slot in self.unit_tallies.rows.values() {
            let first = &slot.first;
            let Some(Some(parent)) = ctx.parents.get(&first.unit) else {
                continue;
            };
            let now = slot.row.map_or_else(Tally::default, |t| t.tally);
            for metric in Metric::ALL {
                let board = Board {
                    ranked: Ranked::Units,
                    metric,
                    scope: parent,
                    period: &first.period,
                    category: first.category,
                };
                moves.record(
                    &board,
                    first.unit.as_str(),
                    first.tally.score(metric),
                    now.score(metric),
                );
            }
        }
    }

    /// Writes every staged row into `store`; a unit tally back at nothing
    /// deletes its row.
    pub fn write<B: Read>(&mut self, store: &mut Overlay<B>) {
        self.move_bytes = 0;
        self.volunteers.write(store, |_| true);
        self.unit_tallies
            .write(store, |t| *t != UnitTally::default());
    }
}
