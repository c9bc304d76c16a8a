//! Commits too large for one sled batch.
//!
//! sled holds an atomic batch in memory several times over while it applies
//! it, and applies it at under a third of the rate of the same keys
//! inserted one by one (the `sled_writes` example measures both; figures in
//! docs/performance.md). So a large commit is first
//! written whole to a redo file beside the tree and synced; then its writes
//! go to sled one by one; then sled is flushed and the file removed. A
//! process stopped while the writes go in leaves the file behind, and the
//! projection applies it again when it is next opened, before anything
//! reads. Every write is a whole value or a deletion, so applying it twice
//! is applying it once. A file cut short was never applied from: it is
//! dropped, and the commit with it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Pending writes in key order; `None` deletes the key.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

const MAGIC: &[u8; 8] = b"LDGREDO1";
const FILE_NAME: &str = "commit.redo";
const HASH_LEN: usize = 32;

/// The redo file of the read models in one directory.
#[derive(Debug)]
pub struct Redo {
    path: PathBuf,
}

impl Redo {
    pub fn beside(dir: &Path) -> Redo {
        Redo {
            path: dir.join(FILE_NAME),
        }
    }

    fn failed(&self, source: std::io::Error) -> StoreError {
        StoreError::Redo {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `writes` to `tree`: atomically, as a sled batch would, but
    /// without holding them in memory again.
    pub fn commit(&self, tree: &sled::Tree, writes: Writes) -> Result<(), StoreError> {
        self.write(&writes)?;
        apply(tree, writes)?;
        self.finish(tree)
    }

    /// Applies a redo file a stopped commit left, if there is a whole one.
    /// Returns whether it applied one.
    pub fn recover(&self, tree: &sled::Tree) -> Result<bool, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.failed(e)),
        };
        match decode(&bytes) {
            Some(writes) => {
                apply(tree, writes)?;
                self.finish(tree)?;
                Ok(true)
            }
            None => {
                // Cut short while it was written: nothing was applied from it.
                self.remove().map_err(|e| self.failed(e))?;
                Ok(false)
            }
        }
    }

    /// Writes `writes` to the file and syncs it: once this returns, the
    /// commit is as good as made.
    pub(crate) fn write(&self, writes: &Writes) -> Result<(), StoreError> {
        self.write_synced(writes).map_err(|e| self.failed(e))
    }

    fn write_synced(&self, writes: &Writes) -> std::io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)?;
        let mut out = Hashed {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
        };
        out.write_all(MAGIC)?;
        for (key, value) in writes {
            write_bytes(&mut out, key)?;
            match value {
                Some(value) => {
                    out.write_all(&[1])?;
                    write_bytes(&mut out, value)?;
                }
                None => out.write_all(&[0])?,
            }
        }
        let hash = out.hasher.finalize();
        let mut inner = out.inner;
        inner.write_all(hash.as_bytes())?;
        let file = inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        self.sync_dir()
    }

    /// Makes the applied writes durable, then forgets the file. The removal
    /// is synced too: a file that came back after a power loss would undo
    /// every commit made after it.
    fn finish(&self, tree: &sled::Tree) -> Result<(), StoreError> {
        tree.flush()?;
        self.remove().map_err(|e| self.failed(e))
    }

    fn remove(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        match self.path.parent() {
            Some(dir) => File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    }
}

/// Puts `writes` into `tree`, a contiguous run of keys on each core: sled
/// takes inserts from several threads at once, and the runs share no key,
/// so the order they go in does not matter (the redo file, not the order,
/// is what makes a commit whole).
pub(crate) fn apply(tree: &sled::Tree, writes: Writes) -> Result<(), StoreError> {
    let writes: Vec<_> = writes.into_iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || writes.len() < PARALLEL_FROM {
        return apply_run(tree, writes);
    }
    let run = writes.len().div_ceil(threads);
    let mut writes = writes.into_iter();
    let runs: Vec<Vec<_>> = (0..threads)
        .map(|_| writes.by_ref().take(run).collect())
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || apply_run(tree, run)))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// Below this many writes one thread puts them in: the same threshold as
/// the redo file's, so a block applied on its own never starts a thread.
const PARALLEL_FROM: usize = 4096;

fn apply_run(tree: &sled::Tree, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StoreError> {
    for (key, value) in writes {
        match value {
            Some(value) => tree.insert(key, value)?,
            None => tree.remove(key)?,
        };
    }
    Ok(())
}

/// A writer that hashes what it writes, for the file's closing hash.
struct Hashed<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// The writes of a whole redo file; `None` for one cut short or not ours.
fn decode(bytes: &[u8]) -> Option<Writes> {
    let (body, hash) = bytes.split_at_checked(bytes.len().checked_sub(HASH_LEN)?)?;
    if blake3::hash(body).as_bytes() != hash {
        return None;
    }
    let mut rest = body.strip_prefix(MAGIC)?;
    let mut writes = Writes::new();
    while !rest.is_empty() {
        let key = take_bytes(&mut rest)?;
        let (&present, after) = rest.split_first()?;
        rest = after;
        let value = match present {
            0 => None,
            1 => Some(take_bytes(&mut rest)?),
            _ => return None,
        };
        writes.insert(key, value);
    }
    Some(writes)
}

fn take_bytes(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let (len, after) = rest.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    let (bytes, after) = after.split_at_checked(len)?;
    *rest = after;
    Some(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = crate::tests::scratch_dir(&format!("redo-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (db, tree)
    }

    fn contents(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        tree.iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    }

    fn some_writes() -> Writes {
        let mut writes = Writes::new();
        for i in 0u8..50 {
            writes.insert(vec![i, i], Some(vec![i; usize::from(i)]));
        }
        writes.insert(vec![7], None);
        writes
    }

    /// A scratch directory and the redo file of `some_writes` in it.
    fn written(name: &str) -> (PathBuf, Redo) {
        let dir = scratch(name);
        let redo = Redo::beside(&dir);
        redo.write(&some_writes()).unwrap();
        (dir, redo)
    }

    #[test]
    fn a_commit_writes_everything_and_leaves_no_file() {
        let dir = scratch("commit");
        let (_db, tree) = tree();
        tree.insert([7], vec![1]).unwrap();
        tree.insert([200], vec![2]).unwrap();
        let redo = Redo::beside(&dir);
        redo.commit(&tree, some_writes()).unwrap();
        let mut expected: Vec<_> = some_writes()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        expected.push((vec![200], vec![2]));
        assert_eq!(contents(&tree), expected);
        assert!(!dir.join(FILE_NAME).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A commit large enough to go in on every core puts in every write
    /// and deletes what it deletes, as one thread would.
    #[test]
    fn a_large_commit_goes_in_whole_on_every_core() {
        let (_db, tree) = tree();
        let mut writes = Writes::new();
        for i in 0..3 * PARALLEL_FROM as u32 {
            tree.insert(i.to_be_bytes(), vec![0]).unwrap();
            let value = (i % 3 != 0).then(|| i.to_le_bytes().to_vec());
            writes.insert(i.to_be_bytes().to_vec(), value);
        }
        let expected: Vec<_> = writes
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        apply(&tree, writes).unwrap();
        assert_eq!(contents(&tree), expected);
    }

    /// A process stopped half-way through applying: the file is whole, the
    /// tree has some of the writes, and opening again finishes the commit.
    #[test]
    fn a_whole_file_left_behind_is_applied_again() {
        let (dir, redo) = written("recover");
        let (_db, half) = tree();
        let (_db2, done) = tree();
        let writes = some_writes();
        apply(
            &half,
            writes
                .iter()
                .take(20)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
        .unwrap();
        apply(&done, writes).unwrap();
        assert_ne!(contents(&half), contents(&done));
        assert!(redo.recover(&half).unwrap());
        assert_eq!(contents(&half), contents(&done));
        assert!(!dir.join(FILE_NAME).exists());
        // Nothing left to apply the second time.
        assert!(!redo.recover(&half).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Cut anywhere while it was written, or changed anywhere, a file is
    /// dropped and the tree is left as it was.
    #[test]
    fn a_file_cut_short_or_changed_is_dropped_and_nothing_applied() {
        let (dir, redo) = written("torn");
        let whole = std::fs::read(dir.join(FILE_NAME)).unwrap();
        let (_db, tree) = tree();
        tree.insert([1], vec![1]).unwrap();
        let before = contents(&tree);
        let mut damaged: Vec<Vec<u8>> = (0..whole.len()).map(|n| whole[..n].to_vec()).collect();
        for at in (0..whole.len()).step_by(7) {
            let mut changed = whole.clone();
            changed[at] ^= 0x10;
            damaged.push(changed);
        }
        for bytes in damaged {
            std::fs::write(dir.join(FILE_NAME), &bytes).unwrap();
            assert!(!redo.recover(&tree).unwrap());
            assert_eq!(contents(&tree), before);
            assert!(!dir.join(FILE_NAME).exists());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_decodes_to_the_writes_it_was_given() {
        let (dir, _) = written("decode");
        let bytes = std::fs::read(dir.join(FILE_NAME)).unwrap();
        assert_eq!(decode(&bytes), Some(some_writes()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
