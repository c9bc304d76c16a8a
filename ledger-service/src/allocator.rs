//! When the service's allocator (mimalloc, set in `bin/ledger/main.rs`) hands freed
//! pages back to the kernel.
//!
//! mimalloc v3 keeps a freed page for a second before handing it back (its
//! purge delay). A catch-up of the read models frees and allocates at a
//! high rate (sled rewriting nodes, batches staged and written), and what
//! a second of that leaves waiting counts in the service's peak: at
//! 300,000 volunteers about 80–110 MiB of 1.3 GiB, at full size 63 MiB of
//! 2.35 GiB (docs/performance.md, service memory). Handing pages back at
//! once cost the queries nothing measurable and the catch-up 6–8 % more
//! time. (Leaving out transparent huge pages as well, tried before, cost
//! the queries 12–18 %, so huge pages stay.)

use std::ffi::c_long;

use libmimalloc_sys::{mi_option_get, mi_option_set_default, mi_option_t};

/// `mi_option_purge_delay`'s place in mimalloc's `mi_option_t`
/// (`mimalloc.h`). The bindings name no constant for it; the test below
/// holds the number to the option by its default, which no other option
/// of mimalloc v3 has.
const PURGE_DELAY: mi_option_t = 15;

/// Freed pages go back at once, unless `MIMALLOC_PURGE_DELAY` in the
/// environment says otherwise (mimalloc keeps an option read from there
/// over a default set here). Call it before any other thread starts:
/// mimalloc keeps its options in plain words, not atomics.
pub fn hand_back_freed_pages_at_once() {
    // SAFETY: stores one option's default; called before other threads run.
    unsafe { mi_option_set_default(PURGE_DELAY, 0) }
}

/// The purge delay in milliseconds, as mimalloc has it now.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: reads one option's value.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_purge_delay_and_the_environment_wins() {
        let from_environment: Option<c_long> = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok());
        // Nothing in this test binary sets options: mimalloc v3's default
        // purge delay is 1,000 ms, unless the environment names one.
        assert_eq!(purge_delay_ms(), from_environment.unwrap_or(1000));
        hand_back_freed_pages_at_once();
        assert_eq!(purge_delay_ms(), from_environment.unwrap_or(0));
    }
}
