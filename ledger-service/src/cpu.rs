//! Long CPU work reached from async code: verifying and folding blocks,
//! committing a batch to sled. A worker thread busy with it for seconds
//! holds up every task queued behind it (the lease's upkeep, NATS replies,
//! HTTP), so the worker hands those tasks on first.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f` here, after handing this worker's other tasks to another
/// thread. A single-threaded runtime has nowhere to hand them: there `f`
/// just runs.
pub fn heavy<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
