//! What a submitter hears back: accepted (with where its events stand in the
//! chain), rejected (with a stable code and the field at fault), or
//! unavailable (nothing was recorded; retry with the same key).

use ledger_core::rights::{Forbidden, Role};
use ledger_core::values::{ActorId, Digest, SubmissionKey};
use ledger_core::{Command, Rejection};
use serde::{Deserialize, Serialize};

/// One command as submitted: who, in which role, under which idempotency
/// key, what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub actor: ActorId,
    pub role: Role,
    pub key: Option<SubmissionKey>,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Answer {
    Accepted {
        /// Ledger sequences of the events it produced (none for a command
        /// that had nothing to record, such as confirming when nothing is due).
        first_sequence: Option<u64>,
        last_sequence: Option<u64>,
        /// Hash of the last of its events.
        hash: Option<Digest>,
        events: u32,
    },
    Rejected {
        code: String,
        message: String,
        field: Option<String>,
    },
    /// Nothing was recorded (the stream was unreachable or the writer lost
    /// its place); the same submission may be sent again.
    Unavailable { message: String },
}

impl Answer {
    /// Accepted, with nothing to record (confirming when nothing is due).
    pub fn nothing_recorded() -> Answer {
        Answer::Accepted {
            first_sequence: None,
            last_sequence: None,
            hash: None,
            events: 0,
        }
    }

    pub fn rejected(r: &Rejection) -> Answer {
        Answer::Rejected {
            code: r.code().to_owned(),
            message: r.to_string(),
            field: r.field().map(str::to_owned),
        }
    }

    pub fn forbidden(f: &Forbidden) -> Answer {
        Answer::Rejected {
            code: f.code().to_owned(),
            message: f.to_string(),
            field: None,
        }
    }

    /// A submission that could not be read: bad JSON, unknown fields, wrong
    /// types, invalid values.
    pub fn malformed(message: impl Into<String>) -> Answer {
        Answer::Rejected {
            code: "MALFORMED".to_owned(),
            message: message.into(),
            field: None,
        }
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, Answer::Accepted { .. })
    }
}
