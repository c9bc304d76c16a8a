//! Several instances, one writer: the lease, take-over, and stale writers.

use std::time::{Duration, Instant};

use ledger_service::lease::LeaseBucket;
use ledger_service::{Answer, Sequencer};
use ledger_tests::*;
use serde_json::{json, Value};

fn award(key: &str) -> Value {
    submission(
        key,
        json!({"type": "award_points", "volunteer": "v1", "points": 1,
        "approver": "admin-haizhou", "reason": "接管测试"}),
    )
}

/// Sends until accepted (a take-over answers `unavailable` or not at all
/// for a moment); returns the answer.
async fn until_accepted(client: &async_nats::Client, body: &Value) -> Value {
    for _ in 0..100 {
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            client.request(
                shard().intake_subject("admin-city"),
                serde_json::to_vec(body).unwrap().into(),
            ),
        )
        .await;
        if let Ok(Ok(m)) = reply {
            let answer: Value = serde_json::from_slice(&m.payload).unwrap();
            if answer["status"] == "accepted" {
                return answer;
            }
            assert_eq!(answer["status"], "unavailable", "{answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never accepted: {body}");
}

/// Two instances on one chain, set up, with `awards` accepted; which of
/// them holds the lease.
struct TwoInstances {
    nats: Nats,
    client: async_nats::Client,
    writer: ServiceProcess,
    follower: ServiceProcess,
    leases: LeaseBucket,
    holder: String,
}

async fn two_instances(awards: usize) -> TwoInstances {
    let nats = Nats::start();
    let client = nats.client().await;
    let first = ServiceProcess::start(&nats.url());
    wait_for_intake(&client).await;
    let second = ServiceProcess::start(&nats.url());
    set_up(&client).await;
    for i in 0..awards {
        until_accepted(&client, &award(&format!("before-{i}"))).await;
    }
    let js = async_nats::jetstream::new(client.clone());
    let leases = LeaseBucket::open(&js, &shard(), Duration::from_secs(3), 1)
        .await
        .unwrap();
    let holder = leases.holder().await.expect("a writer holds the lease");
    let (writer, follower) = if holder.ends_with(&format!("-{}", first.pid())) {
        (first, second)
    } else {
        (second, first)
    };
    TwoInstances {
        nats,
        client,
        writer,
        follower,
        leases,
        holder,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_writer_dies_another_instance_takes_over_the_same_chain() {
    let TwoInstances {
        nats,
        client,
        mut writer,
        follower,
        leases,
        ..
    } = two_instances(20).await;
    writer.kill();
    let killed = Instant::now();
    let answer = until_accepted(&client, &award("after-0")).await;
    let took = killed.elapsed();
    println!("take-over after SIGKILL of the writer: {took:?}");
    assert!(took < Duration::from_secs(15), "take-over took {took:?}");
    let new_holder = leases.holder().await.expect("a new writer");
    assert!(
        new_holder.ends_with(&format!("-{}", follower.pid())),
        "{new_holder}"
    );

    // The chain continues unbroken from where the dead writer left it.
    let (records, head) = read_chain(&nats.store().await).await;
    assert_eq!(answer["last_sequence"].as_u64(), Some(head.sequence));
    let keys: Vec<_> = records
        .iter()
        .filter_map(|(_, r)| r.submission.clone())
        .collect();
    assert!(keys.iter().any(|k| k.as_str() == "before-19"));
    assert!(keys.iter().any(|k| k.as_str() == "after-0"));
}

/// SIGTERM, as a service manager or container runtime stops a service:
/// the writer gives its lease up and exits cleanly, so another instance
/// takes over without waiting for the lease to run out; a follower exits
/// cleanly too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_sent_sigterm_hands_its_lease_over_and_exits_cleanly() {
    let TwoInstances {
        nats,
        client,
        mut writer,
        follower,
        leases,
        holder,
    } = two_instances(1).await;
    // Each says over /readyz whether it writes.
    let writes = |writing: bool| {
        move |status: u16, body: &serde_json::Value| status == 200 && body["writer"] == writing
    };
    let limit = Duration::from_secs(30);
    until_readiness(&writer.http_url(), limit, writes(true)).await;
    until_readiness(&follower.http_url(), limit, writes(false)).await;

    let stopped = tokio::task::block_in_place(|| writer.stop_with("TERM", Duration::from_secs(20)))
        .expect("the writer stops by itself");
    assert!(stopped.success(), "the writer ended with {stopped}");
    assert_ne!(
        leases.holder().await.as_deref(),
        Some(holder.as_str()),
        "a writer that stopped holds no lease"
    );
    let took = Instant::now();
    until_accepted(&client, &award("after")).await;
    println!(
        "take-over after SIGTERM of the writer: {:?}",
        took.elapsed()
    );
    let new_holder = leases.holder().await.expect("a new writer");
    assert!(
        new_holder.ends_with(&format!("-{}", follower.pid())),
        "{new_holder}"
    );
    until_readiness(&follower.http_url(), limit, writes(true)).await;

    // An instance that only follows stops cleanly too.
    let mut third = ServiceProcess::start(&nats.url());
    wait_for_http(&third.http_url()).await;
    let stopped = tokio::task::block_in_place(|| third.stop_with("TERM", Duration::from_secs(20)))
        .expect("the follower stops by itself");
    assert!(stopped.success(), "the follower ended with {stopped}");
    assert_eq!(leases.holder().await, Some(new_holder));
}

/// A stopping instance answers the HTTP requests it has begun before it
/// exits; here a read that waits (up to 5 s) for a sequence not written yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_sigterm_comes_is_answered() {
    let nats = Nats::start();
    let client = nats.client().await;
    let mut service = ServiceProcess::start(&nats.url());
    wait_for_intake(&client).await;
    let url = format!(
        "{}/api/v1/volunteers/v1/account?after=1000000",
        service.http_url()
    );
    let waiting = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth("any")
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        reqwest::Result::Ok((status, body))
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!waiting.is_finished(), "the read should still be waiting");

    let stopped =
        tokio::task::block_in_place(|| service.stop_with("TERM", Duration::from_secs(20)))
            .expect("the instance stops by itself");
    assert!(stopped.success(), "it ended with {stopped}");
    let (status, body) = waiting
        .await
        .unwrap()
        .expect("the request in flight is answered, not cut off");
    assert_eq!(status.as_u16(), 503, "{body}");
    assert_eq!(body["code"], "NOT_YET", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_that_wakes_up_cannot_append() {
    let nats = Nats::start();
    let store = nats.store().await;
    let js = async_nats::jetstream::new(nats.client().await);
    let ttl = Duration::from_secs(1);
    let leases = LeaseBucket::open(&js, &shard(), ttl, 1).await.unwrap();

    // A takes the lease, then stalls (no renewals) as a paused process would.
    let a_lease = leases
        .try_acquire("instance-a")
        .await
        .expect("A takes the lease");
    let a = Sequencer::open(store.clone())
        .await
        .unwrap()
        .with_lease(a_lease.watch())
        .spawn();
    assert!(
        leases.try_acquire("instance-b").await.is_none(),
        "one holder at a time"
    );
    tokio::time::sleep(ttl * 2).await;

    // B takes over and writes.
    let b_lease = leases
        .try_acquire("instance-b")
        .await
        .expect("B takes the lapsed lease");
    let b = Sequencer::open(store.clone())
        .await
        .unwrap()
        .with_lease(b_lease.watch())
        .spawn();
    let open = |key: &str| {
        as_city_admin(
            key,
            serde_json::from_value(federation()[0].clone()).unwrap(),
        )
    };
    assert!(b.submit(open("by-b")).await.is_accepted());

    // A wakes up and tries: refused, nothing appended.
    let answer = a.submit(open("by-a")).await;
    assert!(matches!(answer, Answer::Unavailable { .. }), "{answer:?}");
    let (records, _) = read_chain(&store).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1.submission.as_ref().unwrap().as_str(), "by-b");
}

/// A renewal can land without its holder learning so: its answer lost, or
/// the renewal dropped half-way by a `select!` (the writer's opening raced
/// the lease's upkeep, and the service then lost its lease a second after
/// every start). The holder's next renewal must still hold; a key that
/// another instance wrote must not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_whose_answer_was_lost_keeps_the_lease() {
    let nats = Nats::start();
    let js = async_nats::jetstream::new(nats.client().await);
    let leases = LeaseBucket::open(&js, &shard(), Duration::from_secs(3), 1)
        .await
        .unwrap();
    let bucket = js
        .get_key_value(format!("{}_LEASE", shard().stream()))
        .await
        .unwrap();
    let mut lease = leases.try_acquire("instance-a").await.unwrap();
    let landed = bucket.entry("writer").await.unwrap().unwrap().revision;

    // The renewal lands; its answer never reaches the holder.
    bucket
        .update("writer", "instance-a".into(), landed)
        .await
        .unwrap();
    lease.renew().await.expect("still this holder's lease");
    assert!(lease.watch().is_held());
    lease.renew().await.expect("and it renews on from there");

    // Someone else's name at a later revision is someone else's lease.
    let now = bucket.entry("writer").await.unwrap().unwrap().revision;
    bucket
        .update("writer", "instance-b".into(), now)
        .await
        .unwrap();
    assert!(lease.renew().await.is_err());
    assert!(!lease.watch().is_held());
}

/// An instance without the ledger's signing key (a rotation not made on
/// every instance) does not keep the lease, where it would answer every
/// command `unavailable`: it gives the lease up, says why, and an instance
/// with the key writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_the_ledgers_key_leaves_the_writing_to_one_with_it() {
    let nats = Nats::start();
    let client = nats.client().await;
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str, byte: u8| {
        let path = dir.path().join(name);
        std::fs::write(&path, [byte; 32]).unwrap();
        vec!["--signing-key".to_owned(), path.display().to_string()]
    };
    let (right, wrong) = (key("right.key", 3), key("wrong.key", 4));
    let folder = |name: &str| dir.path().join(name);

    let mut first = ServiceProcess::start_with_args(&nats.url(), &folder("p1"), &right, None);
    wait_for_intake(&client).await;
    set_up(&client).await;
    let stopped = tokio::task::block_in_place(|| first.stop_with("TERM", Duration::from_secs(20)));
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");

    let log = folder("stranger.log");
    let stranger = ServiceProcess::start_with_args(&nats.url(), &folder("p2"), &wrong, Some(&log));
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("does not hold the ledger's signing key")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the stranger never said why it does not write"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, body) = readiness(&stranger.http_url()).await;
    assert_ne!(body["writer"], true, "{body}");

    let second = ServiceProcess::start_with_args(&nats.url(), &folder("p3"), &right, None);
    until_accepted(&client, &award("after")).await;
    let writes = |status: u16, body: &Value| status == 200 && body["writer"] == true;
    until_readiness(&second.http_url(), Duration::from_secs(30), writes).await;
    let (_, body) = readiness(&stranger.http_url()).await;
    assert_ne!(body["writer"], true, "{body}");
}
