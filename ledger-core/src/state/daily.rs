//! The minutes a volunteer's live credits hold on each local day, for the
//! 16-hour daily limit.
//!
//! Most volunteers hold minutes on a few days only, and a `BTreeMap` gives
//! even one day a node of its own with room for eleven: at 1M volunteers
//! that was 71 MiB of the writer's state. A sorted `Vec` grown one day at a
//! time holds each day in 16 bytes.

use crate::time::Day;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailyMinutes {
    /// Days with minutes held (never 0), in order.
    days: Vec<(Day, u64)>,
}

impl DailyMinutes {
    pub fn get(&self, day: &Day) -> Option<&u64> {
        let i = self.days.binary_search_by_key(day, |(d, _)| *d).ok()?;
        self.days.get(i).map(|(_, minutes)| minutes)
    }

    /// Adds `minutes` to `day`, or takes them off (never below 0); a day
    /// left at 0 is forgotten.
    pub fn adjust(&mut self, day: Day, minutes: u64, add: bool) {
        match self.days.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => {
                let held = &mut self.days[i].1;
                *held = if add {
                    held.saturating_add(minutes)
                } else {
                    held.saturating_sub(minutes)
                };
                if *held == 0 {
                    self.days.remove(i);
                }
            }
            Err(i) if add && minutes > 0 => {
                // Exactly, for the few days most volunteers have; doubling
                // from there on, so that a long record still grows cheaply.
                if self.days.len() == self.days.capacity() && self.days.len() < 8 {
                    self.days.reserve_exact(1);
                }
                self.days.insert(i, (day, minutes));
            }
            Err(_) => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// The minutes held on each day, in the order of the days.
    pub fn values(&self) -> impl Iterator<Item = &u64> {
        self.days.iter().map(|(_, minutes)| minutes)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Day, u64)> + '_ {
        self.days.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever is added and taken off in whatever order, the days hold
        /// what a map adjusted the same way holds.
        #[test]
        fn holds_what_a_map_would(steps in proptest::collection::vec((0i32..12, 0u64..500, any::<bool>()), 0..200)) {
            let mut days = DailyMinutes::default();
            let mut map: BTreeMap<Day, u64> = BTreeMap::new();
            for (day, minutes, add) in steps {
                days.adjust(Day(day), minutes, add);
                let held = map.entry(Day(day)).or_default();
                *held = if add { held.saturating_add(minutes) } else { held.saturating_sub(minutes) };
                if *held == 0 {
                    map.remove(&Day(day));
                }
                let want: Vec<(Day, u64)> = map.iter().map(|(d, m)| (*d, *m)).collect();
                prop_assert_eq!(days.iter().collect::<Vec<_>>(), want);
                for d in 0..12 {
                    prop_assert_eq!(days.get(&Day(d)), map.get(&Day(d)));
                }
            }
        }
    }
}
