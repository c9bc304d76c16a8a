//! Benchmarks that print a figure beside a raw baseline measured in the same
//! run, as a ratio. Run them on a release build (`cargo run --release -p
//! ledger-service --bin ledger -- bench …`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use ledger_core::chain::{Chain, Verifier};
use ledger_core::event::{CheckedIn, Event, EventRecord};
use ledger_core::frame::{hash_frame, parse_frame};
use ledger_core::time::Timestamp;
use ledger_core::values::{
    ActivityId, ActorId, Digest, ExternalRef, SessionId, SubmissionKey, VolunteerId,
};

/// The machine a benchmark runs on, printed before its figures. The same
/// binary gives figures far apart on the CPUs machines of this kind are
/// given (chained BLAKE3 over the same frames: 6.5M events/s on the CPU of
/// the earlier runs, 4.0M on an AMD EPYC with AVX2 alone), so absolute
/// figures (latencies, requests a second) compare only within one CPU
/// model; ratios to a baseline of the same run travel further.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "CPU model unknown".to_owned());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "machine: {model}, {threads} hardware threads, hashing vectors {}",
        ledger_core::vectors_in_use()
    )
}

/// `n` check-in frames, as a busy day of kiosks would write them.
pub fn synthetic_chain(n: u64) -> Vec<u8> {
    let actor = ActorId::new("kiosk-dl-0001").unwrap_or_else(|_| unreachable!());
    let mut chain = Chain::new();
    let mut frames = Vec::with_capacity(n as usize * 200);
    for i in 0..n {
        let record = EventRecord {
            recorded_at: Timestamp(1_772_000_000_000_000 + i as i64 * 1_000),
            actor: actor.clone(),
            submission: SubmissionKey::new(format!("rec-{i:012}")).ok(),
            event: Event::CheckedIn(CheckedIn {
                session: SessionId(i + 1),
                activity: ActivityId::new(format!("dl-a{:05}", i % 5_000))
                    .unwrap_or_else(|_| unreachable!()),
                volunteer: VolunteerId::new(format!("dl-v{:07}", i % 1_000_000))
                    .unwrap_or_else(|_| unreachable!()),
                at: Timestamp(1_772_000_000_000_000 + i as i64 * 1_000),
                source: ledger_core::domain::Source {
                    system: actor.clone(),
                    device: ExternalRef::new("kiosk-12").ok(),
                    external_id: ExternalRef::new(format!("rec-{i:012}")).ok(),
                },
            }),
        };
        if chain.append(&record, &mut frames).is_err() {
            break;
        }
    }
    frames
}

pub struct VerifyFigures {
    pub events: u64,
    pub bytes: usize,
    pub rounds: u32,
    /// Best round of each: the machine's noise only ever slows a round down.
    pub raw_per_sec: f64,
    pub verify_per_sec: f64,
    /// Every round of each, in the order run.
    pub raw_rounds: Vec<f64>,
    pub verify_rounds: Vec<f64>,
}

/// Raw baseline: chained BLAKE3 over the same frames (each frame's header
/// and body hashed in the frame context, nothing else). Figure: the full
/// verifier (parse, re-hash, re-link, decode, Merkle frontier). The two
/// alternate for `rounds` rounds, so that a noisy moment of the machine
/// falls on either alike.
pub fn verify(n: u64, rounds: u32) -> VerifyFigures {
    let frames = synthetic_chain(n);
    let rounds = rounds.max(1);
    let mut raw_rounds = Vec::new();
    let mut verify_rounds = Vec::new();
    let mut events = 0;
    for _ in 0..rounds {
        let (count, raw) = raw_chained_hashing(&frames);
        raw_rounds.push(count as f64 / raw);
        let verified = full_verifier(&frames);
        assert_eq!(verified.0, count, "the verifier saw other frames");
        verify_rounds.push(count as f64 / verified.1);
        events = count;
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    VerifyFigures {
        events,
        bytes: frames.len(),
        rounds,
        raw_per_sec: best(&raw_rounds),
        verify_per_sec: best(&verify_rounds),
        raw_rounds,
        verify_rounds,
    }
}

/// Frames hashed, and the seconds it took.
pub(crate) fn raw_chained_hashing(frames: &[u8]) -> (u64, f64) {
    let started = Instant::now();
    let mut rest = frames;
    let mut last = Digest::ZERO;
    let mut count = 0u64;
    while let Ok((frame, tail)) = parse_frame(rest) {
        last = hash_frame(frame.hashed);
        count += 1;
        rest = tail;
    }
    let took = started.elapsed().as_secs_f64();
    std::hint::black_box(last);
    (count, took)
}

/// As `ledger verify` runs it: frames prepared ahead (hash, leaf, body) on
/// every core, checked in order (links, sequence, checkpoints, Merkle
/// frontier) on this one. Frames verified, and the seconds it took.
fn full_verifier(frames: &[u8]) -> (u64, f64) {
    let started = Instant::now();
    let mut verifier = Verifier::new();
    if let Err(e) = verifier.push_all(frames, crate::audit::workers(), |v| {
        std::hint::black_box(v);
    }) {
        panic!("the synthetic chain does not verify: {e}");
    }
    (verifier.head().sequence, started.elapsed().as_secs_f64())
}

/// A folder of a benchmark's own: the one given (which must be new or
/// empty, and is kept), or a temporary one removed at the end.
pub(crate) struct Scratch {
    pub path: PathBuf,
    pub remove: bool,
}

impl Scratch {
    pub fn new(name: &str, data: Option<&Path>) -> anyhow::Result<Scratch> {
        let (path, remove) = match data {
            Some(p) => (p.to_owned(), false),
            None => (
                std::env::temp_dir().join(format!("ledger-bench-{name}-{}", std::process::id())),
                true,
            ),
        };
        if path.exists() {
            let mut entries =
                std::fs::read_dir(&path).with_context(|| format!("reading {}", path.display()))?;
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: give --data a new or empty directory",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch { path, remove })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The `q` quantile (0.99 for p99) of latencies sorted ascending: the
/// smallest that at least that share of them do not exceed.
pub(crate) fn quantile(sorted: &[std::time::Duration], q: f64) -> std::time::Duration {
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// 1234567 as "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_benchmark_verifies_what_it_measures() {
        let figures = super::verify(2_000, 2);
        assert_eq!(figures.events, 2_000);
        assert_eq!(figures.raw_rounds.len(), 2);
        assert!(figures.raw_per_sec > 0.0 && figures.verify_per_sec > 0.0);
    }
}
