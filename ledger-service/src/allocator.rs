//! How the service's allocator (mimalloc, set in `main.rs`) hands freed
//! memory back to the kernel.
//!
//! By default mimalloc keeps freed pages for a second before handing them
//! back, and asks the kernel to back its memory with transparent huge
//! pages, which go back only whole. Catching up frees and allocates in
//! bursts (a batch of read-model rows staged, then written; blocks pulled,
//! then dropped), and what is kept in between counts in the service's
//! peak: at 300,000 volunteers, 1,390–1,440 MiB resident with the defaults
//! against 1,150–1,320 MiB with freed pages handed back at once and no
//! huge pages (and smaller pulls, `store.rs`), for about a third more
//! time in the kernel and the same queries (docs/performance.md, service
//! memory). Huge pages are left out when mimalloc is built (its `no_thp`
//! feature); the delay is set here.

use std::ffi::c_long;

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay`'s place in mimalloc's `mi_option_t`
/// (`mimalloc.h`; the same in its v2 and v3). The bindings name no
/// constant for it; the test below holds the number to the option.
const PURGE_DELAY: mi_option_t = 15;

/// Freed pages go back to the kernel as soon as they are free. Call it
/// before other threads start: mimalloc sets options without a lock.
pub fn hand_back_at_once() {
    // SAFETY: stores one option's value; called before other threads run.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

/// The purge delay in milliseconds, as mimalloc has it now.
pub fn purge_delay() -> c_long {
    // SAFETY: reads one option's value.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        // Before anything sets it, the option reads what mimalloc took from
        // its environment variable, or its default of 1,000 ms, which no
        // other option of mimalloc v3 has.
        let expected = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        assert_eq!(purge_delay(), expected);
        hand_back_at_once();
        assert_eq!(purge_delay(), 0);
    }
}
