//! Intake for other systems: JSON over NATS request/reply on
//! `ledger.<shard>.intake.<system>`. A request is one submission
//! `{"key": "...", "command": {...}}` or a batch `{"submissions": [...]}`;
//! the reply is one answer, or `{"results": [...]}` with one answer per
//! submission in order. See docs/integration.md.

use std::sync::Arc;

use async_nats::{Client, Message};
use futures::StreamExt;
use ledger_core::values::{ActorId, SubmissionKey};
use ledger_core::Command;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::accounts::{Accounts, Principal};
use crate::answer::{Answer, Reply, Submission};
use crate::sequencer::Writer;
use crate::shard::Shard;

/// A kiosk back online uploads at most this many submissions at once.
pub const MAX_BATCH: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSubmission {
    key: SubmissionKey,
    command: Command,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBatch {
    submissions: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct BatchReply {
    pub results: Vec<Reply>,
}

/// The field a serde error names, if it names one.
fn field_of(message: &str) -> Option<String> {
    let named = message.contains("unknown field") || message.contains("missing field");
    let name = message.split('`').nth(1)?;
    named.then(|| name.to_owned())
}

fn malformed(e: &serde_json::Error) -> Answer {
    malformed_at(&e.to_string(), None)
}

/// A submission that does not read: the message in an integrator's words
/// rather than the parser's, and the field at fault, by the message or
/// else by where the parser stood (`path`, as `command.volunteer`).
fn malformed_at(message: &str, path: Option<&str>) -> Answer {
    let message = in_plain_words(message);
    let field = field_of(&message).or_else(|| {
        if message.starts_with("unknown variant") {
            return Some("type".to_owned());
        }
        let last = path?.rsplit('.').next()?;
        (!last.is_empty() && last != "?").then(|| last.to_owned())
    });
    Answer::malformed_at(message, field)
}

/// Which field of a command that does not read is at fault. A command is
/// read by its `type` tag, and the parser does not say where inside it
/// stood; so each field is left out in turn, and the one whose absence
/// changes the error to its own absence (or to none) is the one. Only for
/// commands of a command's size: the work grows with the square of it.
fn field_at_fault(command: &serde_json::Value) -> Option<String> {
    let fields = command.as_object()?;
    if fields.len() > 32 {
        return None;
    }
    fields.keys().filter(|k| *k != "type").find_map(|name| {
        let mut without = fields.clone();
        without.remove(name);
        match serde_json::from_value::<Command>(serde_json::Value::Object(without)) {
            Ok(_) => Some(name.clone()),
            Err(e) => (field_of(&e.to_string()).as_ref() == Some(name)).then(|| name.clone()),
        }
    })
}

/// The parser names the types it expected as the code calls them.
fn in_plain_words(message: &str) -> String {
    message
        .replace(
            "struct WireSubmission with 2 elements",
            r#"a submission {"key": …, "command": {…}}"#,
        )
        .replace(
            "struct WireSubmission",
            r#"a submission {"key": …, "command": {…}}"#,
        )
        .replace("struct WireBatch", r#"a batch {"submissions": […]}"#)
        .replace(
            "internally tagged enum Command",
            r#"a command {"type": …, …}"#,
        )
}

/// Reads one submission's bytes (HTTP takes no batches).
pub fn read_one(who: &Principal, payload: &[u8]) -> Result<Submission, Answer> {
    read_submission(who, read_json(payload)?)
}

fn read_json(payload: &[u8]) -> Result<serde_json::Value, Answer> {
    // Some tools on Windows start UTF-8 with a byte order mark.
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    serde_json::from_slice(payload).map_err(|e| malformed(&e))
}

fn read_submission(who: &Principal, value: serde_json::Value) -> Result<Submission, Answer> {
    let command = value.get("command").cloned();
    let wire: WireSubmission = serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "command" {
            if let Some(field) = command.as_ref().and_then(field_at_fault) {
                path = format!("command.{field}");
            }
        }
        malformed_at(&e.inner().to_string(), Some(&path))
    })?;
    Ok(Submission {
        actor: who.actor.clone(),
        role: who.role.clone(),
        key: Some(wire.key),
        command: wire.command,
    })
}

/// A request as read, before anything is decided.
#[derive(Debug)]
pub enum Request {
    One(Box<Result<Submission, Answer>>),
    /// Each submission read on its own: one bad one spoils no other.
    Batch(Vec<Result<Submission, Answer>>),
}

/// Reads a request's bytes: a single submission or a batch. Anything that
/// does not read becomes an answer to send back; nothing here panics or
/// touches the writer, whatever the bytes (fuzzed: `fuzz/`).
pub fn read_request(who: &Principal, payload: &[u8]) -> Result<Request, Answer> {
    let value = read_json(payload)?;
    if value.get("submissions").is_none() {
        return Ok(Request::One(Box::new(read_submission(who, value))));
    }
    let batch: WireBatch = serde_json::from_value(value).map_err(|e| malformed(&e))?;
    if batch.submissions.len() > MAX_BATCH {
        return Err(Answer::Rejected {
            code: "BATCH_TOO_LARGE".into(),
            message: format!("at most {MAX_BATCH} submissions in one batch"),
            field: Some("submissions".into()),
        });
    }
    Ok(Request::Batch(
        batch
            .submissions
            .into_iter()
            .map(|v| read_submission(who, v))
            .collect(),
    ))
}

/// Answers one request: a single submission or a batch.
pub async fn handle(writer: &Writer, who: &Principal, payload: &[u8]) -> serde_json::Value {
    let read = match read_request(who, payload) {
        Ok(Request::Batch(read)) => read,
        Ok(Request::One(one)) => match *one {
            Ok(submission) => return to_json(&writer.reply(submission).await),
            Err(answer) => return to_json(&answer),
        },
        Err(answer) => return to_json(&answer),
    };
    // The readable ones go to the writer back to back, in the order given,
    // and are decided in that order, usually in one block.
    let valid: Vec<Submission> = read
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut replies = writer.replies(valid).await.into_iter();
    let results = read
        .into_iter()
        .map(|r| match r {
            Ok(_) => replies.next().unwrap_or_else(|| {
                Reply::from(Answer::Unavailable {
                    message: "the writer stopped".into(),
                })
            }),
            Err(answer) => Reply::from(answer),
        })
        .collect();
    serde_json::to_value(BatchReply { results }).unwrap_or_default()
}

fn to_json(answer: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(answer).unwrap_or_default()
}

/// Instances that hold the write lease answer intake in this queue group,
/// so during a hand-over a request is still answered once.
pub const QUEUE_GROUP: &str = "ledger-writers";

/// Serves intake requests until the subscription ends.
pub async fn serve(
    client: Client,
    shard: Shard,
    writer: Writer,
    accounts: Accounts,
) -> Result<(), async_nats::Error> {
    let mut requests = client
        .queue_subscribe(shard.intake_wildcard(), QUEUE_GROUP.into())
        .await?;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    while let Some(message) = requests.next().await {
        // A system sending faster than the writer decides waits here, its
        // requests queued by NATS, rather than each holding a task and its
        // parsed batch in memory at once.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let writer = writer.clone();
        let accounts = accounts.clone();
        tokio::spawn(async move {
            answer_request(&client, &writer, &accounts, message).await;
            drop(permit);
        });
    }
    Ok(())
}

/// Requests (a submission or a batch of up to 1,000) answered at once,
/// at most: many more than the writer needs to keep its pipeline full.
const MAX_IN_FLIGHT: usize = 256;

/// Serves commands forwarded by other instances (their HTTP API) until the
/// subscription ends. The subject is for service accounts only.
pub async fn serve_forwarded(
    client: Client,
    shard: Shard,
    writer: Writer,
) -> Result<(), async_nats::Error> {
    let mut requests = client
        .queue_subscribe(shard.writer_subject(), QUEUE_GROUP.into())
        .await?;
    while let Some(message) = requests.next().await {
        let client = client.clone();
        let writer = writer.clone();
        tokio::spawn(async move {
            let Some(reply) = message.reply.clone() else {
                return;
            };
            let answer = match serde_json::from_slice::<Submission>(&message.payload) {
                Ok(submission) => writer.reply(submission).await,
                Err(e) => Reply::from(malformed(&e)),
            };
            let bytes = serde_json::to_vec(&answer).unwrap_or_default();
            if let Err(e) = client.publish(reply, bytes.into()).await {
                warn!(error = %e, "forwarded command's reply not sent");
            }
        });
    }
    Ok(())
}

async fn answer_request(client: &Client, writer: &Writer, accounts: &Accounts, message: Message) {
    let Some(reply) = message.reply.clone() else {
        warn!(subject = %message.subject, "intake message without a reply subject ignored");
        return;
    };
    let system = message
        .subject
        .as_str()
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let who = ActorId::new(system).ok().and_then(|actor| {
        let role = accounts.system_role(&actor)?;
        Some(Principal { actor, role })
    });
    let body = match who {
        Some(who) => handle(writer, &who, &message.payload).await,
        None => to_json(&Answer::Rejected {
            code: "UNKNOWN_SYSTEM".into(),
            message: format!("{system:?} is not a registered publishing system"),
            field: None,
        }),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    if let Err(e) = client.publish(reply, bytes.into()).await {
        warn!(error = %e, "intake reply not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_at_fault_is_read_from_serde() {
        assert_eq!(
            field_of("unknown field `hours`, expected one of `activity`"),
            Some("hours".into())
        );
        assert_eq!(field_of("missing field `at` at line 1"), Some("at".into()));
        assert_eq!(field_of("invalid type: string \"x\", expected u32"), None);
    }

    fn kiosk() -> Principal {
        Principal {
            actor: ActorId::new("kiosk-12").expect("an actor"),
            role: ledger_core::rights::Role::System { units: Vec::new() },
        }
    }

    /// The answer to one submission's bytes that do not read.
    fn refusal(payload: &str) -> (Option<String>, String) {
        let answer = match read_request(&kiosk(), payload.as_bytes()) {
            Ok(Request::One(one)) => one.err(),
            Ok(Request::Batch(_)) => None,
            Err(answer) => Some(answer),
        };
        match answer {
            Some(Answer::Rejected {
                code,
                message,
                field,
            }) if code == "MALFORMED" => (field, message),
            other => panic!("{payload}: {other:?}"),
        }
    }

    #[test]
    fn a_value_that_does_not_read_is_named_by_its_field_in_plain_words() {
        let check_in = |volunteer: &str, at: &str, device: &str| {
            format!(
                r#"{{"key": "k1", "command": {{"type": "check_in", "activity": "a1",
                    "volunteer": {volunteer}, "at": {at}, "device": {device}, "external_id": null}}}}"#
            )
        };
        let good_at = r#""2026-03-05T09:00:00+08:00""#;
        for (payload, field, says) in [
            (
                r#"{"key": "", "command": {"type": "confirm_due_credits", "limit": 1}}"#.to_owned(),
                "key",
                "empty",
            ),
            (
                r#"{"key": "138-1234-5678", "command": {"type": "confirm_due_credits", "limit": 1}}"#
                    .to_owned(),
                "key",
                "run of 11 digits",
            ),
            (
                check_in("11", good_at, "null"),
                "volunteer",
                "a volunteer id",
            ),
            (
                check_in(r#""v1""#, r#""2026-03-05T09:00:00""#, "null"),
                "at",
                "with an offset",
            ),
            (
                check_in(r#""v1""#, good_at, "12"),
                "device",
                "an external reference",
            ),
            (
                r#"{"key": "k1", "command": {"type": "checkin"}}"#.to_owned(),
                "type",
                "unknown variant `checkin`",
            ),
            (
                r#"{"key": "k1", "command": "check_in"}"#.to_owned(),
                "command",
                r#"a command {"type": …, …}"#,
            ),
        ] {
            let (named, message) = refusal(&payload);
            assert_eq!(named.as_deref(), Some(field), "{payload}: {message}");
            assert!(message.contains(says), "{payload}: {message}");
        }
        let (_, message) = refusal("[]");
        assert!(
            message.contains(r#"a submission {"key": …, "command": {…}}"#),
            "{message}"
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_json_is_passed_over() {
        let payload = "\u{feff}{\"key\": \"k1\", \"command\": {\"type\": \"confirm_due_credits\", \"limit\": 10}}";
        assert!(matches!(
            read_request(&kiosk(), payload.as_bytes()),
            Ok(Request::One(one)) if one.is_ok()
        ));
    }
}
