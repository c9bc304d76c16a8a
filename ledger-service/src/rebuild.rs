//! Rebuilding an instance's read models from the stream: into a fresh
//! directory beside the old one, then compared with the old one (brought
//! up to the same head block by block) over every row, and swapped in.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use projections::query;
use projections::Projector;

use crate::read_models::Tuning;
use crate::store::ChainStore;

pub struct Rebuilt {
    pub events: u64,
    pub blocks: u64,
    pub seconds: f64,
    /// Rows that differ between the incrementally built read models (the
    /// first) and the rebuild (the second); `None` when there were none to
    /// compare with.
    pub differences: Option<query::Differences>,
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Rebuilds the read models in `dir` from the whole stream. With `check`,
/// only compares and leaves `dir` as it was.
pub async fn rebuild(
    store: &ChainStore,
    dir: &Path,
    check: bool,
    quiet: bool,
) -> anyhow::Result<Rebuilt> {
    let fresh_dir = sibling(dir, ".rebuild");
    if fresh_dir.exists() {
        std::fs::remove_dir_all(&fresh_dir)
            .with_context(|| format!("removing {}", fresh_dir.display()))?;
    }
    // Open the old one first: if a running service holds it, stop here.
    let mut old = if dir.exists() {
        Some(Projector::open(dir)?)
    } else {
        None
    };
    let mut fresh = Projector::open(&fresh_dir)?;
    let last = store.last_sequence().await?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(last)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "rebuilding {bar:40} {pos}/{len} blocks, {msg} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut failure = None;
    let mut blocks = 0;
    store
        .replay(1, |block| {
            if failure.is_some() {
                return Ok(());
            }
            let staged = fresh
                .stage_block(&block.frames, block.seal.as_ref(), block.stream_sequence)
                .and_then(|_| {
                    if fresh.pending_bytes() > Tuning::default().batch_bytes {
                        fresh.commit()?;
                    }
                    Ok(())
                });
            failure = staged.err();
            blocks += 1;
            bar.set_message(format!("{} events", fresh.head().sequence));
            bar.inc(1);
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    fresh.commit()?;
    fresh.flush()?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let events = fresh.head().sequence;

    let differences = match &mut old {
        None => None,
        Some(old) => {
            let mut failure = None;
            store
                .replay(old.position() + 1, |block| {
                    if failure.is_none() {
                        failure = old
                            .apply_block(&block.frames, block.seal.as_ref(), block.stream_sequence)
                            .err();
                    }
                    Ok(())
                })
                .await?;
            if let Some(e) = failure {
                return Err(e.into());
            }
            let a = old.reader().read(|tree, _| tree.clone())?;
            let b = fresh.reader().read(|tree, _| tree.clone())?;
            Some(query::differences(&a, &b)?)
        }
    };
    drop(old);
    drop(fresh);
    if check {
        std::fs::remove_dir_all(&fresh_dir).ok();
    } else {
        let retired = sibling(dir, ".old");
        if dir.exists() {
            std::fs::rename(dir, &retired)
                .with_context(|| format!("moving {} aside", dir.display()))?;
        }
        std::fs::rename(&fresh_dir, dir)
            .with_context(|| format!("moving the rebuild into {}", dir.display()))?;
        std::fs::remove_dir_all(&retired).ok();
    }
    Ok(Rebuilt {
        events,
        blocks,
        seconds,
        differences,
    })
}
