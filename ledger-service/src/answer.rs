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

/// An answer as it goes back to the submitter: `"replayed": true` when it
/// is the first answer given again (a retry, or the key sent before with
/// this or any other command), so that nothing was recorded this time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(flatten)]
    pub answer: Answer,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Reply {
        Reply {
            answer,
            replayed: false,
        }
    }
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
        Answer::malformed_at(message, None)
    }

    /// As [`Answer::malformed`], naming the field at fault.
    pub fn malformed_at(message: impl Into<String>, field: Option<String>) -> Answer {
        Answer::Rejected {
            code: "MALFORMED".to_owned(),
            message: message.into(),
            field,
        }
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, Answer::Accepted { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_its_answer_with_replayed_only_when_it_was() {
        let answer = Answer::Rejected {
            code: "UNKNOWN_VOLUNTEER".into(),
            message: "volunteer v9 is not registered".into(),
            field: Some("volunteer".into()),
        };
        let first = serde_json::to_value(Reply::from(answer.clone())).expect("json");
        assert_eq!(first, serde_json::to_value(&answer).expect("json"));
        let again = Reply {
            answer,
            replayed: true,
        };
        let json = serde_json::to_value(&again).expect("json");
        assert_eq!(json["replayed"], true);
        assert_eq!(json["code"], "UNKNOWN_VOLUNTEER");
        assert_eq!(serde_json::from_value::<Reply>(json).expect("reads"), again);
        assert!(
            !serde_json::from_value::<Reply>(first)
                .expect("reads")
                .replayed
        );
    }
}
