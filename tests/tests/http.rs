//! The admins' HTTP API and the rights behind it, and rights on the NATS
//! intake: 401 without a token, 403 outside one's units, nothing recorded.

use axum::http::StatusCode;
use ledger_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_act_inside_their_subtree_and_nothing_else_is_recorded() {
    let s = start_http(test_accounts()).await;
    set_up_http(&s.router, "city-secret").await;
    register_lianyun(&s.router).await;
    let store = s.nats.store().await;
    let before = store.last_sequence().await.unwrap();

    let register = |v: &str, n: u32| {
        json!({"type": "register_volunteer", "volunteer": v, "home_unit": "g1",
        "membership": "member", "identity": format!("{n:064x}")})
    };
    // No token, a wrong token: 401.
    let (status, _) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        None,
        Some(submission("x1", register("v2", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("guess"),
        Some(submission("x1", register("v2", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another district's admin: 403. An auditor: 403.
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("lianyun-secret"),
        Some(submission("x2", register("v2", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["code"], "FORBIDDEN");
    let (status, _) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("auditor-secret"),
        Some(submission("x3", register("v2", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The city's own approval level is not a district's to give.
    let (status, _) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("haizhou-secret"),
        Some(submission(
            "x4",
            json!({"type": "open_ledger", "ledger": "lyg", "name": "x",
            "objection_window_days": 1, "utc_offset_minutes": 480, "number_prefix": "XX"}),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before,
        "nothing recorded"
    );

    // Inside its subtree the district admin acts; a rule's refusal is 422.
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("haizhou-secret"),
        Some(submission("ok-1", register("v2", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("haizhou-secret"),
        Some(submission("ok-2", register("v3", 2))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "DUPLICATE_IDENTITY");
    // Another district's admin registering the same person learns that he
    // is registered, not as which volunteer (v2, of haizhou).
    let mut elsewhere = register("l1", 2);
    elsewhere["home_unit"] = json!("lianyun");
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("lianyun-secret"),
        Some(submission("ok-3", elsewhere)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "DUPLICATE_IDENTITY", "{answer}");
    assert_eq!(answer["field"], "identity", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("already registered"), "{answer}");
    assert!(!message.contains("v2"), "{answer}");
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("haizhou-secret"),
        Some(json!({"key": "k", "command": {"type": "sign_up"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "MALFORMED");

    let (status, head) = call(
        &s.router,
        "GET",
        "/api/v1/head",
        Some("auditor-secret"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, chain_head) = read_chain(&store).await;
    assert_eq!(head["sequence"].as_u64(), Some(chain_head.sequence));
    assert_eq!(
        head["hash"].as_str(),
        Some(chain_head.hash.to_hex().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_api() {
    let s = start_http(test_accounts()).await;
    let (status, doc) = call(&s.router, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/commands",
        "/api/v1/head",
        "/api/v1/leaderboards/volunteers",
        "/api/v1/leaderboards/units",
        "/api/v1/units/{unit}/summary",
        "/api/v1/volunteers/{volunteer}/history",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/api/v1/commands"]["post"]["responses"]["403"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_systems_are_known_and_bound_to_their_units() {
    let s = start_http(test_accounts()).await;
    set_up(&s.client).await;
    sign_up_v1(&s.client).await;
    // kiosk-12 is bound to another district than a1's organiser.
    let answer = request(
        &s.client,
        "kiosk-12",
        &submission(
            "k1",
            json!({"type": "check_in", "activity": "a1",
        "volunteer": "v1", "at": from_now(-5), "device": null, "external_id": null}),
        ),
    )
    .await;
    assert_eq!(answer["code"], "FORBIDDEN", "{answer}");
    let answer = request(
        &s.client,
        "kiosk-99",
        &submission(
            "k1",
            json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
        ),
    )
    .await;
    assert_eq!(answer["code"], "UNKNOWN_SYSTEM", "{answer}");
}

/// The whole path with the balance read back through the service: admins
/// over HTTP, a kiosk over NATS, read-your-writes on the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_is_read_back_through_the_service() {
    let s = start_http(test_accounts()).await;
    let post = |key: &str, command: serde_json::Value, token: &'static str| {
        let router = s.router.clone();
        let body = submission(key, command);
        async move { call(&router, "POST", "/api/v1/commands", Some(token), Some(body)).await }
    };
    set_up_http(&s.router, "city-secret").await;
    assert_eq!(
        post(
            "s1",
            json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
            "haizhou-secret"
        )
        .await
        .0,
        StatusCode::OK
    );
    let kiosk = |key: &str, kind: &str, at: i64| {
        submission(
            key,
            json!({"type": kind, "activity": "a1",
        "volunteer": "v1", "at": from_now(at), "device": "kiosk-hz", "external_id": key}),
        )
    };
    let checked_in = request(&s.client, "kiosk-hz", &kiosk("in-1", "check_in", -45)).await;
    assert_eq!(checked_in["status"], "accepted", "{checked_in}");
    assert_eq!(
        request(&s.client, "kiosk-hz", &kiosk("out-1", "check_out", -15)).await["status"],
        "accepted"
    );
    assert_eq!(
        post(
            "c1",
            json!({"type": "confirm_credit", "credit": 1}),
            "haizhou-secret"
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, redeemed) = post(
        "r1",
        json!({"type": "redeem", "volunteer": "v1", "reward": "ticket", "quantity": 1}),
        "city-secret",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{redeemed}");
    let after = redeemed["last_sequence"].as_u64().unwrap();

    let path = format!("/api/v1/volunteers/v1/account?after={after}");
    let (status, account) = call(&s.router, "GET", &path, Some("haizhou-secret"), None).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["confirmed_system_minutes"], 30);
    assert_eq!(
        account["points_earned"], 5,
        "30 minutes at 10 points an hour"
    );
    assert_eq!(account["points_redeemed"], 3);
    assert_eq!(account["balance"], 2);
    assert_eq!(account["star_level"], 0);
    assert_eq!(account["as_of"]["sequence"].as_u64(), Some(after));
    // Another district's admin may not look; an auditor may.
    assert_eq!(
        call(&s.router, "GET", &path, Some("lianyun-secret"), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s.router, "GET", &path, Some("auditor-secret"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&s.router, "GET", &path, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Pages and answers are kept by no cache, framed by no other site, and
/// taken as the type they say: the console's sign-in page, an API answer
/// and a refusal alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_protective_headers() {
    use tower::ServiceExt;
    let s = start_http(test_accounts()).await;
    for (path, token) in [
        ("/console/", None),
        ("/api/v1/head", Some("city-secret")),
        ("/api/v1/head", None),
    ] {
        let mut request = axum::http::Request::builder().uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = s
            .router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let headers = response.headers();
        for (name, value) in [
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(
                headers.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{path}: {name}"
            );
        }
    }
}

/// Points given by hand take two admins who both sign in: one asks, another
/// approves, and the chain names each as the actor of his own events. A
/// district admin cannot give them under a typed name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_made_entries_take_two_admins_who_both_act() {
    let s = start_http(test_accounts()).await;
    set_up_http(&s.router, "city-secret").await;
    register_lianyun(&s.router).await;
    let post = |key: &str, command: serde_json::Value, token: &'static str| {
        let router = s.router.clone();
        let body = submission(key, command);
        async move { call(&router, "POST", "/api/v1/commands", Some(token), Some(body)).await }
    };
    let requests = |token: &'static str, after: u64| {
        let router = s.router.clone();
        async move {
            let path = format!("/api/v1/requests?after={after}");
            let (status, answer) = call(&router, "GET", &path, Some(token), None).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer
        }
    };

    // The typed approver's name is not a district admin's to use.
    let (status, answer) = post(
        "direct",
        json!({"type": "award_points", "volunteer": "v1", "points": 5,
               "approver": "admin-city", "reason": "微心愿认领完成"}),
        "haizhou-secret",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");

    let award = json!({"type": "request_entry",
        "entry": {"award": {"volunteer": "v1", "points": 5}}, "reason": "微心愿认领完成"});
    let (status, answer) = post("ask-elsewhere", award.clone(), "lianyun-secret").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, asked) = post("ask", award, "haizhou-secret").await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    let after = asked["last_sequence"].as_u64().expect("recorded");

    // Waiting: seen by the admins of v1's units, not by another district's.
    let waiting = requests("haizhou-secret", after).await;
    assert_eq!(waiting["total"], 1, "{waiting}");
    let request = &waiting["items"][0];
    assert_eq!(request["id"], 1, "{waiting}");
    assert_eq!(request["unit"], "g1", "{waiting}");
    assert_eq!(request["requested"]["by"], "admin-haizhou", "{waiting}");
    assert_eq!(requests("city-secret", after).await["total"], 1);
    assert_eq!(requests("lianyun-secret", after).await["total"], 0);

    let approve = json!({"type": "approve_request", "request": 1});
    let (status, answer) = post("own", approve.clone(), "haizhou-secret").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "SELF_APPROVAL");
    let (status, _) = post("outsider", approve.clone(), "lianyun-secret").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, approved) = post("approve", approve.clone(), "city-secret").await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (status, again) = post("approve-again", approve, "city-secret").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{again}");
    assert_eq!(again["code"], "REQUEST_DECIDED");

    let after = approved["last_sequence"].as_u64().expect("recorded");
    assert_eq!(requests("city-secret", after).await["total"], 0);
    let path = format!("/api/v1/volunteers/v1/account?after={after}");
    let (_, account) = call(&s.router, "GET", &path, Some("haizhou-secret"), None).await;
    assert_eq!(account["balance"], 5, "{account}");

    // On the chain: the request under the one who asked, the approval and
    // the award under the one who approved, who is the award's approver.
    let (records, _) = read_chain(&s.nats.store().await).await;
    let by_kind = |kind: &str| {
        records
            .iter()
            .find(|(_, r)| r.event.kind() == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let (_, requested) = by_kind("entry_requested");
    assert_eq!(requested.actor.as_str(), "admin-haizhou");
    let (approved_at, approval) = by_kind("request_approved");
    assert_eq!(approval.actor.as_str(), "admin-city");
    let (awarded_at, award) = records
        .iter()
        .find(|(_, r)| {
            matches!(&r.event, ledger_core::Event::PointsAwarded(a)
                if matches!(&a.basis, ledger_core::domain::AwardBasis::Manual(m)
                    if m.approver.as_str() == "admin-city"))
        })
        .expect("the award");
    assert_eq!(*awarded_at, approved_at + 1);
    assert_eq!(award.actor.as_str(), "admin-city");
}
