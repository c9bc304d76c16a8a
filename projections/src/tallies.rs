//! A volunteer's confirmed totals by period and category.
//!
//! Stored byte for byte as a map would be, but held as a list sorted by
//! key: a volunteer's row is read far more often than it changes (every
//! leaderboard place, every balance), and reading a list costs a fraction
//! of building a tree, which was most of a query's time.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rows::{Tally, TallyKey};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tallies(Vec<(TallyKey, Tally)>);

impl Tallies {
    pub fn get(&self, key: &TallyKey) -> Option<&Tally> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn insert(&mut self, key: TallyKey, tally: Tally) {
        match self.find(&key) {
            Ok(i) => self.0[i].1 = tally,
            Err(i) => self.0.insert(i, (key, tally)),
        }
    }

    pub fn remove(&mut self, key: &TallyKey) {
        if let Ok(i) = self.find(key) {
            self.0.remove(i);
        }
    }

    /// Every key whose tally differs between `self` and `after`, with the
    /// tally in each (a key one lacks counts as nothing there), in key order.
    pub fn changes<'a>(
        &'a self,
        after: &'a Tallies,
    ) -> impl Iterator<Item = (&'a TallyKey, Tally, Tally)> + 'a {
        let mut before = self.0.iter().peekable();
        let mut after = after.0.iter().peekable();
        std::iter::from_fn(move || loop {
            let (key, old, new) = match (before.peek(), after.peek()) {
                (None, None) => return None,
                (Some((b, _)), Some((a, _))) if b == a => {
                    let ((key, old), (_, new)) = (before.next()?, after.next()?);
                    (key, *old, *new)
                }
                (Some((b, _)), Some((a, _))) if a < b => {
                    let (key, new) = after.next()?;
                    (key, Tally::default(), *new)
                }
                (Some(_), _) => {
                    let (key, old) = before.next()?;
                    (key, *old, Tally::default())
                }
                (None, Some(_)) => {
                    let (key, new) = after.next()?;
                    (key, Tally::default(), *new)
                }
            };
            if old != new {
                return Some((key, old, new));
            }
        })
    }

    fn find(&self, key: &TallyKey) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }
}

impl Serialize for Tallies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Tallies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TalliesVisitor)
    }
}

struct TalliesVisitor;

impl<'de> Visitor<'de> for TalliesVisitor {
    type Value = Tallies;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("totals by period and category")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tallies, A::Error> {
        // The hint comes from the stored bytes: bounded, so that a corrupt
        // length cannot ask for memory the row does not hold.
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = map.next_entry::<TallyKey, Tally>()? {
            entries.push(entry);
        }
        if entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            return Ok(Tallies(entries));
        }
        // Rows are written sorted; anything else is read as a map would
        // read it, the last of equal keys winning.
        let map: BTreeMap<TallyKey, Tally> = entries.into_iter().collect();
        Ok(Tallies(map.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::Period;
    use ledger_core::domain::Category;
    use proptest::prelude::*;

    fn key(period: u8, category: Option<u8>) -> TallyKey {
        let period = match period % 3 {
            0 => Period::All,
            1 => Period::Year(2025 + i32::from(period % 5)),
            _ => Period::Quarter(2026, period % 4 + 1),
        };
        let category = category.map(|c| Category::ALL[usize::from(c) % Category::ALL.len()]);
        (period, category)
    }

    fn tally(n: u64) -> Tally {
        Tally {
            system_minutes: n,
            backfill_minutes: n / 2,
            points: n * 3,
        }
    }

    fn tallies(entries: &[(u8, Option<u8>, u64)]) -> Tallies {
        let mut t = Tallies::default();
        for (period, category, n) in entries {
            if *n > 0 {
                t.insert(key(*period, *category), tally(*n));
            }
        }
        t
    }

    proptest! {
        /// The changes between two lists are exactly the keys whose tallies
        /// differ, looked up one by one.
        #[test]
        fn changes_are_the_keys_that_differ(
            before in proptest::collection::vec((any::<u8>(), any::<Option<u8>>(), 0u64..4), 0..30),
            after in proptest::collection::vec((any::<u8>(), any::<Option<u8>>(), 0u64..4), 0..30),
        ) {
            let (before, after) = (tallies(&before), tallies(&after));
            let got: Vec<(TallyKey, Tally, Tally)> = before
                .changes(&after)
                .map(|(k, old, new)| (k.clone(), old, new))
                .collect();
            let keys: std::collections::BTreeSet<&TallyKey> =
                before.0.iter().chain(&after.0).map(|(k, _)| k).collect();
            let expected: Vec<(TallyKey, Tally, Tally)> = keys
                .into_iter()
                .map(|k| {
                    let old = before.get(k).copied().unwrap_or_default();
                    let new = after.get(k).copied().unwrap_or_default();
                    (k.clone(), old, new)
                })
                .filter(|(_, old, new)| old != new)
                .collect();
            prop_assert_eq!(got, expected);
        }

        /// Whatever is inserted and removed, the list answers as a map
        /// would, and is stored byte for byte as that map.
        #[test]
        fn answers_and_encodes_as_a_map(
            changes in proptest::collection::vec((any::<u8>(), any::<Option<u8>>(), 0u64..50), 0..60)
        ) {
            let mut tallies = Tallies::default();
            let mut map = BTreeMap::new();
            for (period, category, n) in changes {
                let k = key(period, category);
                if n == 0 {
                    tallies.remove(&k);
                    map.remove(&k);
                } else {
                    tallies.insert(k.clone(), tally(n));
                    map.insert(k, tally(n));
                }
            }
            for (k, v) in &map {
                prop_assert_eq!(tallies.get(k), Some(v));
            }
            prop_assert_eq!(tallies.0.len(), map.len());
            let stored = postcard::to_allocvec(&map).unwrap_or_default();
            prop_assert_eq!(postcard::to_allocvec(&tallies).unwrap_or_default(), stored.clone());
            let read: Tallies = postcard::from_bytes(&stored).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(read, tallies);
        }
    }

    #[test]
    fn entries_out_of_order_are_read_as_a_map_reads_them() {
        let later = key(0, None);
        let earlier = key(1, None);
        let entries = vec![
            (earlier.clone(), tally(1)),
            (later.clone(), tally(2)),
            (earlier.clone(), tally(3)),
        ];
        let mut stored = vec![3u8];
        for entry in &entries {
            stored.extend(postcard::to_allocvec(entry).unwrap_or_default());
        }
        let read: Tallies = postcard::from_bytes(&stored).unwrap_or_default();
        let map: BTreeMap<TallyKey, Tally> = postcard::from_bytes(&stored).unwrap_or_default();
        assert_eq!(read.0.len(), 2);
        for (k, v) in &map {
            assert_eq!(read.get(k), Some(v));
        }
        assert_eq!(read.get(&earlier), Some(&tally(3)));
    }
}
