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

/// One sample of a `/metrics` page, by its name and labels as written.
fn sample(page: &str, series: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_writer_answered() {
    let nats = Nats::start();
    let service = ServiceProcess::start(&nats.url());
    let client = nats.client().await;
    wait_for_intake(&client).await;
    set_up(&client).await;
    let first = submission("setup-0", federation()[0].clone());
    let again = request(&client, "admin-city", &first).await;
    assert_eq!(again["status"], "accepted", "a retry: {again}");
    let refused = request(
        &client,
        "admin-city",
        &submission(
            "award-nobody",
            serde_json::json!({"type": "award_points", "volunteer": "nobody",
                "points": 1, "approver": "admin-city", "reason": "指标"}),
        ),
    )
    .await;
    assert_eq!(refused["status"], "rejected", "{refused}");
    let code = refused["code"].as_str().expect("a code").to_owned();
    let (_, head) = read_chain(&nats.store().await).await;

    let url = format!("{}/metrics", service.http_url());
    let started = std::time::Instant::now();
    let page = loop {
        let page = reqwest::get(&url)
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("a page");
        if sample(&page, "ledger_read_models_behind_blocks") == Some(0) {
            break page;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expect = [
        (
            "ledger_submissions_total{outcome=\"accepted\"}",
            federation().len() as u64,
        ),
        ("ledger_submissions_total{outcome=\"rejected\"}", 1),
        ("ledger_submissions_total{outcome=\"repeated\"}", 1),
        ("ledger_submissions_total{outcome=\"unavailable\"}", 0),
        (&format!("ledger_rejections_total{{code=\"{code}\"}}"), 1),
        ("ledger_events_recorded_total", head.sequence),
        ("ledger_read_models_events", head.sequence),
        ("ledger_writer", 1),
        ("ledger_nats_connected", 1),
        ("ledger_read_models_following", 1),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&page, series), Some(value), "{series} in\n{page}");
    }
    assert!(
        page.contains("# TYPE ledger_submissions_total counter"),
        "{page}"
    );
}

/// While an instance waits for JetStream (here a server without it, so it
/// waits its whole minute), it is alive, not ready, and says why; nothing
/// else is served yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_jetstream_is_awaited_the_instance_is_alive_and_starting() {
    let port = free_port();
    let mut server =
        std::process::Command::new(ledger_service::local::find_nats_server().expect("nats-server"))
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server without JetStream starts");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut service = ServiceProcess::start(&format!("nats://127.0.0.1:{port}"));
    let http = service.http_url();
    let starting = until_readiness(&http, Duration::from_secs(20), |status, _| status != 0).await;
    assert_eq!(starting["ready"], false, "{starting}");
    assert_eq!(
        starting["reasons"],
        serde_json::json!(["STARTING"]),
        "{starting}"
    );
    let alive = reqwest::get(format!("{http}/healthz"))
        .await
        .expect("/healthz answers");
    assert_eq!(alive.status().as_u16(), 200);
    let head = reqwest::Client::new()
        .get(format!("{http}/api/v1/head"))
        .bearer_auth("any")
        .send()
        .await
        .expect("the API answers");
    assert_eq!(head.status().as_u16(), 503);
    let body: Value = head.json().await.unwrap_or(Value::Null);
    assert_eq!(body["status"], "unavailable", "to be sent again: {body}");
    // Asked to stop while it waits, it stops at once.
    let stopped =
        tokio::task::block_in_place(|| service.stop_with("TERM", Duration::from_secs(10)));
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");
    let _ = server.kill();
    let _ = server.wait();
}

/// A client that opens a connection and never finishes its request's head
/// is cut off, so a few of them cannot hold the server's connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let nats = Nats::start();
    let service = ServiceProcess::start(&nats.url());
    let http = service.http_url();
    wait_for_http(&http).await;
    let address = http.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: ledger\r\n")
        .await
        .expect("writes");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(
        ledger_service::serving::HEAD_READ_TIMEOUT + Duration::from_secs(10),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(
        ended.is_ok(),
        "the connection is still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= ledger_service::serving::HEAD_READ_TIMEOUT - Duration::from_secs(1),
        "cut off after {:?}, before the limit",
        started.elapsed()
    );
    // Meanwhile, and after, others are answered.
    let alive = reqwest::get(format!("{http}/healthz"))
        .await
        .expect("answers");
    assert_eq!(alive.status().as_u16(), 200);
}
