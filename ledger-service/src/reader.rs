//! The read side of one instance: a verified replica of the state that
//! follows the stream as it grows, for the HTTP API's reads. It stops at a
//! broken link and says where the chain broke instead of serving past it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ledger_core::chain::Head;
use ledger_core::Ledger;
use projections::Follower;
use tracing::{error, warn};

use crate::proofs::ProofLog;
use crate::store::ChainStore;

#[derive(Default)]
struct ReadState {
    follower: Follower,
    proofs: ProofLog,
    stream_sequence: u64,
    broken: Option<String>,
}

#[derive(Clone, Default)]
pub struct Reader {
    inner: Arc<RwLock<ReadState>>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Reads the state as of the current head, or says why it cannot.
    pub fn read<T>(&self, f: impl FnOnce(&Ledger, Head) -> T) -> Result<T, String> {
        let inner = self
            .inner
            .read()
            .map_err(|_| "the reader failed".to_owned())?;
        if let Some(broken) = &inner.broken {
            return Err(broken.clone());
        }
        Ok(f(inner.follower.state(), inner.follower.head()))
    }

    /// Reads the proof log, or says why it cannot.
    pub fn proofs<T>(&self, f: impl FnOnce(&ProofLog) -> T) -> Result<T, String> {
        let inner = self
            .inner
            .read()
            .map_err(|_| "the reader failed".to_owned())?;
        if let Some(broken) = &inner.broken {
            return Err(broken.clone());
        }
        Ok(f(&inner.proofs))
    }

    pub fn head(&self) -> Head {
        self.inner
            .read()
            .map(|i| i.follower.head())
            .unwrap_or_default()
    }

    /// Waits until the replica has applied ledger sequence `sequence`.
    pub async fn caught_up(&self, sequence: u64, limit: Duration) -> bool {
        let started = std::time::Instant::now();
        while self.head().sequence < sequence {
            if started.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Follows the stream for as long as the instance runs.
    pub async fn follow(self, store: ChainStore) {
        loop {
            let after = match self.inner.read() {
                Ok(i) if i.broken.is_some() => return,
                Ok(i) => i.stream_sequence,
                Err(_) => return,
            };
            let inner = self.inner.clone();
            let result = store
                .follow(after, move |block| {
                    let Ok(mut state) = inner.write() else { return };
                    if state.broken.is_some() || block.stream_sequence <= state.stream_sequence {
                        return;
                    }
                                                            let ReadState { follower, proofs, .. } = &mut *state;
                    let applied = follower.apply_block(&block.frames, block.seal.as_ref(), |v| {
                        proofs.record(v)
                    });
                    match applied {
                        Ok(()) => state.stream_sequence = block.stream_sequence,
                        Err(e) => {
                            error!(stream_sequence = block.stream_sequence, error = %e, "the chain is broken; reads stop here");
                            state.broken = Some(format!(
                                "the chain is broken in stream message {}: {e}",
                                block.stream_sequence
                            ));
                        }
                    }
                })
                .await;
            if let Err(e) = result {
                warn!(error = %e, "following the stream failed; resuming");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
