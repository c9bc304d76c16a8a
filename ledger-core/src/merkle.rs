//! The Merkle tree over event hashes that checkpoints commit to: the shape
//! of RFC 6962 / RFC 9162 (section 2.1), with BLAKE3 as the hash.
//!
//! ```text
//! leaf(h)     = BLAKE3(0x00 || h)          h: the event's 32-byte frame hash
//! node(l, r)  = BLAKE3(0x01 || l || r)
//! MTH({})     = BLAKE3("")
//! MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n]))   k: largest power of two < n
//! ```
//!
//! Inclusion proofs (PATH) and consistency proofs (PROOF) are those of
//! RFC 6962 section 2.1.1 and 2.1.2, verified as RFC 9162 section 2.1.3.2
//! and 2.1.4.2 describe.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lanes::{self, LANES};
use crate::values::Digest;

mod log;

pub use log::{BlockError, HashBlocks, InMemory, Log};

// Both hash one short buffer on the stack: a verifier takes about two of
// them per event, and a streaming hasher's set-up costs as much as the hash.
pub fn leaf_hash(event_hash: &Digest) -> Digest {
    Digest(*blake3::hash(&leaf_input(event_hash)).as_bytes())
}

pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    Digest(*blake3::hash(&node_input(left, right)).as_bytes())
}

/// [`leaf_hash`] of each of `event_hashes`, into the same place of `out`,
/// several at a time.
pub fn leaf_hashes(event_hashes: &[Digest], out: &mut [Digest]) {
    hash_inputs(event_hashes, leaf_input, out);
}

/// [`node_hash`] of each pair, into the same place of `out`, several at a
/// time.
pub fn node_hashes(pairs: &[(Digest, Digest)], out: &mut [Digest]) {
    hash_inputs(pairs, |(left, right)| node_input(left, right), out);
}

/// RFC 6962's leaf prefix, then the event's hash.
fn leaf_input(event_hash: &Digest) -> [u8; 33] {
    let mut input = [0u8; 33];
    input[1..].copy_from_slice(&event_hash.0);
    input
}

/// RFC 6962's node prefix, then the two children.
fn node_input(left: &Digest, right: &Digest) -> [u8; 65] {
    let mut input = [0u8; 65];
    input[0] = 0x01;
    input[1..33].copy_from_slice(&left.0);
    input[33..].copy_from_slice(&right.0);
    input
}

/// The hash of `input(item)` for each of `items`, a lanes' worth at a time.
fn hash_inputs<T, const N: usize>(items: &[T], input: impl Fn(&T) -> [u8; N], out: &mut [Digest]) {
    let mut inputs = [[0u8; N]; LANES];
    for (items, out) in items.chunks(LANES).zip(out.chunks_mut(LANES)) {
        for (slot, item) in inputs.iter_mut().zip(items) {
            *slot = input(item);
        }
        let messages: [&[u8]; LANES] = std::array::from_fn(|i| &inputs[i][..]);
        lanes::hash_each(lanes::Mode::Hash, &messages[..items.len()], out);
    }
}

pub fn empty_root() -> Digest {
    Digest::of(b"")
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH over leaf hashes (already prefixed with `leaf_hash`).
pub fn root_of_leaves(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

/// A perfect subtree of `2^height` leaves, by its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subtree {
    pub height: u32,
    pub root: Digest,
}

/// The root over event hashes, built incrementally: the frontier holds the
/// roots of the perfect subtrees the leaves so far fall into, so appending
/// and taking the root cost O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree roots, largest (leftmost) first.
    peaks: Vec<Digest>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, event_hash: &Digest) {
        self.push_leaf(leaf_hash(event_hash));
    }

    /// Takes in a leaf hashed ahead (`leaf_hash` of an event's hash).
    pub fn push_leaf(&mut self, leaf: Digest) {
        self.push_leaf_closing(leaf, None);
    }

    /// As [`Frontier::push_leaf`], given `closes`: a perfect subtree of
    /// `2^height` leaves hashed ahead, this leaf its last, and its root.
    /// It is used when this leaf does close such a subtree, that is when
    /// the size so far ends in `height` ones in binary (its other leaves
    /// are then the last ones pushed, under the last `height` peaks);
    /// otherwise it is not needed and ignored.
    pub fn push_leaf_closing(&mut self, leaf: Digest, closes: Option<Subtree>) {
        let mut carry = leaf;
        let mut size = self.size;
        if let Some(Subtree { height, root }) = closes {
            if height <= size.trailing_ones() {
                let kept = self.peaks.len().saturating_sub(height as usize);
                self.peaks.truncate(kept);
                carry = root;
                size >>= height;
            }
        }
        while size & 1 == 1 {
            let left = self.peaks.pop().unwrap_or_default();
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// MTH of everything pushed so far.
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(last) => peaks.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// Where a proof takes the roots of subtrees from: computed from the leaves,
/// or looked up where a [`Log`] keeps them. Every subtree a proof names
/// starts at a multiple of the power of two its size rounds up to.
trait Subtrees {
    /// MTH over leaves `start .. start + size`, `size` >= 1.
    fn subtree_root(&self, start: u64, size: u64) -> Digest;
}

/// Leaf hashes held in full.
impl Subtrees for [Digest] {
    fn subtree_root(&self, start: u64, size: u64) -> Digest {
        root_of_leaves(&self[start as usize..(start + size) as usize])
    }
}

/// An inclusion proof: the event at `index` is in the tree of `tree_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    pub path: Vec<Digest>,
}

/// A consistency proof: the tree of `old_size` is a prefix of `new_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub path: Vec<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("index {index} is not inside a tree of {tree_size}")]
    OutOfRange { index: u64, tree_size: u64 },
    #[error("the proof has {0} hashes, not what this tree needs")]
    Length(usize),
    #[error("the proof does not lead to the root")]
    RootMismatch,
    #[error(transparent)]
    Unreadable(#[from] BlockError),
}

/// PATH(m, D[n]) of RFC 6962 2.1.1, over leaf hashes.
pub fn inclusion_proof(leaves: &[Digest], index: u64) -> Result<InclusionProof, ProofError> {
    prove_inclusion(leaves, leaves.len() as u64, index)
}

fn prove_inclusion<T: Subtrees + ?Sized>(
    tree: &T,
    tree_size: u64,
    index: u64,
) -> Result<InclusionProof, ProofError> {
    if index >= tree_size {
        return Err(ProofError::OutOfRange { index, tree_size });
    }
    // The subtree of `n` leaves from `start`, in which `m` is the proven one.
    fn path<T: Subtrees + ?Sized>(tree: &T, start: u64, n: u64, m: u64, out: &mut Vec<Digest>) {
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(tree, start, k, m, out);
            out.push(tree.subtree_root(start + k, n - k));
        } else {
            path(tree, start + k, n - k, m - k, out);
            out.push(tree.subtree_root(start, k));
        }
    }
    let mut out = Vec::new();
    path(tree, 0, tree_size, index, &mut out);
    Ok(InclusionProof {
        index,
        tree_size,
        path: out,
    })
}

/// RFC 9162 2.1.3.2: does `proof` show `event_hash` at its index under `root`?
pub fn verify_inclusion(
    event_hash: &Digest,
    proof: &InclusionProof,
    root: &Digest,
) -> Result<(), ProofError> {
    if proof.index >= proof.tree_size {
        return Err(ProofError::OutOfRange {
            index: proof.index,
            tree_size: proof.tree_size,
        });
    }
    let (mut f_n, mut s_n) = (proof.index, proof.tree_size - 1);
    let mut r = leaf_hash(event_hash);
    for p in &proof.path {
        if s_n == 0 {
            return Err(ProofError::Length(proof.path.len()));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length(proof.path.len()));
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// PROOF(m, D[n]) of RFC 6962 2.1.2, over leaf hashes.
pub fn consistency_proof(leaves: &[Digest], old_size: u64) -> Result<ConsistencyProof, ProofError> {
    prove_consistency(leaves, old_size, leaves.len() as u64)
}

fn prove_consistency<T: Subtrees + ?Sized>(
    tree: &T,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::OutOfRange {
            index: old_size,
            tree_size: new_size,
        });
    }
    // SUBPROOF(m, D[start : start + n], complete).
    fn subproof<T: Subtrees + ?Sized>(
        tree: &T,
        m: u64,
        start: u64,
        n: u64,
        complete: bool,
        out: &mut Vec<Digest>,
    ) {
        if m == n {
            if !complete {
                out.push(tree.subtree_root(start, n));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            subproof(tree, m, start, k, complete, out);
            out.push(tree.subtree_root(start + k, n - k));
        } else {
            subproof(tree, m - k, start + k, n - k, false, out);
            out.push(tree.subtree_root(start, k));
        }
    }
    let mut out = Vec::new();
    subproof(tree, old_size, 0, new_size, true, &mut out);
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path: out,
    })
}

/// RFC 9162 2.1.4.2: is the tree of `old_root` a prefix of that of `new_root`?
pub fn verify_consistency(
    proof: &ConsistencyProof,
    old_root: &Digest,
    new_root: &Digest,
) -> Result<(), ProofError> {
    let (m, n) = (proof.old_size, proof.new_size);
    if m == 0 || m > n {
        return Err(ProofError::OutOfRange {
            index: m,
            tree_size: n,
        });
    }
    if m == n {
        return if proof.path.is_empty() && old_root == new_root {
            Ok(())
        } else if !proof.path.is_empty() {
            Err(ProofError::Length(proof.path.len()))
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path: Vec<Digest> = proof.path.clone();
    if m.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let mut items = path.iter();
    let first = items.next().ok_or(ProofError::Length(0))?;
    let (mut f_n, mut s_n) = (m - 1, n - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in items {
        if s_n == 0 {
            return Err(ProofError::Length(proof.path.len()));
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length(proof.path.len()));
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn events(n: usize) -> Vec<Digest> {
        (0..n)
            .map(|i| Digest::of(&(i as u64).to_le_bytes()))
            .collect()
    }

    fn leaves(events: &[Digest]) -> Vec<Digest> {
        events.iter().map(leaf_hash).collect()
    }

    fn log_of(events: &[Digest], mut log: Log) -> Log {
        for h in events {
            log.push(h).unwrap();
        }
        log
    }

    #[test]
    fn the_frontier_gives_the_recursive_root() {
        let events = events(70);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        for n in 0..events.len() {
            frontier.push(&events[n]);
            assert_eq!(
                frontier.root(),
                root_of_leaves(&leaves(&events[..=n])),
                "size {}",
                n + 1
            );
        }
    }

    #[test]
    fn hashes_taken_together_are_the_ones_taken_alone() {
        let events = events(53);
        let mut together = vec![Digest::ZERO; events.len()];
        leaf_hashes(&events, &mut together);
        assert_eq!(together, leaves(&events));
        let pairs: Vec<(Digest, Digest)> = together.windows(2).map(|w| (w[0], w[1])).collect();
        let mut nodes = vec![Digest::ZERO; pairs.len()];
        node_hashes(&pairs, &mut nodes);
        for ((left, right), node) in pairs.iter().zip(&nodes) {
            assert_eq!(*node, node_hash(left, right));
        }
    }

    #[test]
    fn a_subtree_hashed_ahead_is_used_only_where_the_leaf_closes_it() {
        let leaves = leaves(&events(300));
        for height in 1..=5u32 {
            let span = 1usize << height;
            let mut plain = Frontier::new();
            let mut ahead = Frontier::new();
            for (i, leaf) in leaves.iter().enumerate() {
                plain.push_leaf(*leaf);
                // Offered with every leaf: the true root where the leaf
                // closes a subtree of this height, a root over other
                // leaves where it does not.
                let root = if (i + 1) % span == 0 {
                    root_of_leaves(&leaves[i + 1 - span..=i])
                } else {
                    node_hash(leaf, leaf)
                };
                ahead.push_leaf_closing(*leaf, Some(Subtree { height, root }));
                assert_eq!(
                    ahead.root(),
                    plain.root(),
                    "height {height}, size {}",
                    i + 1
                );
            }
            assert_eq!(ahead, plain);
        }
    }

    #[test]
    fn the_log_proves_against_any_earlier_size() {
        let e = events(40);
        let log = log_of(&e, Log::new());
        for size in [1u64, 7, 16, 40] {
            let root = log.root(size).unwrap();
            let proof = log.inclusion(size - 1, size).unwrap();
            assert_eq!(
                verify_inclusion(&e[size as usize - 1], &proof, &root),
                Ok(())
            );
        }
        let c = log.consistency(7, 40).unwrap();
        assert_eq!(
            verify_consistency(&c, &log.root(7).unwrap(), &log.root(40).unwrap()),
            Ok(())
        );
        assert!(log.root(41).is_err());
    }

    #[test]
    fn small_trees_have_the_rfc_shape() {
        let e = events(3);
        let l = leaves(&e);
        assert_eq!(root_of_leaves(&l[..1]), leaf_hash(&e[0]));
        assert_eq!(root_of_leaves(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(
            root_of_leaves(&l),
            node_hash(&node_hash(&l[0], &l[1]), &l[2])
        );
        let proof = inclusion_proof(&l, 2).unwrap();
        assert_eq!(proof.path, vec![node_hash(&l[0], &l[1])]);
    }

    /// A log with its kept subtrees against the leaves recomputed in full.
    fn log_agrees_with_the_leaves(log: &Log, e: &[Digest], index: u64, old: u64, new: u64) {
        let l = leaves(&e[..new as usize]);
        assert_eq!(log.root(new).unwrap(), root_of_leaves(&l));
        assert_eq!(
            log.inclusion(index, new).unwrap(),
            inclusion_proof(&l, index).unwrap()
        );
        assert_eq!(
            log.consistency(old, new).unwrap(),
            consistency_proof(&l, old).unwrap()
        );
        assert_eq!(log.event_hash(index), Ok(e[index as usize]));
        assert_eq!(
            log.event_hashes(old - 1, new - old + 1),
            Ok(e[old as usize - 1..new as usize].to_vec())
        );
    }

    #[test]
    fn a_full_size_log_keeps_subtrees_that_agree_with_the_leaves() {
        let e = events(5_000);
        let log = log_of(&e, Log::new());
        assert_eq!(log.kept_at(0), 5_000 / 256);
        for (index, old, new) in [
            (0, 1, 5_000),
            (4_999, 4_096, 5_000),
            (1_234, 2_048, 4_097),
            (200, 256, 257),
            (256, 3, 257),
        ] {
            log_agrees_with_the_leaves(&log, &e, index, old, new);
        }
        assert!(log.inclusion(0, 5_001).is_err());
        assert!(log.event_hash(5_000).is_err());
    }

    /// Blocks kept in memory, but for one that cannot be kept and one that
    /// cannot be read back.
    struct Faulty {
        inner: InMemory,
        refused: u64,
        unreadable: u64,
    }

    impl HashBlocks for Faulty {
        fn keep(&mut self, n: u64, hashes: &[Digest]) -> Result<(), BlockError> {
            if n == self.refused {
                return Err(BlockError {
                    block: n,
                    why: "disk full".into(),
                });
            }
            self.inner.keep(n, hashes)
        }

        fn read(&self, n: u64, out: &mut [Digest]) -> Result<(), BlockError> {
            if n == self.unreadable {
                return Err(BlockError {
                    block: n,
                    why: "unreadable".into(),
                });
            }
            self.inner.read(n, out)
        }
    }

    #[test]
    fn a_block_that_cannot_be_read_refuses_the_proofs_that_need_it_and_no_others() {
        let e = events(5_000);
        let mut log = Log::keeping_blocks(Faulty {
            inner: InMemory::default(),
            refused: u64::MAX,
            unreadable: 1,
        });
        for h in &e {
            log.push(h).unwrap();
        }
        let unreadable = |r| matches!(r, Err(ProofError::Unreadable(BlockError { block: 1, .. })));
        // Event 300 lies in block 1, and so does the edge of a tree of 300.
        assert!(unreadable(log.inclusion(300, 5_000).map(|_| ())));
        assert!(unreadable(log.event_hash(300).map(|_| ())));
        assert!(unreadable(log.root(300).map(|_| ())));
        assert!(unreadable(log.consistency(300, 5_000).map(|_| ())));
        // Block 1 lies under kept subtrees for everything else.
        let l = leaves(&e);
        assert_eq!(log.root(5_000), Ok(root_of_leaves(&l)));
        assert_eq!(log.inclusion(1_000, 5_000), inclusion_proof(&l, 1_000));
        assert_eq!(log.consistency(4_096, 5_000), consistency_proof(&l, 4_096));
    }

    #[test]
    fn a_block_that_cannot_be_kept_leaves_the_log_as_it_was() {
        let e = events(600);
        let mut log = Log::keeping_blocks(Faulty {
            inner: InMemory::default(),
            refused: 1,
            unreadable: u64::MAX,
        });
        for h in &e[..511] {
            log.push(h).unwrap();
        }
        let before = log.root(511);
        assert_eq!(
            log.push(&e[511]),
            Err(BlockError {
                block: 1,
                why: "disk full".into()
            })
        );
        assert_eq!(log.size(), 511);
        assert_eq!(log.root(511), before);
        assert_eq!(before, Ok(root_of_leaves(&leaves(&e[..511]))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn inclusion_proofs_verify_and_fail_when_changed(
            size in 1usize..300, pick in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(), bit in 0u8..8,
        ) {
            let e = events(size);
            let l = leaves(&e);
            let root = root_of_leaves(&l);
            let index = pick.index(size);
            let proof = inclusion_proof(&l, index as u64).unwrap();
            prop_assert_eq!(verify_inclusion(&e[index], &proof, &root), Ok(()));
            // Any changed byte of the event, the root or the path fails.
            let mut wrong_event = e[index];
            wrong_event.0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_inclusion(&wrong_event, &proof, &root).is_err());
            let mut wrong_root = root;
            wrong_root.0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_inclusion(&e[index], &proof, &wrong_root).is_err());
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                let i = flip.index(bad.path.len());
                bad.path[i].0[flip.index(32)] ^= 1 << bit;
                prop_assert!(verify_inclusion(&e[index], &bad, &root).is_err());
            }
            let mut moved = proof.clone();
            moved.index = (moved.index + 1) % size as u64;
            if moved.index != proof.index && e[moved.index as usize] != e[index] {
                prop_assert!(verify_inclusion(&e[index], &moved, &root).is_err());
            }
        }

        #[test]
        fn a_log_proves_what_the_leaves_prove(
            size in 1u64..700, kept_from in 0u32..5,
            a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
            c in any::<prop::sample::Index>(),
        ) {
            let e = events(size as usize);
            let log = log_of(&e, Log::keeping_from(InMemory::default(), kept_from));
            let new = b.index(size as usize) as u64 + 1;
            let old = c.index(new as usize) as u64 + 1;
            let index = a.index(new as usize) as u64;
            log_agrees_with_the_leaves(&log, &e, index, old, new);
        }

        #[test]
        fn consistency_proofs_verify_and_fail_when_changed(
            new_size in 1usize..300, pick in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(), bit in 0u8..8,
        ) {
            let e = events(new_size);
            let l = leaves(&e);
            let old_size = pick.index(new_size) + 1;
            let old_root = root_of_leaves(&l[..old_size]);
            let new_root = root_of_leaves(&l);
            let proof = consistency_proof(&l, old_size as u64).unwrap();
            prop_assert_eq!(verify_consistency(&proof, &old_root, &new_root), Ok(()));
            let mut wrong_old = old_root;
            wrong_old.0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_consistency(&proof, &wrong_old, &new_root).is_err());
            let mut wrong_new = new_root;
            wrong_new.0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_consistency(&proof, &old_root, &wrong_new).is_err());
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                let i = flip.index(bad.path.len());
                bad.path[i].0[flip.index(32)] ^= 1 << bit;
                prop_assert!(verify_consistency(&bad, &old_root, &new_root).is_err());
            }
            // A tree that is not an extension fails.
            if old_size < new_size {
                let mut forked = l.clone();
                forked[old_size - 1] = leaf_hash(&Digest::of(b"forged"));
                let forked_root = root_of_leaves(&forked);
                prop_assert!(verify_consistency(&proof, &old_root, &forked_root).is_err());
            }
        }
    }
}

/// The test vectors of docs/audit.md, checked against the page.
#[cfg(test)]
mod vectors {
    use super::*;
    use crate::signing::{block_message, checkpoint_message, LedgerSigner};
    use crate::values::LedgerId;

    /// Event hashes of the vectors: BLAKE3 of the ASCII digits "1", "2", …
    fn event(n: u64) -> Digest {
        Digest::of(n.to_string().as_bytes())
    }

    fn values() -> Vec<(String, String)> {
        let events: Vec<Digest> = (1..=5).map(event).collect();
        let mut log = Log::new();
        for e in &events {
            log.push(e).unwrap();
        }
        let ledger = LedgerId::new("lyg").unwrap();
        let signer = LedgerSigner::from_secret(&[0x42; 32]);
        let root5 = log.root(5).unwrap();
        let inclusion = log.inclusion(2, 5).unwrap();
        let consistency = log.consistency(3, 5).unwrap();
        let join = |v: &[Digest]| v.iter().map(|d| d.to_hex()).collect::<Vec<_>>().join(" ");
        vec![
            ("empty root".into(), empty_root().to_hex()),
            ("leaf 1".into(), leaf_hash(&events[0]).to_hex()),
            ("root of 1".into(), log.root(1).unwrap().to_hex()),
            ("root of 2".into(), log.root(2).unwrap().to_hex()),
            ("root of 3".into(), log.root(3).unwrap().to_hex()),
            ("root of 5".into(), root5.to_hex()),
            ("inclusion of event 3 in 5".into(), join(&inclusion.path)),
            ("consistency of 3 with 5".into(), join(&consistency.path)),
            ("public key".into(), signer.public_key().to_hex()),
            (
                "checkpoint message".into(),
                hex::encode(checkpoint_message(&ledger, 5, &root5)),
            ),
            (
                "checkpoint signature".into(),
                hex::encode(signer.sign(&checkpoint_message(&ledger, 5, &root5)).0),
            ),
            (
                "block message".into(),
                hex::encode(block_message(&ledger, 5, &events[4])),
            ),
        ]
    }

    #[test]
    fn docs_audit_vectors_match() {
        let page = include_str!("../../docs/audit.md");
        for (name, value) in values() {
            let line = format!("| {name} | `{value}` |");
            assert!(page.contains(&line), "docs/audit.md lacks the line\n{line}");
        }
    }
}
