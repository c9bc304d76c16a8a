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

/// Runs `setup` (creating or checking the stream and buckets) until it
/// succeeds. A cluster refuses such requests for a few seconds after a
/// node restarts, while it elects a leader, or just after it starts, and
/// an instance started then should wait, not exit (the fault-injection run
/// saw instances exit on "jetstream request timed out" at start). A stream
/// that is not safe for a ledger is not waited for, and after `patience`
/// the last error stands. Each failure is logged.
pub async fn once_jetstream_answers<T, F, Fut>(
    patience: Duration,
    mut setup: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        let error = match setup().await {
            Ok(done) => return Ok(done),
            Err(e) => e,
        };
        let unsafe_stream = matches!(
            error.downcast_ref::<StoreError>(),
            Some(StoreError::Unsafe { .. })
        );
        if unsafe_stream || started.elapsed() >= patience {
            return Err(error);
        }
        tracing::warn!(error = %error, "JetStream does not answer yet; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
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
        let mut blocks = InOrder::from(self, from.max(1));
        while blocks.next <= last {
            each(blocks.next_block().await?)?;
        }
        Ok(last)
    }

    /// Every block after `after` (a stream sequence), as it is stored and
    /// then as new ones arrive, handed to `each`; returns only on an error.
    pub async fn follow(&self, after: u64, mut each: impl FnMut(Block)) -> Result<(), StoreError> {
        let mut blocks = InOrder::from(self, after + 1);
        loop {
            each(blocks.next_block().await?);
        }
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
        self.send(frames, expected_last, seal).await?.stored().await
    }

    /// Sends a block to be appended as `append` does; the returned handle
    /// waits for its acknowledgement, so that the caller can work meanwhile.
    pub async fn send(
        &self,
        frames: Bytes,
        expected_last: u64,
        seal: Option<&Signature>,
    ) -> Result<Sent, StoreError> {
        let mut headers = HeaderMap::new();
        if let Some(seal) = seal {
            headers.insert(SEAL_HEADER, hex::encode(seal.0).as_str());
        }
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
            expected_last.to_string().as_str(),
        );
        let ack = self
            .js
            .publish_with_headers(self.shard.blocks_subject(), headers, frames)
            .await
            .map_err(|e| StoreError::Append {
                stream: self.shard.stream(),
                source: e.into(),
            })?;
        Ok(Sent {
            ack,
            stream: self.shard.stream(),
            timeout: self.ack_timeout,
        })
    }
}

/// A block sent to the stream, its acknowledgement still to come.
pub struct Sent {
    ack: jetstream::context::PublishAckFuture,
    stream: String,
    timeout: Duration,
}

impl Sent {
    /// The block's stream sequence, once the stream has stored it.
    pub async fn stored(self) -> Result<u64, StoreError> {
        let Sent {
            ack,
            stream,
            timeout,
        } = self;
        match tokio::time::timeout(timeout, ack).await {
            Ok(Ok(ack)) => Ok(ack.sequence),
            Ok(Err(e)) => Err(StoreError::Append {
                stream,
                source: e.into(),
            }),
            Err(_) => Err(StoreError::AckTimeout { stream, timeout }),
        }
    }
}

/// Blocks are pulled at most this many bytes at a time, and never fewer than
/// the largest message the server takes. A server cuts off a client that
/// has more than its `max_pending` (64 MiB by default) waiting to be read;
/// an ordered consumer pulls 500 messages at a time whatever their size,
/// which at blocks of a quarter of a megabyte is twice that. A service
/// catching up reads the stream three times at once (the writer's replica,
/// the reader, the read models), and what the pulls hold counts in its
/// peak: at 300,000 volunteers, on a server whose largest message is
/// 8 MiB (so pulls of 8 MiB), it peaked at 1,152 MiB against 1,249 with
/// 16 MiB pulls, in one run each, with mimalloc told to hand freed pages
/// back at once (docs/performance.md, service memory).
const PULL_BYTES: usize = 4 << 20;
const PULL_MESSAGES: usize = 256;
/// Reads that fail one after another before the error is passed on.
const READ_ATTEMPTS: u32 = 5;

/// The stream's blocks in order from one stream sequence on, through an
/// ephemeral pull consumer of its own. Where a read fails or a block is
/// out of order, it starts a consumer again from the block it needs next.
struct InOrder<'a> {
    store: &'a ChainStore,
    /// The stream sequence of the block to hand out next.
    next: u64,
    pulled: Option<(consumer::pull::Stream, u64)>,
}

impl<'a> InOrder<'a> {
    fn from(store: &'a ChainStore, next: u64) -> InOrder<'a> {
        InOrder {
            store,
            next,
            pulled: None,
        }
    }

    async fn next_block(&mut self) -> Result<Block, StoreError> {
        let mut failures = 0;
        loop {
            let failure = match self.try_next().await {
                Ok(Some(block)) => return Ok(block),
                Ok(None) => StoreError::Read {
                    stream: self.store.shard.stream(),
                    sequence: self.next,
                    source: "blocks keep arriving out of order".into(),
                },
                Err(e) => e,
            };
            failures += 1;
            if failures >= READ_ATTEMPTS {
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_millis(100 << failures)).await;
        }
    }

    /// The next block, or `None` where the consumer must start again.
    async fn try_next(&mut self) -> Result<Option<Block>, StoreError> {
        let read_err = |e: async_nats::Error| StoreError::Read {
            stream: self.store.shard.stream(),
            sequence: self.next,
            source: e,
        };
        let (messages, delivered) = match &mut self.pulled {
            Some(pulled) => pulled,
            None => self
                .pulled
                .insert((self.store.pull_from(self.next).await?, 0)),
        };
        let message = match messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                self.pulled = None;
                return Err(read_err(e.into()));
            }
            None => {
                self.pulled = None;
                return Err(read_err("the consumer ended".into()));
            }
        };
        let info = message.info().map_err(read_err)?;
        let in_order =
            info.consumer_sequence == *delivered + 1 && info.stream_sequence >= self.next;
        if !in_order {
            self.pulled = None;
            return Ok(None);
        }
        *delivered = info.consumer_sequence;
        self.next = info.stream_sequence + 1;
        Ok(Some(Block {
            stream_sequence: info.stream_sequence,
            frames: message.payload.clone(),
            seal: seal_of(message.headers.as_ref()),
        }))
    }
}

impl ChainStore {
    /// An ephemeral consumer from stream sequence `start`, pulled in
    /// batches that a server's `max_pending` can hold.
    async fn pull_from(&self, start: u64) -> Result<consumer::pull::Stream, StoreError> {
        let stream = self
            .js
            .get_stream(self.shard.stream())
            .await
            .map_err(|e| self.err(e))?;
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                num_replicas: 1,
                memory_storage: true,
                ..Default::default()
            })
            .await
            .map_err(|e| self.err(e))?;
        let largest = self.js.client().server_info().max_payload;
        consumer
            .stream()
            .max_messages_per_batch(PULL_MESSAGES)
            .max_bytes_per_batch(PULL_BYTES.max(largest))
            .messages()
            .await
            .map_err(|e| self.err(e))
    }
}
