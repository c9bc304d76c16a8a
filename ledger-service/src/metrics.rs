//! `/metrics` in Prometheus' text format: what the writer answered, by
//! outcome and rejection code, and how far this instance is from the
//! stream. Counters count from the process's start, as Prometheus expects.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::answer::Answer;
use crate::http::Api;

/// The submissions this instance's writer answered (none while it only
/// follows: commands reach the writer wherever they are sent).
#[derive(Debug, Default)]
pub struct AnswerCounts {
    accepted: AtomicU64,
    events: AtomicU64,
    repeated: AtomicU64,
    unavailable: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
}

impl AnswerCounts {
    /// Counts one answer; `repeated` when it is the first answer given
    /// again to a retry, which records nothing.
    pub fn record(&self, answer: &Answer, repeated: bool) {
        if repeated {
            self.repeated.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match answer {
            Answer::Accepted { events, .. } => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                self.events.fetch_add(u64::from(*events), Ordering::Relaxed);
            }
            Answer::Rejected { code, .. } => {
                if let Ok(mut codes) = self.rejected.lock() {
                    *codes.entry(code.clone()).or_default() += 1;
                }
            }
            Answer::Unavailable { .. } => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn rejected(&self) -> BTreeMap<String, u64> {
        self.rejected.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

pub fn routes() -> Router<Api> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(api): State<Api>) -> Response {
    let stream_blocks = api.store.last_sequence().await.ok();
    let text = render(&api, stream_blocks);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The page, with the stream's last block when JetStream answered.
fn render(api: &Api, stream_blocks: Option<u64>) -> String {
    let mut page = Page::default();
    let s = &api.answers;
    let counted = |c: &AtomicU64| c.load(Ordering::Relaxed);
    page.family(
        "ledger_submissions_total",
        "counter",
        "Submissions this instance's writer answered, by outcome (repeated: a retry given its first answer).",
    );
    let rejected = s.rejected();
    for (outcome, n) in [
        ("accepted", counted(&s.accepted)),
        ("rejected", rejected.values().sum()),
        ("unavailable", counted(&s.unavailable)),
        ("repeated", counted(&s.repeated)),
    ] {
        page.sample("ledger_submissions_total", &[("outcome", outcome)], n);
    }
    page.family(
        "ledger_rejections_total",
        "counter",
        "Rejections this instance's writer gave, by code (docs/events.md).",
    );
    for (code, n) in &rejected {
        page.sample("ledger_rejections_total", &[("code", code)], *n);
    }
    page.single(
        "ledger_events_recorded_total",
        "counter",
        "Events the accepted submissions recorded.",
        counted(&s.events),
    );
    page.single(
        "ledger_writer",
        "gauge",
        "1 while this instance holds the write lease.",
        u64::from(api.role.writing()),
    );
    let standing = crate::health::Standing::of(api);
    page.single(
        "ledger_nats_connected",
        "gauge",
        "1 while the NATS connection is up.",
        u64::from(standing.nats_connected()),
    );
    let nats = api.client.statistics();
    page.single(
        "ledger_nats_connects_total",
        "counter",
        "Connections made to NATS, the first included.",
        nats.connects.load(Ordering::Relaxed),
    );
    page.single(
        "ledger_read_models_events",
        "gauge",
        "Ledger sequence the read models have applied.",
        api.read_models.head().sequence,
    );
    page.single(
        "ledger_read_models_following",
        "gauge",
        "1 while the read models follow the stream live (0 catching up or broken).",
        u64::from(standing.following()),
    );
    if let Some(last) = stream_blocks {
        page.single(
            "ledger_stream_blocks",
            "gauge",
            "Blocks in the chain's stream.",
            last,
        );
        page.single(
            "ledger_read_models_behind_blocks",
            "gauge",
            "Blocks of the stream the read models have not applied yet.",
            last.saturating_sub(api.read_models.position()),
        );
    }
    page.text
}

/// The exposition format, written family by family.
#[derive(Default)]
struct Page {
    text: String,
}

impl Page {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(self.text, "{name}{{{}}} {value}", labels.join(","));
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        let _ = writeln!(self.text, "{name} {value}");
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str) -> Answer {
        Answer::Rejected {
            code: code.into(),
            message: String::new(),
            field: None,
        }
    }

    #[test]
    fn answers_are_counted_by_outcome_and_code_and_retries_apart() {
        let s = AnswerCounts::default();
        let accepted = Answer::Accepted {
            first_sequence: Some(1),
            last_sequence: Some(3),
            hash: None,
            events: 3,
        };
        s.record(&accepted, false);
        s.record(&accepted, true);
        s.record(&rejected("UNKNOWN_VOLUNTEER"), false);
        s.record(&rejected("UNKNOWN_VOLUNTEER"), false);
        s.record(&rejected("DUPLICATE"), true);
        s.record(
            &Answer::Unavailable {
                message: "retry".into(),
            },
            false,
        );
        assert_eq!(s.accepted.load(Ordering::Relaxed), 1);
        assert_eq!(s.events.load(Ordering::Relaxed), 3);
        assert_eq!(s.repeated.load(Ordering::Relaxed), 2);
        assert_eq!(s.unavailable.load(Ordering::Relaxed), 1);
        assert_eq!(
            s.rejected(),
            BTreeMap::from([("UNKNOWN_VOLUNTEER".to_owned(), 2)])
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let mut page = Page::default();
        page.sample("m", &[("code", "a\"b\\c\nd")], 1);
        assert_eq!(page.text, "m{code=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
