//! The key-value layer under the read models: one ordered map of bytes,
//! held by sled on disk or by a `BTreeMap` in memory (for time travel and
//! tests), and the [`Overlay`] that collects a batch's writes in memory so
//! that a key touched by many events is written once.

use std::collections::BTreeMap;
use std::ops::Bound;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the projection store failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("the projection holds a value it cannot read at key {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("the projection's redo file {path} failed: {source}")]
    Redo {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Entry = (Vec<u8>, Vec<u8>);
/// A pending write: `None` deletes.
type Write = (Vec<u8>, Option<Vec<u8>>);
type Writes<'a> = Box<dyn Iterator<Item = Write> + 'a>;

pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// Ordered reads over a key space.
pub trait Read {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries with `from <= key < to`, ascending, or descending if `reverse`.
    fn range<'a>(&'a self, from: &[u8], to: &[u8], reverse: bool) -> Entries<'a>;
}

/// Reverse scans are for the in-memory store and tests: sled 0.34's
/// reverse iteration can panic in a large tree, so the read models only
/// ever scan sled forward.
impl Read for sled::Tree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sled::Tree::get(self, key)?.map(|v| v.to_vec()))
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8], reverse: bool) -> Entries<'a> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        let iter = sled::Tree::range(self, from.to_vec()..to.to_vec());
        let convert = |r: sled::Result<(sled::IVec, sled::IVec)>| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        };
        if reverse {
            Box::new(iter.rev().map(convert))
        } else {
            Box::new(iter.map(convert))
        }
    }
}

/// A key space in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl Read for Memory {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(key).cloned())
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8], reverse: bool) -> Entries<'a> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        let iter = self
            .0
            .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
            .map(|(k, v)| Ok((k.clone(), v.clone())));
        if reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        }
    }
}

/// Writes not yet committed, over a base that holds what was. Reads see
/// the writes first.
#[derive(Debug)]
pub struct Overlay<B> {
    base: B,
    /// `None` deletes the key.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Bytes held by `writes`, to decide when to commit.
    bytes: usize,
}

impl<B: Read> Overlay<B> {
    pub fn new(base: B) -> Overlay<B> {
        Overlay {
            base,
            writes: BTreeMap::new(),
            bytes: 0,
        }
    }

    pub fn base(&self) -> &B {
        &self.base
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.hold(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.hold(key, None);
    }

    fn hold(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let size = |k: usize, v: &Option<Vec<u8>>| k + v.as_ref().map_or(0, Vec::len);
        let key_len = key.len();
        let added = size(key_len, &value);
        let replaced = self
            .writes
            .insert(key, value)
            .map_or(0, |old| size(key_len, &old));
        self.bytes = self.bytes + added - replaced;
    }

    /// How many bytes of keys and values the pending writes hold.
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    pub fn pending_keys(&self) -> usize {
        self.writes.len()
    }

    /// Hands over the pending writes, leaving the overlay empty.
    pub fn take(&mut self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.bytes = 0;
        std::mem::take(&mut self.writes)
    }

    pub fn discard(&mut self) {
        self.take();
    }
}

impl Overlay<sled::Tree> {
    /// Writes the pending writes to sled in one atomic batch.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in self.take() {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.base.apply_batch(batch)?;
        Ok(())
    }
}

impl Overlay<Memory> {
    pub fn commit(&mut self) {
        for (key, value) in self.take() {
            match value {
                Some(value) => self.base.0.insert(key, value),
                None => self.base.0.remove(&key),
            };
        }
    }

    pub fn into_memory(mut self) -> Memory {
        self.commit();
        self.base
    }
}

impl<B: Read> Read for Overlay<B> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.base.get(key),
        }
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8], reverse: bool) -> Entries<'a> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        let writes = self
            .writes
            .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
            .map(|(k, v)| (k.clone(), v.clone()));
        let writes: Writes<'_> = if reverse {
            Box::new(writes.rev())
        } else {
            Box::new(writes)
        };
        Box::new(Merge {
            writes: writes.peekable(),
            base: self.base.range(from, to, reverse).peekable(),
            reverse,
        })
    }
}

/// Merges pending writes into the base's entries, in key order; a pending
/// write hides the base's entry of the same key, and a deletion hides it
/// altogether.
struct Merge<'a> {
    writes: std::iter::Peekable<Writes<'a>>,
    base: std::iter::Peekable<Entries<'a>>,
    reverse: bool,
}

impl Iterator for Merge<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let from_writes = match (self.writes.peek(), self.base.peek()) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(_), Some(Err(_))) => false,
                (Some((wk, _)), Some(Ok((bk, _)))) => {
                    if wk == bk {
                        self.base.next();
                        true
                    } else {
                        (wk < bk) != self.reverse
                    }
                }
            };
            if !from_writes {
                return self.base.next();
            }
            match self.writes.next() {
                Some((key, Some(value))) => return Some(Ok((key, value))),
                Some((_, None)) => continue,
                None => return None,
            }
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` if there is none (a prefix of 0xFF bytes only).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Entries whose key starts with `prefix`.
pub fn scan_prefix<'a, R: Read + ?Sized>(r: &'a R, prefix: &[u8], reverse: bool) -> Entries<'a> {
    match prefix_end(prefix) {
        Some(end) => r.range(prefix, &end, reverse),
        None => r.range(prefix, &[0xFF; 256], reverse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect<R: Read>(r: &R, from: &[u8], to: &[u8], reverse: bool) -> Vec<Entry> {
        r.range(from, to, reverse).map(|e| e.unwrap()).collect()
    }

    proptest! {
        /// Reading through an overlay is reading the committed result.
        #[test]
        fn overlay_reads_as_if_committed(
            base in proptest::collection::btree_map(proptest::collection::vec(0u8..4, 0..3), any::<u8>(), 0..20),
            ops in proptest::collection::vec((proptest::collection::vec(0u8..4, 0..3), proptest::option::of(any::<u8>())), 0..20),
            from in proptest::collection::vec(0u8..4, 0..2),
            to in proptest::collection::vec(0u8..5, 0..3),
            reverse in any::<bool>(),
        ) {
            let base = Memory(base.into_iter().map(|(k, v)| (k, vec![v])).collect());
            let mut overlay = Overlay::new(base.clone());
            let mut expected = base.clone();
            for (key, value) in ops {
                match value {
                    Some(v) => { overlay.put(key.clone(), vec![v]); expected.0.insert(key, vec![v]); }
                    None => { overlay.delete(key.clone()); expected.0.remove(&key); }
                }
            }
            prop_assert_eq!(collect(&overlay, &from, &to, reverse), collect(&expected, &from, &to, reverse));
            for key in expected.0.keys() {
                prop_assert_eq!(overlay.get(key).unwrap(), expected.get(key).unwrap());
            }
            prop_assert_eq!(overlay.into_memory(), expected);
        }
    }

    #[test]
    fn sled_and_memory_agree() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let mut overlay = Overlay::new(tree.clone());
        let mut memory = Overlay::new(Memory::default());
        for i in 0u8..50 {
            overlay.put(vec![i % 7, i], vec![i]);
            memory.put(vec![i % 7, i], vec![i]);
        }
        overlay.delete(vec![3, 3]);
        memory.delete(vec![3, 3]);
        overlay.commit().unwrap();
        let memory = memory.into_memory();
        assert_eq!(
            collect(&tree, &[2], &[5], true),
            collect(&memory, &[2], &[5], true)
        );
        assert_eq!(
            scan_prefix(&tree, &[3], false).count(),
            scan_prefix(&memory, &[3], false).count()
        );
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
