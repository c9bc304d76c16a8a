//! Personal data stays off the chain: registrations with ID numbers and
//! phones leave no trace of them in any byte of the stream, and erasing a
//! person makes their record unreadable while the chain still verifies.

use axum::http::StatusCode;
use ledger_service::accounts::Accounts;
use ledger_tests::*;
use serde_json::json;
use std::time::Duration;

/// A resident ID number that registration takes (`n` below 1,000); the
/// third ends in X.
fn citizen_id(n: u32) -> String {
    ledger_core::domain::with_check_digit(&format!("21020219850{n:03}328")).expect("17 digits")
}

fn phone(n: u32) -> String {
    format!("1390411{n:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_number_or_phone_reaches_the_stream_and_erasure_works() {
    let s = start_http(Accounts::open()).await;
    set_up_http(&s.router, "t").await;
    for n in 0..20 {
        let form = json!({
            "key": format!("reg-{n}"), "volunteer": format!("p-{n}"), "home_unit": "g1",
            "membership": "member", "groups": ["retiree"], "specialties": [],
            "personal": {"name": format!("志愿者{n}"), "sex": "女", "citizen_id": citizen_id(n),
                "phone": phone(n), "political_status": "群众", "employer": "大连港集团",
                "education": null, "started_work": "2005-07", "health": "良好", "work_history": []}
        });
        let (status, answer) = call(
            &s.router,
            "POST",
            "/api/v1/volunteers",
            Some("t"),
            Some(form),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "registration {n}: {answer}");
    }
    // The same person again, under another volunteer id: caught by the commitment.
    let again = json!({"key": "reg-dup", "volunteer": "p-dup", "home_unit": "g1", "membership": "member",
        "personal": {"name": "x", "sex": null, "citizen_id": citizen_id(3).to_lowercase(), "phone": null,
        "political_status": null, "employer": null, "education": null, "started_work": null, "health": null}});
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/volunteers",
        Some("t"),
        Some(again),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "DUPLICATE_IDENTITY");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("p-3"),
        "names who holds the number: {answer}"
    );
    // Spelled with spaces, or at full width as an input method types it:
    // the same person. Not a resident ID number at all, or one with two
    // digits swapped (its check digit no longer matches): refused.
    let wide: String = citizen_id(3)
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
        .collect();
    let spaced = format!("{} {}", &citizen_id(3)[..6], &citizen_id(3)[6..]);
    let swapped = citizen_id(4).replacen("19850", "19580", 1);
    assert_ne!(swapped, citizen_id(4));
    for (n, (citizen_id, code, says)) in [
        (wide.as_str(), "DUPLICATE_IDENTITY", "already registered"),
        (spaced.as_str(), "DUPLICATE_IDENTITY", "already registered"),
        ("not-an-id", "MALFORMED", "not a resident ID number"),
        (swapped.as_str(), "MALFORMED", "check digit"),
    ]
    .into_iter()
    .enumerate()
    {
        let form = json!({"key": format!("reg-again-{n}"), "volunteer": format!("p-again-{n}"),
            "home_unit": "g1", "membership": "member",
            "personal": {"name": "x", "sex": null, "citizen_id": citizen_id, "phone": null,
            "political_status": null, "employer": null, "education": null,
            "started_work": null, "health": null}});
        let (status, answer) = call(
            &s.router,
            "POST",
            "/api/v1/volunteers",
            Some("t"),
            Some(form),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{citizen_id}: {answer}"
        );
        assert_eq!(answer["code"], code, "{citizen_id}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{citizen_id}: {answer}");
        if code == "MALFORMED" {
            assert_eq!(answer["field"], "personal.citizen_id", "{answer}");
        }
    }

    // Every byte of the stream, as served and as the server stores it.
    let store = s.nats.store().await;
    let mut stream_bytes = Vec::new();
    store
        .replay(1, |b| {
            stream_bytes.extend_from_slice(&b.frames);
            Ok(())
        })
        .await
        .unwrap();
    let mut files = Vec::new();
    collect_files(&s.nats.server.dir.join("jetstream"), &mut files);
    let ledger_files: Vec<Vec<u8>> = files
        .iter()
        .filter(|p| {
            p.to_string_lossy().contains(&shard().stream())
                && !p.to_string_lossy().contains("PERSONAL")
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        !ledger_files.is_empty(),
        "the stream's files were not found"
    );
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    for n in 0..20 {
        for secret in [citizen_id(n), phone(n), format!("志愿者{n}")] {
            assert!(
                !contains(&stream_bytes, &secret),
                "{secret} is in the stream"
            );
            for f in &ledger_files {
                assert!(!contains(f, &secret), "{secret} is in the stream's files");
            }
        }
    }
    // The personal store holds it sealed, not in clear.
    let personal = ledger_service::personal::PersonalStore::open(
        &async_nats::jetstream::new(s.client.clone()),
        &shard(),
        1,
    )
    .await
    .unwrap();
    let v = ledger_core::values::VolunteerId::new("p-5").unwrap();
    let sealed = personal.sealed(&v).await.unwrap().expect("stored");
    assert!(!contains(&sealed, &citizen_id(5)));

    // Readable by a city admin, then erased.
    let (status, record) = call(
        &s.router,
        "GET",
        "/api/v1/volunteers/p-5/personal",
        Some("t"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["citizen_id"], citizen_id(5));
    let (status, _) = call(
        &s.router,
        "DELETE",
        "/api/v1/volunteers/p-5/personal",
        Some("t"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &s.router,
        "GET",
        "/api/v1/volunteers/p-5/personal",
        Some("t"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(personal.get(&v).await.unwrap().is_none());
    let (_, head) = read_chain(&store).await;
    assert!(head.sequence > 20, "the chain still verifies after erasure");
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Leaderboards show names from each instance's cache; an erasure made
/// through another instance reaches it, and so does a new record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_on_one_instance_clears_the_name_on_another() {
    use ledger_service::personal::{PersonalRecord, PersonalStore};
    let nats = Nats::start();
    let client = nats.client().await;
    let js = async_nats::jetstream::new(client.clone());
    let here = PersonalStore::open(&js, &shard(), 1).await.unwrap();
    let there = PersonalStore::open(&js, &shard(), 1).await.unwrap();
    let v = ledger_core::values::VolunteerId::new("p-7").unwrap();
    let record = |name: &str| PersonalRecord {
        name: name.to_owned(),
        sex: None,
        citizen_id: citizen_id(7),
        phone: None,
        political_status: None,
        employer: None,
        education: None,
        started_work: None,
        health: None,
        work_history: Vec::new(),
    };
    there.put(&v, &record("志愿者七")).await.unwrap();
    let sealed = there.sealed(&v).await.unwrap().expect("stored");
    let records = js
        .get_key_value(format!("{}_PERSONAL", shard().stream()))
        .await
        .unwrap();
    // Once the watch is up, a name read here is kept here: a record
    // overwritten behind the store's back (its key untouched, so no
    // instance is told) is not read again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(here.name(&v).await.as_deref(), Some("志愿者七"));
        records.put(v.as_str(), "not sealed".into()).await.unwrap();
        if here.name(&v).await.as_deref() == Some("志愿者七") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "names are never cached"
        );
        records.put(v.as_str(), sealed.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        here.get(&v).await.is_err(),
        "the record itself is unreadable"
    );

    there.erase(&v).await.unwrap();
    eventually(&here, &v, None).await;

    there.put(&v, &record("志愿者柒")).await.unwrap();
    eventually(&here, &v, Some("志愿者柒")).await;
}

/// Waits, a few seconds at most, for `store` to show `expected` for `v`.
async fn eventually(
    store: &ledger_service::personal::PersonalStore,
    v: &ledger_core::values::VolunteerId,
    expected: Option<&str>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let name = store.name(v).await;
        if name.as_deref() == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {name:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A registration form under a given token and submission key.
async fn register(
    s: &HttpSetup,
    token: &str,
    key: &str,
    volunteer: &str,
    home_unit: &str,
    name: &str,
    n: u32,
) -> (StatusCode, serde_json::Value) {
    let form = json!({
        "key": key, "volunteer": volunteer, "home_unit": home_unit,
        "membership": "member", "groups": [], "specialties": [],
        "personal": {"name": name, "sex": null, "citizen_id": citizen_id(n), "phone": null,
            "political_status": null, "employer": null, "education": null,
            "started_work": null, "health": null}
    });
    call(
        &s.router,
        "POST",
        "/api/v1/volunteers",
        Some(token),
        Some(form),
    )
    .await
}

async fn name_of(s: &HttpSetup, volunteer: &str) -> Option<String> {
    let path = format!("/api/v1/volunteers/{volunteer}/personal");
    let (status, record) = call(&s.router, "GET", &path, Some("city-secret"), None).await;
    (status == StatusCode::OK).then(|| record["name"].as_str().unwrap_or_default().to_owned())
}

/// The answer to a key sent again is the first command's, whatever the
/// second names: a unit admin re-sending his own accepted key must not
/// write another volunteer's record, nor bring an erased one back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_key_sent_again_stores_no_one_elses_record() {
    let s = start_http(test_accounts()).await;
    set_up_http(&s.router, "city-secret").await;
    register_lianyun(&s.router).await;
    let (status, answer) = register(
        &s,
        "city-secret",
        "reg-victim",
        "victim",
        "lianyun",
        "受害人",
        1,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = register(&s, "haizhou-secret", "reg-own", "own", "g1", "本人", 2).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (status, answer) =
        register(&s, "haizhou-secret", "reg-own", "victim", "g1", "篡改", 3).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "KEY_REUSED", "{answer}");
    assert_eq!(name_of(&s, "victim").await.as_deref(), Some("受害人"));
    assert_eq!(name_of(&s, "own").await.as_deref(), Some("本人"));

    // Erased, and the victim's own key sent again: still erased.
    let (status, answer) = call(
        &s.router,
        "DELETE",
        "/api/v1/volunteers/victim/personal",
        Some("city-secret"),
        None,
    )
    .await;
    assert!(status.is_success(), "{answer}");
    let (status, answer) = register(
        &s,
        "city-secret",
        "reg-victim",
        "victim",
        "lianyun",
        "受害人",
        1,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        name_of(&s, "victim").await,
        None,
        "an erased person stays erased"
    );

    // Recorded on the chain, its record never stored (as when the store
    // failed): sent again, the record is stored.
    let late = json!({"type": "register_volunteer", "volunteer": "late", "home_unit": "g1",
        "membership": "member", "groups": [], "specialties": [],
        "identity": "0909090909090909090909090909090909090909090909090909090909090909"});
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("city-secret"),
        Some(submission("reg-late", late)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(name_of(&s, "late").await, None);
    let (status, answer) = register(&s, "city-secret", "reg-late", "late", "g1", "补存", 4).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(name_of(&s, "late").await.as_deref(), Some("补存"));
}
