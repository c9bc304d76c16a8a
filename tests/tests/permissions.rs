//! NATS permissions: a publishing system's account may submit on its own
//! intake subject and nothing else; it cannot write to the chain's stream.

use std::time::Duration;

use async_nats::ConnectOptions;
use ledger_service::local::{free_port, NatsServer};
use ledger_service::{intake, ChainStore, Sequencer};
use ledger_tests::*;
use serde_json::json;

const USERS: &str = r#"
authorization {
  users = [
    { user: "ledger", password: "ledger-secret" }
    { user: "kiosk-12", password: "kiosk-secret",
      permissions: {
        publish: { allow: ["ledger.lyg.intake.kiosk-12"] }
        subscribe: { allow: ["_INBOX.>"] }
      } }
  ]
}
"#;

async fn connect(url: &str, user: &str, password: &str) -> async_nats::Client {
    ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(url)
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publishing_system_can_submit_but_not_write_to_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start_with(dir.path(), free_port(), USERS).unwrap();
    let url = server.url();

    let service = connect(&url, "ledger", "ledger-secret").await;
    let store = ChainStore::new(async_nats::jetstream::new(service.clone()), shard());
    store.ensure(1).await.unwrap();
    let writer = Sequencer::open(store.clone()).await.unwrap().spawn();
    tokio::spawn(intake::serve(
        service.clone(),
        shard(),
        writer,
        ledger_service::accounts::Accounts::open(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let open = submission("open", federation()[0].clone());
    let answer = request(&service, "admin-city", &open).await;
    assert_eq!(answer["status"], "accepted");
    let before = store.last_sequence().await.unwrap();

    let kiosk = connect(&url, "kiosk-12", "kiosk-secret").await;
    // Its own intake subject works, and the ledger records it as kiosk-12.
    let mine = request(
        &kiosk,
        "kiosk-12",
        &submission(
            "k1",
            json!({"type": "sign_up",
        "activity": "a1", "volunteer": "v1"}),
        ),
    )
    .await;
    assert_eq!(mine["code"], "UNKNOWN_ACTIVITY", "answered: {mine}");

    // Writing to the stream's subject directly, or through JetStream: refused.
    kiosk
        .publish(shard().blocks_subject(), "forged block".into())
        .await
        .ok();
    let js = async_nats::jetstream::new(kiosk.clone());
    let forged = tokio::time::timeout(
        Duration::from_secs(3),
        js.publish(shard().blocks_subject(), "forged block".into()),
    )
    .await;
    let acked = match forged {
        Ok(Ok(ack)) => matches!(
            tokio::time::timeout(Duration::from_secs(3), ack).await,
            Ok(Ok(_))
        ),
        _ => false,
    };
    assert!(!acked, "a publisher's block was acknowledged");
    // Another system's subject and the JetStream API: refused too.
    let as_admin = tokio::time::timeout(
        Duration::from_secs(2),
        kiosk.request(
            shard().intake_subject("admin-city"),
            serde_json::to_vec(&open).unwrap().into(),
        ),
    )
    .await;
    assert!(
        !matches!(as_admin, Ok(Ok(_))),
        "kiosk-12 spoke as admin-city"
    );
    let api = tokio::time::timeout(
        Duration::from_secs(2),
        kiosk.request(
            format!("$JS.API.STREAM.PURGE.{}", shard().stream()),
            "".into(),
        ),
    )
    .await;
    assert!(
        !matches!(api, Ok(Ok(_))),
        "kiosk-12 reached the JetStream API"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before,
        "nothing reached the stream"
    );
    let (records, _) = read_chain(&store).await;
    assert_eq!(records.len(), 1);
}

/// The service's user block of docs/operations.md, as written there.
fn documented_service_user(password: &str) -> String {
    let page = include_str!("../../docs/operations.md");
    let block = page
        .split("<!-- service-permissions -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- end service-permissions -->").next())
        .expect("the service's permissions in docs/operations.md");
    block
        .replace("```", "")
        .replace("$LEDGER_PASSWORD", password)
}

/// `ledger serve` under exactly the permissions operations.md gives the
/// service: it opens its stream and buckets, takes the lease, answers a
/// system, follows with its read models, and is refused nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_serve_runs_under_exactly_the_documented_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!(
        "authorization {{\n  users = [\n{}\n{}\n  ]\n}}\n",
        documented_service_user("ledger-secret"),
        r#"{ user: "kiosk-12", password: "kiosk-secret",
      permissions: { publish: { allow: ["ledger.lyg.intake.kiosk-12"] }
                     subscribe: { allow: ["_INBOX.>"] } } }"#
    );
    let server = NatsServer::start_with(&dir.path().join("nats"), free_port(), &users)
        .expect("nats-server starts with the documented permissions");
    let at = server.url().replace("nats://", "");
    let log = dir.path().join("service.log");
    let service = ServiceProcess::start_with_args(
        &format!("nats://ledger:ledger-secret@{at}"),
        &dir.path().join("projections"),
        &[],
        Some(&log),
    );
    let admin = connect(&server.url(), "ledger", "ledger-secret").await;
    wait_for_intake(&admin).await;
    set_up(&admin).await;
    let kiosk = connect(&server.url(), "kiosk-12", "kiosk-secret").await;
    let sign_up = submission(
        "s1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
    );
    let answer = request(&kiosk, "kiosk-12", &sign_up).await;
    assert_eq!(answer["status"], "accepted", "{answer}");

    let ready = until_readiness(
        &service.http_url(),
        Duration::from_secs(30),
        |status, body| status == 200 && body["writer"] == true,
    )
    .await;
    assert_eq!(ready["read_models"], "following", "{ready}");
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !said.contains("refused a request") && !said.contains("Permissions Violation"),
        "the service was refused something:\n{said}"
    );
}
