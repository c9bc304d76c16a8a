//! Each committed event once more, on its own subject, for subscribers that
//! want one message per event. Best effort: the stream is the record, and a
//! subscriber that misses one reads it there. The events go out from a task
//! of their own, so that the writer decides its next block meanwhile: done
//! in line, republishing took a fifth of the writer's time.

use std::collections::HashMap;

use async_nats::Subject;
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
    let mut subjects = Subjects::new(shard);
    while let Some((frames, routes)) = rx.recv().await {
        for (i, route) in routes.iter().enumerate() {
            let end = routes.get(i + 1).map_or(frames.len(), |next| next.start);
            let subject = subjects.of(route);
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

/// Subjects already built, by kind and unit. Building one takes three
/// strings, and a federation's events fall on few subjects: a busy unit's
/// check-ins all share one.
struct Subjects {
    shard: Shard,
    built: HashMap<(&'static str, Option<UnitId>), Subject>,
}

/// Subjects kept at most; past this the cache starts again, so that a
/// ledger of very many units does not keep one per unit and kind forever.
const MAX_SUBJECTS: usize = 4096;

impl Subjects {
    fn new(shard: Shard) -> Subjects {
        Subjects {
            shard,
            built: HashMap::new(),
        }
    }

    fn of(&mut self, route: &Route) -> Subject {
        let key = (route.kind, route.unit.clone());
        if let Some(subject) = self.built.get(&key) {
            return subject.clone();
        }
        if self.built.len() >= MAX_SUBJECTS {
            self.built.clear();
        }
        let subject = Subject::from(self.shard.event_subject(route.kind, route.unit.as_ref()));
        self.built.insert(key, subject.clone());
        subject
    }
}

#[cfg(test)]
mod tests {
    use ledger_core::values::LedgerId;

    use super::*;

    fn route(kind: &'static str, unit: Option<&str>) -> Route {
        Route {
            start: 0,
            kind,
            unit: unit.map(|u| UnitId::new(u).unwrap()),
        }
    }

    /// A kept subject is the one the shard names, whoever asks first and
    /// however often the cache starts again.
    #[test]
    fn kept_subjects_are_the_shards_own() {
        let shard = Shard::new(LedgerId::new("gd.edu").unwrap());
        let mut subjects = Subjects::new(shard.clone());
        for round in 0..3 {
            for n in 0..(MAX_SUBJECTS + 10) {
                let unit = format!("gz.u{}", n % (MAX_SUBJECTS / 2 + round));
                for kind in ["checked_in", "hours_credited"] {
                    let r = route(kind, Some(&unit));
                    let want = shard.event_subject(kind, r.unit.as_ref());
                    assert_eq!(subjects.of(&r).as_str(), want);
                }
            }
            let ledger_wide = route("checkpoint_recorded", None);
            assert_eq!(
                subjects.of(&ledger_wide).as_str(),
                "ledger.gd_edu.events.checkpoint_recorded._"
            );
            assert!(subjects.built.len() <= MAX_SUBJECTS);
        }
    }
}
