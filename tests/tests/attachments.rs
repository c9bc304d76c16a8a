//! Report attachments: stored under their BLAKE3 hash; mismatched bytes and
//! reports naming files never uploaded are refused.

use axum::http::StatusCode;
use ledger_core::values::Digest;
use ledger_service::accounts::Accounts;
use ledger_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_checked_against_their_hash() {
    let s = start_http(Accounts::open()).await;
    set_up_http(&s.router, "t").await;
    let declare = json!({"type": "declare_campaign", "campaign": "c2026", "organiser": "city",
        "name": "2026年职工志愿服务", "phases": [],
        "deadlines": [{"kind": "typical_case", "due": "2099-04-15"}]});
    assert_eq!(
        call(
            &s.router,
            "POST",
            "/api/v1/commands",
            Some("t"),
            Some(submission("c", declare))
        )
        .await
        .0,
        StatusCode::OK
    );

    let photo = b"\xff\xd8\xff\xe0 a photo of tree planting on 12 March".to_vec();
    let hash = Digest::of(&photo);
    let report = |key: &str| {
        submission(
            key,
            json!({"type": "file_report", "report": key, "campaign": "c2026",
        "unit": "g1", "deadline": 0, "title": "植树节典型案例",
        "attachments": [{"name": "photo-1.jpg", "blake3": hash, "bytes": photo.len()}]}),
        )
    };

    // Not uploaded yet: the report is refused.
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("t"),
        Some(report("r1")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "ATTACHMENT_MISSING");

    // Bytes offered under another file's hash: refused.
    let upload = |hash: &Digest, bytes: Vec<u8>| {
        let router = s.router.clone();
        let path = format!("/api/v1/attachments/{hash}");
        async move {
            use tower::ServiceExt;
            let request = axum::http::Request::builder()
                .method("PUT")
                .uri(path)
                .header("authorization", "Bearer t")
                .body(axum::body::Body::from(bytes))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(
        upload(&hash, b"something else".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(upload(&hash, photo.clone()).await, StatusCode::OK);

    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("t"),
        Some(report("r2")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (records, _) = read_chain(&s.nats.store().await).await;
    let filed = records.iter().find_map(|(_, r)| match &r.event {
        ledger_core::Event::ReportFiled(f) => Some(f.report.clone()),
        _ => None,
    });
    assert_eq!(
        filed.expect("report on the chain").attachments[0].blake3,
        hash
    );
}

/// A phone's photo is several megabytes, a scanned sign-in sheet more: files
/// go in and out whole, up to the 1 GiB a report may name, and a file
/// declared larger is refused before it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_many_megabytes_go_in_and_out_whole_and_larger_ones_are_refused() {
    use tower::ServiceExt;
    let s = start_http(Accounts::open()).await;
    set_up_http(&s.router, "t").await;
    let send = |method: &str, path: String, length: Option<u64>, body: Vec<u8>| {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", "Bearer t");
        if let Some(length) = length {
            request = request.header("content-length", length);
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        let router = s.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, body)
        }
    };

    let scan: Vec<u8> = (0..9_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let hash = Digest::of(&scan);
    let path = format!("/api/v1/attachments/{hash}");
    let (status, body) = send("PUT", path.clone(), None, scan.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let stored: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stored["bytes"], scan.len());
    let (status, back) = send("GET", path.clone(), None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(back[..] == scan[..], "the file came back changed");

    let (status, body) = send("PUT", path, Some((1 << 30) + 1), b"a start".to_vec()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let refused: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(refused["code"], "ATTACHMENT_TOO_LARGE", "{refused}");
}

/// A file is for those who read the unit whose report names it: another
/// district's admin is told there is no such file, as for a file that was
/// uploaded and not yet named by any report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reports_file_is_downloaded_only_by_those_who_read_its_unit() {
    let s = start_http(test_accounts()).await;
    set_up_http(&s.router, "city-secret").await;
    register_lianyun(&s.router).await;
    let campaign = json!({"type": "declare_campaign", "campaign": "c2026", "organiser": "city",
        "name": "2026年职工志愿服务", "phases": [],
        "deadlines": [{"kind": "typical_case", "due": "2099-04-15"}]});
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("city-secret"),
        Some(submission("c2026", campaign)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sheet = b"sign-in sheet of g1, 12 March".to_vec();
    let hash = Digest::of(&sheet);
    let path = format!("/api/v1/attachments/{hash}");
    let send = |method: &'static str, token: &'static str, body: Vec<u8>| {
        let router = s.router.clone();
        let path = path.clone();
        async move {
            use tower::ServiceExt;
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(body))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(
        send("PUT", "auditor-secret", sheet.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send("PUT", "haizhou-secret", sheet.clone()).await,
        StatusCode::OK
    );
    // Uploaded, named by no report yet: the city's, nobody else's.
    assert_eq!(
        send("GET", "haizhou-secret", vec![]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send("GET", "city-secret", vec![]).await, StatusCode::OK);

    let report = json!({"type": "file_report", "report": "r1", "campaign": "c2026",
        "unit": "g1", "deadline": 0, "title": "植树节典型案例",
        "attachments": [{"name": "sheet.jpg", "blake3": hash, "bytes": sheet.len()}]});
    let (status, answer) = call(
        &s.router,
        "POST",
        "/api/v1/commands",
        Some("haizhou-secret"),
        Some(submission("r1", report)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mut status = StatusCode::NOT_FOUND;
    for _ in 0..100 {
        status = send("GET", "haizhou-secret", vec![]).await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "haizhou reads g1, whose report names it"
    );
    assert_eq!(
        send("GET", "lianyun-secret", vec![]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send("GET", "auditor-secret", vec![]).await, StatusCode::OK);
}
