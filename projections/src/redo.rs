//! The redo log of the read models: every commit is written here and
//! synced before sled is given any of it.
//!
//! sled is relied on for one thing only: what it held when it was last
//! flushed, it still holds after a crash. Not that a batch comes back whole
//! or not at all, nor that a later batch comes back only with the ones
//! before it: the fault-injection test found an instance, killed while it
//! applied blocks, whose read models stood past a block of registrations
//! with none of that block's rows. So each commit is appended to this log
//! as one record (its writes in key order, closed by a hash) and synced;
//! then its writes go to sled; and the log is emptied only once sled has
//! been flushed. Opening the read models applies every whole record of the
//! log again, in order, before anything reads. Every write is a whole value
//! or a deletion, so doing that over whatever sled came back with gives
//! exactly the state after the last record. A record cut short was never
//! applied from: it is dropped.
//!
//! A large commit (a catch-up or a rebuild) goes to sled one key at a time
//! from every core rather than as one sled batch: sled holds an atomic
//! batch in memory several times over while it applies it, at under a
//! third of the rate of the same keys inserted one by one (the
//! `sled_writes` example measures both; figures in docs/performance.md).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::store::StoreError;

/// Pending writes in key order; `None` deletes the key.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Opens each record, so that a record is never read from the middle of
/// another.
const MAGIC: &[u8; 8] = b"LDGREDO2";
const FILE_NAME: &str = "commit.redo";
const HASH_LEN: usize = 32;
/// A record's magic and the length of its writes.
const HEADER_LEN: usize = MAGIC.len() + 8;
/// The log is emptied (after a sled flush) once it holds this much: a
/// flush every few hundred blocks while blocks come one by one, and little
/// to apply again on opening.
const EMPTY_FROM: u64 = 32 << 20;

/// The redo log of the read models in one directory.
#[derive(Debug)]
pub struct Redo {
    path: PathBuf,
    file: File,
    /// Bytes in the log since it was last emptied.
    len: u64,
}

impl Redo {
    /// Opens (or creates) the log in `dir`. Call [`Redo::recover`] before
    /// anything reads the tree.
    pub fn open(dir: &Path) -> Result<Redo, StoreError> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| StoreError::Redo {
                path: path.clone(),
                source,
            })?;
        // The log's name is synced once, so that a power loss cannot take
        // the file, and the records synced into it, away.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Redo {
                path: path.clone(),
                source,
            })?;
        let len = file.metadata().map_or(0, |m| m.len());
        Ok(Redo { path, file, len })
    }

    fn failed(&self, source: std::io::Error) -> StoreError {
        StoreError::Redo {
            path: self.path.clone(),
            source,
        }
    }

    /// Bytes waiting in the log: commits sled may not have made durable.
    pub fn pending_bytes(&self) -> u64 {
        self.len
    }

    /// Writes `writes` to `tree` as one commit: whole after a crash, or not
    /// at all if the crash came before its record was. The writes go in
    /// holding `gate` for writing (readers take it to see whole commits);
    /// the record is written and synced before, and sled flushed after,
    /// without it.
    pub fn commit(
        &mut self,
        tree: &sled::Tree,
        writes: Writes,
        gate: &RwLock<()>,
    ) -> Result<(), StoreError> {
        let large = writes.len() >= PARALLEL_FROM;
        self.append(&writes)?;
        {
            let _writing = gate.write().unwrap_or_else(|p| p.into_inner());
            apply(tree, writes)?;
        }
        // A large commit is flushed at once: its record is as large as the
        // commit, and it is not read again.
        if large || self.len >= EMPTY_FROM {
            self.empty(tree)?;
        }
        Ok(())
    }

    /// Applies every whole record in the log again, in order, and empties
    /// it. Returns how many records it applied.
    pub fn recover(&mut self, tree: &sled::Tree) -> Result<usize, StoreError> {
        let bytes = std::fs::read(&self.path).map_err(|e| self.failed(e))?;
        let records = decode(&bytes);
        let applied = records.len();
        for writes in records {
            apply(tree, writes)?;
        }
        if !bytes.is_empty() {
            self.empty(tree)?;
        }
        Ok(applied)
    }

    /// Makes what sled holds durable, then forgets the records. The log's
    /// new length is synced too: a log that came back after a power loss
    /// would apply old records over newer commits.
    pub fn empty(&mut self, tree: &sled::Tree) -> Result<(), StoreError> {
        tree.flush()?;
        self.file.set_len(0).map_err(|e| self.failed(e))?;
        self.file.sync_all().map_err(|e| self.failed(e))?;
        self.len = 0;
        Ok(())
    }

    /// Appends `writes` as one record and syncs it: once this returns, the
    /// commit is as good as made.
    pub(crate) fn append(&mut self, writes: &Writes) -> Result<(), StoreError> {
        match self.append_synced(writes) {
            Ok(written) => {
                self.len += written;
                Ok(())
            }
            Err(e) => {
                // Cut back what was written of the record, so that records
                // after it are not read as following a torn one. (If this
                // fails too, recovery drops the torn record and all after.)
                let _ = self.file.set_len(self.len);
                Err(self.failed(e))
            }
        }
    }

    fn append_synced(&mut self, writes: &Writes) -> std::io::Result<u64> {
        let mut out = BufWriter::with_capacity(1 << 20, &self.file);
        let written = write_record(&mut out, writes)?;
        out.flush()?;
        drop(out);
        self.file.sync_data()?;
        Ok(written)
    }
}

/// Writes `writes` to `out` as one record, streamed (a large commit's
/// record is as large as the commit, so it is not built in memory first).
/// Returns the record's length.
fn write_record(out: impl Write, writes: &Writes) -> std::io::Result<u64> {
    let body_len: usize = writes
        .iter()
        .map(|(k, v)| 4 + k.len() + 1 + v.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    let mut out = Hashed {
        inner: out,
        hasher: blake3::Hasher::new(),
    };
    out.write_all(MAGIC)?;
    out.write_all(&(body_len as u64).to_le_bytes())?;
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
    out.inner.write_all(hash.as_bytes())?;
    Ok((HEADER_LEN + body_len + HASH_LEN) as u64)
}

/// Puts `writes` into `tree`: a small commit as one sled batch, a large one
/// as a contiguous run of keys on each core (sled takes inserts from
/// several threads at once, and the runs share no key, so the order they go
/// in does not matter: the log, not the order, makes a commit whole).
pub(crate) fn apply(tree: &sled::Tree, writes: Writes) -> Result<(), StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if writes.len() < PARALLEL_FROM {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        tree.apply_batch(batch)?;
        return Ok(());
    }
    let writes: Vec<_> = writes.into_iter().collect();
    if threads < 2 {
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

/// From this many writes a commit is large: it goes in from every core, one
/// key at a time, and the log is emptied after it. A block applied on its
/// own writes fewer.
pub(crate) const PARALLEL_FROM: usize = 4096;

fn apply_run(tree: &sled::Tree, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StoreError> {
    for (key, value) in writes {
        match value {
            Some(value) => tree.insert(key, value)?,
            None => tree.remove(key)?,
        };
    }
    Ok(())
}

/// A writer that hashes what it writes, for the record's closing hash.
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

/// The writes of each whole record at the front of `bytes`, in order: the
/// first record cut short, changed or not ours ends them.
fn decode(mut bytes: &[u8]) -> Vec<Writes> {
    let mut records = Vec::new();
    while let Some((writes, rest)) = decode_record(bytes) {
        records.push(writes);
        bytes = rest;
    }
    records
}

/// The record at the front of `bytes`, and what follows it.
fn decode_record(bytes: &[u8]) -> Option<(Writes, &[u8])> {
    let (header, after) = bytes.split_at_checked(HEADER_LEN)?;
    let (magic, len) = header.split_at(MAGIC.len());
    if magic != MAGIC {
        return None;
    }
    let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
    let (body, after) = after.split_at_checked(len)?;
    let (hash, rest) = after.split_at_checked(HASH_LEN)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(header);
    hasher.update(body);
    if hasher.finalize().as_bytes() != hash {
        return None;
    }
    Some((decode_writes(body)?, rest))
}

fn decode_writes(mut rest: &[u8]) -> Option<Writes> {
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
    use proptest::prelude::*;

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

    /// Writes that change and delete some of `some_writes`' keys.
    fn later_writes() -> Writes {
        let mut writes = Writes::new();
        for i in (0u8..50).step_by(3) {
            writes.insert(vec![i, i], (i % 2 == 0).then(|| vec![i ^ 0xFF; 3]));
        }
        writes.insert(vec![7], Some(vec![7]));
        writes
    }

    fn applied(records: &[Writes]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let (_db, tree) = tree();
        for writes in records {
            apply(&tree, writes.clone()).unwrap();
        }
        contents(&tree)
    }

    /// A scratch directory and a log holding `some_writes`, then
    /// `later_writes`, as two records.
    fn logged(name: &str) -> (PathBuf, Redo) {
        let dir = scratch(name);
        let mut redo = Redo::open(&dir).unwrap();
        redo.append(&some_writes()).unwrap();
        redo.append(&later_writes()).unwrap();
        (dir, redo)
    }

    #[test]
    fn a_commit_writes_everything_and_keeps_its_record_until_flushed() {
        let dir = scratch("commit");
        let (_db, tree) = tree();
        tree.insert([7], vec![1]).unwrap();
        tree.insert([200], vec![2]).unwrap();
        let mut redo = Redo::open(&dir).unwrap();
        redo.commit(&tree, some_writes(), &RwLock::new(())).unwrap();
        let mut expected: Vec<_> = some_writes()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        expected.push((vec![200], vec![2]));
        assert_eq!(contents(&tree), expected);
        let log = std::fs::read(dir.join(FILE_NAME)).unwrap();
        assert_eq!(decode(&log), vec![some_writes()]);
        assert_eq!(redo.pending_bytes(), log.len() as u64);
        redo.empty(&tree).unwrap();
        assert_eq!(std::fs::metadata(dir.join(FILE_NAME)).unwrap().len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A commit large enough to go in on every core puts in every write
    /// and deletes what it deletes, as one thread would; the log is
    /// emptied after it.
    #[test]
    fn a_large_commit_goes_in_whole_on_every_core() {
        let dir = scratch("large");
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
        let mut redo = Redo::open(&dir).unwrap();
        redo.commit(&tree, writes, &RwLock::new(())).unwrap();
        assert_eq!(contents(&tree), expected);
        assert_eq!(redo.pending_bytes(), 0);
        assert_eq!(std::fs::metadata(dir.join(FILE_NAME)).unwrap().len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Whatever sled came back with (here: the later commit half in and
    /// the earlier one not at all), opening again applies the records in
    /// order and gives the state after the last.
    #[test]
    fn records_left_behind_are_applied_again_in_order() {
        let (dir, _) = logged("recover");
        let (_db, torn) = tree();
        let later: Writes = later_writes().into_iter().take(4).collect();
        apply(&torn, later).unwrap();
        let done = applied(&[some_writes(), later_writes()]);
        assert_ne!(contents(&torn), done);
        let mut redo = Redo::open(&dir).unwrap();
        assert_eq!(redo.recover(&torn).unwrap(), 2);
        assert_eq!(contents(&torn), done);
        assert_eq!(std::fs::metadata(dir.join(FILE_NAME)).unwrap().len(), 0);
        // Nothing left to apply the second time.
        assert_eq!(Redo::open(&dir).unwrap().recover(&torn).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Cut anywhere while it was written, or changed anywhere, a record is
    /// dropped with every record after it; the ones before are applied.
    #[test]
    fn a_record_cut_short_or_changed_is_dropped_with_what_follows() {
        let (dir, _) = logged("torn");
        let whole = std::fs::read(dir.join(FILE_NAME)).unwrap();
        let (_, second) = decode_record(&whole).unwrap();
        let first_len = whole.len() - second.len();
        let cuts = (0..whole.len())
            .step_by(3)
            .chain([first_len - 1, first_len, whole.len() - 1]);
        let mut damaged: Vec<(Vec<u8>, usize)> = cuts
            .map(|n| (whole[..n].to_vec(), usize::from(n >= first_len)))
            .collect();
        for at in (0..whole.len()).step_by(7) {
            let mut changed = whole.clone();
            changed[at] ^= 0x10;
            damaged.push((changed, usize::from(at >= first_len)));
        }
        let records = [some_writes(), later_writes()];
        let before = vec![(vec![1], vec![1])];
        let after_first = {
            let mut rows = applied(&records[..1]);
            rows.push((vec![1], vec![1]));
            rows.sort();
            rows
        };
        let (_db, target) = tree();
        for (bytes, whole_records) in damaged {
            target.clear().unwrap();
            target.insert([1], vec![1]).unwrap();
            std::fs::write(dir.join(FILE_NAME), &bytes).unwrap();
            let mut redo = Redo::open(&dir).unwrap();
            assert_eq!(redo.recover(&target).unwrap(), whole_records);
            let expected = if whole_records == 0 {
                &before
            } else {
                &after_first
            };
            assert_eq!(&contents(&target), expected);
            assert_eq!(std::fs::metadata(dir.join(FILE_NAME)).unwrap().len(), 0);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn writes_strategy() -> impl Strategy<Value = Writes> {
        let key = proptest::collection::vec(any::<u8>(), 0..24);
        let value = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200));
        proptest::collection::btree_map(key, value, 0..12)
    }

    /// `records` written back to back, and where each ends.
    fn log_of(records: &[Writes]) -> (Vec<u8>, Vec<usize>) {
        let mut log = Vec::new();
        let mut ends = Vec::new();
        for writes in records {
            let written = write_record(&mut log, writes).unwrap();
            assert_eq!(written as usize, log.len() - ends.last().unwrap_or(&0));
            ends.push(log.len());
        }
        (log, ends)
    }

    proptest! {
        /// Records written back to back decode to the writes they were
        /// given; cut anywhere, to the records wholly before the cut;
        /// followed by other bytes, to the same records.
        #[test]
        fn records_decode_to_their_writes_and_a_cut_to_those_before_it(
            records in proptest::collection::vec(writes_strategy(), 1..5),
            cut in any::<proptest::sample::Index>(),
            tail in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let (log, ends) = log_of(&records);
            prop_assert_eq!(&decode(&log), &records);
            let at = cut.index(log.len() + 1);
            let whole = ends.iter().filter(|&&end| end <= at).count();
            prop_assert_eq!(decode(&log[..at]), records[..whole].to_vec());
            let mut followed = log;
            followed.extend_from_slice(&tail);
            prop_assert_eq!(&decode(&followed), &records);
        }

        /// A byte changed anywhere ends the log at the record it is in.
        #[test]
        fn a_changed_byte_ends_the_log_at_its_record(
            records in proptest::collection::vec(writes_strategy(), 1..5),
            at in any::<proptest::sample::Index>(),
            flip in 1u8..,
        ) {
            let (mut log, ends) = log_of(&records);
            let at = at.index(log.len());
            log[at] ^= flip;
            let before = ends.iter().filter(|&&end| end <= at).count();
            prop_assert_eq!(decode(&log), records[..before].to_vec());
        }
    }

    #[test]
    fn a_log_decodes_to_the_records_it_was_given() {
        let (dir, redo) = logged("decode");
        let bytes = std::fs::read(dir.join(FILE_NAME)).unwrap();
        assert_eq!(decode(&bytes), vec![some_writes(), later_writes()]);
        assert_eq!(redo.pending_bytes(), bytes.len() as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
