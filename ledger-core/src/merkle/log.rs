//! Every event hash so far, for proofs against any tree size up to the
//! current one, kept where its owner chooses.
//!
//! Proofs cost O(log n) hashes, not O(n): the log keeps in memory the root
//! of every complete aligned subtree of `2^kept_from` leaves and more,
//! about one digest per 128 events, and recomputes only what lies below.
//! Every subtree below those lies inside one aligned block of
//! `2^kept_from` event hashes, so a proof reads at most a few blocks: the
//! one holding its event and the ones at the trees' right edges. The
//! blocks themselves, 32 bytes an event and growing with the chain for
//! ever, go to a [`HashBlocks`] once complete: memory for a short-lived
//! log, a file for a service's.

use std::cell::RefCell;

use thiserror::Error;

use super::{
    leaf_hashes, node_hash, prove_consistency, prove_inclusion, root_of_leaves, split,
    ConsistencyProof, InclusionProof, ProofError, Subtrees,
};
use crate::values::Digest;

/// A block of the log that could not be kept or read back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("block {block} of the proof log: {why}")]
pub struct BlockError {
    pub block: u64,
    pub why: String,
}

/// Where a log keeps its complete blocks of event hashes.
pub trait HashBlocks {
    /// Keeps block `n`, complete. Blocks come in order, each once.
    fn keep(&mut self, n: u64, hashes: &[Digest]) -> Result<(), BlockError>;
    /// Block `n`'s hashes, into `out` (as long as a block).
    fn read(&self, n: u64, out: &mut [Digest]) -> Result<(), BlockError>;
}

/// Blocks held in memory, in pages so that a long log grows without
/// copying itself (a `Vec` that doubles would briefly hold twice the log).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InMemory {
    pages: Vec<Vec<Digest>>,
}

const PAGE: usize = 1 << 16;

impl HashBlocks for InMemory {
    fn keep(&mut self, _: u64, hashes: &[Digest]) -> Result<(), BlockError> {
        for hash in hashes {
            match self.pages.last_mut() {
                Some(page) if page.len() < PAGE => page.push(*hash),
                _ => {
                    let mut page = Vec::with_capacity(PAGE);
                    page.push(*hash);
                    self.pages.push(page);
                }
            }
        }
        Ok(())
    }

    fn read(&self, n: u64, out: &mut [Digest]) -> Result<(), BlockError> {
        let first = n as usize * out.len();
        for (i, slot) in out.iter_mut().enumerate() {
            let at = first + i;
            *slot = *self
                .pages
                .get(at / PAGE)
                .and_then(|page| page.get(at % PAGE))
                .ok_or_else(|| BlockError {
                    block: n,
                    why: "not kept".into(),
                })?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log<B = InMemory> {
    blocks: B,
    /// Complete blocks handed to `blocks`.
    complete: u64,
    /// The hashes of the block not complete yet.
    tail: Vec<Digest>,
    kept_from: u32,
    /// `kept[k][j]`: the root over leaves `j << (kept_from + k)` up to
    /// `(j + 1) << (kept_from + k)`, for every such subtree that is complete.
    kept: Vec<Vec<Digest>>,
}

impl Default for Log {
    fn default() -> Log {
        Log::new()
    }
}

impl Log {
    pub fn new() -> Log {
        Log::keeping_blocks(InMemory::default())
    }
}

/// Subtrees of 256 leaves are kept: a proof recomputes at most about 512
/// hashes (some 50 µs) below the kept levels, and reads blocks of 8 KiB.
const KEPT_FROM: u32 = 8;

impl<B: HashBlocks> Log<B> {
    /// An empty log whose complete blocks go to `blocks`.
    pub fn keeping_blocks(blocks: B) -> Log<B> {
        Log::keeping_from(blocks, KEPT_FROM)
    }

    pub(in crate::merkle) fn keeping_from(blocks: B, kept_from: u32) -> Log<B> {
        Log {
            blocks,
            complete: 0,
            tail: Vec::new(),
            kept_from,
            kept: Vec::new(),
        }
    }

    fn block_len(&self) -> u64 {
        1 << self.kept_from
    }

    /// Appends the next event's hash. If the block it completes cannot be
    /// kept, the log is as it was.
    pub fn push(&mut self, event_hash: &Digest) -> Result<(), BlockError> {
        self.tail.push(*event_hash);
        if (self.tail.len() as u64) < self.block_len() {
            return Ok(());
        }
        if let Err(e) = self.blocks.keep(self.complete, &self.tail) {
            self.tail.pop();
            return Err(e);
        }
        let mut leaves = vec![Digest::ZERO; self.tail.len()];
        leaf_hashes(&self.tail, &mut leaves);
        self.keep(root_of_leaves(&leaves));
        self.complete += 1;
        self.tail.clear();
        Ok(())
    }

    /// Files the root of the subtree the last push completed, and of every
    /// larger one it completes in turn.
    fn keep(&mut self, mut root: Digest) {
        for level in 0.. {
            if self.kept.len() == level {
                self.kept.push(Vec::new());
            }
            let roots = &mut self.kept[level];
            roots.push(root);
            match roots.len() {
                n if n.is_multiple_of(2) => root = node_hash(&roots[n - 2], &roots[n - 1]),
                _ => return,
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.complete * self.block_len() + self.tail.len() as u64
    }

    /// The hash of the event at `index` (ledger sequence `index + 1`).
    pub fn event_hash(&self, index: u64) -> Result<Digest, ProofError> {
        let hashes = self.event_hashes(index, 1)?;
        Ok(hashes.first().copied().unwrap_or_default())
    }

    /// The hashes of the `count` events from `index` on, each block read
    /// once.
    pub fn event_hashes(&self, index: u64, count: u64) -> Result<Vec<Digest>, ProofError> {
        self.within(index.saturating_add(count))?;
        let view = View::new(self);
        let hashes = view.hashes(index, count);
        view.finish(hashes)
    }

    fn within(&self, size: u64) -> Result<(), ProofError> {
        match size <= self.size() {
            true => Ok(()),
            false => Err(ProofError::OutOfRange {
                index: size,
                tree_size: self.size(),
            }),
        }
    }

    /// MTH of the first `size` events.
    pub fn root(&self, size: u64) -> Result<Digest, ProofError> {
        self.within(size)?;
        if size == 0 {
            return Ok(super::empty_root());
        }
        let view = View::new(self);
        let root = view.subtree_root(0, size);
        view.finish(root)
    }

    /// The event with ledger sequence `index + 1` is in the tree of `size`.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        self.within(size)?;
        let view = View::new(self);
        let proof = prove_inclusion(&view, size, index);
        view.finish(proof?)
    }

    /// The tree of `old` events is a prefix of the tree of `new`.
    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, ProofError> {
        self.within(new)?;
        let view = View::new(self);
        let proof = prove_consistency(&view, old, new);
        view.finish(proof?)
    }

    #[cfg(test)]
    pub(in crate::merkle) fn kept_at(&self, level: usize) -> usize {
        self.kept.get(level).map_or(0, Vec::len)
    }
}

/// Blocks a [`View`] keeps once read: more than any one proof needs.
const BLOCKS_KEPT: usize = 4;

/// A log while one proof is made from it: the blocks it has read so far,
/// and the first block it could not read (a proof made past that would be
/// wrong, so it is refused).
struct View<'a, B> {
    log: &'a Log<B>,
    read: RefCell<Vec<(u64, Vec<Digest>)>>,
    failed: RefCell<Option<BlockError>>,
}

impl<'a, B: HashBlocks> View<'a, B> {
    fn new(log: &'a Log<B>) -> View<'a, B> {
        View {
            log,
            read: RefCell::new(Vec::new()),
            failed: RefCell::new(None),
        }
    }

    fn finish<T>(self, made: T) -> Result<T, ProofError> {
        match self.failed.into_inner() {
            Some(e) => Err(ProofError::Unreadable(e)),
            None => Ok(made),
        }
    }

    /// The event hashes `start .. start + count`, from the blocks that
    /// hold them; what cannot be read is left out and remembered.
    fn hashes(&self, start: u64, count: u64) -> Vec<Digest> {
        let len = self.log.block_len();
        let mut out = Vec::with_capacity(count as usize);
        let mut at = start;
        while at < start + count {
            let (n, offset) = (at / len, (at % len) as usize);
            let take = ((len - at % len) as usize).min((start + count - at) as usize);
            if n == self.log.complete {
                out.extend_from_slice(&self.log.tail[offset..offset + take]);
            } else if let Some(block) = self.block(n) {
                out.extend_from_slice(&block[offset..offset + take]);
            }
            at += take as u64;
        }
        out
    }

    fn block(&self, n: u64) -> Option<Vec<Digest>> {
        if let Some((_, block)) = self.read.borrow().iter().find(|(m, _)| *m == n) {
            return Some(block.clone());
        }
        let mut block = vec![Digest::ZERO; self.log.block_len() as usize];
        match self.log.blocks.read(n, &mut block) {
            Ok(()) => {
                // A proof reads a few blocks; reading many at once (a whole
                // log) keeps only the last ones.
                let mut read = self.read.borrow_mut();
                if read.len() >= BLOCKS_KEPT {
                    read.remove(0);
                }
                read.push((n, block.clone()));
                Some(block)
            }
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
}

impl<B: HashBlocks> Subtrees for View<'_, B> {
    fn subtree_root(&self, start: u64, size: u64) -> Digest {
        let log = self.log;
        if size.is_power_of_two() && size.trailing_zeros() >= log.kept_from {
            let level = (size.trailing_zeros() - log.kept_from) as usize;
            let kept = log
                .kept
                .get(level)
                .and_then(|r| r.get((start / size) as usize));
            if let (0, Some(root)) = (start % size, kept) {
                return *root;
            }
        }
        if size <= log.block_len() {
            let hashes = self.hashes(start, size);
            let mut leaves = vec![Digest::ZERO; hashes.len()];
            leaf_hashes(&hashes, &mut leaves);
            return match leaves.is_empty() {
                true => Digest::ZERO,
                false => root_of_leaves(&leaves),
            };
        }
        let k = split(size);
        node_hash(
            &self.subtree_root(start, k),
            &self.subtree_root(start + k, size - k),
        )
    }
}
