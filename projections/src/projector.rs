//! The projector: verifies each block of the chain and folds its events
//! into the read models, writing the rows together with where it stands
//! (the verifier's state and the source position) in one sled batch. Killed
//! at any point, it reopens at the last batch it committed and goes on from
//! there; it never applies past a broken link.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ledger_core::chain::{ChainError, Head, Verified, Verifier};
use ledger_core::frame::parse_frame;
use ledger_core::time::Timestamp;
use ledger_core::values::Signature;
use thiserror::Error;

use crate::board::Moves;
use crate::fold::{get, Context, Fold};
use crate::keys::{table, Key};
use crate::redo::Redo;
use crate::rows::Meta;
use crate::staged::StagedRows;
use crate::store::{Memory, Overlay, Read, StoreError};

pub(crate) const TREE: &str = "read-models";

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the chain is broken at sequence {}: {}", .0.sequence, .0.fault)]
    Broken(ChainError),
    #[error("the projection at {path} cannot be opened: {reason}")]
    Open { path: PathBuf, reason: String },
}

/// Where to stop folding, for a state as of a point in the past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Through this ledger sequence.
    Sequence(u64),
    /// Through the last event recorded at or before this instant.
    Recorded(Timestamp),
}

impl Until {
    fn admits(&self, v: &Verified) -> bool {
        match self {
            Until::Sequence(s) => v.head.sequence <= *s,
            Until::Recorded(t) => v.record.recorded_at <= *t,
        }
    }
}

/// Read models over any store: sled for the service, memory for time
/// travel and tests.
#[derive(Debug)]
pub struct Projection<B> {
    store: Overlay<B>,
    /// Rows of the staged events, written into `store` when settled, and
    /// the board moves worked out from them then (kept for their tables'
    /// room).
    moves: Moves,
    staged: StagedRows,
    ctx: Context,
    meta: Meta,
    /// Set once a block was cut short by [`Until`]: the head as of then.
    stopped: Option<Head>,
    broken: Option<ChainError>,
}

impl Projection<Memory> {
    pub fn in_memory() -> Projection<Memory> {
        Projection {
            store: Overlay::new(Memory::default()),
            moves: Moves::default(),
            staged: StagedRows::default(),
            ctx: Context::default(),
            meta: fresh_meta(),
            stopped: None,
            broken: None,
        }
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.settle()?;
        self.store.commit();
        Ok(())
    }

    pub fn into_memory(mut self) -> Result<Memory, StoreError> {
        self.settle()?;
        Ok(self.store.into_memory())
    }
}

fn fresh_meta() -> Meta {
    Meta {
        verifier: Verifier::new(),
        position: 0,
        recorded_at: None,
    }
}

fn meta_key() -> Key {
    Key::table(table::META)
}

/// What the read models hold and how, numbered: raised by every release
/// that changes it (a table added, a row's fields, what a row means), so
/// that read models an older release built are not read as this one's.
/// 3: volunteer lookups by number and identity; a refused registration's
/// reason in its history row; check-ins not yet out, by activity and by
/// participant. (2 named a layout tried and undone on
/// 2026-12-06, docs/performance.md; none was recorded before.)
pub const LAYOUT: u32 = 3;

fn layout_key() -> Key {
    Key::table(table::META).str("layout")
}

/// Read models of another layout, emptied when opened: the layout they had
/// (`None`: built before layouts were numbered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emptied {
    pub layout: Option<u32>,
}

impl<B: Read> Projection<B> {
    /// Opens read models over `base`, where a previous run left them.
    pub fn over(base: B) -> Result<Projection<B>, StoreError> {
        let meta = get(&base, &meta_key())?.unwrap_or_else(fresh_meta);
        let ctx = Context::load(&base)?;
        Ok(Projection {
            store: Overlay::new(base),
            moves: Moves::default(),
            staged: StagedRows::default(),
            ctx,
            meta,
            stopped: None,
            broken: None,
        })
    }

    /// The last applied frame.
    pub fn head(&self) -> Head {
        self.stopped.unwrap_or_else(|| self.meta.verifier.head())
    }

    /// The source position (stream sequence) of the last applied block.
    pub fn position(&self) -> u64 {
        self.meta.position
    }

    pub fn broken(&self) -> Option<&ChainError> {
        self.broken.as_ref()
    }

    /// The read models, with what is staged and not yet committed.
    pub fn read(&mut self) -> Result<&Overlay<B>, StoreError> {
        self.settle()?;
        Ok(&self.store)
    }

    /// Writes the staged rows, and the board moves they made, into the
    /// store.
    fn settle(&mut self) -> Result<(), StoreError> {
        self.staged.record_moves(&self.ctx, &mut self.moves);
        self.staged.write(&mut self.store);
        self.moves.write(&mut self.store)
    }

    pub fn pending_bytes(&self) -> usize {
        self.store.pending_bytes() + self.staged.pending_bytes()
    }

    /// Verifies a whole block (its frames, then its seal), then folds its
    /// events, up to `until` if given, into the pending writes. A block the
    /// projection has already applied is skipped. On a broken link nothing
    /// of the block is applied and the projection refuses every block after.
    pub fn stage_block(
        &mut self,
        frames: &[u8],
        seal: Option<&Signature>,
        position: u64,
        until: Option<Until>,
    ) -> Result<usize, ProjectionError> {
        if let Some(broken) = &self.broken {
            return Err(ProjectionError::Broken(broken.clone()));
        }
        if self.stopped.is_some() {
            return Ok(0);
        }
        if let Ok((first, _)) = parse_frame(frames) {
            if first.header.sequence <= self.meta.verifier.head().sequence {
                return Ok(0);
            }
        }
        let mut verifier = self.meta.verifier.clone();
        let first = verifier.head().sequence + 1;
        let mut records = Vec::new();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Kept (cloned out of the verifier's windows) until the block's
        // seal is checked: nothing of a block is folded before that.
        let checked = verifier
            .push_all(frames, workers, |verified| records.push(verified.clone()))
            .and_then(|()| verifier.check_seal(first, seal));
        if let Err(broken) = checked {
            self.broken = Some(broken.clone());
            return Err(ProjectionError::Broken(broken));
        }
        let mut folded = 0;
        let mut last = self.head();
        for verified in &records {
            if until.is_some_and(|u| !u.admits(verified)) {
                // A state as of the past ends here and reports its own head.
                self.stopped = Some(last);
                return Ok(folded);
            }
            Fold {
                store: &mut self.store,
                staged: &mut self.staged,
                ctx: &mut self.ctx,
                at: verified,
            }
            .apply()?;
            self.meta.recorded_at = Some(verified.record.recorded_at);
            last = verified.head;
            folded += 1;
        }
        self.meta.verifier = verifier;
        self.meta.position = position;
        let meta = postcard::to_allocvec(&self.meta).unwrap_or_default();
        self.store.put(meta_key().into_bytes(), meta);
        self.store
            .put(layout_key().into_bytes(), LAYOUT.to_be_bytes().to_vec());
        Ok(folded)
    }
}

/// sled's page cache for read models opened with [`Projector::open`].
pub const DEFAULT_CACHE_BYTES: u64 = 128 << 20;

/// Read models on disk. Queries read committed state through
/// [`ProjectionReader`] while the projector goes on.
pub struct Projector {
    _db: sled::Db,
    projection: Projection<sled::Tree>,
    redo: Redo,
    gate: Arc<RwLock<()>>,
}

/// A handle for queries: committed state, never half a batch.
#[derive(Clone)]
pub struct ProjectionReader {
    tree: sled::Tree,
    gate: Arc<RwLock<()>>,
}

impl ProjectionReader {
    /// Runs `f` over the committed read models and the head they stand at.
    pub fn read<T>(&self, f: impl FnOnce(&sled::Tree, Head) -> T) -> Result<T, StoreError> {
        let _guard = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let head = get::<Meta, _>(&self.tree, &meta_key())?
            .map(|m| m.verifier.head())
            .unwrap_or_default();
        Ok(f(&self.tree, head))
    }
}

impl Projector {
    /// Opens (or creates) the read models in directory `path`, with sled's
    /// cache at [`DEFAULT_CACHE_BYTES`].
    pub fn open(path: &Path) -> Result<Projector, ProjectionError> {
        Projector::open_with(path, DEFAULT_CACHE_BYTES)
    }

    /// As [`Projector::open`], with sled's cache at `cache_bytes` (sled
    /// treats it as a target, not a limit).
    pub fn open_with(path: &Path, cache_bytes: u64) -> Result<Projector, ProjectionError> {
        let open_error = |reason: String| ProjectionError::Open {
            path: path.to_owned(),
            reason,
        };
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    open_error("another process has it open".into())
                }
                other => open_error(other.to_string()),
            })?;
        let tree = db.open_tree(TREE).map_err(|e| open_error(e.to_string()))?;
        let mut redo = Redo::open(path)?;
        redo.recover(&tree)?;
        Ok(Projector {
            projection: Projection::over(tree)?,
            redo,
            _db: db,
            gate: Arc::default(),
        })
    }

    /// As [`Projector::open_with`], for an instance that serves them: read
    /// models of another layout than this release's are emptied first, to
    /// be built again from the stream (they are each instance's cache),
    /// and what was emptied is said. A layout key that an emptying
    /// interrupted left behind, or none, still counts as another layout
    /// while anything else is left, so emptying resumes on the next open.
    pub fn open_current(
        path: &Path,
        cache_bytes: u64,
    ) -> Result<(Projector, Option<Emptied>), ProjectionError> {
        let mut projector = Projector::open_with(path, cache_bytes)?;
        let tree = projector.projection.store.base().clone();
        let layout = tree
            .get(layout_key().bytes())
            .map_err(StoreError::from)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map(u32::from_be_bytes);
        if layout == Some(LAYOUT) || tree.first().map_err(StoreError::from)?.is_none() {
            return Ok((projector, None));
        }
        tree.clear().map_err(StoreError::from)?;
        tree.flush().map_err(StoreError::from)?;
        projector.projection = Projection::over(tree)?;
        Ok((projector, Some(Emptied { layout })))
    }

    pub fn projection(&self) -> &Projection<sled::Tree> {
        &self.projection
    }

    pub fn reader(&self) -> ProjectionReader {
        ProjectionReader {
            tree: self.projection.store.base().clone(),
            gate: self.gate.clone(),
        }
    }

    pub fn head(&self) -> Head {
        self.projection.head()
    }

    pub fn position(&self) -> u64 {
        self.projection.position()
    }

    pub fn broken(&self) -> Option<&ChainError> {
        self.projection.broken()
    }

    /// Verifies and folds a block and commits it with where the projection
    /// now stands.
    pub fn apply_block(
        &mut self,
        frames: &[u8],
        seal: Option<&Signature>,
        position: u64,
    ) -> Result<usize, ProjectionError> {
        let folded = self.stage_block(frames, seal, position)?;
        self.commit()?;
        Ok(folded)
    }

    /// Verifies and folds a block without committing: for rebuilds, which
    /// commit every few hundred megabytes so that keys touched again and
    /// again are written once.
    pub fn stage_block(
        &mut self,
        frames: &[u8],
        seal: Option<&Signature>,
        position: u64,
    ) -> Result<usize, ProjectionError> {
        match self.projection.stage_block(frames, seal, position, None) {
            Err(ProjectionError::Store(e)) => {
                self.discard()?;
                Err(ProjectionError::Store(e))
            }
            other => other,
        }
    }

    pub fn pending_bytes(&self) -> usize {
        self.projection.pending_bytes()
    }

    /// Writes what is staged, and where it leaves the projection, as one
    /// commit through the redo log: whole after a crash, or not at all.
    pub fn commit(&mut self) -> Result<(), ProjectionError> {
        if let Err(e) = self.projection.settle() {
            self.discard()?;
            return Err(e.into());
        }
        let keys = self.projection.store.pending_keys();
        if keys == 0 {
            return Ok(());
        }
        let writes = self.projection.store.take();
        let committed = self
            .redo
            .commit(self.projection.store.base(), writes, &self.gate);
        if let Err(e) = committed {
            self.discard()?;
            return Err(e.into());
        }
        Ok(())
    }

    /// Drops what is staged and returns to the last committed state: a
    /// commit that failed after its record was written is finished first.
    fn discard(&mut self) -> Result<(), ProjectionError> {
        let broken = self.projection.broken.take();
        let tree = self.projection.store.base().clone();
        self.redo.recover(&tree)?;
        self.projection = Projection::over(tree)?;
        self.projection.broken = broken;
        Ok(())
    }

    /// Makes every commit durable in sled and empties the redo log.
    pub fn flush(&mut self) -> Result<(), ProjectionError> {
        self.redo.empty(self.projection.store.base())?;
        Ok(())
    }

    /// Bytes of commits in the redo log that sled may not hold yet.
    pub fn unflushed_bytes(&self) -> u64 {
        self.redo.pending_bytes()
    }
}

#[cfg(test)]
impl Projector {
    /// What a process stopped while a commit goes in leaves behind: the
    /// commit's whole record in the redo log, and only the first `applied`
    /// of its writes in the tree.
    pub(crate) fn stop_mid_commit(mut self, applied: usize) -> Result<(), ProjectionError> {
        self.projection.settle()?;
        let writes = self.projection.store.take();
        self.redo.append(&writes)?;
        crate::redo::apply(
            self.projection.store.base(),
            writes.into_iter().take(applied).collect(),
        )?;
        Ok(())
    }
}
