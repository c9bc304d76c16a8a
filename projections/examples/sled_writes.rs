//! How fast, and in how much memory, sled takes the keys of one large
//! commit: as one atomic batch, as batches of 10,000, or one by one (as the
//! projector's redo path writes them). Each way runs in a process of its
//! own, so that its peak memory is its own.
//!
//! cargo run --release -p projections --example sled_writes -- [keys] [value bytes]

use std::process::Command;
use std::time::Instant;

const WAYS: [&str; 3] = ["one batch", "batches of 10,000", "one by one"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let keys: u64 = args.get(1).map_or(Ok(1_600_000), |a| a.parse())?;
    let value_bytes: usize = args.get(2).map_or(Ok(95), |a| a.parse())?;
    match args.get(3) {
        Some(way) => write_one_way(keys, value_bytes, way),
        None => {
            println!(
                "{keys} sorted keys of 17 bytes, values of {value_bytes} bytes, into a fresh tree:"
            );
            for way in WAYS {
                let out = Command::new(std::env::current_exe()?)
                    .args([&keys.to_string(), &value_bytes.to_string(), way])
                    .output()?;
                print!("{}", String::from_utf8_lossy(&out.stdout));
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        }
    }
}

fn write_one_way(
    keys: u64,
    value_bytes: usize,
    way: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sled-writes-{}", std::process::id()));
    let db = sled::Config::new()
        .path(&dir)
        .cache_capacity(128 << 20)
        .open()?;
    let tree = db.open_tree("t")?;
    // Keys spread like the read models' (a table tag, then an id), sorted as
    // a commit hands them over.
    let mut all: Vec<Vec<u8>> = (0..keys)
        .map(|i| {
            let spread = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut key = vec![(spread >> 60) as u8];
            key.extend_from_slice(&spread.to_be_bytes());
            key.extend_from_slice(&i.to_be_bytes());
            key
        })
        .collect();
    all.sort_unstable();
    let value = vec![7u8; value_bytes];
    let started = Instant::now();
    match way {
        "one batch" => tree.apply_batch(batch(&all, &value))?,
        "batches of 10,000" => {
            for chunk in all.chunks(10_000) {
                tree.apply_batch(batch(chunk, &value))?;
            }
        }
        "one by one" => {
            for key in &all {
                tree.insert(key.as_slice(), value.as_slice())?;
            }
        }
        other => return Err(format!("no way called {other:?}").into()),
    }
    tree.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    drop(tree);
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    println!(
        "  {way:<18} {seconds:>6.1} s  {:>9.0} keys/s  peak {:>6} MiB resident",
        keys as f64 / seconds,
        peak_kib()? >> 10
    );
    Ok(())
}

fn batch(keys: &[Vec<u8>], value: &[u8]) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for key in keys {
        batch.insert(key.as_slice(), value);
    }
    batch
}

fn peak_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("VmHWM without a figure")?
        .parse()?)
}
