//! The probes a service manager or a load balancer uses on `ledger serve`:
//! `/healthz` (alive) and `/readyz` (may take reads), through an outage of
//! its NATS server.

use std::time::Duration;

use ledger_service::local::{free_port, NatsServer};
use ledger_tests::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_nats_connection_while_liveness_stays() {
    let dir = tempfile::tempdir().expect("a folder");
    let (nats_dir, port) = (dir.path().join("nats"), free_port());
    let server = NatsServer::start(&nats_dir, port).expect("nats-server starts");
    let mut service = ServiceProcess::start(&server.url());
    let http = service.http_url();
    wait_for_http(&http).await;
    let limit = Duration::from_secs(30);

    let alive = || async {
        let r = reqwest::get(format!("{http}/healthz"))
            .await
            .expect("/healthz answers");
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, body) = alive().await;
    assert_eq!(
        (status, &body["status"]),
        (200, &Value::from("alive")),
        "{body}"
    );
    let ready = until_readiness(&http, limit, |status, _| status == 200).await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["nats"], "connected", "{ready}");
    assert_eq!(ready["read_models"], "following", "{ready}");
    assert_eq!(ready["reasons"], serde_json::json!([]), "{ready}");
    let writing = until_readiness(&http, limit, |_, body| body["writer"] == true).await;
    assert_eq!(writing["ready"], true, "{writing}");

    // Its only NATS server gone: out of rotation, but alive.
    drop(server);
    let down = until_readiness(&http, limit, |status, _| status == 503).await;
    assert_eq!(down["ready"], false, "{down}");
    assert!(
        down["reasons"]
            .as_array()
            .is_some_and(|r| r.contains(&Value::from("NATS_DISCONNECTED"))),
        "{down}"
    );
    assert_eq!(alive().await.0, 200);

    // Back: ready again, writing again, the same process.
    let _server = NatsServer::start(&nats_dir, port).expect("nats-server starts again");
    let back = until_readiness(&http, limit, |status, body| {
        status == 200 && body["writer"] == true
    })
    .await;
    assert_eq!(back["read_models"], "following", "{back}");
    assert!(service.exit_status().is_none(), "the service stopped");
}
