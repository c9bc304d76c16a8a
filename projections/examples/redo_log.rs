//! What the redo log costs commits made one by one, as the read models
//! make them while they follow new blocks: the same commits as plain sled
//! batches (what sled alone would do), then through the log (a record
//! appended and synced before each batch, a flush now and then).
//!
//! cargo run --release -p projections --example redo_log -- [commits] [keys a commit] [value bytes]

use std::sync::RwLock;
use std::time::{Duration, Instant};

use projections::redo::{Redo, Writes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let commits: u64 = args.get(1).map_or(Ok(3000), |a| a.parse())?;
    let keys: u64 = args.get(2).map_or(Ok(60), |a| a.parse())?;
    let value_bytes: usize = args.get(3).map_or(Ok(150), |a| a.parse())?;
    println!("{commits} commits of {keys} keys, values of {value_bytes} bytes:");
    // Alternating, best of three: this machine's disk and neighbours vary.
    let (mut raw, mut logged) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        raw = raw.min(run(commits, keys, value_bytes, false)?);
        logged = logged.min(run(commits, keys, value_bytes, true)?);
    }
    let rate = |d: Duration| commits as f64 / d.as_secs_f64();
    println!("  sled batches alone   {:>8.0} commits/s", rate(raw));
    println!(
        "  through the redo log {:>8.0} commits/s ({:.0} % of sled alone, {:.2} ms more a commit)",
        rate(logged),
        100.0 * raw.as_secs_f64() / logged.as_secs_f64(),
        (logged.as_secs_f64() - raw.as_secs_f64()) * 1e3 / commits as f64
    );
    Ok(())
}

fn run(
    commits: u64,
    keys: u64,
    value_bytes: usize,
    through_log: bool,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("redo-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = sled::Config::new().path(&dir).open()?;
    let tree = db.open_tree("t")?;
    let mut redo = Redo::open(&dir)?;
    let gate = RwLock::new(());
    let started = Instant::now();
    for c in 0..commits {
        // A block's rows: some new, some rewritten (the hot rows).
        let writes: Writes = (0..keys)
            .map(|k| {
                let row = if k % 3 == 0 { k } else { c * keys + k };
                let key = [&[k as u8 % 7][..], &row.to_be_bytes()].concat();
                (key, Some(vec![(c + k) as u8; value_bytes]))
            })
            .collect();
        if through_log {
            redo.commit(&tree, writes, &gate)?;
        } else {
            let mut batch = sled::Batch::default();
            for (key, value) in writes {
                if let Some(value) = value {
                    batch.insert(key, value);
                }
            }
            tree.apply_batch(batch)?;
        }
    }
    let took = started.elapsed();
    drop(tree);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(took)
}
