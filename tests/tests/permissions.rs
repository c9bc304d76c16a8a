//! NATS permissions: a publishing system's account may submit on its own
//! intake subject and nothing else; it cannot write to the chain's stream,
//! nor receive what the service reads.

use std::time::Duration;

use async_nats::ConnectOptions;
use futures::StreamExt;
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
        subscribe: { allow: ["_INBOX_kiosk-12.>"] }
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

/// A connection whose reply subjects start with `prefix`, as
/// docs/integration.md tells each system to set it.
async fn connect_with_inbox(
    url: &str,
    user: &str,
    password: &str,
    prefix: &str,
) -> async_nats::Client {
    ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(prefix)
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

    let kiosk = connect_with_inbox(&url, "kiosk-12", "kiosk-secret", "_INBOX_kiosk-12").await;
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
/// system, follows with its read models, and is refused nothing. A system
/// given `_INBOX.>` (NATS's default reply prefix, more than integration.md
/// gives) receives none of it: not the blocks, not the personal records
/// and their keys the service reads as an admin registers a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_serve_runs_under_exactly_the_documented_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!(
        "authorization {{\n  users = [\n{}\n{}\n{}\n  ]\n}}\n",
        documented_service_user("ledger-secret"),
        r#"{ user: "kiosk-12", password: "kiosk-secret",
      permissions: { publish: { allow: ["ledger.lyg.intake.kiosk-12"] }
                     subscribe: { allow: ["_INBOX_kiosk-12.>"] } } }"#,
        r#"{ user: "kiosk-wide", password: "wide-secret",
      permissions: { publish: { allow: ["ledger.lyg.intake.kiosk-wide"] }
                     subscribe: { allow: ["_INBOX.>"] } } }"#
    );
    let server = NatsServer::start_with(&dir.path().join("nats"), free_port(), &users)
        .expect("nats-server starts with the documented permissions");
    let wide = connect(&server.url(), "kiosk-wide", "wide-secret").await;
    let mut overheard = wide.subscribe("_INBOX.>").await.unwrap();
    wide.flush().await.unwrap();
    let at = server.url().replace("nats://", "");
    let log = dir.path().join("service.log");
    let identity_key = dir.path().join("identity.key");
    std::fs::write(&identity_key, [7u8; 32]).unwrap();
    let service = ServiceProcess::start_with_args(
        &format!("nats://ledger:ledger-secret@{at}"),
        &dir.path().join("projections"),
        &["--identity-key".into(), identity_key.display().to_string()],
        Some(&log),
    );
    // An operator's tool under the service's user takes its prefix.
    let admin = connect_with_inbox(
        &server.url(),
        "ledger",
        "ledger-secret",
        "_INBOX_ledger_lyg",
    )
    .await;
    wait_for_intake(&admin).await;
    set_up(&admin).await;
    let kiosk =
        connect_with_inbox(&server.url(), "kiosk-12", "kiosk-secret", "_INBOX_kiosk-12").await;
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

    let http = reqwest::Client::new();
    let form = json!({
        "key": "reg-secret", "volunteer": "p-secret", "home_unit": "g1",
        "membership": "member", "groups": [], "specialties": [],
        "personal": {"name": "张秘密", "sex": "女", "citizen_id": "32070319850505103X",
            "phone": "13912345678", "political_status": null, "employer": null,
            "education": null, "started_work": null, "health": null}
    });
    let registered = http
        .post(format!("{}/api/v1/volunteers", service.http_url()))
        .bearer_auth("any")
        .json(&form)
        .send()
        .await
        .expect("the API answers");
    assert!(registered.status().is_success(), "{}", registered.status());
    let read = http
        .get(format!(
            "{}/api/v1/volunteers/p-secret/personal",
            service.http_url()
        ))
        .bearer_auth("any")
        .send()
        .await
        .expect("the API answers");
    let record: serde_json::Value = read.json().await.unwrap_or_default();
    assert_eq!(record["name"], "张秘密", "{record}");
    let heard = tokio::time::timeout(Duration::from_secs(1), overheard.next()).await;
    assert!(
        heard.is_err(),
        "a system allowed _INBOX.> received {:?}",
        heard.ok().flatten().map(|m| m.subject)
    );
    // What it does hear: replies under NATS's default prefix, its own.
    let own = request(&wide, "kiosk-wide", &sign_up).await;
    assert_eq!(own["code"], "ALREADY_SIGNED_UP", "{own}");
    let heard = tokio::time::timeout(Duration::from_secs(5), overheard.next()).await;
    assert!(
        matches!(heard, Ok(Some(_))),
        "the listener hears its own replies"
    );

    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !said.contains("refused a request") && !said.contains("Permissions Violation"),
        "the service was refused something:\n{said}"
    );
}
