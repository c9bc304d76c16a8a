//! Block seals checked many at a time, off the thread that checks frames.
//!
//! Every block after the ledger's key carries a seal, and a chain written
//! under light load is mostly blocks of one or two events: checked one by
//! one, the seals cost an auditor far more than the frames. So a verifier
//! checking many blocks in one go queues their seals and checks them in
//! batches, and only where a batch fails one by one, to name the first
//! bad seal exactly as checking each in turn would.
//!
//! With more than one worker, full batches are checked on as many threads
//! of their own, while the calling thread goes on with the frames. Where
//! a chain is mostly blocks of one event the seals are nearly all the
//! work, and checked on the thread that checks frames in order, they left
//! the threads preparing frames idle, waiting on it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::{bad_seal, ChainError};
use crate::signing::{self, PublicKey};
use crate::values::Signature;

/// Seals checked together: enough for the batch to pay, few enough that a
/// fault is not long in coming. (Smaller under test, so that the chains
/// the tests seal spread over many batches and threads.)
const BATCH: usize = if cfg!(test) { 16 } else { 256 };

/// Full batches waiting for the seal threads; past this the frames wait.
const BATCHES_AHEAD: usize = 4;

/// A block's seal, not yet checked.
struct Queued {
    /// The block's first sequence, where a bad seal is named.
    first: u64,
    key: PublicKey,
    message: Vec<u8>,
    seal: Signature,
}

/// The threads full batches go to. Each batch is numbered in order; a
/// thread skips a batch only when one numbered before it has failed, so
/// the first failure by number is the first bad seal.
struct Checker {
    batches: SyncSender<(usize, Vec<Queued>)>,
    sent: usize,
    /// The first batch, by number, found to hold a bad seal, and that seal.
    failed: Arc<Mutex<Option<(usize, ChainError)>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Checker {
    fn spawn(threads: usize) -> Checker {
        let (batches, incoming) = sync_channel::<(usize, Vec<Queued>)>(BATCHES_AHEAD);
        let incoming = Arc::new(Mutex::new(incoming));
        let failed = Arc::new(Mutex::new(None));
        let threads = (0..threads)
            .map(|_| {
                let incoming = Arc::clone(&incoming);
                let failed = Arc::clone(&failed);
                std::thread::spawn(move || check_batches(&incoming, &failed))
            })
            .collect();
        Checker {
            batches,
            sent: 0,
            failed,
            threads,
        }
    }

    fn has_failed(&self) -> bool {
        lock(&self.failed).is_some()
    }

    /// Hands a full batch on; false if the threads are gone.
    fn send(&mut self, batch: Vec<Queued>) -> bool {
        let number = self.sent;
        self.sent += 1;
        self.batches.send((number, batch)).is_ok()
    }

    /// Waits for every batch given to be checked.
    fn finish(self) -> Result<(), ChainError> {
        drop(self.batches);
        for thread in self.threads {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        match lock(&self.failed).take() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// One seal thread: takes batches until there are none, keeping the first
/// failure by number.
fn check_batches(
    incoming: &Mutex<Receiver<(usize, Vec<Queued>)>>,
    failed: &Mutex<Option<(usize, ChainError)>>,
) {
    loop {
        let next = lock(incoming).recv();
        let Ok((number, batch)) = next else {
            return;
        };
        if matches!(*lock(failed), Some((first, _)) if first < number) {
            continue;
        }
        if let Err(e) = check_batch(&batch) {
            let mut failed = lock(failed);
            if !matches!(*failed, Some((first, _)) if first < number) {
                *failed = Some((number, e));
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A seal thread that panicked left nothing half written that matters:
    // the panic itself reaches the caller when the threads are joined.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) struct Seals {
    queued: Vec<Queued>,
    /// Threads full batches may go to; none: checked on the calling thread.
    threads: usize,
    checker: Option<Checker>,
}

impl Seals {
    /// Seals for a verifier with `workers` threads: with one, every batch
    /// is checked on the calling thread.
    pub fn new(workers: usize) -> Seals {
        Seals {
            queued: Vec::new(),
            threads: if workers > 1 { workers } else { 0 },
            checker: None,
        }
    }

    /// Queues the seal of the block starting at `first`, checking the queue
    /// when it is full. An error is the first bad seal queued so far.
    pub fn push(
        &mut self,
        first: u64,
        key: PublicKey,
        message: Vec<u8>,
        seal: Signature,
    ) -> Result<(), ChainError> {
        self.queued.push(Queued {
            first,
            key,
            message,
            seal,
        });
        if self.queued.len() < BATCH {
            return Ok(());
        }
        if self.threads == 0 {
            return check_batch(&std::mem::take(&mut self.queued));
        }
        let threads = self.threads;
        let checker = self.checker.get_or_insert_with(|| Checker::spawn(threads));
        if checker.has_failed() {
            return self.check();
        }
        let batch = std::mem::replace(&mut self.queued, Vec::with_capacity(BATCH));
        if !checker.send(batch) {
            // The threads are gone, which only a panic does: `check`
            // passes it on.
            return self.check();
        }
        Ok(())
    }

    /// Checks every seal queued; the first bad one in order is the fault.
    pub fn check(&mut self) -> Result<(), ChainError> {
        let queued = std::mem::take(&mut self.queued);
        if let Some(checker) = self.checker.take() {
            checker.finish()?;
        }
        check_batch(&queued)
    }
}

/// Checks a batch at once; where it fails, one by one, to name the first
/// bad seal.
fn check_batch(queued: &[Queued]) -> Result<(), ChainError> {
    if queued.is_empty() {
        return Ok(());
    }
    let keys: Vec<PublicKey> = queued.iter().map(|q| q.key).collect();
    let messages: Vec<&[u8]> = queued.iter().map(|q| q.message.as_slice()).collect();
    let seals: Vec<Signature> = queued.iter().map(|q| q.seal).collect();
    if signing::verify_all(&keys, &messages, &seals).is_ok() {
        return Ok(());
    }
    match queued
        .iter()
        .find(|q| signing::verify(&q.key, &q.message, &q.seal).is_err())
    {
        Some(bad) => Err(bad_seal(bad.first)),
        None => Ok(()),
    }
}
