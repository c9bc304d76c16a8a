//! What a service manager or a load balancer asks of an instance, without
//! a token: `/healthz`, is the process answering at all (restart it if
//! not), and `/readyz`, may reads be sent here (take it out of rotation
//! if not, and leave it running).
//!
//! An instance is ready when its NATS connection is up and its read
//! models follow the stream live: a catch-up after a start or a lost
//! connection is not ready, since its answers would be minutes old, and a
//! broken chain is never ready. Whether it writes is said, not required:
//! every instance serves reads, and commands reach the writer over NATS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::http::Api;

/// Whether this instance holds the write lease now.
#[derive(Clone, Debug, Default)]
pub struct Role(Arc<AtomicBool>);

impl Role {
    pub fn set_writing(&self, writing: bool) {
        self.0.store(writing, Ordering::Relaxed);
    }

    pub fn writing(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
}

async fn alive() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

/// Where an instance stands, as `/readyz` says and `/metrics` counts it.
pub(crate) struct Standing {
    pub nats: &'static str,
    pub read_models: &'static str,
}

impl Standing {
    pub fn of(api: &Api) -> Standing {
        let nats = match api.client.connection_state() {
            async_nats::connection::State::Connected => "connected",
            async_nats::connection::State::Disconnected => "disconnected",
            async_nats::connection::State::Pending => "connecting",
        };
        let read_models = if api.read_models.broken().is_some() {
            "broken"
        } else if api.read_models.following() {
            "following"
        } else {
            "catching_up"
        };
        Standing { nats, read_models }
    }

    pub fn nats_connected(&self) -> bool {
        self.nats == "connected"
    }

    pub fn following(&self) -> bool {
        self.read_models == "following"
    }

    /// Why reads should not be sent here; none when they may.
    fn reasons(&self) -> Vec<&'static str> {
        let nats = (!self.nats_connected()).then_some("NATS_DISCONNECTED");
        let read_models = match self.read_models {
            "broken" => Some("CHAIN_BROKEN"),
            "catching_up" => Some("CATCHING_UP"),
            _ => None,
        };
        nats.into_iter().chain(read_models).collect()
    }
}

async fn ready(State(api): State<Api>) -> Response {
    let standing = Standing::of(&api);
    let reasons = standing.reasons();
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": reasons.is_empty(),
        "writer": api.role.writing(),
        "nats": standing.nats,
        "read_models": standing.read_models,
        "reasons": reasons,
    });
    (status, Json(body)).into_response()
}
