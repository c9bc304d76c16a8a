//! Proofs from a written chain, timed: inclusion and consistency proofs as
//! the service makes them (from the subtrees its log keeps and the blocks
//! of event hashes it keeps in a file), beside the same inclusion proofs
//! recomputed from every leaf as RFC 6962 defines them.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ledger_core::merkle;

use crate::bench::quantile;
use crate::proofs::{self, ProofLog};
use crate::seeded::Rng;
use crate::store::ChainStore;

/// Proofs timed the way the service makes them.
const PROOFS: usize = 1_000;
/// Proofs recomputed from every leaf: each costs a pass over the tree.
const FROM_LEAVES: usize = 10;

#[derive(Default)]
pub struct ProofFigures {
    pub checkpoints: usize,
    /// The tree size of the last checkpoint, which inclusion proofs are against.
    pub tree_size: u64,
    /// Building the proof log from the stream, every block verified.
    pub build: Duration,
    pub inclusion: Vec<Duration>,
    pub consistency: Vec<Duration>,
    pub from_leaves: Vec<Duration>,
}

/// Builds the proof log from `store`, its event hashes in a file in `dir`,
/// and times proofs from it; every proof must verify, and those recomputed
/// from the leaves must be the same.
pub async fn measure(store: &ChainStore, dir: &std::path::Path) -> anyhow::Result<ProofFigures> {
    let started = Instant::now();
    let file = dir.join("proof-log");
    let log = ProofLog::in_file(&file).with_context(|| format!("creating {}", file.display()))?;
    let log = crate::audit::proof_log(store, log).await?;
    let build = started.elapsed();
    let key = log.key().context("the chain has no ledger key")?;
    let sizes: Vec<u64> = log.checkpoints().map(|c| c.tree_size).collect();
    let tree_size = match sizes.first() {
        Some(&latest) if sizes.len() >= 2 => latest,
        _ => bail!("proofs need a chain with at least two checkpoints"),
    };
    let mut rng = Rng(0x9_F00F);
    let mut f = ProofFigures {
        checkpoints: sizes.len(),
        tree_size,
        build,
        ..ProofFigures::default()
    };
    for _ in 0..PROOFS {
        let sequence = rng.below(tree_size) + 1;
        let started = Instant::now();
        let doc = log.inclusion(sequence, Some(tree_size))?;
        f.inclusion.push(started.elapsed());
        proofs::verify_inclusion(&doc, &key)?;

        let old = sizes[rng.index(sizes.len())];
        let new = sizes[rng.index(sizes.len())].max(old);
        let started = Instant::now();
        let doc = log.consistency(old, new)?;
        f.consistency.push(started.elapsed());
        proofs::verify_consistency(&doc, &key)?;
    }
    f.from_leaves = from_every_leaf(&log, tree_size, &mut rng)?;
    Ok(f)
}

/// The raw recomputation: inclusion proofs from the full list of leaves.
fn from_every_leaf(log: &ProofLog, tree_size: u64, rng: &mut Rng) -> anyhow::Result<Vec<Duration>> {
    let leaves: Vec<_> = log
        .event_hashes(tree_size)?
        .iter()
        .map(merkle::leaf_hash)
        .collect();
    let mut took = Vec::with_capacity(FROM_LEAVES);
    for _ in 0..FROM_LEAVES {
        let sequence = rng.below(tree_size) + 1;
        let started = Instant::now();
        let proof = merkle::inclusion_proof(&leaves, sequence - 1)?;
        took.push(started.elapsed());
        if proof != log.inclusion(sequence, Some(tree_size))?.proof {
            bail!("the proof log and the leaves disagree on the proof of sequence {sequence}");
        }
    }
    Ok(took)
}

impl std::fmt::Display for ProofFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = |samples: &[Duration], q: f64| {
            let mut sorted = samples.to_vec();
            sorted.sort();
            quantile(&sorted, q).as_secs_f64() * 1e6
        };
        writeln!(
            f,
            "proofs, {} checkpoints, the last over {} events (proof log built from the stream in {:.2} s):",
            self.checkpoints,
            crate::bench::thousands(self.tree_size),
            self.build.as_secs_f64()
        )?;
        for (what, samples) in [
            ("inclusion, from kept subtrees  ", &self.inclusion),
            ("consistency, from kept subtrees", &self.consistency),
            ("inclusion, from every leaf (raw)", &self.from_leaves),
        ] {
            writeln!(
                f,
                "    {what}  p50 {:>10.1} µs  p99 {:>10.1} µs  ({} proofs)",
                micros(samples, 0.5),
                micros(samples, 0.99),
                samples.len()
            )?;
        }
        write!(
            f,
            "    an inclusion proof takes {:.2} % of its recomputation from every leaf (p50)",
            100.0 * micros(&self.inclusion, 0.5) / micros(&self.from_leaves, 0.5).max(1e-9)
        )
    }
}
