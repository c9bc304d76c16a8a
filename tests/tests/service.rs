//! The service end to end, against a real nats-server.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ledger_core::event::Event;
use ledger_core::{Command, Ledger};
use ledger_service::{Answer, Sequencer};
use ledger_tests::*;
use serde_json::{json, Value};

fn check_in(at: i64) -> Value {
    json!({"type": "check_in", "activity": "a1", "volunteer": "v1", "at": from_now(at),
           "device": "kiosk-12", "external_id": "rec-1"})
}

fn check_out(at: i64) -> Value {
    json!({"type": "check_out", "activity": "a1", "volunteer": "v1", "at": from_now(at),
           "device": "kiosk-12", "external_id": "rec-2"})
}

async fn state_from_stream(nats: &Nats) -> Ledger {
    let (records, _) = read_chain(&nats.store().await).await;
    let events: Vec<Event> = records.into_iter().map(|(_, r)| r.event).collect();
    Ledger::replay(&events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_path_over_nats() {
    let (nats, _writer, client) = served_federation().await;
    let admin = |key: &str, command: Value| submission(key, command);

    let signed = request(
        &client,
        "admin-city",
        &admin(
            "s1",
            json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
        ),
    )
    .await;
    assert_eq!(signed["status"], "accepted", "{signed}");

    // A kiosk checks the volunteer in and out, as another system would.
    let checked_in = request(&client, "kiosk-12", &submission("rec-1", check_in(-40))).await;
    assert_eq!(checked_in["status"], "accepted", "{checked_in}");
    assert_eq!(checked_in["events"], 1);
    let checked_out = request(&client, "kiosk-12", &submission("rec-2", check_out(-10))).await;
    assert_eq!(checked_out["status"], "accepted", "{checked_out}");
    assert_eq!(checked_out["events"], 2, "check-out and its pending credit");

    // The credit is pending until confirmed; with no objection window it confirms at once.
    let state = state_from_stream(&nats).await;
    let account = &state.volunteers[&ledger_core::testing::vid("v1")].account;
    assert_eq!(account.pending_minutes, 30);
    assert_eq!(account.balance(), 0);
    let confirmed = request(
        &client,
        "admin-city",
        &admin("c1", json!({"type": "confirm_credit", "credit": 1})),
    )
    .await;
    assert_eq!(
        confirmed["events"], 2,
        "confirmation and 5 points: {confirmed}"
    );
    let awarded = request(
        &client,
        "admin-city",
        &admin(
            "p1",
            json!({"type": "award_points", "volunteer": "v1",
        "points": 4, "approver": "admin-haizhou", "reason": "微心愿认领完成"}),
        ),
    )
    .await;
    assert_eq!(awarded["status"], "accepted", "{awarded}");
    let redeemed = request(
        &client,
        "admin-city",
        &admin(
            "r1",
            json!({"type": "redeem", "volunteer": "v1",
        "reward": "ticket", "quantity": 2}),
        ),
    )
    .await;
    assert_eq!(redeemed["status"], "accepted", "{redeemed}");

    let state = state_from_stream(&nats).await;
    let account = &state.volunteers[&ledger_core::testing::vid("v1")].account;
    assert_eq!(account.confirmed_system_minutes, 30);
    assert_eq!(account.points_earned, 9);
    assert_eq!(account.balance(), 3);
    assert_eq!(
        state.rewards[&ledger_core::values::RewardId::new("ticket").unwrap()].stock,
        8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_republished_on_a_subject_by_kind_and_unit() {
    use futures::StreamExt;
    let (_nats, _writer, client) = served_federation().await;
    let mut check_ins = client
        .subscribe("ledger.lyg.events.checked_in.g1")
        .await
        .unwrap();
    let mut everything_at_g1 = client.subscribe("ledger.lyg.events.*.g1").await.unwrap();
    client.flush().await.unwrap();
    sign_up_v1(&client).await;
    let accepted = request(&client, "kiosk-12", &submission("rec-1", check_in(-30))).await;

    let message = tokio::time::timeout(Duration::from_secs(5), check_ins.next())
        .await
        .unwrap()
        .unwrap();
    // The message is the event's own frame: its hash is the one the chain holds.
    let (frame, rest) = ledger_core::frame::parse_frame(&message.payload).unwrap();
    assert!(rest.is_empty());
    assert_eq!(frame.computed_hash(), frame.stored_hash);
    assert_eq!(
        Some(frame.stored_hash.to_hex()),
        accepted["hash"].as_str().map(str::to_owned)
    );
    assert!(matches!(frame.decode().unwrap().event, Event::CheckedIn(_)));
    let first = tokio::time::timeout(Duration::from_secs(5), everything_at_g1.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.subject.as_str(), "ledger.lyg.events.signed_up.g1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_answer_their_code_and_append_nothing() {
    let (nats, _writer, client) = served_federation().await;
    let store = nats.store().await;
    let before = store.last_sequence().await.unwrap();

    let cases = [
        (
            submission("x1", check_in(-5)),
            "NOT_SIGNED_UP",
            Some("volunteer"),
        ),
        (
            submission(
                "x2",
                json!({"type": "redeem", "volunteer": "v1", "reward": "ticket", "quantity": 1}),
            ),
            "INSUFFICIENT_BALANCE",
            Some("volunteer"),
        ),
        (
            submission(
                "x3",
                json!({"type": "sign_up", "activity": "nope", "volunteer": "v1"}),
            ),
            "UNKNOWN_ACTIVITY",
            Some("activity"),
        ),
        (
            submission(
                "x4",
                json!({"type": "sign_up", "activity": "a1", "volunteer": "v1", "hours": 3}),
            ),
            "MALFORMED",
            Some("hours"),
        ),
        (
            submission("x5", json!({"type": "sign_up", "activity": "a1"})),
            "MALFORMED",
            Some("volunteer"),
        ),
        (
            submission(
                "x6",
                json!({"type": "redeem", "volunteer": "v1", "reward": "ticket", "quantity": "two"}),
            ),
            "MALFORMED",
            Some("quantity"),
        ),
        (
            submission(
                "x7",
                json!({"type": "sign_up", "activity": "a1", "volunteer": "13812345678"}),
            ),
            "MALFORMED",
            Some("volunteer"),
        ),
    ];
    for (body, code, field) in cases {
        let answer = request(&client, "kiosk-12", &body).await;
        assert_eq!(answer["status"], "rejected", "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
        assert_eq!(answer["field"].as_str(), field, "{answer}");
        assert!(!answer["message"].as_str().unwrap_or_default().is_empty());
    }
    // Not JSON at all.
    let reply = client
        .request(shard().intake_subject("kiosk-12"), "{not json".into())
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(answer["code"], "MALFORMED");
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before,
        "nothing appended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_gets_the_first_answer_even_after_a_restart() {
    let (nats, writer, client) = served_federation().await;
    let sign_up = submission(
        "s1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
    );
    let first = request(&client, "admin-city", &sign_up).await;
    let again = request(&client, "admin-city", &sign_up).await;
    // The same answer, marked as given before: nothing was recorded now.
    assert_eq!(first.get("replayed"), None, "{first}");
    assert_eq!(first, replayed(again));
    // So is a different command under a key already answered, which a
    // device whose counter started again would send: not recorded.
    let reused = submission(
        "s1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v3"}),
    );
    let answered = request(&client, "admin-city", &reused).await;
    assert_eq!(answered["replayed"], true, "{answered}");
    assert_eq!(
        answered["last_sequence"], first["last_sequence"],
        "{answered}"
    );
    // The same key from another system is another submission (and here a rejection).
    let other = request(&client, "kiosk-12", &sign_up).await;
    assert_eq!(other["code"], "ALREADY_SIGNED_UP");
    // A rejection whose cause goes away: the retry still gets the rejection.
    let too_early = submission(
        "w1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v2"}),
    );
    let rejected = request(&client, "admin-city", &too_early).await;
    assert_eq!(rejected["code"], "UNKNOWN_VOLUNTEER");

    // A new writer rebuilt from the stream alone answers the same.
    drop(writer);
    let store = nats.store().await;
    let before = store.last_sequence().await.unwrap();
    let reopened = Sequencer::open(store.clone())
        .await
        .unwrap()
        .remembering_rejections(nats.rejections().await)
        .await
        .unwrap()
        .spawn();
    let command: Command = serde_json::from_value(sign_up["command"].clone()).unwrap();
    let answer = reopened.submit(as_city_admin("s1", command)).await;
    assert_eq!(serde_json::to_value(&answer).unwrap(), first);
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before,
        "a retry appends nothing"
    );
    let register_v2 =
        serde_json::from_value(json!({"type": "register_volunteer", "volunteer": "v2",
        "home_unit": "g1", "membership": "member", "identity": format!("{:064x}", 2)}))
        .unwrap();
    let registered = reopened.submit(as_city_admin("v2-reg", register_v2)).await;
    assert!(registered.is_accepted());
    let before_retry = store.last_sequence().await.unwrap();
    let retried = reopened
        .submit(as_city_admin(
            "w1",
            serde_json::from_value(too_early["command"].clone()).unwrap(),
        ))
        .await;
    assert_eq!(
        serde_json::to_value(&retried).unwrap(),
        rejected,
        "the original rejection, after a restart"
    );
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before_retry,
        "and nothing appended"
    );
}

/// The writer keeps the answers of all but its newest 8,192 submissions in
/// a file. A retry of an older one gets its first answer from there and
/// counts once, and so does one sent to a writer that rebuilt its index
/// from the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_answered_from_the_answers_file_counts_once() {
    let (nats, writer, _client) = served_federation().await;
    const UNITS: usize = 9_000;
    const RETRIED: usize = 300;
    let register = |n: usize| {
        let command = serde_json::from_value(json!({"type": "register_unit",
            "unit": format!("filed-{n}"), "name": format!("第{n}工会小组"),
            "kind": {"grassroots": "street"}, "parent": "city", "quota": null}))
        .expect("command");
        as_city_admin(&format!("filed-{n}"), command)
    };
    let mut firsts = Vec::new();
    for n in 0..UNITS {
        firsts.push(writer.queue(register(n)).await);
    }
    let mut first_answers = Vec::new();
    for pending in firsts {
        let answer = pending.answer().await;
        assert!(answer.is_accepted(), "{answer:?}");
        first_answers.push(answer);
    }
    let retried: Vec<_> = (0..RETRIED).map(register).collect();
    let answers = writer.submit_many(retried.clone()).await;
    assert_eq!(answers, first_answers[..RETRIED], "retries to the writer");

    let reopened = Sequencer::open_spilling(nats.store().await, Some(nats.scratch("reopened")))
        .await
        .expect("a second writer opens")
        .spawn();
    let answers = reopened.submit_many(retried).await;
    assert_eq!(
        answers,
        first_answers[..RETRIED],
        "retries to a rebuilt writer"
    );

    let (records, _) = read_chain(&nats.store().await).await;
    let filed = records
        .iter()
        .filter(|(_, r)| {
            matches!(&r.event, Event::UnitRegistered(u) if u.unit.id.as_str().starts_with("filed-"))
        })
        .count();
    assert_eq!(filed, UNITS, "each unit registered once");
}

/// The writer decides the next block while the last one is in flight. A
/// retry queued behind its first attempt (in the same block, the block in
/// flight, or one stored before) gets the first answer and counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_queued_behind_its_first_attempt_counts_once() {
    let (nats, writer, client) = served_federation().await;
    // A district without a quota of its own, under the city's 5,800.
    for (key, unit) in [
        (
            "queue-d",
            json!({"type": "register_unit", "unit": "queue-d", "name": "连云区总工会",
            "kind": "district_federation", "parent": "city", "quota": null}),
        ),
        (
            "queue-g",
            json!({"type": "register_unit", "unit": "queue-g", "name": "墟沟街道工会",
            "kind": {"grassroots": "street"}, "parent": "queue-d", "quota": null}),
        ),
    ] {
        let answer = request(&client, "admin-city", &submission(key, unit)).await;
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
    let register = |n: usize| {
        let command = serde_json::from_value(json!({"type": "register_volunteer",
            "volunteer": format!("queued-{n}"), "home_unit": "queue-g", "membership": "member",
            "identity": format!("{:064x}", 1000 + n)}))
        .expect("command");
        as_city_admin(&format!("queued-{n}"), command)
    };
    const VOLUNTEERS: usize = 5_000;
    const BEHIND: usize = 700;
    let mut firsts = Vec::new();
    let mut retries = Vec::new();
    for n in 0..VOLUNTEERS {
        firsts.push(writer.queue(register(n)).await);
        if n >= BEHIND {
            retries.push(writer.queue(register(n - BEHIND)).await);
        }
    }
    let mut first_answers = Vec::new();
    for pending in firsts {
        first_answers.push(pending.answer().await);
    }
    for (n, pending) in retries.into_iter().enumerate() {
        let answer = pending.answer().await;
        assert!(first_answers[n].is_accepted(), "{:?}", first_answers[n]);
        assert_eq!(answer, first_answers[n], "the retry of queued-{n}");
    }
    let (records, _) = read_chain(&nats.store().await).await;
    let queued: Vec<&str> = records
        .iter()
        .filter_map(|(_, r)| match &r.event {
            Event::VolunteerRegistered(v) if v.volunteer.as_str().starts_with("queued-") => {
                Some(v.volunteer.as_str())
            }
            _ => None,
        })
        .collect();
    let distinct: HashSet<&str> = queued.iter().copied().collect();
    assert_eq!(queued.len(), VOLUNTEERS, "each volunteer registered once");
    assert_eq!(distinct.len(), VOLUNTEERS);
    let blocks = nats.store().await.last_sequence().await.expect("stream");
    assert!(blocks > 6, "the load went out in several blocks ({blocks})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_gets_one_answer_per_submission_in_order() {
    let (_nats, _writer, client) = served_federation().await;
    sign_up_v1(&client).await;
    // An offline kiosk uploads its queue: check-in, a duplicate scan, check-out, junk.
    let batch = json!({"submissions": [
        submission("q1", check_in(-50)),
        submission("q2", check_in(-49)),
        submission("q3", check_out(-20)),
        {"key": "q4", "command": {"type": "check_in"}},
    ]});
    let reply = request(&client, "kiosk-12", &batch).await;
    let results = reply["results"].as_array().expect("results");
    let statuses: Vec<_> = results
        .iter()
        .map(|r| (r["status"].clone(), r["code"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!("accepted"), Value::Null),
            (json!("rejected"), json!("DUPLICATE_CHECK_IN")),
            (json!("accepted"), Value::Null),
            (json!("rejected"), json!("MALFORMED")),
        ],
        "{reply}"
    );
}

/// A large batch whose items depend on each other in order: each volunteer
/// registered, then approved at three levels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_decided_in_the_order_given() {
    let (_nats, _writer, client) = served_federation().await;
    let mut submissions = Vec::new();
    for n in 0..100 {
        let v = format!("bulk-{n}");
        submissions.push(submission(
            &format!("{v}-r"),
            json!({"type": "register_volunteer",
            "volunteer": v, "home_unit": "g1", "membership": "member",
            "identity": format!("{:064x}", n + 1)}),
        ));
        for level in ["unit", "district_or_industry", "city"] {
            submissions.push(submission(
                &format!("{v}-{level}"),
                json!({"type": "approve_volunteer", "volunteer": v, "level": level}),
            ));
        }
    }
    let reply = request(&client, "admin-city", &json!({"submissions": submissions})).await;
    let results = reply["results"].as_array().expect("results");
    assert_eq!(results.len(), 400);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["status"], "accepted", "item {i}: {r}");
    }
    let sequences: Vec<u64> = results
        .iter()
        .map(|r| r["first_sequence"].as_u64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "sequences follow the batch's order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_cannot_fork_the_chain() {
    let nats = Nats::start();
    let store = nats.store().await;
    let active = Sequencer::open(store.clone()).await.unwrap().spawn();
    // The stale writer read the (empty) stream before the active one wrote.
    let stale = Sequencer::open(store.clone()).await.unwrap().spawn();
    let submit = |writer: &ledger_service::Writer, key: &str, command: Value| {
        let writer = writer.clone();
        let key = key.to_owned();
        async move {
            writer
                .submit(as_city_admin(
                    &key,
                    serde_json::from_value(command).unwrap(),
                ))
                .await
        }
    };
    let commands = federation();
    for (i, c) in commands.iter().take(3).enumerate() {
        assert!(submit(&active, &format!("k{i}"), c.clone())
            .await
            .is_accepted());
    }
    // The stale writer still believes the ledger is empty: its append is fenced off.
    let answer = submit(&stale, "k-stale", commands[0].clone()).await;
    assert!(matches!(answer, Answer::Unavailable { .. }), "{answer:?}");
    // Having rebuilt from the stream, it now sees the ledger as it is.
    let answer = submit(&stale, "k-stale", commands[0].clone()).await;
    assert!(
        matches!(&answer, Answer::Rejected { code, .. } if code == "LEDGER_ALREADY_OPEN"),
        "{answer:?}"
    );
    let (records, head) = read_chain(&store).await;
    assert_eq!(records.len(), 3);
    assert_eq!(head.sequence, 3);
}

/// Thousands of submissions, the service killed with SIGKILL in the middle,
/// restarted, and everything retried with the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_load_nothing_acknowledged_is_lost_or_doubled() {
    const SUBMISSIONS: usize = 3_000;
    let nats = Nats::start();
    let mut service = ServiceProcess::start(&nats.url());
    let client = nats.client().await;
    wait_for_intake(&client).await;
    set_up(&client).await;

    let award = |i: usize| {
        submission(
            &format!("load-{i}"),
            json!({"type": "award_points", "volunteer": "v1",
            "points": 1, "approver": "admin-haizhou", "reason": "批量测试"}),
        )
    };
    // Fire everything at once; kill the service once some answers are in.
    let bodies = (0..SUBMISSIONS).map(award).collect();
    let mut pending = fire_all(&client, "loader", bodies, Duration::from_secs(10));
    let mut acknowledged: HashMap<usize, Value> = HashMap::new();
    let mut killed = false;
    use futures::StreamExt;
    while let Some((i, answer)) = pending.next().await {
        if let Some(a) = answer.filter(|a| a["status"] == "accepted") {
            acknowledged.insert(i, a);
        }
        if !killed && acknowledged.len() >= SUBMISSIONS / 4 {
            service.kill();
            killed = true;
        }
    }
    assert!(killed, "the load finished before the kill");
    assert!(
        acknowledged.len() < SUBMISSIONS,
        "the kill came too late to matter"
    );

    // Restart and retry every submission with its key.
    let _service = ServiceProcess::start(&nats.url());
    wait_for_intake(&client).await;
    for i in 0..SUBMISSIONS {
        let answer = request(&client, "loader", &award(i)).await;
        assert_eq!(answer["status"], "accepted", "retry of {i}: {answer}");
        if let Some(first) = acknowledged.get(&i) {
            assert_eq!(
                &replayed(answer),
                first,
                "a retry of an acknowledged submission gets its answer"
            );
        }
    }

    let (records, _) = read_chain(&nats.store().await).await;
    let mut seen = HashSet::new();
    for (_, record) in &records {
        if let Some(key) = &record.submission {
            if key.as_str().starts_with("load-") {
                assert!(seen.insert(key.clone()), "{key} is in the chain twice");
            }
        }
    }
    assert_eq!(
        seen.len(),
        SUBMISSIONS,
        "every submission is in the chain exactly once"
    );
    println!(
        "{} submissions, {} acknowledged before SIGKILL, all {} in the chain once",
        SUBMISSIONS,
        acknowledged.len(),
        seen.len()
    );
}
