//! The auditor's tools: export the chain to a bundle file, and verify the
//! chain — from the live stream or from a bundle — re-hashing and re-linking
//! every frame and checking every checkpoint against the Merkle tree and the
//! ledger's key. Nothing here trusts the service: only the bytes.
//!
//! The bundle file's layout is `bundle.rs`'s.

use std::io::{BufRead, BufReader};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::chain::{Fault, Head, Verifier};
use ledger_core::domain::Checkpoint;
use ledger_core::frame::FrameError;
use ledger_core::signing::PublicKey;
use ledger_core::values::Digest;
use ledger_core::values::Signature;
use ledger_core::ChainError;
use thiserror::Error;

use crate::bundle::{BundleError, BundleHeader, BundleReader, BundleWriter, Next};
use crate::chain_events::Tap;
use crate::store::{Block, ChainStore, StoreError};

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("{0}")]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the service at {url}: {why}")]
    Service { url: String, why: String },
    #[error("the proof log: {0}")]
    ProofLog(#[from] ledger_core::merkle::BlockError),
    /// The chain holds together under a key other than the one the auditor
    /// knows from outside it: another ledger, or this one rewritten.
    #[error("the chain is sealed with {}, not with the ledger key expected ({expected}): it is another ledger, or this one rewritten under another key", published_keys(.published))]
    UnknownKey {
        expected: PublicKey,
        published: Vec<PublicKey>,
    },
    /// A bundle's first line says other than its blocks do: the file was
    /// cut short at a block's end, or its header changed.
    #[error("the bundle's header says {field} {header}, its blocks give {blocks}")]
    HeaderDisagrees {
        field: &'static str,
        header: String,
        blocks: String,
    },
    /// The events picked could not be written out (`ledger events`).
    #[error("writing the events out: {0}")]
    Output(std::io::Error),
}

fn published_keys(keys: &[PublicKey]) -> String {
    match keys {
        [] => "no ledger key at all".into(),
        [key] => format!("ledger key {key}"),
        _ => format!(
            "ledger keys {}",
            keys.iter()
                .map(PublicKey::to_hex)
                .collect::<Vec<_>>()
                .join(", then ")
        ),
    }
}

/// A figure the service serves that the chain does not bear out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub volunteer: String,
    pub field: &'static str,
    pub chain: u64,
    pub service: u64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "projection mismatch: volunteer {} {} is {} by the chain, {} by the service",
            self.volunteer, self.field, self.chain, self.service
        )
    }
}

/// Recomputes every volunteer's hours and points from the chain (read and
/// verified anew) and compares them with what the service at `url` serves as
/// of the same head. Returns how many volunteers were compared, or the first
/// mismatch.
pub async fn compare_with_service(
    store: &ChainStore,
    url: &str,
    token: &str,
) -> Result<Result<usize, (u64, Mismatch)>, AuditError> {
    let mut follower = projections::Follower::new();
    let mut failure = None;
    store
        .replay(1, |block| {
            if failure.is_none() {
                failure = follower
                    .apply_block(&block.frames, block.seal.as_ref(), |_, _| {})
                    .err();
            }
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let head = follower.head().sequence;
    let service_err = |why: String| AuditError::Service {
        url: url.to_owned(),
        why,
    };
    let client = reqwest::Client::new();
    let mut volunteers: Vec<_> = follower.state().volunteers.values().collect();
    volunteers.sort_by(|a, b| a.volunteer.id.cmp(&b.volunteer.id));
    for v in &volunteers {
        let address = format!(
            "{}/api/v1/volunteers/{}/account?after={head}",
            url.trim_end_matches('/'),
            v.volunteer.id
        );
        let response = client
            .get(&address)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| service_err(e.to_string()))?;
        let status = response.status();
        let served: serde_json::Value = response
            .json()
            .await
            .map_err(|e| service_err(e.to_string()))?;
        if !status.is_success() {
            return Err(service_err(format!("{status}: {served}")));
        }
        if served["as_of"]["sequence"].as_u64() != Some(head) {
            return Err(service_err(format!(
                "it serves sequence {}, the chain read has {head}; compare on a quiet ledger",
                served["as_of"]["sequence"]
            )));
        }
        let a = &v.account;
        let figures = [
            ("confirmed_system_minutes", a.confirmed_system_minutes),
            ("confirmed_backfill_minutes", a.confirmed_backfill_minutes),
            ("pending_minutes", a.pending_minutes),
            ("points_earned", a.points_earned),
            ("points_redeemed", a.points_redeemed),
            ("balance", a.balance()),
        ];
        for (field, chain) in figures {
            let service = served[field].as_u64().unwrap_or(u64::MAX);
            if service != chain {
                let mismatch = Mismatch {
                    volunteer: v.volunteer.id.to_string(),
                    field,
                    chain,
                    service,
                };
                return Ok(Err((head, mismatch)));
            }
        }
    }
    Ok(Ok(volunteers.len()))
}

/// A head the auditor verified before (from an earlier run, or a signed
/// checkpoint): the chain must still reach it, with the same hash there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub sequence: u64,
    pub hash: Option<Digest>,
}

impl std::str::FromStr for Expected {
    type Err = String;
    fn from_str(s: &str) -> Result<Expected, String> {
        let (seq, hash) = match s.split_once(':') {
            Some((seq, hash)) => (seq, Some(hash)),
            None => (s, None),
        };
        let sequence = seq
            .parse()
            .map_err(|_| format!("{seq:?} is not a sequence"))?;
        let hash = hash
            .map(Digest::from_hex)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Expected { sequence, hash })
    }
}

/// Checks a verified chain against what the auditor knew before: a chain
/// that ends early is missing events (cut off), one with another hash at
/// that sequence was rewritten.
fn check_expected(head: Head, seen: Option<Digest>, expected: &Expected) -> Result<(), ChainError> {
    if head.sequence < expected.sequence {
        return Err(ChainError {
            sequence: head.sequence + 1,
            fault: Fault::Missing {
                last: head.sequence,
                expected: expected.sequence,
            },
        });
    }
    match (expected.hash, seen) {
        (Some(want), Some(got)) if want != got => Err(ChainError {
            sequence: expected.sequence,
            fault: Fault::Rewritten {
                expected: want,
                found: got,
            },
        }),
        _ => Ok(()),
    }
}

/// What a successful verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub head: Head,
    pub last_checkpoint: Option<Checkpoint>,
    pub checkpoints: u64,
    /// The ledger keys the chain published, the first and each it was
    /// rotated to, in order.
    pub keys: Vec<PublicKey>,
}

impl Summary {
    /// Checks that `key`, which the auditor knows from outside the chain
    /// (the federation publishes it), sealed the chain: the first key or
    /// one it was rotated to. Every key on the chain was endorsed by the
    /// one before, and every block after it is sealed with it, so a chain
    /// rewritten under a key of its own cannot name this one.
    pub fn check_key(&self, key: &PublicKey) -> Result<(), AuditError> {
        if self.keys.contains(key) {
            Ok(())
        } else {
            Err(AuditError::UnknownKey {
                expected: *key,
                published: self.keys.clone(),
            })
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verified {} events, head {} {}, {} checkpoints",
            self.head.sequence, self.head.sequence, self.head.hash, self.checkpoints
        )?;
        match &self.last_checkpoint {
            Some(c) => write!(f, ", last over {} events with root {}", c.tree_size, c.root),
            None => write!(f, ", none yet"),
        }?;
        write!(f, "; sealed with {}", published_keys(&self.keys))
    }
}

pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Checks blocks as they come, counting checkpoints. Blocks are gathered
/// into batches of about `batch_bytes` ([`BATCH_BYTES`] but under test)
/// and each batch is checked in one go, seals included: a single block is
/// too small to share between threads.
pub(crate) struct Audit {
    verifier: Verifier,
    checkpoints: u64,
    /// The sequence whose hash the auditor wants to compare, and that hash.
    watch: Option<u64>,
    seen: Option<Digest>,
    /// Blocks not checked yet: their frames back to back, and each one's
    /// length and seal.
    frames: Vec<u8>,
    blocks: Vec<(usize, Option<Signature>)>,
    batch_bytes: usize,
    /// The ledger keys published so far, in order.
    keys: Vec<PublicKey>,
    /// Where the events picked go once their batch has verified.
    tap: Option<Tap>,
}

const BATCH_BYTES: usize = 8 << 20;

impl Audit {
    pub(crate) fn new(watch: Option<u64>) -> Audit {
        Audit {
            verifier: Verifier::new(),
            checkpoints: 0,
            watch,
            seen: None,
            // A batch and a block of common size, so the buffer is not
            // grown (copied, and its new pages cleared) on the way there.
            frames: Vec::with_capacity(BATCH_BYTES + (1 << 20)),
            blocks: Vec::new(),
            batch_bytes: BATCH_BYTES,
            keys: Vec::new(),
            tap: None,
        }
    }

    /// An audit that checks blocks only when [`Audit::check_pending`] is
    /// called: for blocks that must be checked before they go elsewhere.
    pub(crate) fn checking_when_asked() -> Audit {
        Audit {
            batch_bytes: usize::MAX,
            ..Audit::new(None)
        }
    }

    /// A whole block: its frames, then its seal. It may be checked later,
    /// with the blocks after it; [`Audit::check_pending`] checks the rest.
    pub(crate) fn push_block(
        &mut self,
        frames: &[u8],
        seal: Option<&Signature>,
    ) -> Result<(), ChainError> {
        self.frames.extend_from_slice(frames);
        self.blocks.push((frames.len(), seal.copied()));
        self.check_if_full()
    }

    /// As [`Audit::push_block`] without checking, for a block of `len`
    /// bytes read from a bundle straight after the frames pending (a
    /// bundle's blocks are not copied once more). Returns how many bytes
    /// came; a block cut short is not kept.
    fn read_block<R: BufRead>(
        &mut self,
        bundle: &mut BundleReader<R>,
        len: usize,
        seal: Option<Signature>,
    ) -> Result<usize, BundleError> {
        let start = self.frames.len();
        let got = bundle.frames(len, &mut self.frames)?;
        if got < len {
            self.frames.truncate(start);
        } else {
            self.blocks.push((len, seal));
        }
        Ok(got)
    }

    /// A bundle that ends inside a block: named after every block before
    /// it is checked, as a fault in those comes first.
    fn cut_short(&mut self, needed: usize, available: usize) -> AuditError {
        if let Err(e) = self.check_pending() {
            return e.into();
        }
        ChainError {
            sequence: self.verifier.head().sequence + 1,
            fault: Fault::Frame(FrameError::Truncated { needed, available }),
        }
        .into()
    }

    /// Checks the blocks pending once they make a batch.
    fn check_if_full(&mut self) -> Result<(), ChainError> {
        if self.frames.len() >= self.batch_bytes {
            self.check_pending()?;
        }
        Ok(())
    }

    /// Checks every block pushed so far.
    pub(crate) fn check_pending(&mut self) -> Result<(), ChainError> {
        let Audit {
            verifier,
            checkpoints,
            watch,
            seen,
            frames,
            blocks,
            batch_bytes: _,
            keys,
            tap,
        } = self;
        let checked = verifier.push_sealed(frames, blocks, workers(), |verified| {
            match &verified.record.event {
                ledger_core::Event::CheckpointRecorded(_) => *checkpoints += 1,
                ledger_core::Event::LedgerKeyPublished(e) => keys.push(e.public_key),
                _ => {}
            }
            if *watch == Some(verified.head.sequence) {
                *seen = Some(verified.head.hash);
            }
            if let Some(tap) = tap {
                tap.offer(verified);
            }
        });
        if let Some(tap) = tap {
            match &checked {
                Ok(()) => tap.release(),
                Err(_) => tap.drop_held(),
            }
        }
        frames.clear();
        blocks.clear();
        checked
    }

    fn finish(&mut self, expected: Option<&Expected>) -> Result<Summary, AuditError> {
        self.check_pending()?;
        if let Some(expected) = expected {
            check_expected(self.verifier.head(), self.seen, expected)?;
        }
        Ok(self.summary())
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            head: self.verifier.head(),
            last_checkpoint: self
                .verifier
                .audit()
                .and_then(|a| a.last_checkpoint.clone()),
            checkpoints: self.checkpoints,
            keys: self.keys.clone(),
        }
    }
}

/// Verifies the live stream from its first block to its last.
pub async fn verify_stream(
    store: &ChainStore,
    expected: Option<&Expected>,
    show_progress: bool,
) -> Result<Summary, AuditError> {
    let (summary, _) = verify_stream_tapped(store, expected, show_progress, None).await?;
    Ok(summary)
}

/// [`verify_stream`], handing every verified event to `tap`, which comes
/// back with the summary.
pub async fn verify_stream_tapped(
    store: &ChainStore,
    expected: Option<&Expected>,
    show_progress: bool,
    tap: Option<Tap>,
) -> Result<(Summary, Option<Tap>), AuditError> {
    let last = store.last_sequence().await?;
    let bar = if show_progress {
        progress(last, "blocks")
    } else {
        ProgressBar::hidden()
    };
    // Blocks are checked on a thread of their own while the next ones are
    // read, so that reading and checking overlap. After a fault the thread
    // takes no more, and the rest are read and dropped.
    let (blocks, incoming) = std::sync::mpsc::sync_channel::<Block>(BLOCKS_AHEAD);
    let watch = expected.map(|e| e.sequence);
    let checked = bar.clone();
    let checker = std::thread::spawn(move || -> Result<Audit, ChainError> {
        let mut audit = Audit::new(watch);
        audit.tap = tap;
        for block in incoming {
            audit.push_block(&block.frames, block.seal.as_ref())?;
            checked.inc(1);
        }
        Ok(audit)
    });
    let read = store
        .replay(1, |block| {
            // A closed channel: the checker stopped at a fault, which it
            // returns below.
            let _ = blocks.send(block);
            Ok(())
        })
        .await;
    drop(blocks);
    let checked = checker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    bar.finish_and_clear();
    let mut audit = checked?;
    read?;
    let summary = audit.finish(expected)?;
    Ok((summary, audit.tap))
}

/// Blocks read ahead of the one being checked, at most.
const BLOCKS_AHEAD: usize = 64;

/// Writes the whole chain to a bundle file, verifying it on the way: a
/// chain that does not verify is not exported.
pub async fn export(store: &ChainStore, path: &Path) -> Result<BundleHeader, AuditError> {
    let mut bundle = BundleWriter::create(path)?;
    let mut blocks = 0u64;
    let mut audit = Audit::new(None);
    let mut failure: Option<AuditError> = None;
    store
        .replay(1, |block| {
            if failure.is_none() {
                failure = audit
                    .push_block(&block.frames, block.seal.as_ref())
                    .map_err(AuditError::from)
                    .and_then(|()| Ok(bundle.block(block.seal.as_ref(), &block.frames)?))
                    .err();
            }
            blocks += 1;
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e);
    }
    audit.check_pending()?;
    let summary = audit.summary();
    let header = BundleHeader {
        format: crate::bundle::BUNDLE_FORMAT.into(),
        version: 1,
        shard: store.shard().id().to_string(),
        stream: store.shard().stream(),
        blocks,
        events: summary.head.sequence,
        head_hash: summary.head.hash.to_hex(),
        exported_at: chrono::Utc::now().to_rfc3339(),
    };
    bundle.finish(&header)?;
    Ok(header)
}

/// Verifies a bundle file, reading it frame by frame.
pub fn verify_bundle(
    path: &Path,
    expected: Option<&Expected>,
    show_progress: bool,
) -> Result<Summary, AuditError> {
    let (_, summary) = verify_bundle_file(path, expected, show_progress)?;
    Ok(summary)
}

/// [`verify_bundle`], giving the bundle's first line too.
pub fn verify_bundle_file(
    path: &Path,
    expected: Option<&Expected>,
    show_progress: bool,
) -> Result<(BundleHeader, Summary), AuditError> {
    let name = path.display().to_string();
    // Smaller than a block of any size: a read that finds the buffer empty
    // and asks for at least this much goes straight into the frames, not
    // through the buffer first.
    let reader = BufReader::with_capacity(64 << 10, open_bundle(path)?);
    let (header, summary, _) =
        verify_bundle_in_batches(reader, &name, expected, show_progress, BATCH_BYTES, None)?;
    Ok((header, summary))
}

/// [`verify_bundle`], handing every verified event to `tap`, which comes
/// back with the summary.
pub fn verify_bundle_tapped(
    path: &Path,
    expected: Option<&Expected>,
    show_progress: bool,
    tap: Option<Tap>,
) -> Result<(Summary, Option<Tap>), AuditError> {
    let name = path.display().to_string();
    let reader = BufReader::with_capacity(64 << 10, open_bundle(path)?);
    let (_, summary, tap) =
        verify_bundle_in_batches(reader, &name, expected, show_progress, BATCH_BYTES, tap)?;
    Ok((summary, tap))
}

pub fn open_bundle(path: &Path) -> Result<std::fs::File, BundleError> {
    std::fs::File::open(path).map_err(|source| BundleError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Verifies a bundle from any reader (`name` says which in errors).
pub fn verify_bundle_from(
    reader: impl BufRead,
    name: &str,
    expected: Option<&Expected>,
    show_progress: bool,
) -> Result<Summary, AuditError> {
    let (_, summary, _) =
        verify_bundle_in_batches(reader, name, expected, show_progress, BATCH_BYTES, None)?;
    Ok(summary)
}

/// [`verify_bundle_from`], checking blocks in batches of about
/// `batch_bytes` (tests make them small to reach many batches).
fn verify_bundle_in_batches(
    reader: impl BufRead,
    name: &str,
    expected: Option<&Expected>,
    show_progress: bool,
    batch_bytes: usize,
    tap: Option<Tap>,
) -> Result<(BundleHeader, Summary, Option<Tap>), AuditError> {
    let (header, mut bundle) = BundleReader::open(reader, name)?;
    let bar = if show_progress {
        progress(header.events, "events")
    } else {
        ProgressBar::hidden()
    };
    let mut audit = Audit::new(expected.map(|e| e.sequence));
    audit.batch_bytes = batch_bytes;
    audit.tap = tap;
    let mut blocks = 0u64;
    loop {
        let (seal, len) = match bundle.next_record()? {
            Next::End => break,
            Next::Cut { needed, available } => return Err(audit.cut_short(needed, available)),
            Next::Block { seal, len } => (seal, len),
        };
        let before = audit.verifier.head().sequence;
        let got = audit.read_block(&mut bundle, len, seal)?;
        if got < len {
            return Err(audit.cut_short(len, got));
        }
        blocks += 1;
        audit.check_if_full()?;
        bar.inc(audit.verifier.head().sequence - before);
    }
    bar.finish_and_clear();
    let summary = audit.finish(expected)?;
    check_header(&header, &summary, blocks)?;
    Ok((header, summary, audit.tap))
}

/// Compares a bundle's first line with what its blocks gave. The line is
/// not signed, so this proves nothing alone; it names a bundle cut short
/// at a block's end, which links and seals cannot see without
/// `--expect-head`.
fn check_header(header: &BundleHeader, summary: &Summary, blocks: u64) -> Result<(), AuditError> {
    let disagrees = |field, header: String, blocks: String| {
        Err(AuditError::HeaderDisagrees {
            field,
            header,
            blocks,
        })
    };
    let head_hash = summary.head.hash.to_hex();
    if header.events != summary.head.sequence {
        return disagrees(
            "events",
            header.events.to_string(),
            summary.head.sequence.to_string(),
        );
    }
    if header.blocks != blocks {
        return disagrees("blocks", header.blocks.to_string(), blocks.to_string());
    }
    if header.head_hash != head_hash {
        return disagrees("head_hash", header.head_hash.clone(), head_hash);
    }
    Ok(())
}

/// Threads that hash and decode frames: every core.
/// `LEDGER_VERIFY_THREADS` sets another number (1: everything on the
/// calling thread), to compare or to leave cores to other work.
pub fn workers() -> usize {
    std::env::var("LEDGER_VERIFY_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Builds the proof log from the live stream into `log` (empty), verifying
/// every block (links, hashes, checkpoints, seals) as it goes: proofs come
/// from the bytes, not from the service.
pub async fn proof_log(
    store: &ChainStore,
    mut log: crate::proofs::ProofLog,
) -> Result<crate::proofs::ProofLog, AuditError> {
    let mut follower = projections::Follower::new();
    let mut failure = None;
    let mut unrecorded = None;
    store
        .replay(1, |block| {
            if failure.is_none() {
                failure = follower
                    .apply_block(&block.frames, block.seal.as_ref(), |v, _| {
                        if unrecorded.is_none() {
                            unrecorded = log.record(v).err();
                        }
                    })
                    .err();
            }
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    match unrecorded {
        Some(e) => Err(e.into()),
        None => Ok(log),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;

    use ledger_core::chain::Chain;
    use ledger_core::testing::world;
    use ledger_core::time::Timestamp;
    use ledger_core::values::ActorId;
    use ledger_core::EventRecord;

    use super::*;

    /// The test world's events as a bundle of three unsealed blocks, and
    /// where each block's record starts in it with its first sequence.
    pub(crate) fn bundle() -> (Vec<u8>, Vec<(usize, u64)>) {
        let w = world();
        let mut chain = Chain::new();
        let mut blocks = vec![Vec::new(); 3];
        let mut firsts = Vec::new();
        for (i, event) in w.events.iter().enumerate() {
            let block = i * blocks.len() / w.events.len();
            if firsts.len() == block {
                firsts.push(i as u64 + 1);
            }
            let record = EventRecord {
                recorded_at: Timestamp(1_772_700_000_000_000 + i as i64),
                actor: ActorId::new("admin-city").expect("actor"),
                submission: None,
                event: event.clone(),
            };
            chain.append(&record, &mut blocks[block]).expect("frame");
        }
        let header = BundleHeader {
            format: crate::bundle::BUNDLE_FORMAT.into(),
            version: 1,
            shard: "lyg".into(),
            stream: "LEDGER_lyg".into(),
            blocks: blocks.len() as u64,
            events: w.events.len() as u64,
            head_hash: chain.head().hash.to_hex(),
            exported_at: "2026-03-05T12:00:00+08:00".into(),
        };
        let mut out = serde_json::to_vec(&header).expect("header");
        out.push(b'\n');
        let mut starts = Vec::new();
        for (frames, first) in blocks.iter().zip(firsts) {
            starts.push((out.len(), first));
            crate::bundle::bundle_record(None, frames, &mut out);
        }
        (out, starts)
    }

    fn verify(bytes: &[u8]) -> Result<Summary, AuditError> {
        verify_bundle_from(Cursor::new(bytes), "test", None, false)
    }

    /// With a batch for every block.
    fn verify_block_by_block(bytes: &[u8]) -> Result<Summary, AuditError> {
        verify_bundle_in_batches(Cursor::new(bytes), "test", None, false, 1, None)
            .map(|(_, s, _)| s)
    }

    #[test]
    fn a_bundle_cut_anywhere_inside_a_block_is_named_at_that_block() {
        let (bytes, starts) = bundle();
        let whole = verify(&bytes).expect("the whole bundle verifies");
        assert_eq!(whole.head.sequence, world().events.len() as u64);
        assert_eq!(verify_block_by_block(&bytes).expect("verifies"), whole);
        for (k, &(start, first)) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map_or(bytes.len(), |&(next, _)| next);
            // Inside the record's head, at its first frame, inside its
            // frames, one byte short of its end.
            for cut in [
                start + 1,
                start + 69,
                start + 70,
                (start + end) / 2,
                end - 1,
            ] {
                for verified in [verify(&bytes[..cut]), verify_block_by_block(&bytes[..cut])] {
                    match verified {
                        Err(AuditError::Chain(ChainError {
                            sequence,
                            fault: Fault::Frame(FrameError::Truncated { .. }),
                        })) => assert_eq!(sequence, first, "cut at byte {cut}"),
                        other => panic!("cut at byte {cut}: {other:?}"),
                    }
                }
            }
        }
        // Cut between blocks: the blocks before verify, and the header
        // names what is missing.
        let (second, first_of_second) = starts[1];
        for verified in [
            verify(&bytes[..second]),
            verify_block_by_block(&bytes[..second]),
        ] {
            match verified {
                Err(AuditError::HeaderDisagrees {
                    field: "events",
                    header,
                    blocks,
                }) => {
                    assert_eq!(header, whole.head.sequence.to_string());
                    assert_eq!(blocks, (first_of_second - 1).to_string());
                }
                other => panic!("cut after the first block: {other:?}"),
            }
        }
    }

    /// The bundle with its first line rewritten by `change`.
    fn with_header(bytes: &[u8], change: impl FnOnce(&mut BundleHeader)) -> Vec<u8> {
        let end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .expect("a first line");
        let mut header: BundleHeader = serde_json::from_slice(&bytes[..end]).expect("header");
        change(&mut header);
        let mut out = serde_json::to_vec(&header).expect("header");
        out.extend_from_slice(&bytes[end..]);
        out
    }

    #[test]
    fn a_header_that_disagrees_with_the_blocks_is_named_by_its_field() {
        let (bytes, _) = bundle();
        let whole = verify(&bytes).expect("verifies");
        type Change = fn(&mut BundleHeader);
        let changes: [(&str, Change); 3] = [
            ("events", |h| h.events += 1),
            ("blocks", |h| h.blocks -= 1),
            ("head_hash", |h| h.head_hash = "00".repeat(32)),
        ];
        for (name, change) in changes {
            match verify(&with_header(&bytes, change)) {
                Err(AuditError::HeaderDisagrees { field, blocks, .. }) => {
                    assert_eq!(field, name);
                    if name == "head_hash" {
                        assert_eq!(blocks, whole.head.hash.to_hex());
                    }
                }
                other => panic!("{name} changed: {other:?}"),
            }
        }
        // What the header does not vouch for may change.
        let exported = with_header(&bytes, |h| h.exported_at = "2027-01-01T00:00:00Z".into());
        assert_eq!(verify(&exported).expect("verifies"), whole);
    }

    #[test]
    fn a_head_seen_before_must_still_be_reached_with_the_same_hash() {
        let (bytes, _) = bundle();
        let whole = verify(&bytes).expect("verifies");
        let at = |sequence, hash| Expected { sequence, hash };
        let check = |expected: Expected| {
            verify_bundle_from(Cursor::new(&bytes), "test", Some(&expected), false)
        };
        let head = whole.head;
        assert_eq!(
            check(at(head.sequence, Some(head.hash))).expect("the same head"),
            whole
        );
        match check(at(head.sequence, Some(Digest([7; 32])))) {
            Err(AuditError::Chain(ChainError {
                sequence,
                fault: Fault::Rewritten { expected, found },
            })) => {
                assert_eq!(sequence, head.sequence);
                assert_eq!((expected, found), (Digest([7; 32]), head.hash));
            }
            other => panic!("another hash seen before: {other:?}"),
        }
        match check(at(head.sequence + 3, None)) {
            Err(AuditError::Chain(ChainError {
                sequence,
                fault: Fault::Missing { last, expected },
            })) => {
                assert_eq!(
                    (sequence, last, expected),
                    (head.sequence + 1, head.sequence, head.sequence + 3)
                );
            }
            other => panic!("a head further on seen before: {other:?}"),
        }
    }

    #[test]
    fn only_a_key_the_chain_was_sealed_with_is_taken() {
        let key = |b: u8| ledger_core::signing::LedgerSigner::from_secret(&[b; 32]).public_key();
        let (first, rotated, stranger) = (key(3), key(4), key(5));
        let summary = Summary {
            head: Head::EMPTY,
            last_checkpoint: None,
            checkpoints: 0,
            keys: vec![first, rotated],
        };
        assert!(summary.check_key(&first).is_ok());
        assert!(summary.check_key(&rotated).is_ok());
        match summary.check_key(&stranger) {
            Err(e @ AuditError::UnknownKey { .. }) => {
                let said = e.to_string();
                assert!(said.contains(&stranger.to_hex()), "{said}");
                assert!(said.contains(&format!("{first}, then {rotated}")), "{said}");
            }
            other => panic!("{other:?}"),
        }
        let unsealed = Summary {
            keys: Vec::new(),
            ..summary
        };
        assert!(matches!(
            unsealed.check_key(&first),
            Err(AuditError::UnknownKey { published, .. }) if published.is_empty()
        ));
    }

    #[test]
    fn a_changed_block_is_named_before_a_cut_after_it_in_any_batches() {
        let (mut bytes, starts) = bundle();
        let (_, first_of_second) = starts[1];
        let (third, first_of_third) = starts[2];
        // A byte of the second block's last frame, then the bundle cut
        // inside the third.
        bytes[third - 1] ^= 0x01;
        bytes.truncate(third + 80);
        for verified in [verify(&bytes), verify_block_by_block(&bytes)] {
            match verified {
                Err(AuditError::Chain(ChainError { sequence, fault })) => {
                    assert!(
                        (first_of_second..first_of_third).contains(&sequence),
                        "named at {sequence}: {fault:?}"
                    );
                    assert!(!matches!(fault, Fault::Frame(FrameError::Truncated { .. })));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// What a tap writes, shared with the test.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The sequences of the lines written out.
    fn written(out: &Shared) -> Vec<u64> {
        let bytes = out.0.lock().expect("not poisoned").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| {
                let line: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                line["sequence"].as_u64().expect("a sequence")
            })
            .collect()
    }

    /// Checked block by block, a bundle's events come out as their blocks
    /// verify; a changed byte in the second block lets the first block's
    /// events out and none after.
    #[test]
    fn a_tap_writes_out_the_events_of_blocks_verified_and_no_others() {
        use crate::chain_events::{Pick, Tap};
        let (bytes, starts) = bundle();
        let tapped = |bytes: &[u8], pick: Pick| {
            let out = Shared::default();
            let tap = Tap::new(pick, Box::new(out.clone()));
            let result =
                verify_bundle_in_batches(Cursor::new(bytes), "test", None, false, 1, Some(tap));
            let written_out = result.map(|(_, _, tap)| tap.map(|t| t.finish()));
            (written_out, written(&out))
        };
        let events = world().events.len() as u64;
        let (result, all) = tapped(&bytes, Pick::default());
        assert!(
            matches!(result, Ok(Some(Ok(n))) if n == events),
            "{result:?}"
        );
        assert_eq!(all, (1..=events).collect::<Vec<_>>());

        let kind = world().events[3].kind().to_owned();
        let pick = Pick {
            kinds: vec![kind.clone()],
            from: Some(2),
            ..Pick::default()
        };
        let (_, some) = tapped(&bytes, pick);
        let expected: Vec<u64> = (2..=events)
            .filter(|&s| world().events[s as usize - 1].kind() == kind)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(some, expected);

        let (second, second_first) = starts[1];
        let mut tampered = bytes.clone();
        tampered[second + 80] ^= 0x40;
        let (result, before) = tapped(&tampered, Pick::default());
        assert!(matches!(result, Err(AuditError::Chain(_))), "{result:?}");
        assert_eq!(before, (1..second_first).collect::<Vec<_>>());
    }
}
