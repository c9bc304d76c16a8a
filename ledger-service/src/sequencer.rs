//! The one writer of a chain. It decides commands against the state, frames
//! and links the events, and appends them to the stream in blocks: the
//! commands queued while one block is in flight are decided meanwhile, and
//! go out together as the next message once that block is stored, fenced by
//! the stream's expected last sequence. One block is in flight at a time,
//! and a command is answered only after its block is acknowledged.

use futures::FutureExt;

use bytes::Bytes;
use chrono::Utc;
use ledger_core::chain::{verify_concatenated, Head};
use ledger_core::command::{PublishLedgerKey, RecordCheckpoint};
use ledger_core::domain::Checkpoint;
use ledger_core::hashing::{map_with_capacity, Map, Set};
use ledger_core::signing::{block_message, checkpoint_message, rotation_message, LedgerSigner};
use ledger_core::time::Timestamp;
use ledger_core::values::ActorId;
use ledger_core::values::Signature;
use ledger_core::{decide, ChainError, Command, Context, EventRecord, Ledger};
use projections::Follower;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::answer::{Answer, Reply, Submission};
use crate::lease::LeaseWatch;
use crate::metrics::AnswerCounts;
use crate::rejections::{RejectionLog, RejectionLogError};
use crate::republish::{Republisher, Route};
use crate::store::{Block, ChainStore, Sent, StoreError};
use crate::submissions::{SpillError, SubmissionId, Submissions};

/// At most this many commands go into one block.
pub const MAX_BLOCK_COMMANDS: usize = 1_000;
/// How long the writer keeps asking a stream that does not answer before it
/// gives up on the block (nothing of it is answered as accepted).
const RECONCILE_ATTEMPTS: u32 = 60;

#[derive(Debug, Error)]
pub enum SequencerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the chain is broken in stream messages {from} to {to}: {error}")]
    Chain {
        from: u64,
        to: u64,
        error: ChainError,
    },
    #[error("the writer stopped")]
    Stopped,
    #[error(transparent)]
    Rejections(#[from] RejectionLogError),
    #[error("creating the submissions' answers file in {dir}: {source}")]
    AnswersFile {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Answers(#[from] SpillError),
}

/// Everything the writer knows, rebuilt from the stream.
struct Replica {
    follower: Follower,
    /// Stream sequence of the last block applied.
    stream_sequence: u64,
    /// Submission → its answer. Accepted answers are rebuilt from the
    /// submission keys on the chain; rejections are remembered while the
    /// writer runs.
    index: Submissions,
    last_recorded_at: Timestamp,
}

impl Replica {
    /// A replica of nothing yet, its index spilling into `answers_dir` if
    /// given.
    fn empty(answers_dir: Option<&Path>) -> Result<Replica, SequencerError> {
        let index = match answers_dir {
            None => Submissions::new(),
            Some(dir) => {
                Submissions::spilling_to(dir).map_err(|source| SequencerError::AnswersFile {
                    dir: dir.to_owned(),
                    source,
                })?
            }
        };
        Ok(Replica {
            follower: Follower::new(),
            stream_sequence: 0,
            index,
            last_recorded_at: Timestamp(0),
        })
    }

    /// Verifies the blocks read and not applied yet, and applies them.
    fn apply(&mut self, unapplied: &mut Unapplied) -> Result<(), SequencerError> {
        let Some((from, to)) = unapplied.stream.take() else {
            return Ok(());
        };
        let index = &mut self.index;
        let last_recorded_at = &mut self.last_recorded_at;
        let mut unread: Option<SpillError> = None;
        self.follower
            .apply_blocks(
                &unapplied.frames,
                &unapplied.blocks,
                crate::audit::workers(),
                |verified, _| {
                    let record = &verified.record;
                    *last_recorded_at = (*last_recorded_at).max(record.recorded_at);
                    if let (Some(key), None) = (&record.submission, &unread) {
                        let id = SubmissionId::of(&record.actor, key);
                        unread = index.record_event(id, verified.head).err();
                    }
                },
            )
            .map_err(|error| SequencerError::Chain { from, to, error })?;
        if let Some(e) = unread {
            return Err(e.into());
        }
        self.stream_sequence = to;
        unapplied.frames.clear();
        unapplied.blocks.clear();
        Ok(())
    }
}

/// Blocks read from the stream and not applied yet. They are verified a
/// batch at a time: a block is too small to share between threads, and
/// its seal is cheaper checked with many others (under light load, most
/// blocks hold an event or two).
#[derive(Default)]
struct Unapplied {
    /// Their frames back to back, and each one's length and seal.
    frames: Vec<u8>,
    blocks: Vec<(usize, Option<Signature>)>,
    /// The stream sequences of the first block and the last.
    stream: Option<(u64, u64)>,
}

/// About this many bytes of frames are verified at a time.
const UNAPPLIED_BYTES: usize = 8 << 20;

impl Unapplied {
    fn push(&mut self, block: &Block) {
        self.frames.extend_from_slice(&block.frames);
        self.blocks.push((block.frames.len(), block.seal));
        let from = self.stream.map_or(block.stream_sequence, |(from, _)| from);
        self.stream = Some((from, block.stream_sequence));
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= UNAPPLIED_BYTES
    }
}

struct Request {
    submission: Submission,
    reply: oneshot::Sender<Reply>,
}

/// How one request of a block ends, once the block is stored.
enum Outcome {
    Known(Answer),
    Recorded {
        first: Head,
        last: Head,
        events: u32,
    },
    Nothing,
    Rejected(Answer),
    /// The same submission earlier in this block.
    SameAs(usize),
    /// The same submission in the block in flight: answered as that one
    /// was, once it is.
    Landing(SubmissionId),
}

/// A block decided, its events applied to the replica and framed.
struct Decided {
    batch: Vec<Request>,
    /// Each request's submission, when it has a key.
    ids: Vec<Option<SubmissionId>>,
    outcomes: Vec<Outcome>,
    frames: Bytes,
    routes: Vec<Route>,
    /// The chain's head before the block and after it.
    before: Head,
    after: Head,
    /// The keyed submissions this block answers for the first time.
    keyed: Set<SubmissionId>,
}

/// A block that cannot be stored, and why; nothing of it counts.
struct Abandoned {
    batch: Vec<Request>,
    why: &'static str,
}

/// A block sent to the stream, not yet acknowledged.
struct Flight {
    decided: Decided,
    /// The stream's last sequence it was fenced on.
    expected: u64,
    sent: Result<Sent, StoreError>,
}

/// A cheap handle for submitting commands to the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// Submits several commands to be decided in the given order (they are
    /// queued one after another before any answer is awaited).
    pub async fn submit_many(&self, submissions: Vec<Submission>) -> Vec<Answer> {
        let replies = self.replies(submissions).await;
        replies.into_iter().map(|r| r.answer).collect()
    }

    pub async fn submit(&self, submission: Submission) -> Answer {
        self.reply(submission).await.answer
    }

    /// As [`Writer::submit_many`], each answer saying whether it was given
    /// before (the submitter's wire form).
    pub async fn replies(&self, submissions: Vec<Submission>) -> Vec<Reply> {
        let mut pending = Vec::with_capacity(submissions.len());
        for submission in submissions {
            pending.push(self.queue(submission).await);
        }
        let mut replies = Vec::with_capacity(pending.len());
        for p in pending {
            replies.push(p.reply().await);
        }
        replies
    }

    /// As [`Writer::submit`], saying whether the answer was given before.
    pub async fn reply(&self, submission: Submission) -> Reply {
        self.queue(submission).await.reply().await
    }

    /// Queues a command behind those queued before it and returns its
    /// answer to come, so that a caller can go on feeding the writer while
    /// earlier blocks are in flight. Waits only while the queue is full.
    pub async fn queue(&self, submission: Submission) -> Pending {
        let (reply, answer) = oneshot::channel();
        let queued = self.tx.send(Request { submission, reply }).await.is_ok();
        Pending(queued.then_some(answer))
    }
}

/// The answer to a queued command, once its block is stored (or given up).
pub struct Pending(Option<oneshot::Receiver<Reply>>);

impl Pending {
    pub async fn answer(self) -> Answer {
        self.reply().await.answer
    }

    pub async fn reply(self) -> Reply {
        let reply = match self.0 {
            Some(reply) => reply.await.ok(),
            None => None,
        };
        reply.unwrap_or_else(|| {
            Reply::from(Answer::Unavailable {
                message: SequencerError::Stopped.to_string(),
            })
        })
    }
}

pub struct Sequencer {
    store: ChainStore,
    replica: Replica,
    lease: LeaseWatch,
    republisher: Option<Republisher>,
    rejections: Option<RejectionLog>,
    checkpoints: Option<CheckpointPolicy>,
    last_checkpoint_at: Instant,
    /// The largest block so far: a block's buffers are allocated at that
    /// size once, instead of growing by doubling, each step of which had the
    /// allocator map and zero fresh pages.
    largest: BlockSize,
    /// Where the submissions' index keeps its older answers, if not in
    /// memory.
    answers_dir: Option<PathBuf>,
    /// Where each answer is counted (`/metrics`), if anywhere.
    counted: Option<Arc<AnswerCounts>>,
}

#[derive(Default)]
struct BlockSize {
    bytes: usize,
    events: usize,
}

/// When the writer checkpoints, and with which key.
pub struct CheckpointPolicy {
    pub every_events: u64,
    pub every: Duration,
    pub signer: Arc<LedgerSigner>,
    /// The ledger's current key, when this writer rotates it out: the writer
    /// publishes its own key endorsed by this one.
    pub previous: Option<Arc<LedgerSigner>>,
    /// Who the checkpoints are recorded as.
    pub actor: ActorId,
}

impl Sequencer {
    /// Reads the whole stream, verifying every link, and rebuilds the state.
    pub async fn open(store: ChainStore) -> Result<Sequencer, SequencerError> {
        Sequencer::open_spilling(store, None).await
    }

    /// As [`Sequencer::open`], with the answers of all but the newest
    /// submissions kept in a file in `answers_dir` instead of in memory.
    pub async fn open_spilling(
        store: ChainStore,
        answers_dir: Option<PathBuf>,
    ) -> Result<Sequencer, SequencerError> {
        let mut sequencer = Sequencer {
            store,
            replica: Replica::empty(answers_dir.as_deref())?,
            answers_dir,
            counted: None,
            lease: LeaseWatch::always(),
            republisher: None,
            rejections: None,
            checkpoints: None,
            last_checkpoint_at: Instant::now(),
            largest: BlockSize::default(),
        };
        sequencer.rebuild().await?;
        Ok(sequencer)
    }

    async fn rebuild(&mut self) -> Result<(), SequencerError> {
        let mut replica = Replica::empty(self.answers_dir.as_deref())?;
        let mut unapplied = Unapplied::default();
        let mut failure = None;
        self.store
            .replay(1, |block| {
                if failure.is_none() {
                    unapplied.push(&block);
                    if unapplied.is_full() {
                        failure = crate::cpu::heavy(|| replica.apply(&mut unapplied).err());
                    }
                }
                Ok(())
            })
            .await?;
        if failure.is_none() {
            failure = crate::cpu::heavy(|| replica.apply(&mut unapplied).err());
        }
        if let Some(e) = failure {
            return Err(e);
        }
        info!(
            head = replica.follower.head().sequence,
            stream_sequence = replica.stream_sequence,
            "chain verified and state rebuilt"
        );
        // Rejections and acceptances with nothing to record leave nothing on
        // the chain; the ones already answered (and logged) stay known.
        let previous = std::mem::take(&mut self.replica.index);
        replica.index.keep_unrecorded(previous);
        self.replica = replica;
        Ok(())
    }

    /// Appends only while `lease` is held (several instances, one writer).
    pub fn with_lease(mut self, lease: LeaseWatch) -> Sequencer {
        self.lease = lease;
        self
    }

    /// Appends the ledger's key and, every so many events or seconds, a
    /// signed checkpoint.
    pub fn checkpointing(mut self, policy: CheckpointPolicy) -> Sequencer {
        self.checkpoints = Some(policy);
        self
    }

    /// Remembers rejections durably in `log`, and answers retries of those
    /// recorded before from it.
    pub async fn remembering_rejections(
        mut self,
        log: RejectionLog,
    ) -> Result<Sequencer, SequencerError> {
        for (actor, key, answer) in log.load().await? {
            self.replica
                .index
                .remember(SubmissionId::of(&actor, &key), &answer);
        }
        self.rejections = Some(log);
        Ok(self)
    }

    /// Counts every answer it gives in `answers`.
    pub fn counting(mut self, answers: Arc<AnswerCounts>) -> Sequencer {
        self.counted = Some(answers);
        self
    }

    /// Republishes every committed event on `ledger.<shard>.events.<kind>.<unit>`.
    pub fn republishing(mut self, client: async_nats::Client) -> Sequencer {
        self.republisher = Some(Republisher::spawn(client, self.store.shard().clone()));
        self
    }

    pub fn head(&self) -> Head {
        self.replica.follower.head()
    }

    /// Whether this writer can append to the chain as it stands: once the
    /// ledger has a key, only blocks sealed with it count, so a writer
    /// needs that key, or the key it rotates to with that one's secret.
    pub fn can_seal(&self) -> bool {
        let Some(key) = self.replica.follower.state().ledger_key else {
            return true;
        };
        self.checkpoints.as_ref().is_some_and(|p| {
            p.signer.public_key() == key
                || p.previous
                    .as_ref()
                    .is_some_and(|prev| prev.public_key() == key)
        })
    }

    pub fn state(&self) -> &Ledger {
        self.replica.follower.state()
    }

    /// Starts the writer task; commands reach it through the returned handle.
    pub fn spawn(self) -> Writer {
        let (tx, rx) = mpsc::channel(MAX_BLOCK_COMMANDS * 4);
        tokio::spawn(self.run(rx));
        Writer { tx }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut flight: Option<Flight> = None;
        loop {
            // Everything queued, up to a block's worth, taken at once: the
            // senders' permits come back in one go, not one wake-up each.
            // Sized to the queue: under light load a block is a command.
            let mut batch = Vec::with_capacity(rx.len().clamp(1, MAX_BLOCK_COMMANDS));
            if let Some(sent) = flight.take() {
                // While a block is in flight the next one is decided from
                // what is queued already; with nothing queued, the block
                // is answered before the writer waits for more.
                let queued = rx.recv_many(&mut batch, MAX_BLOCK_COMMANDS).now_or_never();
                if !matches!(queued, Some(n) if n > 0) {
                    self.land(sent).await;
                    continue;
                }
                let decided = self.decide_block(batch, &sent.decided.keyed);
                if !self.land(sent).await {
                    // Not stored: the replica was rebuilt from the stream,
                    // and what was decided on top of the block is gone.
                    let batch = match decided {
                        Ok(decided) => decided.batch,
                        Err(abandoned) => abandoned.batch,
                    };
                    self.answer_unavailable(batch, "the block before was not stored; retry");
                    continue;
                }
                flight = self.launch(decided).await;
                continue;
            }
            // Idle, the writer still checkpoints on time.
            let idle = self
                .checkpoints
                .as_ref()
                .map_or(Duration::from_secs(3600), |c| c.every);
            let waited = tokio::time::timeout(idle, rx.recv_many(&mut batch, MAX_BLOCK_COMMANDS));
            if let Ok(0) = waited.await {
                return;
            }
            let decided = self.decide_block(batch, &Set::default());
            flight = self.launch(decided).await;
        }
    }

    fn clock(&self) -> Timestamp {
        let now = Timestamp::from_chrono(&Utc::now()).unwrap_or(self.replica.last_recorded_at);
        now.max(self.replica.last_recorded_at)
    }

    /// Decides a block of commands in order against the state, applies
    /// their events and frames them: everything but storing the block.
    /// `landing` holds the keyed submissions of the block in flight.
    fn decide_block(
        &mut self,
        batch: Vec<Request>,
        landing: &Set<SubmissionId>,
    ) -> Result<Decided, Abandoned> {
        let now = self.clock();
        let before = self.replica.follower.head();
        let mut frames = Vec::with_capacity(self.largest.bytes);
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut in_block: Map<SubmissionId, usize> = map_with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut routes: Vec<Route> = Vec::with_capacity(self.largest.events);
        let replica = &mut self.replica;
        for (i, request) in batch.iter().enumerate() {
            let s = &request.submission;
            let id = s.key.as_ref().map(|key| SubmissionId::of(&s.actor, key));
            ids.push(id);
            if let Some(id) = id {
                let Ok(known) = replica.index.get(&id) else {
                    // Deciding it as new could count a retry twice.
                    return Err(Abandoned {
                        batch,
                        why: "an earlier answer could not be read",
                    });
                };
                if let Some(answer) = known {
                    outcomes.push(Outcome::Known(answer));
                    continue;
                }
                if landing.contains(&id) {
                    outcomes.push(Outcome::Landing(id));
                    continue;
                }
                if let Some(&earlier) = in_block.get(&id) {
                    outcomes.push(Outcome::SameAs(earlier));
                    continue;
                }
                in_block.insert(id, i);
            }
            if let Err(f) = s.role.permits(replica.follower.state(), &s.command) {
                outcomes.push(Outcome::Rejected(Answer::forbidden(&f)));
                continue;
            }
            let ctx = Context {
                now,
                actor: s.actor.clone(),
            };
            let events = match decide(replica.follower.state(), &ctx, &s.command) {
                Ok(events) => events,
                Err(r) => {
                    outcomes.push(Outcome::Rejected(Answer::rejected(&r)));
                    continue;
                }
            };
            let mut heads = Vec::with_capacity(events.len());
            for event in events {
                let route = Route {
                    start: frames.len(),
                    kind: event.kind(),
                    unit: replica.follower.state().unit_of(&event),
                };
                let record = EventRecord {
                    recorded_at: now,
                    actor: s.actor.clone(),
                    submission: s.key.clone(),
                    event,
                };
                match replica.follower.append(&record, &mut frames) {
                    Ok(head) => {
                        heads.push(head);
                        routes.push(route);
                    }
                    Err(e) => {
                        // An event the frame cannot hold (over 1 MiB) is a
                        // bug in the rules' bounds; refuse the whole block.
                        warn!(error = %e, "event does not frame; block abandoned");
                        return Err(Abandoned {
                            batch,
                            why: "an event could not be framed",
                        });
                    }
                }
            }
            outcomes.push(match (heads.first(), heads.last()) {
                (Some(first), Some(last)) => Outcome::Recorded {
                    first: *first,
                    last: *last,
                    events: heads.len() as u32,
                },
                _ => Outcome::Nothing,
            });
        }
        self.own_events(now, &mut frames, &mut routes);
        self.replica.last_recorded_at = now;
        self.largest = BlockSize {
            bytes: self.largest.bytes.max(frames.len()),
            events: self.largest.events.max(routes.len()),
        };
        let after = self.replica.follower.head();
        Ok(Decided {
            batch,
            ids,
            outcomes,
            frames: Bytes::from(frames),
            routes,
            before,
            after,
            keyed: in_block.into_keys().collect(),
        })
    }

    /// Sends a decided block to the stream. A block with no events (every
    /// command rejected, or known) is answered at once.
    async fn launch(&mut self, decided: Result<Decided, Abandoned>) -> Option<Flight> {
        let decided = match decided {
            Ok(decided) => decided,
            Err(Abandoned { batch, why }) => {
                self.abandon(batch, why).await;
                return None;
            }
        };
        if decided.frames.is_empty() {
            let outcomes = self.log_rejections(&decided.batch, decided.outcomes).await;
            self.answer(decided.batch, &decided.ids, outcomes);
            return None;
        }
        if !self.lease.is_held() {
            warn!("the write lease is not held; block abandoned");
            self.abandon(
                decided.batch,
                "this instance does not hold the write lease; retry",
            )
            .await;
            return None;
        }
        let seal = self.seal(decided.after);
        // Once the ledger has a key, an unsealed block would fail every
        // verifier: a writer without that key records nothing.
        if seal.is_none() && self.replica.follower.state().ledger_key.is_some() {
            warn!("this writer does not hold the ledger's key; block abandoned");
            self.abandon(
                decided.batch,
                "the writer does not hold the ledger's key; nothing recorded",
            )
            .await;
            return None;
        }
        let expected = self.replica.stream_sequence;
        let sent = self
            .store
            .send(decided.frames.clone(), expected, seal.as_ref())
            .await;
        // The client's connection task, woken by the send, waits in this
        // worker's slot for the next task to run, which other workers do
        // not take from: without a yield the block would sit in the client
        // until the next one is decided, and the two would not overlap.
        tokio::task::yield_now().await;
        Some(Flight {
            decided,
            expected,
            sent,
        })
    }

    /// Waits for a block in flight to be stored and answers its commands.
    /// False if it was not stored: then nothing of it counts, the replica
    /// has been rebuilt from the stream, and its commands are told to retry.
    async fn land(&mut self, flight: Flight) -> bool {
        let Flight {
            decided,
            expected,
            sent,
        } = flight;
        let stored = match sent {
            Ok(sent) => sent.stored().await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(sequence) => self.replica.stream_sequence = sequence,
            Err(e) => {
                warn!(error = %e, "append failed; reconciling with the stream");
                match self
                    .reconcile(expected, decided.before, decided.after)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        self.abandon(
                            decided.batch,
                            "the block was not stored; retry with the same key",
                        )
                        .await;
                        return false;
                    }
                    Err(e) => {
                        self.abandon(decided.batch, &e.to_string()).await;
                        return false;
                    }
                }
            }
        }
        let Decided {
            batch,
            ids,
            outcomes,
            frames,
            routes,
            ..
        } = decided;
        let outcomes = self.log_rejections(&batch, outcomes).await;
        self.answer(batch, &ids, outcomes);
        if let Some(republisher) = &self.republisher {
            republisher.send(frames, routes).await;
        }
        true
    }

    /// The writer's signature over the head after a block, once the ledger
    /// has this writer's key.
    fn seal(&self, head: Head) -> Option<Signature> {
        let signer = &self.checkpoints.as_ref()?.signer;
        let state = self.replica.follower.state();
        if state.ledger_key != Some(signer.public_key()) {
            return None;
        }
        let ledger = &state.config.as_ref()?.ledger;
        Some(signer.sign(&block_message(ledger, head.sequence, &head.hash)))
    }

    /// The writer's own events at the end of a block: its key, once the
    /// ledger is open and has none, and a checkpoint when one is due.
    fn own_events(&mut self, now: Timestamp, frames: &mut Vec<u8>, routes: &mut Vec<Route>) {
        let Some(policy) = &self.checkpoints else {
            return;
        };
        let (signer, actor) = (policy.signer.clone(), policy.actor.clone());
        let previous = policy.previous.clone();
        let (every_events, every) = (policy.every_events, policy.every);
        let state = self.replica.follower.state();
        if state.config.is_none() {
            return;
        }
        let mut commands = Vec::new();
        match state.ledger_key {
            None => commands.push(Command::PublishLedgerKey(PublishLedgerKey {
                public_key: signer.public_key(),
                endorsement: None,
            })),
            Some(key) if key == signer.public_key() => {}
            Some(key) if previous.as_ref().is_some_and(|p| p.public_key() == key) => {
                let ledger = state.config.as_ref().map(|c| c.ledger.clone());
                if let (Some(previous), Some(ledger)) = (&previous, ledger) {
                    let endorsement =
                        previous.sign(&rotation_message(&ledger, &signer.public_key()));
                    commands.push(Command::PublishLedgerKey(PublishLedgerKey {
                        public_key: signer.public_key(),
                        endorsement: Some(endorsement),
                    }));
                }
            }
            Some(key) => {
                warn!(%key, "the ledger's key is neither this writer's nor the one it rotates out");
                return;
            }
        }
        let since = state.events - state.last_checkpoint.as_ref().map_or(0, |c| c.tree_size);
        let due =
            since >= every_events || (since > 1 && self.last_checkpoint_at.elapsed() >= every);
        if commands.is_empty() && !due {
            return;
        }
        let ctx = Context { now, actor };
        for command in commands {
            self.record_own(&ctx, &command, frames, routes);
        }
        if due {
            let Some(audit) = self.replica.follower.audit() else {
                return;
            };
            let Some(ledger) = self
                .replica
                .follower
                .state()
                .config
                .as_ref()
                .map(|c| c.ledger.clone())
            else {
                return;
            };
            let tree_size = audit.frontier.size();
            let root = audit.frontier.root();
            let signature = signer.sign(&checkpoint_message(&ledger, tree_size, &root));
            let command = Command::RecordCheckpoint(RecordCheckpoint {
                checkpoint: Checkpoint {
                    tree_size,
                    root,
                    signature: Some(signature),
                },
            });
            self.record_own(&ctx, &command, frames, routes);
            self.last_checkpoint_at = Instant::now();
        }
    }

    fn record_own(
        &mut self,
        ctx: &Context,
        command: &Command,
        frames: &mut Vec<u8>,
        routes: &mut Vec<Route>,
    ) {
        let follower = &mut self.replica.follower;
        let events = match decide(follower.state(), ctx, command) {
            Ok(events) => events,
            Err(r) => {
                warn!(
                    command = command.kind(),
                    code = r.code(),
                    "the writer's own command was refused"
                );
                return;
            }
        };
        for event in events {
            let route = Route {
                start: frames.len(),
                kind: event.kind(),
                unit: None,
            };
            let record = EventRecord {
                recorded_at: ctx.now,
                actor: ctx.actor.clone(),
                submission: None,
                event,
            };
            if follower.append(&record, frames).is_ok() {
                routes.push(route);
            }
        }
    }

    /// Writes the block's keyed answers that leave nothing on the chain
    /// (rejections, and acceptances with nothing to record) to the log
    /// before they are answered, so that a retry after a restart or a
    /// take-over gets the same answer. If the log cannot take them, they are
    /// answered `unavailable` instead (a retry is then decided afresh).
    async fn log_rejections(&self, batch: &[Request], mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
        let Some(log) = &self.rejections else {
            return outcomes;
        };
        let unrecorded: Vec<_> = batch
            .iter()
            .zip(&outcomes)
            .filter_map(
                |(request, outcome)| match (outcome, &request.submission.key) {
                    (Outcome::Rejected(answer), Some(key)) => Some((
                        request.submission.actor.clone(),
                        key.clone(),
                        answer.clone(),
                    )),
                    (Outcome::Nothing, Some(key)) => Some((
                        request.submission.actor.clone(),
                        key.clone(),
                        Answer::nothing_recorded(),
                    )),
                    _ => None,
                },
            )
            .collect();
        if unrecorded.is_empty() {
            return outcomes;
        }
        if let Err(e) = log.record(&unrecorded).await {
            warn!(error = %e, "answers not logged; answered as unavailable");
            for outcome in &mut outcomes {
                if matches!(outcome, Outcome::Rejected(_) | Outcome::Nothing) {
                    *outcome = Outcome::Known(Answer::Unavailable {
                        message: "the answer could not be recorded; retry with the same key".into(),
                    });
                }
            }
        }
        outcomes
    }

    /// After a failed or unanswered append: was the block stored after all?
    /// Asks the stream until it answers. If the block is there, carries on;
    /// if not (or another writer appended), rebuilds from the stream.
    async fn reconcile(
        &mut self,
        expected: u64,
        before: Head,
        after: Head,
    ) -> Result<bool, SequencerError> {
        let mut attempt = 0;
        let last = loop {
            match self.store.last_sequence().await {
                Ok(last) => break last,
                Err(e) if attempt < RECONCILE_ATTEMPTS => {
                    attempt += 1;
                    warn!(error = %e, attempt, "stream unreachable while reconciling");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if last == expected + 1 {
            let block = self.store.block(last).await?;
            if verify_concatenated(&block.frames, before) == Ok(after) {
                info!(
                    stream_sequence = last,
                    "the block was stored although its ack was lost"
                );
                self.replica.stream_sequence = last;
                return Ok(true);
            }
        }
        self.rebuild().await?;
        Ok(false)
    }

    /// Nothing of this block counts: rebuild from the stream, and tell each
    /// submitter to retry (answers already known stay as they were).
    async fn abandon(&mut self, batch: Vec<Request>, why: &str) {
        if let Err(e) = self.rebuild().await {
            warn!(error = %e, "rebuild after an abandoned block failed");
        }
        self.answer_unavailable(batch, why);
    }

    /// Answers each request as known before, or else as unavailable.
    fn answer_unavailable(&self, batch: Vec<Request>, why: &str) {
        for request in batch {
            let s = &request.submission;
            let known = s.key.as_ref().and_then(|k| {
                let id = SubmissionId::of(&s.actor, k);
                self.replica.index.get(&id).ok().flatten()
            });
            let repeated = known.is_some();
            let answer = known.unwrap_or_else(|| Answer::Unavailable {
                message: why.to_owned(),
            });
            self.count(&answer, repeated);
            let _ = request.reply.send(Reply {
                answer,
                replayed: repeated,
            });
        }
    }

    fn answer(
        &mut self,
        batch: Vec<Request>,
        ids: &[Option<SubmissionId>],
        outcomes: Vec<Outcome>,
    ) {
        let mut given: Vec<Answer> = Vec::with_capacity(batch.len());
        for ((request, outcome), id) in batch.into_iter().zip(outcomes).zip(ids) {
            let repeated = matches!(
                outcome,
                Outcome::Known(_) | Outcome::SameAs(_) | Outcome::Landing(_)
            );
            let answer = match outcome {
                Outcome::Known(a) | Outcome::Rejected(a) => a,
                Outcome::Recorded {
                    first,
                    last,
                    events,
                } => Answer::Accepted {
                    first_sequence: Some(first.sequence),
                    last_sequence: Some(last.sequence),
                    hash: Some(last.hash),
                    events,
                },
                Outcome::Nothing => Answer::nothing_recorded(),
                Outcome::SameAs(i) => given[i].clone(),
                Outcome::Landing(id) => {
                    self.replica
                        .index
                        .get(&id)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| Answer::Unavailable {
                            message: "the same submission just before was not answered; retry"
                                .into(),
                        })
                }
            };
            let remembered = !matches!(answer, Answer::Unavailable { .. });
            if let (Some(id), true) = (id, remembered) {
                self.replica.index.remember(*id, &answer);
            }
            given.push(answer.clone());
            self.count(&answer, repeated);
            let _ = request.reply.send(Reply {
                answer,
                replayed: repeated,
            });
        }
    }

    fn count(&self, answer: &Answer, repeated: bool) {
        if let Some(counted) = &self.counted {
            counted.record(answer, repeated);
        }
    }
}
