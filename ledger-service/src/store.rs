//! The chain's stream on JetStream: created or checked at start, read in
//! order, appended to with a fence.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use thiserror::Error;

use crate::shard::Shard;
use ledger_core::values::Signature;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("stream {stream}: {source}")]
    Stream {
        stream: String,
        source: async_nats::Error,
    },
    #[error("stream {stream} exists but is not safe for a ledger: {problem}")]
    Unsafe { stream: String, problem: String },
    #[error("reading stream {stream} at sequence {sequence}: {source}")]
    Read {
        stream: String,
        sequence: u64,
        source: async_nats::Error,
    },
    #[error("appending to {stream}: {source}")]
    Append {
        stream: String,
        source: async_nats::Error,
    },
    #[error("appending to {stream}: no acknowledgement within {0:?}", .timeout)]
    AckTimeout { stream: String, timeout: Duration },
}

/// The duplicate window: the ledger keeps its own idempotency index, so
/// this only absorbs a client library's immediate resend.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The header that carries a block's seal: the writer's signature over the
/// head after the block (hex).
pub const SEAL_HEADER: &str = "Ledger-Seal";

/// One stored block: its stream sequence, its frames back to back, and the
/// writer's seal.
pub struct Block {
    pub stream_sequence: u64,
    pub frames: Bytes,
    pub seal: Option<Signature>,
}

fn seal_of(headers: Option<&HeaderMap>) -> Option<Signature> {
    let value = headers?.get(SEAL_HEADER)?;
    let bytes = hex::decode(value.as_str()).ok()?;
    bytes.try_into().ok().map(Signature)
}

#[derive(Clone)]
pub struct ChainStore {
    js: jetstream::Context,
    shard: Shard,
    ack_timeout: Duration,
}

impl ChainStore {
    pub fn new(js: jetstream::Context, shard: Shard) -> ChainStore {
        ChainStore {
            js,
            shard,
            ack_timeout: Duration::from_secs(10),
        }
    }

    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    fn err(&self, source: impl Into<async_nats::Error>) -> StoreError {
        StoreError::Stream {
            stream: self.shard.stream(),
            source: source.into(),
        }
    }

    /// Creates the stream, or checks that an existing one keeps everything:
    /// file storage, no deletes, no purges, no rollups, no limits.
    pub async fn ensure(&self, replicas: usize) -> Result<(), StoreError> {
        let config = stream::Config {
            name: self.shard.stream(),
            subjects: vec![self.shard.blocks_subject()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::New,
            deny_delete: true,
            deny_purge: true,
            allow_rollup: false,
            allow_direct: true,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: replicas,
            max_age: Duration::ZERO,
            ..Default::default()
        };
        let mut stream = self
            .js
            .get_or_create_stream(config)
            .await
            .map_err(|e| self.err(e))?;
        let info = stream.info().await.map_err(|e| self.err(e))?;
        let c = &info.config;
        let problem = if c.storage != stream::StorageType::File {
            Some("storage is not file")
        } else if !c.deny_delete || !c.deny_purge {
            Some("deletes or purges are allowed")
        } else if c.allow_rollup {
            Some("rollups are allowed")
        } else if c.max_age != Duration::ZERO || c.max_messages > 0 || c.max_bytes > 0 {
            Some("it has limits that would drop messages")
        } else {
            None
        };
        match problem {
            Some(p) => Err(StoreError::Unsafe {
                stream: self.shard.stream(),
                problem: p.into(),
            }),
            None => Ok(()),
        }
    }

    async fn info(&self) -> Result<stream::Info, StoreError> {
        let stream = self
            .js
            .get_stream(self.shard.stream())
            .await
            .map_err(|e| self.err(e))?;
        stream.get_info().await.map_err(|e| self.err(e))
    }

    /// The stream sequence of the last stored block (0 when empty).
    pub async fn last_sequence(&self) -> Result<u64, StoreError> {
        Ok(self.info().await?.state.last_sequence)
    }

    /// The server that leads the stream's replicas, on a cluster.
    pub async fn leader(&self) -> Result<Option<String>, StoreError> {
        Ok(self.info().await?.cluster.and_then(|c| c.leader))
    }

    /// The stream's messages in order from stream sequence `start`, through
    /// an ordered consumer (which recreates itself if the server loses it).
    async fn ordered_from(&self, start: u64) -> Result<consumer::pull::Ordered, StoreError> {
        let stream = self
            .js
            .get_stream(self.shard.stream())
            .await
            .map_err(|e| self.err(e))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| self.err(e))?;
        consumer.messages().await.map_err(|e| self.err(e))
    }

    /// Every block from `from` (a stream sequence) up to the end as it is
    /// now, in order, handed to `each`.
    pub async fn replay(
        &self,
        from: u64,
        mut each: impl FnMut(Block) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let last = self.last_sequence().await?;
        if last < from {
            return Ok(last);
        }
        let mut messages = self.ordered_from(from.max(1)).await?;
        let mut expected = from.max(1);
        while expected <= last {
            let read_err = |e: async_nats::Error| StoreError::Read {
                stream: self.shard.stream(),
                sequence: expected,
                source: e,
            };
            let message = messages
                .next()
                .await
                .ok_or_else(|| read_err("the stream ended early".into()))?
                .map_err(|e| read_err(e.into()))?;
            let info = message.info().map_err(read_err)?;
            each(Block {
                stream_sequence: info.stream_sequence,
                frames: message.payload.clone(),
                seal: seal_of(message.headers.as_ref()),
            })?;
            expected = info.stream_sequence + 1;
        }
        Ok(last)
    }

    /// Every block after `after` (a stream sequence), as it is stored and
    /// then as new ones arrive, handed to `each`; returns only on an error.
    pub async fn follow(&self, after: u64, mut each: impl FnMut(Block)) -> Result<(), StoreError> {
        let mut messages = self.ordered_from(after + 1).await?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| self.err(e))?;
            let info = message.info().map_err(|e| self.err(e))?;
            each(Block {
                stream_sequence: info.stream_sequence,
                frames: message.payload.clone(),
                seal: seal_of(message.headers.as_ref()),
            });
        }
        Ok(())
    }

    /// The block stored at `stream_sequence`.
    pub async fn block(&self, stream_sequence: u64) -> Result<Block, StoreError> {
        let stream = self
            .js
            .get_stream(self.shard.stream())
            .await
            .map_err(|e| self.err(e))?;
        let message =
            stream
                .get_raw_message(stream_sequence)
                .await
                .map_err(|e| StoreError::Read {
                    stream: self.shard.stream(),
                    sequence: stream_sequence,
                    source: e.into(),
                })?;
        Ok(Block {
            stream_sequence: message.sequence,
            seal: seal_of(Some(&message.headers)),
            frames: message.payload,
        })
    }

    /// Appends one block, fenced: the server stores it only if the stream's
    /// last sequence is still `expected_last`, so a stale or second writer
    /// can never fork the chain. Returns the block's stream sequence.
    pub async fn append(
        &self,
        frames: Bytes,
        expected_last: u64,
        seal: Option<&Signature>,
    ) -> Result<u64, StoreError> {
        let mut headers = HeaderMap::new();
        if let Some(seal) = seal {
            headers.insert(SEAL_HEADER, hex::encode(seal.0).as_str());
        }
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
            expected_last.to_string().as_str(),
        );
        let append_err = |e: async_nats::Error| StoreError::Append {
            stream: self.shard.stream(),
            source: e,
        };
        let ack = self
            .js
            .publish_with_headers(self.shard.blocks_subject(), headers, frames)
            .await
            .map_err(|e| append_err(e.into()))?;
        let ack = tokio::time::timeout(self.ack_timeout, ack)
            .await
            .map_err(|_| StoreError::AckTimeout {
                stream: self.shard.stream(),
                timeout: self.ack_timeout,
            })?
            .map_err(|e| append_err(e.into()))?;
        Ok(ack.sequence)
    }
}
