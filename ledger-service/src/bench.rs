//! Benchmarks that print a figure beside a raw baseline measured in the same
//! run, as a ratio. Run them on a release build (`cargo run --release -p
//! ledger-service --bin ledger -- bench …`).

use std::time::Instant;

use ledger_core::chain::{Chain, Verifier};
use ledger_core::event::{CheckedIn, Event, EventRecord};
use ledger_core::frame::{hash_frame, parse_frame};
use ledger_core::time::Timestamp;
use ledger_core::values::{
    ActivityId, ActorId, Digest, ExternalRef, SessionId, SubmissionKey, VolunteerId,
};

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
    pub raw_per_sec: f64,
    pub verify_per_sec: f64,
}

/// Raw baseline: chained BLAKE3 over the same frames (each frame's header
/// and body hashed in the frame context, nothing else). Figure: the full
/// verifier (parse, re-hash, re-link, decode, Merkle frontier).
pub fn verify(n: u64) -> VerifyFigures {
    let frames = synthetic_chain(n);

    let started = Instant::now();
    let mut rest: &[u8] = &frames;
    let mut last = Digest::ZERO;
    let mut count = 0u64;
    while let Ok((frame, tail)) = parse_frame(rest) {
        last = hash_frame(frame.hashed);
        count += 1;
        rest = tail;
    }
    let raw = started.elapsed();
    std::hint::black_box(last);

    // As `ledger verify` runs it: frames hashed ahead on one core, checked
    // in order (links, sequence, bodies, Merkle frontier) on the other.
    let started = Instant::now();
    let mut verifier = Verifier::new();
    if let Err(e) = verifier.push_all(&frames, crate::audit::workers(), |v| {
        std::hint::black_box(v);
    }) {
        panic!("the synthetic chain does not verify: {e}");
    }
    let full = started.elapsed();
    assert_eq!(verifier.head().sequence, count);

    VerifyFigures {
        events: count,
        bytes: frames.len(),
        raw_per_sec: count as f64 / raw.as_secs_f64(),
        verify_per_sec: count as f64 / full.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_benchmark_verifies_what_it_measures() {
        let figures = super::verify(2_000);
        assert_eq!(figures.events, 2_000);
        assert!(figures.raw_per_sec > 0.0 && figures.verify_per_sec > 0.0);
    }
}
