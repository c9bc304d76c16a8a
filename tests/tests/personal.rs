//! Personal data stays off the chain: registrations with ID numbers and
//! phones leave no trace of them in any byte of the stream, and erasing a
//! person makes their record unreadable while the chain still verifies.

use axum::http::StatusCode;
use ledger_service::accounts::Accounts;
use ledger_tests::*;
use serde_json::json;

fn citizen_id(n: u32) -> String {
    format!("21020219850{n:03}321X")
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
