//! How much memory one replica of the ledger's state takes: the projections
//! benchmark's chain (a federation's year) is generated into memory, then
//! folded into a `Follower` (verified and applied, as an instance's reader
//! and the writer each do), and the process's resident memory is read
//! before and after.
//!
//! ```text
//! cargo run --release -p ledger-service --example state_size -- 1000000 10000000
//! ```

use anyhow::{anyhow, Context};
use ledger_service::bench_projections::{Generator, Shape};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut number = |what: &str, default: u64| -> anyhow::Result<u64> {
        args.next()
            .map_or(Ok(default), |a| a.parse())
            .with_context(|| format!("{what} must be a number"))
    };
    let volunteers = number("volunteers", 100_000)?;
    let events = number("events", 1_000_000)?;

    let mut generator = Generator::new(Shape::new(volunteers, events))?;
    let mut blocks = Vec::new();
    while let Some((block, _)) = generator.next_block()? {
        blocks.push(block);
    }
    drop(generator);

    let before = resident_mib()?;
    let mut follower = projections::Follower::new();
    for block in &blocks {
        follower
            .apply_frames(block, |_, _| {})
            .map_err(|e| anyhow!("the generated chain does not verify: {e}"))?;
    }
    let after = resident_mib()?;

    let state = follower.state();
    let sessions_listed: usize = state
        .volunteers
        .values()
        .map(|v| v.account.sessions.len())
        .sum();
    println!(
        "state of {} events, {} volunteers: {} MiB resident (before folding {} MiB, after {} MiB)",
        state.events,
        state.volunteers.len(),
        after.saturating_sub(before),
        before,
        after
    );
    println!(
        "  entries: {} volunteers, {} identities, {} sessions ({} listed on accounts), {} credits, {} awards, {} activities",
        state.volunteers.len(),
        state.identities.len(),
        state.sessions.len(),
        sessions_listed,
        state.credits.len(),
        state.awards.len(),
        state.activities.len(),
    );
    Ok(())
}

fn resident_mib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/self/status"))?;
    Ok(kib / 1024)
}
