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

async fn ready(State(api): State<Api>) -> Response {
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
    let mut reasons = Vec::new();
    if nats != "connected" {
        reasons.push("NATS_DISCONNECTED");
    }
    match read_models {
        "broken" => reasons.push("CHAIN_BROKEN"),
        "catching_up" => reasons.push("CATCHING_UP"),
        _ => {}
    }
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": reasons.is_empty(),
        "writer": api.role.writing(),
        "nats": nats,
        "read_models": read_models,
        "reasons": reasons,
    });
    (status, Json(body)).into_response()
}
