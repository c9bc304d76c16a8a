//! The chain's events as JSON lines, for an auditor's own tools (`ledger
//! events`): every event of a chain being verified, or those a [`Pick`]
//! names (by actor, kind, volunteer and sequence), each written out only once the
//! batch of blocks that holds it has verified whole, seals included. A
//! line therefore never shows an event the verifier went on to refuse.

use std::io::Write;

use ledger_core::chain::Verified;
use ledger_core::owners::{volunteer_of, Owners};
use ledger_core::values::VolunteerId;
use serde::Serialize;

use crate::audit::AuditError;

/// Which events to write out. Empty lists pick every actor, every kind,
/// every volunteer (and the events about none).
#[derive(Clone, Debug, Default)]
pub struct Pick {
    pub actors: Vec<String>,
    pub kinds: Vec<String>,
    /// Events about these volunteers: their registration, attendance,
    /// credits, points, redemptions, wishes and pairings.
    pub volunteers: Vec<String>,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl Pick {
    /// Whether the event, about `volunteer` if anyone, is picked.
    pub fn picks(&self, v: &Verified, volunteer: Option<&VolunteerId>) -> bool {
        let sequence = v.head.sequence;
        let record = &v.record;
        let listed =
            |names: &[String], name: &str| names.is_empty() || names.iter().any(|n| n == name);
        self.from.is_none_or(|from| sequence >= from)
            && self.to.is_none_or(|to| sequence <= to)
            && listed(&self.actors, record.actor.as_str())
            && listed(&self.kinds, record.event.kind())
            && (self.volunteers.is_empty()
                || volunteer.is_some_and(|v| listed(&self.volunteers, v.as_str())))
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
    /// The volunteer the event is about, if any.
    volunteer: Option<&'a str>,
    event: &'a ledger_core::Event,
}

/// Lines of the batch being verified, held back until it has verified.
pub struct Tap {
    pick: Pick,
    /// Who owns each entry so far, to tell whom an event is about (a
    /// check-out names only its session): a few bytes an entry.
    owners: Owners,
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
            owners: Owners::new(),
            out,
            held: Vec::new(),
            held_lines: 0,
            written: 0,
            failed: None,
        }
    }

    /// Holds the event's line back if it is picked. Every verified event
    /// comes here, in order, picked or not, so that the owners keep up.
    pub(crate) fn offer(&mut self, v: &Verified) {
        let record = &v.record;
        let volunteer = volunteer_of(&self.owners, &record.event);
        self.owners.record(&record.event);
        if !self.pick.picks(v, volunteer.as_ref()) {
            return;
        }
        let line = Line {
            sequence: v.head.sequence,
            hash: v.head.hash.to_hex(),
            kind: record.event.kind(),
            recorded_at: record.recorded_at.to_string(),
            actor: record.actor.as_str(),
            submission: record.submission.as_ref().map(|k| k.as_str()),
            volunteer: volunteer.as_ref().map(VolunteerId::as_str),
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
