//! This instance's read models: a [`Projector`] in its own sled directory,
//! fed from the stream (catching up in large batches, then block by block),
//! and states as of the past, rebuilt from the stream on request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ledger_core::chain::Head;
use ledger_core::time::{Day, Timestamp};
use ledger_core::values::VolunteerId;
use projections::rows::VolunteerCard;
use projections::store::{Memory, Read};
use projections::{Projection, ProjectionError, ProjectionReader, Projector, Until};
use tracing::{error, info, warn};

use crate::cards::Cards;
use crate::store::{ChainStore, StoreError};

/// How the read models use memory: sled's page cache, and how many bytes a
/// catch-up or rebuild stages before it commits. A larger batch writes a
/// row touched again and again fewer times, but sled holds several times
/// the batch in memory while it applies it (docs/performance.md).
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub cache_bytes: u64,
    pub batch_bytes: usize,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            cache_bytes: projections::projector::DEFAULT_CACHE_BYTES,
            batch_bytes: 64 << 20,
        }
    }
}
/// States as of the past kept for paging through them.
const PAST_STATES: usize = 2;

#[derive(Debug, Default)]
struct Status {
    head: Head,
    /// The stream sequence of the last block applied.
    position: u64,
    broken: Option<String>,
    /// Caught up and applying new blocks as they come.
    following: bool,
    /// Found to stand on the stream's own chain (`check_same_chain`);
    /// until then, read models opened from disk serve nothing.
    checked: bool,
}

/// A state as of the past: its read models and the head they stand at.
type PastState = (Until, Arc<Memory>, Head);

#[derive(Clone)]
pub struct ReadModels {
    reader: ProjectionReader,
    status: Arc<RwLock<Status>>,
    store: ChainStore,
    past: Arc<Mutex<Vec<PastState>>>,
    /// Past states are replayed one at a time: each replays the whole
    /// stream on the CPUs the live service needs, and holds a whole
    /// projection in memory, so requests for many moments at once must
    /// queue rather than each start its own.
    replaying: Arc<tokio::sync::Semaphore>,
    batch_bytes: usize,
    cards: Arc<Cards>,
}

/// A state to read: the live read models or one as of the past.
pub enum View {
    Live(sled::Tree),
    Past(Arc<Memory>),
}

impl ReadModels {
    /// Opens the read models in `dir` and starts following the stream.
    /// Read models an older release laid out otherwise are emptied first
    /// and built again (`Projector::open_current`).
    pub fn start(
        dir: &Path,
        store: ChainStore,
        tuning: Tuning,
    ) -> Result<ReadModels, ProjectionError> {
        let (projector, emptied) = Projector::open_current(dir, tuning.cache_bytes)?;
        if let Some(emptied) = emptied {
            tracing::warn!(
                dir = %dir.display(),
                found = ?emptied.layout,
                layout = projections::LAYOUT,
                "the read models were built by a release that laid them out otherwise: emptied, to be built again from the stream"
            );
        }
        let models = ReadModels {
            reader: projector.reader(),
            status: Arc::new(RwLock::new(Status {
                head: projector.head(),
                position: projector.position(),
                broken: None,
                following: false,
                checked: projector.position() == 0,
            })),
            store: store.clone(),
            past: Arc::default(),
            replaying: Arc::new(tokio::sync::Semaphore::new(1)),
            batch_bytes: tuning.batch_bytes,
            cards: Arc::default(),
        };
        tokio::spawn(models.clone().follow(projector));
        Ok(models)
    }

    pub fn head(&self) -> Head {
        self.status.read().map(|s| s.head).unwrap_or_default()
    }

    /// The stream sequence of the last block applied.
    pub fn position(&self) -> u64 {
        self.status.read().map(|s| s.position).unwrap_or_default()
    }

    /// Whether the read models have caught up and follow new blocks live.
    pub fn following(&self) -> bool {
        self.status.read().is_ok_and(|s| s.following)
    }

    /// Why the read models stopped, if they did: where the chain broke.
    pub fn broken(&self) -> Option<String> {
        self.status.read().ok().and_then(|s| s.broken.clone())
    }

    /// Waits until the read models have applied ledger sequence `sequence`.
    pub async fn caught_up(&self, sequence: u64, limit: Duration) -> bool {
        let started = std::time::Instant::now();
        while self.head().sequence < sequence {
            if started.elapsed() > limit || self.broken().is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Runs `f` over the live read models, unless the chain broke or they
    /// are not yet known to stand on the stream's chain.
    pub fn live<T>(&self, f: impl FnOnce(&sled::Tree, Head) -> T) -> Result<T, String> {
        if let Some(broken) = self.broken() {
            return Err(broken);
        }
        if !self.checked() {
            return Err(
                "these read models are still being checked against the stream: ask again in a moment"
                    .to_owned(),
            );
        }
        self.reader.read(f).map_err(|e| e.to_string())
    }

    fn checked(&self) -> bool {
        self.status.read().is_ok_and(|s| s.checked)
    }

    /// Waits, up to `limit`, until the read models opened from disk are
    /// found to stand on the stream's chain, or to have stopped: an
    /// instance starting waits for this before it serves, so that it never
    /// answers from read models of another chain.
    pub async fn until_checked(&self, limit: Duration) -> bool {
        let started = std::time::Instant::now();
        while !self.checked() && self.broken().is_none() {
            if started.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// What a leaderboard shows of a volunteer, read from `r` (the live
    /// read models or a past state) once and then kept (see `cards.rs`).
    pub fn card(
        &self,
        r: &dyn Read,
        volunteer: &VolunteerId,
    ) -> Result<Option<VolunteerCard>, projections::store::StoreError> {
        self.cards.card(r, volunteer)
    }

    pub fn live_tree(&self) -> Result<sled::Tree, String> {
        self.live(|tree, _| tree.clone())
    }

    /// The state as of `until`: the live one if nothing came after it,
    /// otherwise the stream replayed into memory up to it (kept for a while,
    /// so that paging through it does not replay again).
    pub async fn as_of(&self, until: Until) -> Result<(View, Head), String> {
        let head = self.head();
        if let Some(broken) = self.broken() {
            return Err(broken);
        }
        if let Until::Sequence(n) = until {
            if n == head.sequence {
                return Ok((View::Live(self.live_tree()?), head));
            }
            if n > head.sequence {
                return Err(format!(
                    "sequence {n} is beyond this instance's head {}",
                    head.sequence
                ));
            }
        }
        if let Some(kept) = self.kept(until)? {
            return Ok(kept);
        }
        let _turn = self
            .replaying
            .acquire()
            .await
            .map_err(|_| "the read models failed")?;
        // The replay this one waited for may have been of the same moment.
        if let Some(kept) = self.kept(until)? {
            return Ok(kept);
        }
        let mut projection = Projection::in_memory();
        let mut failure = None;
        self.store
            .replay(1, |block| {
                if failure.is_none() {
                    let staged = crate::cpu::heavy(|| {
                        projection.stage_block(
                            &block.frames,
                            block.seal.as_ref(),
                            block.stream_sequence,
                            Some(until),
                        )
                    });
                    failure = staged.err().map(|e| e.to_string());
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        let head = projection.head();
        let memory = Arc::new(projection.into_memory().map_err(|e| e.to_string())?);
        let mut past = self.past.lock().map_err(|_| "the read models failed")?;
        past.push((until, memory.clone(), head));
        if past.len() > PAST_STATES {
            past.remove(0);
        }
        Ok((View::Past(memory), head))
    }

    /// A past state replayed before, if it is still kept.
    fn kept(&self, until: Until) -> Result<Option<(View, Head)>, String> {
        let past = self.past.lock().map_err(|_| "the read models failed")?;
        Ok(past
            .iter()
            .find(|(u, _, _)| *u == until)
            .map(|(_, memory, head)| (View::Past(memory.clone()), *head)))
    }

    /// Applies the stream from where the projection stands, for as long as
    /// the instance runs; stops for good at a broken link.
    async fn follow(self, mut projector: Projector) {
        loop {
            let result = self.catch_up(&mut projector).await;
            let result = match result {
                Ok(()) => {
                    info!(
                        sequence = projector.head().sequence,
                        "read models caught up; following new blocks"
                    );
                    self.set_following(true);
                    let tailed = self.tail(&mut projector).await;
                    self.set_following(false);
                    tailed
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {}
                Err(Stop::Broken(why)) => {
                    error!(%why, "the read models stop: the chain is broken");
                    if let Ok(mut s) = self.status.write() {
                        s.broken = Some(why);
                    }
                    return;
                }
                Err(Stop::Retry(why)) => warn!(%why, "following the stream again"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn set_following(&self, following: bool) {
        if let Ok(mut s) = self.status.write() {
            s.following = following;
        }
    }

    fn applied(&self, projector: &Projector) {
        if let Ok(mut s) = self.status.write() {
            s.head = projector.head();
            s.position = projector.position();
        }
    }

    /// Everything stored now, in large batches.
    async fn catch_up(&self, projector: &mut Projector) -> Result<(), Stop> {
        self.check_same_chain(projector).await?;
        let mut failure: Option<ProjectionError> = None;
        let from = projector.position() + 1;
        let replayed = self
            .store
            .replay(from, |block| {
                if failure.is_some() {
                    return Ok(());
                }
                let staged = crate::cpu::heavy(|| {
                    projector.stage_block(
                        &block.frames,
                        block.seal.as_ref(),
                        block.stream_sequence,
                    )?;
                    if projector.pending_bytes() > self.batch_bytes {
                        projector.commit()?;
                        self.applied(projector);
                        // A catch-up of millions of events takes minutes:
                        // each batch says how far it is.
                        info!(
                            sequence = projector.head().sequence,
                            stream_sequence = block.stream_sequence,
                            "read models catching up"
                        );
                    }
                    Ok(())
                });
                failure = staged.err();
                Ok(())
            })
            .await;
        if let Some(e) = failure {
            return Err(Stop::from(e));
        }
        replayed.map_err(|e: StoreError| Stop::Retry(e.to_string()))?;
        crate::cpu::heavy(|| projector.commit()).map_err(Stop::from)?;
        self.applied(projector);
        Ok(())
    }

    /// Read models stand at a head: the stream must hold that same frame
    /// at the end of the same block. When it does not, they were built
    /// from another chain (the stream was restored from an older bundle,
    /// or is another ledger's), and would serve figures the chain does not
    /// bear out; they stop, as at a broken link, until rebuilt.
    async fn check_same_chain(&self, projector: &Projector) -> Result<(), Stop> {
        let position = projector.position();
        if position == 0 {
            return Ok(());
        }
        let retry = |e: StoreError| Stop::Retry(e.to_string());
        let last = self.store.last_sequence().await.map_err(retry)?;
        let head = projector.head();
        let found = if last < position {
            format!("the stream ends at block {last}")
        } else {
            let block = self.store.block(position).await.map_err(retry)?;
            match ledger_core::chain::block_end(&block.frames) {
                Some(end) if end == head => {
                    if let Ok(mut s) = self.status.write() {
                        s.checked = true;
                    }
                    return Ok(());
                }
                Some(end) => format!(
                    "the stream's block {position} ends at event {} with hash {}",
                    end.sequence, end.hash
                ),
                None => format!("the stream's block {position} does not read as frames"),
            }
        };
        Err(Stop::Broken(format!(
            "these read models stand at event {} with hash {} (stream block {position}), but {found}: they were built from another chain, such as one since restored from an older bundle; stop the instance and run `ledger rebuild`",
            head.sequence, head.hash
        )))
    }

    /// New blocks as they arrive, each committed on its own.
    async fn tail(&self, projector: &mut Projector) -> Result<(), Stop> {
        let mut failure = None;
        let after = projector.position();
        let followed = self
            .store
            .follow(after, |block| {
                if failure.is_some() || block.stream_sequence <= projector.position() {
                    return;
                }
                match crate::cpu::heavy(|| {
                    projector.apply_block(&block.frames, block.seal.as_ref(), block.stream_sequence)
                }) {
                    Ok(_) => self.applied(projector),
                    Err(e) => failure = Some(e),
                }
            })
            .await;
        if let Some(e) = failure {
            return Err(Stop::from(e));
        }
        followed.map_err(|e| Stop::Retry(e.to_string()))
    }
}

enum Stop {
    Broken(String),
    Retry(String),
}

impl From<ProjectionError> for Stop {
    fn from(e: ProjectionError) -> Stop {
        match e {
            ProjectionError::Broken(_) => Stop::Broken(e.to_string()),
            other => Stop::Retry(other.to_string()),
        }
    }
}

/// The end of local day `day` (the last microsecond), at the ledger's offset.
pub fn end_of_day(day: Day, offset: ledger_core::time::UtcOffset) -> Timestamp {
    Timestamp(Day(day.0 + 1).start(offset).0 - 1)
}

/// The default place of an instance's read models.
pub fn default_dir(shard: &str, http: &std::net::SocketAddr) -> PathBuf {
    PathBuf::from(format!("projections/{shard}-{}", http.port()))
}
