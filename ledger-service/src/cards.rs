//! The volunteer cards leaderboards show (number and home unit), kept in
//! the instance. A page of twenty volunteers would otherwise read twenty
//! rows from sled, most of them outside its cache at a million volunteers:
//! that was half of what a leaderboard page cost (docs/performance.md).
//!
//! A card never changes once its volunteer is registered: no event moves a
//! volunteer to another unit or renumbers them, and a state as of the past
//! lists only volunteers registered by then, with the same card. So a card
//! read once is never stale; the cache only bounds its size.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ledger_core::values::VolunteerId;
use projections::query;
use projections::rows::VolunteerCard;
use projections::store::{Read, StoreError};

/// More cards than this and the cache starts again empty: leaderboards
/// show the same leading volunteers again and again, and this bounds the
/// memory (about 100 bytes a card).
const CAPACITY: usize = 200_000;

#[derive(Default)]
pub struct Cards {
    cached: Mutex<HashMap<VolunteerId, VolunteerCard>>,
}

impl Cards {
    /// The volunteer's card, from the cache or else from `r` (and kept).
    pub fn card(
        &self,
        r: &dyn Read,
        volunteer: &VolunteerId,
    ) -> Result<Option<VolunteerCard>, StoreError> {
        if let Some(card) = self.lock().get(volunteer) {
            return Ok(Some(card.clone()));
        }
        let Some(card) = query::volunteer_card(r, volunteer)? else {
            return Ok(None);
        };
        let mut cached = self.lock();
        if cached.len() >= CAPACITY {
            cached.clear();
        }
        cached.insert(volunteer.clone(), card.clone());
        Ok(Some(card))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<VolunteerId, VolunteerCard>> {
        // A panic while holding the lock leaves a map of whole cards.
        self.cached.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::values::UnitId;
    use projections::fold::volunteer_key;
    use projections::store::Memory;

    fn card(n: usize) -> VolunteerCard {
        VolunteerCard {
            volunteer: VolunteerId::new(format!("v-{n}")).unwrap(),
            number: format!("N{n}"),
            home_unit: UnitId::new("u1").unwrap(),
        }
    }

    /// Read models holding the front of volunteer `n`'s row (a card reads
    /// no further).
    fn with_row(n: usize) -> Memory {
        let c = card(n);
        let front = postcard::to_allocvec(&(&c.volunteer, &c.number, &c.home_unit)).unwrap();
        let mut store = Memory::default();
        store
            .0
            .insert(volunteer_key(&c.volunteer).into_bytes(), front);
        store
    }

    #[test]
    fn a_card_is_read_once_then_served_from_memory() {
        let cards = Cards::default();
        let one = card(1);
        assert_eq!(
            cards.card(&with_row(1), &one.volunteer).unwrap(),
            Some(one.clone())
        );
        // The row is gone from these read models: only the cache can answer.
        assert_eq!(
            cards.card(&Memory::default(), &one.volunteer).unwrap(),
            Some(one)
        );
    }

    #[test]
    fn a_volunteer_without_a_row_has_no_card_and_none_is_kept() {
        let cards = Cards::default();
        let v = card(1).volunteer;
        assert_eq!(cards.card(&Memory::default(), &v).unwrap(), None);
        assert!(cards.lock().is_empty());
        assert_eq!(cards.card(&with_row(1), &v).unwrap(), Some(card(1)));
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cards = Cards::default();
        cards
            .lock()
            .extend((0..CAPACITY).map(|n| (card(n).volunteer, card(n))));
        let next = card(CAPACITY);
        let read = cards.card(&with_row(CAPACITY), &next.volunteer).unwrap();
        assert_eq!(read, Some(next));
        assert_eq!(cards.lock().len(), 1);
    }
}
