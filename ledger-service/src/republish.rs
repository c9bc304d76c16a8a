//! Each committed event once more, on its own subject, for subscribers that
//! want one message per event. Best effort: the stream is the record, and a
//! subscriber that misses one reads it there. The events go out from a task
//! of their own, so that the writer decides its next block meanwhile: done
//! in line, republishing took a fifth of the writer's time.

use bytes::Bytes;
use ledger_core::values::UnitId;
use tokio::sync::mpsc;
use tracing::warn;

use crate::shard::Shard;

/// Blocks waiting to go out; past this the writer waits for the task, so a
/// slow server cannot make the queue grow without bound.
const QUEUED_BLOCKS: usize = 64;

/// Where one event's frame starts in its block, and what its subject names.
pub(crate) struct Route {
    pub start: usize,
    pub kind: &'static str,
    pub unit: Option<UnitId>,
}

/// The writer's handle on the republishing task, which ends with it.
pub(crate) struct Republisher {
    tx: mpsc::Sender<(Bytes, Vec<Route>)>,
}

impl Republisher {
    pub fn spawn(client: async_nats::Client, shard: Shard) -> Republisher {
        let (tx, rx) = mpsc::channel(QUEUED_BLOCKS);
        tokio::spawn(run(client, shard, rx));
        Republisher { tx }
    }

    /// Queues a committed block's events, in the order blocks commit.
    pub async fn send(&self, frames: Bytes, routes: Vec<Route>) {
        if routes.is_empty() {
            return;
        }
        if self.tx.send((frames, routes)).await.is_err() {
            warn!("the republishing task has stopped; events are not republished");
        }
    }
}

async fn run(
    client: async_nats::Client,
    shard: Shard,
    mut rx: mpsc::Receiver<(Bytes, Vec<Route>)>,
) {
    while let Some((frames, routes)) = rx.recv().await {
        for (i, route) in routes.iter().enumerate() {
            let end = routes.get(i + 1).map_or(frames.len(), |next| next.start);
            let subject = shard.event_subject(route.kind, route.unit.as_ref());
            if let Err(e) = client
                .publish(subject, frames.slice(route.start..end))
                .await
            {
                warn!(error = %e, "republishing an event failed");
                break;
            }
        }
    }
}
