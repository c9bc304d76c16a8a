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
//!
//! Both answer from the process's first moment: while an instance waits for
//! JetStream (up to a minute) and opens its read models, it is alive and
//! not ready (`STARTING`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
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

/// The instance's HTTP service from the moment it listens: until `app` is
/// set it answers the probes itself and every other request 503
/// unavailable; from then on, every request goes to `app`.
pub fn starting(app: Arc<OnceLock<Router>>) -> Router {
    Router::new().fallback(move |request: Request| {
        let app = app.clone();
        async move {
            match app.get() {
                Some(router) => match tower::ServiceExt::oneshot(router.clone(), request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                None => while_starting(request.uri().path()).await,
            }
        }
    })
}

async fn while_starting(path: &str) -> Response {
    match path {
        "/healthz" => alive().await.into_response(),
        "/readyz" => {
            let body = json!({
                "ready": false,
                "writer": false,
                "nats": "starting",
                "read_models": "starting",
                "reasons": ["STARTING"],
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
        // Unavailable as the API answers it when nothing could be done, so
        // that a client sends the same again rather than take it for a
        // refusal.
        _ => {
            let answer = crate::answer::Reply::from(crate::answer::Answer::Unavailable {
                message: "this instance is starting (it waits for JetStream and opens its read models); nothing was done, send again".into(),
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(answer)).into_response()
        }
    }
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
