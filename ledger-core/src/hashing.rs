//! The hash tables the state and the writer keep by id.
//!
//! The standard library's SipHash took about a tenth of the writer's time
//! deciding and applying a block, foldhash about 3 % (docs/performance.md,
//! "Append"): every command looks up its volunteer and activity, every
//! event its entries. foldhash is still seeded at random per table, so
//! which keys collide cannot be worked out in advance from ids an outside
//! system chooses.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// The seed every table here hashes with.
pub type Seed = foldhash::fast::RandomState;

/// A hash map keyed by the ledger's ids.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set of the ledger's ids.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An empty map with room for `capacity` entries.
pub fn map_with_capacity<K, V>(capacity: usize) -> Map<K, V> {
    Map::with_capacity_and_hasher(capacity, Default::default())
}

/// Positions in a list the caller keeps, found by a key the list's entries
/// hold: four bytes an entry, where a map would keep a copy of every key
/// beside its value. Millions of volunteers, submissions and owners are
/// found this way. Each call says how to read the key at a position.
#[derive(Clone, Default)]
pub struct SlotIndex {
    slots: HashTable<u32>,
    seed: Seed,
}

impl SlotIndex {
    /// The position whose entry holds `key`, if the index has one.
    pub fn find<'a, K>(&self, key: &K, key_at: impl Fn(u32) -> &'a K) -> Option<u32>
    where
        K: Hash + Eq + ?Sized + 'a,
    {
        let hash = self.seed.hash_one(key);
        self.slots.find(hash, |&s| key_at(s) == key).copied()
    }

    /// Points `key` at `slot`, and says where it pointed before. `key_at`
    /// is read for the positions already in the index only, so the entry
    /// at `slot` may be stored after this.
    pub fn set<'a, K>(&mut self, key: &K, slot: u32, key_at: impl Fn(u32) -> &'a K) -> Option<u32>
    where
        K: Hash + Eq + ?Sized + 'a,
    {
        let hash = self.seed.hash_one(key);
        match self.slots.find_mut(hash, |&s| key_at(s) == key) {
            Some(held) => Some(std::mem::replace(held, slot)),
            None => {
                self.insert_new(key, slot, key_at);
                None
            }
        }
    }

    /// Adds `key` at `slot`, for a caller that has just found no entry for
    /// it (a second entry for one key would never be found).
    pub fn insert_new<'a, K>(&mut self, key: &K, slot: u32, key_at: impl Fn(u32) -> &'a K)
    where
        K: Hash + ?Sized + 'a,
    {
        let seed = &self.seed;
        self.slots
            .insert_unique(seed.hash_one(key), slot, |&s| seed.hash_one(key_at(s)));
    }

    /// Forgets `key`, and says where it pointed.
    pub fn remove<'a, K>(&mut self, key: &K, key_at: impl Fn(u32) -> &'a K) -> Option<u32>
    where
        K: Hash + Eq + ?Sized + 'a,
    {
        let hash = self.seed.hash_one(key);
        let entry = self.slots.find_entry(hash, |&s| key_at(s) == key).ok()?;
        Some(entry.remove().0)
    }

    /// Every position held, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_at_the_position_it_was_last_set_to() {
        let mut list: Vec<String> = Vec::new();
        let mut index = SlotIndex::default();
        for n in 0..1000u32 {
            let key = format!("k{n}");
            assert_eq!(
                index.set(key.as_str(), n, |s| list[s as usize].as_str()),
                None
            );
            list.push(key);
        }
        for n in [0u32, 1, 511, 999] {
            let key = format!("k{n}");
            assert_eq!(
                index.find(key.as_str(), |s| list[s as usize].as_str()),
                Some(n)
            );
        }
        assert_eq!(index.find("k1000", |s| list[s as usize].as_str()), None);
        list.push("k1000".to_owned());
        index.insert_new("k1000", 1000, |s| list[s as usize].as_str());
        assert_eq!(
            index.find("k1000", |s| list[s as usize].as_str()),
            Some(1000)
        );

        // A later entry with the same key takes it over.
        list.push("k7".to_owned());
        assert_eq!(
            index.set("k7", 1001, |s| list[s as usize].as_str()),
            Some(7)
        );
        assert_eq!(index.find("k7", |s| list[s as usize].as_str()), Some(1001));

        assert_eq!(
            index.remove("k7", |s| list[s as usize].as_str()),
            Some(1001)
        );
        assert_eq!(index.remove("k7", |s| list[s as usize].as_str()), None);
        assert_eq!(index.find("k7", |s| list[s as usize].as_str()), None);
        let mut held: Vec<u32> = index.slots().collect();
        held.sort_unstable();
        let expected: Vec<u32> = (0..=1000).filter(|&n| n != 7).collect();
        assert_eq!(held, expected);
    }
}
