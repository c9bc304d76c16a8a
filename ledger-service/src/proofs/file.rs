//! The proof log's complete blocks of event hashes in a file, so that the
//! part of the log that grows with the chain (32 bytes an event) is not
//! held in memory. The file is a cache: the log is built again from the
//! stream whenever an instance starts, so it is neither synced nor read
//! back across starts.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ledger_core::merkle::{BlockError, HashBlocks};
use ledger_core::values::Digest;

#[derive(Debug)]
pub struct FileBlocks {
    file: File,
    path: PathBuf,
}

impl FileBlocks {
    /// An empty file at `path`, replacing one left by an earlier start.
    pub fn create(path: &Path) -> std::io::Result<FileBlocks> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(FileBlocks {
            file,
            path: path.to_owned(),
        })
    }

    fn fault(&self, block: u64, e: std::io::Error) -> BlockError {
        BlockError {
            block,
            why: format!("{}: {e}", self.path.display()),
        }
    }
}

impl HashBlocks for FileBlocks {
    fn keep(&mut self, n: u64, hashes: &[Digest]) -> Result<(), BlockError> {
        let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        let at = n * bytes.len() as u64;
        self.file
            .write_all_at(&bytes, at)
            .map_err(|e| self.fault(n, e))
    }

    fn read(&self, n: u64, out: &mut [Digest]) -> Result<(), BlockError> {
        let mut bytes = vec![0u8; out.len() * 32];
        let at = n * bytes.len() as u64;
        self.file
            .read_exact_at(&mut bytes, at)
            .map_err(|e| self.fault(n, e))?;
        for (hash, chunk) in out.iter_mut().zip(bytes.chunks_exact(32)) {
            hash.0.copy_from_slice(chunk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ledger_core::merkle::Log;

    use super::*;

    fn hashes(n: u64) -> Vec<Digest> {
        (0..n).map(|i| Digest::of(&i.to_le_bytes())).collect()
    }

    /// A log keeping its blocks in a file proves what one in memory does.
    #[test]
    fn a_log_in_a_file_proves_what_one_in_memory_proves() {
        let dir = tempfile::tempdir().unwrap();
        let mut on_file = Log::keeping_blocks(FileBlocks::create(&dir.path().join("p")).unwrap());
        let mut in_memory = Log::new();
        for h in hashes(3_000) {
            on_file.push(&h).unwrap();
            in_memory.push(&h).unwrap();
        }
        assert_eq!(
            std::fs::metadata(dir.path().join("p")).unwrap().len(),
            2_816 * 32,
            "every complete block of 256 is in the file, the rest in memory"
        );
        for (index, old, new) in [(0, 1, 3_000), (300, 300, 2_999), (2_999, 2_048, 3_000)] {
            assert_eq!(
                on_file.inclusion(index, new),
                in_memory.inclusion(index, new)
            );
            assert_eq!(
                on_file.consistency(old, new),
                in_memory.consistency(old, new)
            );
            assert_eq!(on_file.event_hash(index), in_memory.event_hash(index));
            assert_eq!(on_file.root(new), in_memory.root(new));
        }
    }

    /// A file cut short under the log: the proofs that need what is gone
    /// are refused, naming the block and the file, not made wrong.
    #[test]
    fn a_file_cut_short_refuses_the_proofs_that_need_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let mut log = Log::keeping_blocks(FileBlocks::create(&path).unwrap());
        for h in hashes(1_000) {
            log.push(&h).unwrap();
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(256 * 32)
            .unwrap();
        let err = log.inclusion(600, 1_000).unwrap_err();
        assert!(
            matches!(&err, ledger_core::merkle::ProofError::Unreadable(e) if e.block == 2 && e.why.contains(&path.display().to_string())),
            "{err}"
        );
        assert!(log.inclusion(100, 1_000).is_ok());
    }
}
