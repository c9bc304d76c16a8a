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

use crate::values::Digest;

// Both hash one short buffer on the stack: a verifier takes about two of
// them per event, and a streaming hasher's set-up costs as much as the hash.
pub fn leaf_hash(event_hash: &Digest) -> Digest {
    let mut input = [0u8; 33];
    input[1..].copy_from_slice(&event_hash.0);
    Digest(*blake3::hash(&input).as_bytes())
}

pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut input = [0u8; 65];
    input[0] = 0x01;
    input[1..33].copy_from_slice(&left.0);
    input[33..].copy_from_slice(&right.0);
    Digest(*blake3::hash(&input).as_bytes())
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
        let mut carry = leaf;
        let mut size = self.size;
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

/// Every leaf so far, for proofs against any tree size up to the current.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    leaves: Vec<Digest>,
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&mut self, event_hash: &Digest) {
        self.leaves.push(leaf_hash(event_hash));
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    fn prefix(&self, size: u64) -> Result<&[Digest], ProofError> {
        self.leaves
            .get(..size as usize)
            .ok_or(ProofError::OutOfRange {
                index: size,
                tree_size: self.size(),
            })
    }

    /// MTH of the first `size` events.
    pub fn root(&self, size: u64) -> Result<Digest, ProofError> {
        Ok(root_of_leaves(self.prefix(size)?))
    }

    /// The event with ledger sequence `index + 1` is in the tree of `size`.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        inclusion_proof(self.prefix(size)?, index)
    }

    /// The tree of `old` events is a prefix of the tree of `new`.
    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, ProofError> {
        consistency_proof(self.prefix(new)?, old)
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
}

/// PATH(m, D[n]) of RFC 6962 2.1.1, over leaf hashes.
pub fn inclusion_proof(leaves: &[Digest], index: u64) -> Result<InclusionProof, ProofError> {
    let tree_size = leaves.len() as u64;
    if index >= tree_size {
        return Err(ProofError::OutOfRange { index, tree_size });
    }
    fn path(leaves: &[Digest], m: usize, out: &mut Vec<Digest>) {
        let n = leaves.len();
        if n <= 1 {
            return;
        }
        let k = split(n as u64) as usize;
        if m < k {
            path(&leaves[..k], m, out);
            out.push(root_of_leaves(&leaves[k..]));
        } else {
            path(&leaves[k..], m - k, out);
            out.push(root_of_leaves(&leaves[..k]));
        }
    }
    let mut out = Vec::new();
    path(leaves, index as usize, &mut out);
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
    let new_size = leaves.len() as u64;
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::OutOfRange {
            index: old_size,
            tree_size: new_size,
        });
    }
    fn subproof(m: usize, leaves: &[Digest], complete: bool, out: &mut Vec<Digest>) {
        let n = leaves.len();
        if m == n {
            if !complete {
                out.push(root_of_leaves(leaves));
            }
            return;
        }
        let k = split(n as u64) as usize;
        if m <= k {
            subproof(m, &leaves[..k], complete, out);
            out.push(root_of_leaves(&leaves[k..]));
        } else {
            subproof(m - k, &leaves[k..], false, out);
            out.push(root_of_leaves(&leaves[..k]));
        }
    }
    let mut out = Vec::new();
    subproof(old_size as usize, leaves, true, &mut out);
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
    fn the_log_proves_against_any_earlier_size() {
        let e = events(40);
        let mut log = Log::new();
        for h in &e {
            log.push(h);
        }
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
            log.push(e);
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
