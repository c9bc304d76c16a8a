//! A 3-node JetStream cluster with an R3 stream: one node killed during load
//! loses no acknowledged event.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use ledger_service::{intake, ChainStore, Sequencer};
use ledger_tests::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_loses_no_acknowledged_event() {
    const SUBMISSIONS: usize = 1_500;
    let mut cluster = Cluster::start();
    let client = cluster.client().await;
    let store = ChainStore::new(async_nats::jetstream::new(client.clone()), shard());
    // JetStream elects its meta leader a moment after the routes connect.
    let mut ready = false;
    for _ in 0..100 {
        if store.ensure(3).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(ready, "the cluster never accepted an R3 stream");
    let writer = Sequencer::open(store.clone()).await.unwrap().spawn();
    tokio::spawn(intake::serve(
        client.clone(),
        shard(),
        writer,
        ledger_service::accounts::Accounts::open(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    set_up(&client).await;

    let award = |i: usize| {
        submission(
            &format!("r3-{i}"),
            json!({"type": "award_points", "volunteer": "v1",
            "points": 1, "approver": "admin-haizhou", "reason": "集群测试"}),
        )
    };
    let bodies = (0..SUBMISSIONS).map(award).collect();
    let mut pending = fire_all(&client, "loader", bodies, Duration::from_secs(30));
    let mut acknowledged: HashMap<usize, Value> = HashMap::new();
    let mut killed = None;
    while let Some((i, answer)) = pending.next().await {
        if let Some(a) = answer.filter(|a| a["status"] == "accepted") {
            acknowledged.insert(i, a);
        }
        if killed.is_none() && acknowledged.len() >= SUBMISSIONS / 3 {
            let leader = store
                .leader()
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "n0".into());
            cluster.kill(&leader);
            killed = Some(leader);
        }
    }
    let killed = killed.expect("a node was killed during the load");

    // Retry whatever was not acknowledged, with the same keys.
    for i in 0..SUBMISSIONS {
        if acknowledged.contains_key(&i) {
            continue;
        }
        let mut done = false;
        for _ in 0..60 {
            let answer = request(&client, "loader", &award(i)).await;
            if answer["status"] == "accepted" {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(done, "retry of r3-{i} never accepted");
    }
    // With the node still down, two of three replicas hold everything.
    let (records, _) = read_chain(&store).await;
    let mut seen = HashSet::new();
    for (_, record) in &records {
        if let Some(key) = &record.submission {
            if key.as_str().starts_with("r3-") {
                assert!(seen.insert(key.as_str().to_owned()), "{key} twice");
            }
        }
    }
    for i in acknowledged.keys() {
        assert!(
            seen.contains(&format!("r3-{i}")),
            "acknowledged r3-{i} lost"
        );
    }
    assert_eq!(seen.len(), SUBMISSIONS);

    // The node comes back and the stream still reads whole.
    cluster.restart(&killed);
    let (after, _) = read_chain(&store).await;
    assert_eq!(after.len(), records.len());
    println!(
        "R3 cluster: {SUBMISSIONS} submissions, {} acknowledged before and after killing stream leader {killed}; none lost, none doubled",
        acknowledged.len()
    );
}

/// An instance started while the cluster cannot answer JetStream requests
/// (two nodes of three down, so no quorum) waits, says why in its log, and
/// serves once the nodes are back: a node restarting is routine, and the
/// fault-injection run saw instances exit on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_before_jetstream_answers_waits_for_it() {
    let mut cluster = Cluster::start();
    cluster.kill("n1");
    cluster.kill("n2");
    let dir = tempfile::tempdir().expect("temporary folder");
    let log = dir.path().join("serve.log");
    let mut service = ServiceProcess::start_with_args(
        &cluster.urls(),
        &dir.path().join("projections"),
        &["--replicas".into(), "3".into()],
        Some(&log),
    );
    let waited = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("JetStream does not answer yet")
    })
    .await;
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(waited, "the instance never said it waits:\n{}", logged());
    // It keeps waiting through further failures (a JetStream request
    // times out after five seconds).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(service.exit_status(), None, "it exited:\n{}", logged());

    cluster.restart("n1");
    cluster.restart("n2");
    let client = cluster.client().await;
    wait_for_intake(&client).await;
    let answer = request(&client, "loader", &sign_up_probe()).await;
    assert_eq!(answer["status"], "rejected", "{answer}");
    assert_eq!(service.exit_status(), None);
}

/// A command the rules refuse (its activity does not exist): an answer
/// that shows the writer decides.
fn sign_up_probe() -> Value {
    submission(
        "probe-after-wait",
        json!({"type": "sign_up", "volunteer": "v1", "activity": "no-such-activity"}),
    )
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    done()
}
