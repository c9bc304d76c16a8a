//! Answers that leave nothing on the chain, remembered durably: rejections,
//! and acceptances with nothing to record. Other accepted submissions are
//! remembered by the chain itself (their keys are on it); these append
//! nothing, so their answer goes to a KV bucket before it is sent. A retry,
//! even years later and after any number of restarts or take-overs, gets
//! the same answer.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use ledger_core::values::{ActorId, Digest, SubmissionKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::answer::Answer;
use crate::shard::Shard;

#[derive(Debug, Error)]
#[error("rejection log {bucket}: {source}")]
pub struct RejectionLogError {
    bucket: String,
    source: async_nats::Error,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    actor: ActorId,
    key: SubmissionKey,
    answer: Answer,
}

#[derive(Clone)]
pub struct RejectionLog {
    store: kv::Store,
    bucket: String,
}

/// KV keys allow fewer characters than submission keys: name each entry by
/// a hash of who submitted and under which key.
fn entry_key(actor: &ActorId, key: &SubmissionKey) -> String {
    let mut bytes = actor.as_str().as_bytes().to_vec();
    bytes.push(0);
    bytes.extend_from_slice(key.as_str().as_bytes());
    Digest::of(&bytes).to_hex()
}

impl RejectionLog {
    pub async fn open(
        js: &jetstream::Context,
        shard: &Shard,
        replicas: usize,
    ) -> Result<RejectionLog, RejectionLogError> {
        let bucket = format!("{}_REJECTIONS", shard.stream());
        let store = js
            .create_key_value(kv::Config {
                bucket: bucket.clone(),
                history: 1,
                storage: jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| RejectionLogError {
                bucket: bucket.clone(),
                source: e.into(),
            })?;
        Ok(RejectionLog { store, bucket })
    }

    fn failed(&self, e: impl Into<async_nats::Error>) -> RejectionLogError {
        RejectionLogError {
            bucket: self.bucket.clone(),
            source: e.into(),
        }
    }

    /// Stores the rejections, all at once.
    pub async fn record(
        &self,
        rejected: &[(ActorId, SubmissionKey, Answer)],
    ) -> Result<(), RejectionLogError> {
        let puts = rejected.iter().map(|(actor, key, answer)| async move {
            let entry = Entry {
                actor: actor.clone(),
                key: key.clone(),
                answer: answer.clone(),
            };
            let value = serde_json::to_vec(&entry).map_err(|e| self.failed(e))?;
            self.store
                .put(entry_key(actor, key), Bytes::from(value))
                .await
                .map_err(|e| self.failed(e))
        });
        for result in futures::future::join_all(puts).await {
            result?;
        }
        Ok(())
    }

    /// Every rejection ever recorded.
    pub async fn load(&self) -> Result<Vec<(ActorId, SubmissionKey, Answer)>, RejectionLogError> {
        let mut keys = self.store.keys().await.map_err(|e| self.failed(e))?;
        let mut all = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| self.failed(e))?;
            let Some(value) = self.store.get(key).await.map_err(|e| self.failed(e))? else {
                continue;
            };
            let entry: Entry = serde_json::from_slice(&value).map_err(|e| self.failed(e))?;
            all.push((entry.actor, entry.key, entry.answer));
        }
        Ok(all)
    }
}
