//! How much memory one replica of the ledger's state takes: the projections
//! benchmark's chain (a federation's year) is generated into memory, then
//! folded into a `Follower` (verified and applied, as an instance's reader
//! and the writer each do), and the process's resident memory is read
//! before and after.
//!
//! ```text
//! cargo run --release -p ledger-service --example state_size -- 1000000 10000000
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, Context};
use ledger_core::Ledger;
use ledger_service::bench_projections::{Generator, Shape};
use ledger_service::submissions::{SubmissionId, Submissions};

/// Counts the bytes live on the heap, so that each part of the state can be
/// weighed by dropping it.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator with the same arguments;
// the counter only adds and subtracts the sizes it was given.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's pointer and layout, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's arguments, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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
        .map(|v| v.account.timeline.len())
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
        "  entries: {} volunteers, {} sessions ({} listed on accounts), {} credits, {} awards, {} activities",
        state.volunteers.len(),
        state.sessions.len(),
        sessions_listed,
        state.credits.len(),
        state.awards.len(),
        state.activities.len(),
    );
    // A clone keeps each map's capacity, so it weighs what the follower holds.
    let state = follower.state().clone();
    drop(follower);
    weigh_parts(state);
    weigh_submissions(&blocks)
}

/// Heap bytes held by the writer's index of answered submissions over the
/// same chain, kept wholly in memory and with its older answers in a file.
fn weigh_submissions(blocks: &[Vec<u8>]) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let start = LIVE.load(Ordering::Relaxed);
    let mut held = Submissions::new();
    let mut spilling = Submissions::spilling_to(dir.path())?;
    let mut follower = projections::Follower::new();
    let mut failed = None;
    for block in blocks {
        follower
            .apply_frames(block, |verified, _| {
                let record = &verified.record;
                if let Some(key) = &record.submission {
                    let id = SubmissionId::of(&record.actor, key);
                    held.record_event(id, verified.head).ok();
                    if let Err(e) = spilling.record_event(id, verified.head) {
                        failed = Some(e);
                    }
                }
            })
            .map_err(|e| anyhow!("the generated chain does not verify: {e}"))?;
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    drop(follower);
    let entries = held.len();
    let weigh = |index: Submissions| {
        let before = LIVE.load(Ordering::Relaxed);
        drop(index);
        before.saturating_sub(LIVE.load(Ordering::Relaxed)) as f64 / (1 << 20) as f64
    };
    let (held, spilling) = (weigh(held), weigh(spilling));
    println!(
        "submissions' index, {entries} entries: {held:.1} MiB in memory, {spilling:.1} MiB with older answers in a file (heap before it: {:.1} MiB)",
        start as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// Heap bytes held by each part of the state, found by taking the parts
/// out one at a time and dropping them.
fn weigh_parts(mut state: Ledger) {
    let mut part = |name: &str, take: &mut dyn FnMut(&mut Ledger)| {
        let before = LIVE.load(Ordering::Relaxed);
        take(&mut state);
        let freed = before.saturating_sub(LIVE.load(Ordering::Relaxed));
        println!("  {name:<34} {:>8.1} MiB", freed as f64 / (1 << 20) as f64);
    };
    println!("heap held, by part:");
    part("accounts' timelines", &mut |s| {
        s.volunteers
            .values_mut()
            .for_each(|v| drop(std::mem::take(&mut v.account.timeline)))
    });
    part("accounts' daily minutes", &mut |s| {
        s.volunteers
            .values_mut()
            .for_each(|v| drop(std::mem::take(&mut v.account.daily_minutes)))
    });
    part("volunteers (rest, with their indexes)", &mut |s| {
        drop(std::mem::take(&mut s.volunteers))
    });
    part("sessions", &mut |s| drop(std::mem::take(&mut s.sessions)));
    part("credits", &mut |s| drop(std::mem::take(&mut s.credits)));
    part("pending credits by deadline", &mut |s| {
        drop(std::mem::take(&mut s.pending_by_deadline))
    });
    part("awards", &mut |s| drop(std::mem::take(&mut s.awards)));
    part("activities' sign-ups", &mut |s| {
        s.activities
            .values_mut()
            .for_each(|a| drop(std::mem::take(&mut a.sign_ups)))
    });
    part("activities' insured", &mut |s| {
        s.activities
            .values_mut()
            .for_each(|a| drop(std::mem::take(&mut a.insured)))
    });
    part("activities' open sessions", &mut |s| {
        s.activities
            .values_mut()
            .for_each(|a| drop(std::mem::take(&mut a.open)))
    });
    part("activities' attendance", &mut |s| {
        s.activities
            .values_mut()
            .for_each(|a| drop(std::mem::take(&mut a.attended)))
    });
    part("activities' minutes held", &mut |s| {
        s.activities
            .values_mut()
            .for_each(|a| drop(std::mem::take(&mut a.credited)))
    });
    part("activities (rest)", &mut |s| {
        drop(std::mem::take(&mut s.activities))
    });
    part("everything else", &mut |s| drop(std::mem::take(s)));
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
