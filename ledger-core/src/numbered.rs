//! A table of entries by ledger-assigned id. The ledger numbers sessions,
//! credits, awards and redemptions counting up from 1, so the entries sit
//! in pages by number (`Paged`): no hashing on the writer's hot path, no
//! table to rehash as the chain grows, no room kept beyond a page. An id
//! out of that order (which the rules never assign, but an event may
//! carry) goes to a map beside it, so the table still answers as a map for
//! any input.

use crate::hashing::Map;
use crate::paged::Paged;
use std::marker::PhantomData;

use crate::values::AssignedId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Numbered<K, V> {
    /// The entries of ids 1 to `in_order.len()`.
    in_order: Paged<V>,
    others: Map<u64, V>,
    _ids: PhantomData<K>,
}

impl<K, V> Default for Numbered<K, V> {
    fn default() -> Self {
        Numbered {
            in_order: Paged::default(),
            others: Map::default(),
            _ids: PhantomData,
        }
    }
}

impl<K: AssignedId, V> Numbered<K, V> {
    /// Records `value` under `id`, returning what it replaces: the later
    /// record of an id wins.
    pub fn insert(&mut self, id: K, value: V) -> Option<V> {
        let n = id.number();
        match self.index(n) {
            Some(i) if i < self.in_order.len() => self
                .in_order
                .get_mut(i)
                .map(|entry| std::mem::replace(entry, value)),
            Some(i) if i == self.in_order.len() => {
                self.in_order.push(value);
                let replaced = self.others.remove(&n);
                self.absorb();
                replaced
            }
            _ => self.others.insert(n, value),
        }
    }

    /// Moves entries that now follow on from the map into the `Vec`.
    fn absorb(&mut self) {
        while !self.others.is_empty() {
            let next = self.in_order.len() as u64 + 1;
            match self.others.remove(&next) {
                Some(value) => self.in_order.push(value),
                None => break,
            }
        }
    }

    pub fn get(&self, id: &K) -> Option<&V> {
        let n = id.number();
        match self.index(n).and_then(|i| self.in_order.get(i)) {
            Some(value) => Some(value),
            None => self.others.get(&n),
        }
    }

    pub fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        let n = id.number();
        match self.index(n) {
            Some(i) if i < self.in_order.len() => self.in_order.get_mut(i),
            _ => self.others.get_mut(&n),
        }
    }

    pub fn contains_key(&self, id: &K) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.in_order.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry with its id: those in order first, by id, then the
    /// others in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        let in_order = (1u64..).zip(self.in_order.iter());
        in_order
            .chain(self.others.iter().map(|(&n, v)| (n, v)))
            .map(|(n, v)| (K::from_number(n), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    fn index(&self, n: u64) -> Option<usize> {
        n.checked_sub(1).and_then(|i| usize::try_from(i).ok())
    }
}

impl<K: AssignedId, V> std::ops::Index<&K> for Numbered<K, V> {
    type Output = V;

    /// Panics if there is no entry, as a map's index does.
    fn index(&self, id: &K) -> &V {
        match self.get(id) {
            Some(value) => value,
            None => panic!("no entry numbered {}", id.number()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Whatever order ids come in, the table answers as a plain map
        /// with the later insert winning.
        #[test]
        fn reads_back_as_a_map(inserts in proptest::collection::vec((0u64..40, 0u32..5), 0..80)) {
            let mut numbered = Numbered::<u64, u32>::default();
            let mut plain = HashMap::new();
            for (id, value) in inserts {
                prop_assert_eq!(numbered.insert(id, value), plain.insert(id, value));
            }
            for id in 0..45 {
                prop_assert_eq!(numbered.get(&id), plain.get(&id), "id {}", id);
            }
            prop_assert_eq!(numbered.len(), plain.len());
            let mut listed: Vec<_> = numbered.iter().map(|(k, v)| (k, *v)).collect();
            listed.sort();
            let mut expected: Vec<_> = plain.into_iter().collect();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn ids_in_order_go_to_the_vec() {
        let mut numbered = Numbered::<u64, u64>::default();
        for id in (1..=1000).rev().filter(|id| id % 2 == 0) {
            numbered.insert(id, id % 7);
        }
        for id in (1..=1000).filter(|id| id % 2 == 1) {
            numbered.insert(id, id % 7);
        }
        assert_eq!(numbered.in_order.len(), 1000);
        assert!(numbered.others.is_empty());
        assert_eq!(numbered.get(&500), Some(&(500 % 7)));
        assert_eq!(numbered.get(&0), None);
        assert_eq!(numbered.get(&1001), None);
    }
}
