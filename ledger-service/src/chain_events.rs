//! The chain's events as JSON lines, for an auditor's own tools (`ledger
//! events`): every event of a chain being verified, or those a [`Pick`]
//! names (by actor, kind and sequence), each written out only once the
//! batch of blocks that holds it has verified whole, seals included. A
//! line therefore never shows an event the verifier went on to refuse.

use std::io::Write;

use ledger_core::chain::Verified;
use serde::Serialize;

use crate::audit::AuditError;

/// Which events to write out. Empty lists pick every actor, every kind.
#[derive(Clone, Debug, Default)]
pub struct Pick {
    pub actors: Vec<String>,
    pub kinds: Vec<String>,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl Pick {
    pub fn picks(&self, v: &Verified) -> bool {
        let sequence = v.head.sequence;
        let record = &v.record;
        self.from.is_none_or(|from| sequence >= from)
            && self.to.is_none_or(|to| sequence <= to)
            && (self.actors.is_empty() || self.actors.iter().any(|a| a == record.actor.as_str()))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == record.event.kind()))
    }
}

/// One line: where the event sits on the chain, who recorded it when, and
/// the event as the chain carries it.
#[derive(Serialize)]
struct Line<'a> {
    sequence: u64,
    hash: String,
    kind: &'a str,
    recorded_at: String,
    actor: &'a str,
    submission: Option<&'a str>,
    event: &'a ledger_core::Event,
}

/// Lines of the batch being verified, held back until it has verified.
pub struct Tap {
    pick: Pick,
    out: Box<dyn Write + Send>,
    held: Vec<u8>,
    held_lines: u64,
    written: u64,
    /// The first failure to write (a closed pipe): nothing is written
    /// after it, and the run ends with it.
    failed: Option<std::io::Error>,
}

impl Tap {
    pub fn new(pick: Pick, out: Box<dyn Write + Send>) -> Tap {
        Tap {
            pick,
            out,
            held: Vec::new(),
            held_lines: 0,
            written: 0,
            failed: None,
        }
    }

    /// Holds the event's line back if it is picked.
    pub(crate) fn offer(&mut self, v: &Verified) {
        if !self.pick.picks(v) {
            return;
        }
        let record = &v.record;
        let line = Line {
            sequence: v.head.sequence,
            hash: v.head.hash.to_hex(),
            kind: record.event.kind(),
            recorded_at: record.recorded_at.to_string(),
            actor: record.actor.as_str(),
            submission: record.submission.as_ref().map(|k| k.as_str()),
            event: &record.event,
        };
        // Plain data: serde_json cannot fail on it.
        if serde_json::to_writer(&mut self.held, &line).is_ok() {
            self.held.push(b'\n');
            self.held_lines += 1;
        }
    }

    /// The batch verified: its lines go out.
    pub(crate) fn release(&mut self) {
        if self.failed.is_none() {
            match self
                .out
                .write_all(&self.held)
                .and_then(|()| self.out.flush())
            {
                Ok(()) => self.written += self.held_lines,
                Err(e) => self.failed = Some(e),
            }
        }
        self.drop_held();
    }

    /// The batch failed, or went out: its lines are no longer held.
    pub(crate) fn drop_held(&mut self) {
        self.held.clear();
        self.held_lines = 0;
    }

    /// How many lines went out, or why the writing stopped.
    pub fn finish(self) -> Result<u64, AuditError> {
        match self.failed {
            Some(e) => Err(AuditError::Output(e)),
            None => Ok(self.written),
        }
    }
}
