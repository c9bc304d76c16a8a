//! The hash tables the state and the writer keep by id.
//!
//! The standard library's SipHash took about a tenth of the writer's time
//! deciding and applying a block, foldhash about 3 % (docs/performance.md,
//! "Append"): every command looks up its volunteer and activity, every
//! event its entries. foldhash is still seeded at random per table, so
//! which keys collide cannot be worked out in advance from ids an outside
//! system chooses.

/// The seed every table here hashes with, for tables built by hand
/// (`hashbrown::HashTable`) that keep an index rather than their keys.
pub type Seed = foldhash::fast::RandomState;

/// A hash map keyed by the ledger's ids.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set of the ledger's ids.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An empty map with room for `capacity` entries.
pub fn map_with_capacity<K, V>(capacity: usize) -> Map<K, V> {
    Map::with_capacity_and_hasher(capacity, Default::default())
}
