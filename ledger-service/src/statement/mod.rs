//! A volunteer's statement (志愿服务记录证明): the volunteer's events in a
//! period, each as its stored frame with an inclusion proof against a signed
//! checkpoint, the totals they add up to, and the certificate fields the
//! regulation names; the whole body signed by the ledger's key. Anyone can
//! check it offline with the ledger's public key and nothing else; removing,
//! adding or altering an event breaks it.

use std::collections::HashMap;

use ledger_core::domain::Checkpoint;
use ledger_core::event::{Event, EventRecord};
use ledger_core::frame::parse_frame;
use ledger_core::merkle::{self, InclusionProof};
use ledger_core::signing::{self, checkpoint_message, statement_message, PublicKey};
use ledger_core::time::{Day, Timestamp};
use ledger_core::values::{Digest, LedgerId, Signature, VolunteerId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

mod font;
mod page;
mod pdf;
mod printed;

pub use font::{FontError, StatementFont};
pub use page::render_html;
pub use pdf::{render_pdf, PdfError};

pub const STATEMENT_FORMAT: &str = "union-volunteer-ledger statement";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatementError {
    #[error("the statement's signature does not verify with the given key")]
    BadSignature,
    #[error("the checkpoint's signature does not verify with the given key")]
    BadCheckpoint,
    #[error("event {sequence}: {what}")]
    BadEvent { sequence: u64, what: String },
    #[error("the totals do not add up: stated {stated:?}, the events give {computed:?}")]
    Totals { stated: Totals, computed: Totals },
    #[error("not a statement: {0}")]
    Format(String),
}

/// What the listed events add up to (net of reversals among them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub confirmed_minutes: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
}

/// The certificate fields of the 2015 guidance; personal ones only for
/// roles that may see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub name: Option<String>,
    pub id_type: Option<String>,
    pub id_number: Option<String>,
    pub volunteer_number: String,
    pub hours: String,
    pub issuing_organisation: String,
    pub certificate_number: String,
    pub date: Day,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEvent {
    pub sequence: u64,
    /// The stored frame, hex.
    pub frame: String,
    pub proof: InclusionProof,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBody {
    pub format: String,
    pub version: u32,
    pub ledger: LedgerId,
    pub volunteer: VolunteerId,
    pub from: Day,
    pub to: Day,
    pub issued_at: Timestamp,
    pub checkpoint: Checkpoint,
    pub public_key: PublicKey,
    pub events: Vec<StatementEvent>,
    pub totals: Totals,
    pub certificate: Certificate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub body: StatementBody,
    pub signature: Signature,
}

/// The totals the events themselves give.
pub fn totals(records: &[EventRecord]) -> Totals {
    let mut t = Totals::default();
    let mut credits = HashMap::new();
    let mut awards = HashMap::new();
    let mut redemptions = HashMap::new();
    for r in records {
        match &r.event {
            Event::CreditConfirmed(e) => {
                credits.insert(e.credit, u64::from(e.minutes));
                t.confirmed_minutes += u64::from(e.minutes);
            }
            Event::PointsAwarded(e) => {
                awards.insert(e.award, e.points);
                t.points_earned += e.points;
            }
            Event::RewardRedeemed(e) => {
                redemptions.insert(e.redemption, e.points);
                t.points_redeemed += e.points;
            }
            Event::EntryReversed(e) => match e.target {
                ledger_core::domain::EntryRef::Credit(c) => {
                    t.confirmed_minutes -= credits.remove(&c).unwrap_or(0).min(t.confirmed_minutes)
                }
                ledger_core::domain::EntryRef::Award(a) => {
                    t.points_earned -= awards.remove(&a).unwrap_or(0).min(t.points_earned)
                }
                ledger_core::domain::EntryRef::Redemption(x) => {
                    t.points_redeemed -= redemptions.remove(&x).unwrap_or(0).min(t.points_redeemed)
                }
            },
            _ => {}
        }
    }
    t
}

/// Signs a statement body with the ledger's key.
pub fn sign(body: StatementBody, signer: &signing::LedgerSigner) -> Statement {
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let signature = signer.sign(&statement_message(&body.ledger, &json));
    Statement { body, signature }
}

/// Checks a statement offline with the ledger's public key; returns the
/// totals its events add up to.
pub fn verify(statement: &Statement, key: &PublicKey) -> Result<Totals, StatementError> {
    let body = &statement.body;
    if body.format != STATEMENT_FORMAT || body.version != 1 {
        return Err(StatementError::Format(format!(
            "{} v{}",
            body.format, body.version
        )));
    }
    let json = serde_json::to_vec(body).map_err(|e| StatementError::Format(e.to_string()))?;
    signing::verify(
        key,
        &statement_message(&body.ledger, &json),
        &statement.signature,
    )
    .map_err(|_| StatementError::BadSignature)?;
    let c = &body.checkpoint;
    let signed = c.signature.as_ref().is_some_and(|sig| {
        signing::verify(
            key,
            &checkpoint_message(&body.ledger, c.tree_size, &c.root),
            sig,
        )
        .is_ok()
    });
    if !signed {
        return Err(StatementError::BadCheckpoint);
    }
    let mut records = Vec::with_capacity(body.events.len());
    let mut previous = 0;
    for e in &body.events {
        let bad = |what: &str| StatementError::BadEvent {
            sequence: e.sequence,
            what: what.to_owned(),
        };
        if e.sequence <= previous {
            return Err(bad("events are not in ledger order"));
        }
        previous = e.sequence;
        let bytes = hex::decode(&e.frame).map_err(|_| bad("the frame is not hex"))?;
        let (frame, rest) = parse_frame(&bytes).map_err(|err| bad(&err.to_string()))?;
        if !rest.is_empty() || frame.header.sequence != e.sequence {
            return Err(bad("the frame is not the event at this sequence"));
        }
        let hash: Digest = frame.computed_hash();
        if hash != frame.stored_hash {
            return Err(bad("the frame does not hash to its trailer"));
        }
        if e.proof.index + 1 != e.sequence || e.proof.tree_size != c.tree_size {
            return Err(bad("the proof is for another place or tree"));
        }
        merkle::verify_inclusion(&hash, &e.proof, &c.root)
            .map_err(|err| bad(&format!("not in the checkpoint's tree: {err}")))?;
        records.push(frame.decode().map_err(|err| bad(&err.to_string()))?);
    }
    let computed = totals(&records);
    if computed != body.totals {
        return Err(StatementError::Totals {
            stated: body.totals,
            computed,
        });
    }
    Ok(computed)
}
