//! Intake for other systems: JSON over NATS request/reply on
//! `ledger.<shard>.intake.<system>`. A request is one submission
//! `{"key": "...", "command": {...}}` or a batch `{"submissions": [...]}`;
//! the reply is one answer, or `{"results": [...]}` with one answer per
//! submission in order. See docs/integration.md.

use async_nats::{Client, Message};
use futures::StreamExt;
use ledger_core::values::{ActorId, SubmissionKey};
use ledger_core::Command;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::accounts::{Accounts, Principal};
use crate::answer::{Answer, Submission};
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
    pub results: Vec<Answer>,
}

/// The field a serde error names, if it names one.
fn field_of(message: &str) -> Option<String> {
    let named = message.contains("unknown field") || message.contains("missing field");
    let name = message.split('`').nth(1)?;
    named.then(|| name.to_owned())
}

fn malformed(e: &serde_json::Error) -> Answer {
    let message = e.to_string();
    match Answer::malformed(&message) {
        Answer::Rejected { code, message, .. } => Answer::Rejected {
            field: field_of(&message),
            code,
            message,
        },
        other => other,
    }
}

fn read_submission(who: &Principal, value: serde_json::Value) -> Result<Submission, Answer> {
    let wire: WireSubmission = serde_json::from_value(value).map_err(|e| malformed(&e))?;
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
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| malformed(&e))?;
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
            Ok(submission) => return to_json(&writer.submit(submission).await),
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
    let mut answers = writer.submit_many(valid).await.into_iter();
    let results = read
        .into_iter()
        .map(|r| match r {
            Ok(_) => answers.next().unwrap_or_else(|| Answer::Unavailable {
                message: "the writer stopped".into(),
            }),
            Err(answer) => answer,
        })
        .collect();
    serde_json::to_value(BatchReply { results }).unwrap_or_default()
}

fn to_json(answer: &Answer) -> serde_json::Value {
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
    while let Some(message) = requests.next().await {
        let client = client.clone();
        let writer = writer.clone();
        let accounts = accounts.clone();
        tokio::spawn(async move { answer_request(&client, &writer, &accounts, message).await });
    }
    Ok(())
}

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
                Ok(submission) => writer.submit(submission).await,
                Err(e) => malformed(&e),
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
}
