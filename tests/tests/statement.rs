//! A volunteer's statement: issued by the service, checked offline with the
//! ledger's public key; one event removed, added or altered fails the check.

use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use ledger_core::signing::LedgerSigner;
use ledger_service::accounts::Accounts;
use ledger_tests::*;
use serde_json::{json, Value};

fn ledger(args: &[&str]) -> (i32, String) {
    let out = Command::new(ledger_binary())
        .args(args)
        .output()
        .expect("ledger runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs one of poppler's PDF tools; its standard output.
fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} runs (Debian's poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn fetch(router: &axum::Router, path: &str) -> Vec<u8> {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(path)
        .header("authorization", "Bearer t")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_checks_offline_and_fails_when_changed() {
    let signer = Arc::new(LedgerSigner::from_secret(&[11; 32]));
    let key = hex::encode(signer.public_key().0);
    let s = start_http_with(Accounts::open(), Some(signer)).await;
    set_up_http(&s.router, "t").await;
    let admin = |key: &str, command: Value| submission(key, command);
    request(
        &s.client,
        "admin-city",
        &admin(
            "s1",
            json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
        ),
    )
    .await;
    let kiosk = |k: &str, kind: &str, at: i64| {
        submission(
            k,
            json!({"type": kind, "activity": "a1",
        "volunteer": "v1", "at": from_now(at), "device": null, "external_id": null}),
        )
    };
    request(&s.client, "kiosk-1", &kiosk("in", "check_in", -50)).await;
    request(&s.client, "kiosk-1", &kiosk("out", "check_out", -20)).await;
    request(
        &s.client,
        "admin-city",
        &admin("c1", json!({"type": "confirm_credit", "credit": 1})),
    )
    .await;
    request(
        &s.client,
        "admin-city",
        &admin(
            "r1",
            json!({"type": "redeem", "volunteer": "v1", "reward": "ticket", "quantity": 1}),
        ),
    )
    .await;
    let mut last = Value::Null;
    for i in 0..6 {
        last = request(
            &s.client,
            "admin-city",
            &admin(
                &format!("p{i}"),
                json!({"type": "award_points",
            "volunteer": "v1", "points": 2, "approver": "admin-haizhou", "reason": "证明测试"}),
            ),
        )
        .await;
    }
    let after = last["last_sequence"].as_u64().unwrap();
    call(
        &s.router,
        "GET",
        &format!("/api/v1/volunteers/v1/account?after={after}"),
        Some("t"),
        None,
    )
    .await;

    let (status, statement) = call(
        &s.router,
        "GET",
        "/api/v1/volunteers/v1/statement?from=2020-01-01&to=2099-12-31",
        Some("t"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    let events = statement["body"]["events"].as_array().unwrap().len();
    assert!(events >= 8, "{events} events in the statement");
    assert_eq!(statement["body"]["totals"]["confirmed_minutes"], 30);
    // Issued by the federation that keeps the ledger, by its name.
    assert_eq!(
        statement["body"]["certificate"]["issuing_organisation"],
        "连云港市总工会"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statement.json");
    let file = path.to_str().unwrap();
    std::fs::write(&path, statement.to_string()).unwrap();
    let (code, out) = ledger(&["verify-statement", file, "--key", &key]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("30 confirmed minutes"), "{out}");

    let changed = |f: &dyn Fn(&mut Value)| {
        let mut doc = statement.clone();
        f(&mut doc);
        std::fs::write(&path, doc.to_string()).unwrap();
        ledger(&["verify-statement", file, "--key", &key])
    };
    // One event removed, one added twice, one frame altered, the totals raised.
    let removed = changed(&|d| {
        d["body"]["events"].as_array_mut().unwrap().remove(2);
    });
    assert_eq!(removed.0, 1, "{}", removed.1);
    let added = changed(&|d| {
        let events = d["body"]["events"].as_array_mut().unwrap();
        let copy = events[1].clone();
        events.insert(1, copy);
    });
    assert_eq!(added.0, 1, "{}", added.1);
    let altered = changed(&|d| {
        let frame = d["body"]["events"][3]["frame"].as_str().unwrap().to_owned();
        let mut bytes = hex::decode(&frame).unwrap();
        bytes[60] ^= 1;
        d["body"]["events"][3]["frame"] = json!(hex::encode(bytes));
    });
    assert_eq!(altered.0, 1, "{}", altered.1);
    let inflated = changed(&|d| d["body"]["totals"]["confirmed_minutes"] = json!(3000));
    assert_eq!(inflated.0, 1, "{}", inflated.1);
    // The printable page, in Chinese.
    let page = String::from_utf8(
        fetch(
            &s.router,
            "/api/v1/volunteers/v1/statement.html?from=2020-01-01&to=2099-12-31",
        )
        .await,
    )
    .unwrap();
    assert!(page.contains("<html lang=\"zh-CN\">"), "{page}");
    assert!(page.contains("志愿服务记录证明"));
    assert!(page.contains("服务时长确认"));
    assert_eq!(
        page.matches("<tr><td>").count(),
        events,
        "one row per event"
    );
    // The printable PDF: the same rows in a Chinese font carried inside
    // it, and the signed statement attached, which still verifies.
    let pdf_path = dir.path().join("statement.pdf");
    std::fs::write(
        &pdf_path,
        fetch(
            &s.router,
            "/api/v1/volunteers/v1/statement.pdf?from=2020-01-01&to=2099-12-31",
        )
        .await,
    )
    .unwrap();
    let text = tool("pdftotext", &["-layout", pdf_path.to_str().unwrap(), "-"]);
    assert!(text.contains("志愿服务记录证明"), "{text}");
    assert!(text.contains("服务时长确认"), "{text}");
    assert!(text.contains("第 1 页，共 1 页"), "{text}");
    for event in statement["body"]["events"].as_array().unwrap() {
        let sequence = event["sequence"].to_string();
        assert!(
            text.lines()
                .any(|l| l.trim_end().ends_with(&format!(" {sequence}"))),
            "event {sequence} is not printed:\n{text}"
        );
    }
    let fonts = tool("pdffonts", &[pdf_path.to_str().unwrap()]);
    let embedded = fonts.lines().skip(2).collect::<Vec<_>>();
    assert!(
        !embedded.is_empty() && embedded.iter().all(|l| l.contains(" yes ")),
        "{fonts}"
    );
    let attached = dir.path().join("attached");
    std::fs::create_dir(&attached).unwrap();
    tool(
        "pdfdetach",
        &[
            "-saveall",
            "-o",
            attached.to_str().unwrap(),
            pdf_path.to_str().unwrap(),
        ],
    );
    let carried = attached.join("statement-v1.json");
    let (code, out) = ledger(&["verify-statement", carried.to_str().unwrap(), "--key", &key]);
    assert_eq!(code, 0, "the attached statement verifies: {out}");
    let carried: Value = serde_json::from_slice(&std::fs::read(&carried).unwrap()).unwrap();
    assert_eq!(carried["body"]["events"], statement["body"]["events"]);
    // Anyone holding the JSON prints it too, once it checks.
    std::fs::write(&path, statement.to_string()).unwrap();
    let printed = dir.path().join("printed.pdf");
    let (code, out) = ledger(&[
        "verify-statement",
        file,
        "--key",
        &key,
        "--pdf",
        printed.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let text = tool("pdftotext", &[printed.to_str().unwrap(), "-"]);
    assert!(text.contains("志愿服务记录证明"), "{text}");
    // Another key: refused.
    let stranger = hex::encode(LedgerSigner::from_secret(&[12; 32]).public_key().0);
    assert_eq!(ledger(&["verify-statement", file, "--key", &stranger]).0, 1);
}
