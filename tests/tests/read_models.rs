//! The read models through the query API: balances, histories, unit
//! roll-ups and rankings, leaderboards, as of any sequence; the same rights
//! as the command API; and a service killed while projecting resumes to the
//! state a rebuild from the stream gives, row for row.

use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use ledger_tests::*;
use serde_json::{json, Value};

async fn get(s: &HttpSetup, path: &str, token: &str) -> (StatusCode, Value) {
    call(&s.router, "GET", path, Some(token), None).await
}

/// v1 signs up (sequence `before` after it), comes for 30 minutes, and the
/// credit is confirmed: 30 minutes and 5 points. Returns (before, after).
async fn thirty_minutes_of_v1(s: &HttpSetup) -> (u64, u64) {
    set_up_http(&s.router, "city-secret").await;
    let post = |key: &str, command: Value| {
        let body = submission(key, command);
        call(
            &s.router,
            "POST",
            "/api/v1/commands",
            Some("city-secret"),
            Some(body),
        )
    };
    let (status, signed) = post(
        "s1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let before = signed["last_sequence"].as_u64().unwrap();
    for (key, kind, at) in [("in-1", "check_in", -45), ("out-1", "check_out", -15)] {
        let body = submission(
            key,
            json!({"type": kind, "activity": "a1", "volunteer": "v1",
                   "at": from_now(at), "device": "kiosk-hz", "external_id": key}),
        );
        assert_eq!(
            request(&s.client, "kiosk-hz", &body).await["status"],
            "accepted"
        );
    }
    let (status, confirmed) = post("c1", json!({"type": "confirm_credit", "credit": 1})).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    (before, confirmed["last_sequence"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_query_balances_rankings_and_leaderboards() {
    let s = start_http(test_accounts()).await;
    let (before, after) = thirty_minutes_of_v1(&s).await;
    let year = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y")
        .to_string();

    let (status, v) = get(
        &s,
        &format!("/api/v1/volunteers/v1/summary?after={after}&period={year}"),
        "haizhou-secret",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["as_of"]["sequence"].as_u64(), Some(after));
    assert_eq!(v["volunteer"]["confirmed_system_minutes"], 30);
    assert_eq!(v["volunteer"]["points_earned"], 5);
    assert_eq!(v["volunteer"]["balance"], 5);
    assert_eq!(v["volunteer"]["in_period"]["system_minutes"], 30);
    assert_eq!(v["volunteer"]["minutes_to_next_star"], 100 * 60 - 30);

    let (_, board) = get(
        &s,
        "/api/v1/leaderboards/volunteers?metric=hours&scope=haizhou",
        "haizhou-secret",
    )
    .await;
    assert_eq!(board["items"][0]["volunteer"], "v1", "{board}");
    assert_eq!(board["items"][0]["score"], 30);
    assert_eq!(board["items"][0]["rank"], 1);
    assert_eq!(board["items"][0]["number"], "LYG00000001");
    assert_eq!(board["items"][0]["name"], Value::Null, "no name on file");

    // With a name on file, admins see it beside the place; an auditor,
    // who may not see personal data, does not.
    let personal = ledger_service::personal::PersonalStore::open(
        &async_nats::jetstream::new(s.client.clone()),
        &shard(),
        1,
    )
    .await
    .unwrap();
    let record: ledger_service::personal::PersonalRecord = serde_json::from_value(json!({
        "name": "张伟", "sex": null, "citizen_id": "320703198001010015", "phone": null,
        "political_status": null, "employer": null, "education": null,
        "started_work": null, "health": null}))
    .unwrap();
    let v1 = ledger_core::values::VolunteerId::new("v1").unwrap();
    personal.put(&v1, &record).await.unwrap();
    let path = "/api/v1/leaderboards/volunteers?metric=hours&scope=haizhou";
    let (_, named) = get(&s, path, "haizhou-secret").await;
    assert_eq!(named["items"][0]["name"], "张伟", "{named}");
    // Asked again, every name on the page is cached: the page is answered
    // without a task to fetch them, and the same.
    let (_, again) = get(&s, path, "haizhou-secret").await;
    assert_eq!(again, named, "{again}");
    let (status, audited) = get(&s, path, "auditor-secret").await;
    assert_eq!(status, StatusCode::OK, "{audited}");
    assert_eq!(audited["items"][0]["volunteer"], "v1", "{audited}");
    assert_eq!(audited["items"][0]["name"], Value::Null, "{audited}");
    let (_, points) = get(
        &s,
        &format!(
            "/api/v1/leaderboards/volunteers?metric=points&period={year}&category=traffic_order"
        ),
        "city-secret",
    )
    .await;
    assert_eq!(points["items"][0]["score"], 5, "{points}");
    let (_, other) = get(
        &s,
        "/api/v1/leaderboards/volunteers?category=legal_aid",
        "city-secret",
    )
    .await;
    assert_eq!(
        other["items"],
        json!([]),
        "another category is empty: {other}"
    );

    // As of the sign-up, nothing was confirmed yet: the board was empty,
    // and it still is, whatever came after.
    let path = format!("/api/v1/leaderboards/volunteers?as_of={before}");
    let (status, then) = get(&s, &path, "city-secret").await;
    assert_eq!(status, StatusCode::OK, "{then}");
    assert_eq!(then["as_of"]["sequence"].as_u64(), Some(before));
    assert_eq!(then["items"], json!([]));
    let (_, pending) = get(
        &s,
        &format!("/api/v1/volunteers/v1/summary?as_of={before}"),
        "city-secret",
    )
    .await;
    assert_eq!(
        pending["volunteer"]["confirmed_system_minutes"], 0,
        "{pending}"
    );
    let (status, beyond) = get(
        &s,
        &format!("/api/v1/leaderboards/volunteers?as_of={}", after + 1000),
        "city-secret",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{beyond}");

    let (status, unit) = get(
        &s,
        &format!("/api/v1/units/haizhou/summary?period={year}"),
        "haizhou-secret",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{unit}");
    let u = &unit["unit"];
    assert_eq!(u["confirmed_system_minutes"], 30);
    assert_eq!(u["points"], 5);
    assert_eq!(u["active_volunteers"], 1);
    assert_eq!(u["registered_volunteers"], 1);
    assert_eq!(u["activities_held"], 1);
    assert_eq!(u["featured_held"], 1);
    assert_eq!(u["featured_required"], 2);
    assert_eq!(u["rank_among_siblings"]["hours"], 1);
    let (_, city) = get(&s, "/api/v1/units/city/summary", "city-secret").await;
    assert_eq!(
        city["unit"]["confirmed_system_minutes"], 30,
        "roll-up: {city}"
    );
    let (_, units) = get(
        &s,
        "/api/v1/leaderboards/units?scope=city&metric=points",
        "auditor-secret",
    )
    .await;
    assert_eq!(units["items"][0]["unit"], "haizhou", "{units}");
    assert_eq!(units["items"][0]["score"], 5);

    let (_, history) = get(
        &s,
        "/api/v1/volunteers/v1/history?limit=3",
        "auditor-secret",
    )
    .await;
    assert_eq!(history["entries"].as_array().unwrap().len(), 3, "{history}");
    assert_eq!(history["entries"][0]["kind"], "volunteer_registered");
    assert_eq!(history["next_offset"], 3);
    let (_, rest) = get(
        &s,
        "/api/v1/volunteers/v1/history?offset=3&limit=100",
        "auditor-secret",
    )
    .await;
    let last = rest["entries"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["kind"], "points_awarded");
    assert_eq!(last["balance"], 5);
    assert_eq!(last["hash"].as_str().map(str::len), Some(64));

    let (_, activity) = get(&s, "/api/v1/activities/a1/summary", "haizhou-secret").await;
    assert_eq!(activity["activity"]["sign_ups"], 1, "{activity}");
    assert_eq!(activity["activity"]["attended"], 1);
    assert_eq!(activity["no_shows"], 0);
    assert_eq!(activity["activity"]["confirmed_minutes"], 30);
    let (_, came) = get(&s, "/api/v1/activities/a1/participants", "haizhou-secret").await;
    assert_eq!(came["items"].as_array().map(Vec::len), Some(1), "{came}");
    let v1 = &came["items"][0];
    assert_eq!(
        (
            &v1["volunteer"],
            &v1["number"],
            &v1["signed_up"],
            &v1["check_ins"],
            &v1["not_checked_out"]
        ),
        (
            &json!("v1"),
            &json!("LYG00000001"),
            &json!(true),
            &json!(1),
            &json!(0)
        ),
        "{came}"
    );
    let (_, rewards) = get(&s, "/api/v1/rewards", "city-secret").await;
    assert_eq!(rewards["items"][0]["reward"]["stock"], 10, "{rewards}");
    // The city's reward is open to every district's volunteers, so a
    // district's admin finds it in his listing.
    let (_, theirs) = get(&s, "/api/v1/rewards", "haizhou-secret").await;
    assert_eq!(theirs["total"], 1, "{theirs}");
    assert_eq!(theirs["items"][0]["reward"]["id"], "ticket");

    // Rights: another district's admin sees nothing of haizhou; bad
    // queries get a typed error.
    for path in [
        "/api/v1/volunteers/v1/summary",
        "/api/v1/units/haizhou/summary",
        "/api/v1/leaderboards/volunteers?scope=haizhou",
        "/api/v1/activities/a1/summary",
        "/api/v1/activities/a1/participants",
    ] {
        let (status, body) = get(&s, path, "lianyun-secret").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = call(
        &s.router,
        "GET",
        "/api/v1/leaderboards/volunteers",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for path in [
        "/api/v1/leaderboards/volunteers?period=spring",
        "/api/v1/leaderboards/volunteers?limit=0",
        "/api/v1/leaderboards/volunteers?category=knitting",
        "/api/v1/leaderboards/volunteers?from=2026-03-01",
    ] {
        let (status, body) = get(&s, path, "city-secret").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], "BAD_QUERY");
    }
}

#[test]
fn killed_while_projecting_it_resumes_to_what_a_rebuild_gives() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let nats = Nats::start();
    let projections = nats.scratch("read-models");
    let mut service = ServiceProcess::start_with_projections(&nats.url(), &projections);
    let last = runtime.block_on(async {
        let client = nats.client().await;
        wait_for_intake(&client).await;
        set_up(&client).await;
        let quota = submission(
            "quota",
            json!({"type": "set_quota", "unit": "haizhou", "quota": 5000}),
        );
        assert_eq!(
            request(&client, "admin-city", &quota).await["status"],
            "accepted"
        );
        for round in 0..4u64 {
            // A batch of registrations, retried (same keys, so never twice)
            // until the writer takes it; then the service is killed while
            // its read models are applying it.
            let submissions: Vec<Value> = (0..400)
                .map(|i| {
                    let n = round * 1000 + i + 2;
                    submission(
                        &format!("reg-{n}"),
                        json!({"type": "register_volunteer", "volunteer": format!("v{n}"),
                               "home_unit": "g1", "membership": "member", "groups": [],
                               "specialties": [], "identity": format!("{:064x}", n)}),
                    )
                })
                .collect();
            let payload = serde_json::to_vec(&json!({"submissions": submissions})).unwrap();
            for _ in 0..100 {
                let reply = tokio::time::timeout(
                    Duration::from_secs(20),
                    client.request(shard().intake_subject("admin-city"), payload.clone().into()),
                )
                .await;
                let accepted = match reply {
                    Ok(Ok(m)) => serde_json::from_slice::<Value>(&m.payload)
                        .map(|v| v["results"][0]["status"] == "accepted")
                        .unwrap_or(false),
                    _ => false,
                };
                if accepted {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_millis(15 * round)).await;
            service.kill();
            service = ServiceProcess::start_with_projections(&nats.url(), &projections);
        }
        let (_, head) = read_chain(&nats.store().await).await;
        head.sequence
    });
    assert!(last > 1600, "only {last} events reached the chain");
    // The restarted instance catches up from where its projection stood.
    let url = format!(
        "{}/api/v1/units/city/summary?after={last}",
        service.http_url()
    );
    let mut caught_up = false;
    for _ in 0..100 {
        if let Some(body) = runtime.block_on(reqwest_get(&url)) {
            assert_eq!(body["as_of"]["sequence"].as_u64(), Some(last), "{body}");
            assert_eq!(body["unit"]["registered_volunteers"], 1601, "{body}");
            caught_up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        caught_up,
        "the restarted service never served sequence {last}"
    );
    let rebuild_check = || {
        Command::new(ledger_binary())
            .args([
                "rebuild",
                "--check",
                "--quiet",
                "--nats",
                &nats.url(),
                "--shard",
                SHARD,
            ])
            .arg("--projections")
            .arg(&projections)
            .output()
            .unwrap()
    };
    // While the service runs it holds the directory: refused, and not with
    // the code that means "the read models differed".
    let busy = rebuild_check();
    assert_eq!(
        busy.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    service.kill();

    let check = rebuild_check();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.contains("identical"), "{out}");
    assert!(out.contains(&format!("rebuilt {last} events")), "{out}");
}

/// The body of a successful GET, or `None` (not up yet, not caught up).
async fn reqwest_get(url: &str) -> Option<Value> {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth("any")
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}
