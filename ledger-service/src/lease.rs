//! Who may write: a lease in a JetStream KV bucket. One instance holds it and
//! renews it well inside its time to live; when the holder dies, the entry
//! ages out and another instance takes it. The writer checks the lease
//! before every append, so a writer that wakes from a long pause steps down
//! instead of appending (and the stream's expected-last-sequence fence stops
//! it even if it tried).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use thiserror::Error;

use crate::shard::Shard;

#[derive(Debug, Error)]
pub enum LeaseError {
    #[error("lease bucket {bucket}: {source}")]
    Bucket {
        bucket: String,
        source: async_nats::Error,
    },
    #[error("the lease was lost: {0}")]
    Lost(String),
}

const KEY: &str = "writer";

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether this instance may append now: shared between the renewing task
/// and the writer.
#[derive(Clone, Debug)]
pub struct LeaseWatch {
    held_until_millis: Arc<AtomicI64>,
}

impl LeaseWatch {
    /// A watch that always holds: a single instance with no lease.
    pub fn always() -> LeaseWatch {
        LeaseWatch {
            held_until_millis: Arc::new(AtomicI64::new(i64::MAX)),
        }
    }

    pub fn is_held(&self) -> bool {
        now_millis() < self.held_until_millis.load(Ordering::SeqCst)
    }

    fn hold_until(&self, millis: i64) {
        self.held_until_millis.store(millis, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.hold_until(0);
    }
}

/// The lease as its holder sees it.
pub struct Lease {
    store: kv::Store,
    holder: String,
    revision: u64,
    ttl: Duration,
    watch: LeaseWatch,
}

pub struct LeaseBucket {
    store: kv::Store,
    ttl: Duration,
}

impl LeaseBucket {
    /// Opens or creates the shard's lease bucket, whose entries live `ttl`.
    pub async fn open(
        js: &jetstream::Context,
        shard: &Shard,
        ttl: Duration,
        replicas: usize,
    ) -> Result<LeaseBucket, LeaseError> {
        let bucket = format!("{}_LEASE", shard.stream());
        let store = js
            .create_key_value(kv::Config {
                bucket: bucket.clone(),
                history: 1,
                max_age: ttl,
                storage: jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| LeaseError::Bucket {
                bucket,
                source: e.into(),
            })?;
        Ok(LeaseBucket { store, ttl })
    }

    /// Takes the lease if nobody holds it.
    pub async fn try_acquire(&self, holder: &str) -> Option<Lease> {
        let revision = self
            .store
            .create(KEY, Bytes::from(holder.to_owned()))
            .await
            .ok()?;
        let lease = Lease {
            store: self.store.clone(),
            holder: holder.to_owned(),
            revision,
            ttl: self.ttl,
            watch: LeaseWatch {
                held_until_millis: Arc::new(AtomicI64::new(0)),
            },
        };
        lease.mark_renewed(now_millis());
        Some(lease)
    }

    /// Who holds the lease now, if anyone.
    pub async fn holder(&self) -> Option<String> {
        let entry = self.store.entry(KEY).await.ok()??;
        (entry.operation == kv::Operation::Put)
            .then(|| String::from_utf8_lossy(&entry.value).into_owned())
    }
}

impl Lease {
    pub fn watch(&self) -> LeaseWatch {
        self.watch.clone()
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The lease counts as held for half its time to live after a renewal
    /// began: well before another instance could take it.
    fn mark_renewed(&self, started_millis: i64) {
        self.watch
            .hold_until(started_millis + (self.ttl.as_millis() as i64) / 2);
    }

    /// Renews by compare-and-set on the revision: fails if anyone else
    /// wrote the key, or if it aged out.
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        let started = now_millis();
        let mut result = self.update().await;
        if result.is_err() && self.adopt_own_renewal().await {
            result = self.update().await;
        }
        match result {
            Ok(revision) => {
                self.revision = revision;
                self.mark_renewed(started);
                Ok(())
            }
            Err(e) => {
                self.watch.release();
                Err(LeaseError::Lost(e.to_string()))
            }
        }
    }

    async fn update(&self) -> Result<u64, kv::UpdateError> {
        self.store
            .update(KEY, Bytes::from(self.holder.clone()), self.revision)
            .await
    }

    /// A renewal can land without its answer arriving: the answer was lost,
    /// or the renewal was dropped half-way (`keep` raced against something
    /// else in a `select!`). The key then holds this holder's name at a
    /// later revision, which is still this holder's lease: take that
    /// revision. Holder names are unique to a process, so no one else
    /// writes this one.
    async fn adopt_own_renewal(&mut self) -> bool {
        let Ok(Some(entry)) = self.store.entry(KEY).await else {
            return false;
        };
        let ours = entry.operation == kv::Operation::Put
            && entry.value.as_ref() == self.holder.as_bytes()
            && entry.revision > self.revision;
        if ours {
            self.revision = entry.revision;
        }
        ours
    }

    /// Renews every third of the time to live until the lease is lost.
    async fn keep(&mut self) -> LeaseError {
        loop {
            tokio::time::sleep(self.ttl / 3).await;
            if let Err(e) = self.renew().await {
                return e;
            }
        }
    }

    /// Keeps the lease on a task of its own. Renewing from the task that
    /// also opens the writer let the lease age out: replaying ten million
    /// events polls nothing else for seconds at a time.
    pub fn keep_on_own_task(mut self) -> Upkeep {
        let store = self.store.clone();
        let watch = self.watch.clone();
        let task = tokio::spawn(async move { self.keep().await });
        Upkeep { task, store, watch }
    }
}

/// A lease being kept by its own task.
pub struct Upkeep {
    task: tokio::task::JoinHandle<LeaseError>,
    store: kv::Store,
    watch: LeaseWatch,
}

impl Upkeep {
    /// Resolves once the lease is lost, with why.
    pub async fn lost(&mut self) -> LeaseError {
        match (&mut self.task).await {
            Ok(lost) => lost,
            Err(e) => {
                self.watch.release();
                LeaseError::Lost(format!("the lease's upkeep stopped: {e}"))
            }
        }
    }

    /// Stops renewing and gives the lease up at once (a clean shutdown).
    pub async fn give_up(self) {
        self.task.abort();
        self.watch.release();
        let _ = self.store.delete(KEY).await;
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        // A lease nobody renews ages out; the writer stops with it.
        self.task.abort();
        self.watch.release();
    }
}
