//! The admin console in a real browser (headless Chromium over WebDriver):
//! sign in, the dashboard, a leaderboard filtered by period and unit, a
//! volunteer's page, a check-in recorded through the forms and the balance
//! moving once the credit is confirmed, a registration's three opinions, a
//! sign-up and its withdrawal, the reward catalogue, exports opened with a
//! spreadsheet library, pages at a phone's width, and an admin of one
//! district kept out of another's volunteers.
//! Screenshots of the main pages go to `target/console-screenshots/`.

use std::sync::Arc;

use axum::http::StatusCode;
use calamine::{open_workbook, Data, Reader, Xlsx};
use ledger_core::signing::LedgerSigner;
use ledger_tests::browser::Browser;
use ledger_tests::*;
use serde_json::json;

/// A resident ID number that registration takes (`n` below 1,000).
fn citizen_id(n: u32) -> String {
    ledger_core::domain::with_check_digit(&format!("32070319800101{n:03}")).expect("17 digits")
}

fn person(n: u32, name: &str) -> serde_json::Value {
    json!({"name": name, "sex": "男", "citizen_id": citizen_id(n),
        "phone": null, "political_status": "中共党员", "employer": "连云港港口集团",
        "education": null, "started_work": "2001-07", "health": "良好", "work_history": []})
}

/// Two districts, each with a volunteer who has a name on file; v1 (haizhou)
/// signed up for a1.
async fn federation_with_people(s: &HttpSetup) {
    set_up_http(&s.router, "city-secret").await;
    let more = [
        json!({"type": "register_unit", "unit": "lianyun", "name": "连云区总工会",
            "kind": "district_federation", "parent": "city", "quota": 300}),
        json!({"type": "register_unit", "unit": "g2", "name": "连云港港口工会",
            "kind": {"grassroots": "enterprise"}, "parent": "lianyun", "quota": null}),
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
    ];
    for (i, command) in more.into_iter().enumerate() {
        let (status, answer) = call(
            &s.router,
            "POST",
            "/api/v1/commands",
            Some("city-secret"),
            Some(submission(&format!("more-{i}"), command)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for (n, (id, unit, name)) in [("v2", "g2", "王海"), ("v3", "g1", "李娜")]
        .iter()
        .enumerate()
    {
        let form = json!({"key": format!("reg-{id}"), "volunteer": id, "home_unit": unit,
            "membership": "member", "groups": ["union_cadre"], "specialties": ["急救"],
            "personal": person(n as u32 + 2, name)});
        let (status, answer) = call(
            &s.router,
            "POST",
            "/api/v1/volunteers",
            Some("city-secret"),
            Some(form),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn sign_in(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/console/dashboard")).await;
    // Not signed in: the console sends the browser to sign in first.
    assert!(
        b.path().await.starts_with("/console/sign-in"),
        "{}",
        b.path().await
    );
    b.fill("#token", token).await;
    b.follow("form button[type=submit]").await;
    b.text("main h1").await;
    assert_eq!(b.path().await, "/console/dashboard");
}

/// Submits the form on the page; it must be accepted.
async fn submit(b: &Browser) {
    b.follow("form.stacked button[type=submit]").await;
    if b.path().await.starts_with("/console/forms/") {
        panic!("the form was refused: {}", b.text("#form-error").await);
    }
}

/// Submits the form on the page; it must be refused, and the sentence
/// that says why is returned.
async fn refusal(b: &Browser) -> String {
    b.follow("form.stacked button[type=submit]").await;
    b.text("#form-error .why").await
}

/// Whether the page is wider than a window `width` pixels wide, so that it
/// would scroll sideways: if so, its width and the first elements reaching
/// past the window's edge. (A wide table scrolling within itself is not.)
async fn sticking_out(b: &Browser, width: u32) -> Option<String> {
    b.client
        .set_window_size(width, 900)
        .await
        .expect("window resized");
    let found = b
        .client
        .execute(
            "const w = window.innerWidth; \
             const wide = Array.from(document.querySelectorAll('body *')) \
                 .filter(e => e.getBoundingClientRect().right > w + 1) \
                 .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className); \
             return [w, document.documentElement.scrollWidth, wide];",
            vec![],
        )
        .await
        .expect("widths");
    b.client
        .set_window_size(1280, 1000)
        .await
        .expect("window restored");
    assert_eq!(found[0].as_u64(), Some(u64::from(width)), "{found}");
    (found[1].as_u64() > Some(u64::from(width))).then(|| found.to_string())
}

/// The local time (UTC+8) `minutes` from now, as a datetime-local value.
fn local(minutes: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn sheet_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook(path).expect("an XLSX that opens");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_work_in_the_console() {
    let signer = Arc::new(LedgerSigner::from_secret(&[3; 32]));
    let s = start_http_with(test_accounts(), Some(signer)).await;
    federation_with_people(&s).await;
    let base = serve(s.router.clone()).await;
    let b = Browser::start().await;

    // Signed in as the city's admin, in Chinese by default.
    sign_in(&b, &base, "city-secret").await;
    assert!(b.source().await.contains("lang=\"zh-CN\""));
    assert_eq!(b.text("[data-figure=registered] .value").await, "3 / 5800");

    // A check-in through the form, then the check-out: the credit waits.
    b.goto(&format!("{base}/console/forms/check-in?activity=a1"))
        .await;
    b.fill("input[name=volunteer]", "v1").await;
    b.set("input[name=at]", &local(-50)).await;
    submit(&b).await;
    assert_eq!(b.text("[data-figure=attended] .value").await, "1");
    assert!(b.text("p.ok").await.contains("序号"));
    b.goto(&format!(
        "{base}/console/forms/check-out?activity=a1&volunteer=v1"
    ))
    .await;
    b.set("input[name=at]", &local(-10)).await;
    submit(&b).await;
    assert_eq!(
        b.path().await.split('?').next(),
        Some("/console/volunteers/v1")
    );
    assert_eq!(b.text("#balance").await, "0");
    assert_eq!(b.text("[data-figure=pending] .value").await, "0.7");
    let credit = b.text("#credits tbody tr td").await;

    // Confirmed through the review form: the balance moves (10 points an
    // hour, 40 minutes).
    b.goto(&format!(
        "{base}/console/forms/confirm-credit?credit={credit}"
    ))
    .await;
    submit(&b).await;
    let balance: u64 = b.text("#balance").await.parse().expect("a balance");
    assert!(balance > 0, "points were awarded on confirmation");
    assert_eq!(b.text("[data-figure=hours] .value").await, "0.7");
    assert!(b.text("#verified").await.len() > 4);
    b.screenshot("volunteer").await;
    // A long personal link wraps on a phone rather than widen the page.
    assert_eq!(sticking_out(&b, 400).await, None, "v1's page at 400 px");
    let personal_link = b.attr("#personal-link", "href").await;

    // A second session, whose minutes the volunteer asks to correct from
    // his own view (his personal link); the request reaches the admins as
    // a review item, and the amended minutes count once reviewed.
    b.goto(&format!(
        "{base}/console/forms/check-in?activity=a1&volunteer=v1"
    ))
    .await;
    b.set("input[name=at]", &local(-8)).await;
    submit(&b).await;
    b.goto(&format!(
        "{base}/console/forms/check-out?activity=a1&volunteer=v1"
    ))
    .await;
    b.set("input[name=at]", &local(-2)).await;
    submit(&b).await;
    b.goto(&format!("{base}{personal_link}")).await;
    assert_eq!(b.text("#balance").await, balance.to_string());
    assert_eq!(b.count("#my-credits tbody tr").await, 2);
    // His latest entries name the activity by its title; a credit by its
    // number.
    let latest = b.text("ul.history").await;
    assert!(latest.contains("签退 · 文明交通劝导（a1）"), "{latest}");
    assert!(latest.contains("· C2 ·"), "{latest}");
    // A correction that cannot be sent, or that the ledger refuses, is
    // explained to the volunteer in Chinese, the code small beneath.
    b.click("#my-credits details summary").await;
    b.fill("#my-credits details input[name=minutes]", "12")
        .await;
    b.fill("#my-credits details input[name=reason]", "   ")
        .await;
    b.follow("#my-credits details button").await;
    assert_eq!(
        b.text("#refusal .why").await,
        "说明：请填写，不能为空。",
        "{}",
        b.text("#refusal").await
    );
    b.goto(&format!("{base}{personal_link}")).await;
    let pending = b
        .attr("#my-credits details input[name=credit]", "value")
        .await;
    let first_key = b.attr("#my-credits details input[name=key]", "value").await;
    let refused = reqwest::Client::new()
        .post(format!("{base}{personal_link}/corrections"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "credit={pending}&minutes=5000&reason=too+long&key={first_key}&lang=zh"
        ))
        .send()
        .await
        .expect("the correction answers");
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.expect("a page");
    assert!(
        page.contains("超过了活动本身的时长") && page.contains("EXCEEDS_ACTIVITY_LENGTH"),
        "{page}"
    );
    // The form shown again carries a new key: what is sent now is decided
    // afresh, not answered with the refusal.
    b.goto(&format!("{base}{personal_link}")).await;
    let second_key = b.attr("#my-credits details input[name=key]", "value").await;
    assert_ne!(first_key, second_key);
    b.click("#my-credits details summary").await;
    b.fill("#my-credits details input[name=minutes]", "12")
        .await;
    b.fill("#my-credits details input[name=reason]", "签退时间记早了")
        .await;
    b.screenshot("my-view").await;
    b.follow("#my-credits details button").await;
    assert!(b.text("p.ok").await.contains("复核"));
    // His signed statement of the year, downloaded, checks with the
    // ledger's public key alone.
    b.click("a[href*='statement.json']").await;
    let statement: ledger_service::statement::Statement = serde_json::from_slice(
        &std::fs::read(b.downloaded("statement-v1.json").await).expect("statement"),
    )
    .expect("a statement");
    let totals = ledger_service::statement::verify(
        &statement,
        &LedgerSigner::from_secret(&[3; 32]).public_key(),
    )
    .expect("the statement verifies");
    assert!(totals.points_earned > 0, "{totals:?}");
    // Beside it, the same statement printed as PDF.
    let pdf_link = b.attr("a[href*='statement.pdf']", "href").await;
    let pdf = reqwest::get(format!("{base}{pdf_link}"))
        .await
        .expect("the PDF link answers");
    assert_eq!(pdf.status(), 200);
    assert_eq!(
        pdf.headers()["content-type"].to_str().ok(),
        Some("application/pdf")
    );
    assert!(pdf.bytes().await.expect("a body").starts_with(b"%PDF-"));
    b.goto(&format!("{base}/console/reviews")).await;
    assert_eq!(b.count("#reviews tbody tr").await, 1);
    assert!(b.text("#reviews tbody tr").await.contains("签退时间记早了"));
    b.screenshot("reviews").await;
    b.follow("#reviews tbody tr a[href*='confirm-credit']")
        .await;
    b.fill("input[name=reason]", "核实签到记录").await;
    submit(&b).await;
    assert_eq!(b.text("[data-figure=hours] .value").await, "0.9");
    assert_eq!(b.text("[data-figure=pending] .value").await, "0.0");

    // A form that does not read changes nothing and says why.
    b.goto(&format!("{base}/console/forms/redeem")).await;
    b.fill("input[name=volunteer]", "v1").await;
    b.fill("input[name=reward]", "ticket").await;
    b.fill("input[name=quantity]", "9").await;
    b.follow("form.stacked button[type=submit]").await;
    assert!(
        b.text("#form-error").await.contains("INSUFFICIENT"),
        "{}",
        b.text("#form-error").await
    );
    // In Chinese, what is wrong and what to do; the code stays, small.
    assert!(
        b.text("#form-error .why").await.contains("积分余额不足"),
        "{}",
        b.text("#form-error").await
    );
    assert!(b
        .text("#form-error small.code")
        .await
        .starts_with("INSUFFICIENT_BALANCE"));

    // A check-in typed for the day after tomorrow: the times are told as
    // the admin typed them (UTC+8), never in UTC.
    b.goto(&format!(
        "{base}/console/forms/check-in?activity=a1&volunteer=v1"
    ))
    .await;
    let later = local(3 * 24 * 60);
    b.set("input[name=at]", &later).await;
    b.follow("form.stacked button[type=submit]").await;
    let refused = b.text("#form-error").await;
    assert!(
        refused.contains("签到时间：所填时间")
            && refused.contains(&later.replace('T', " "))
            && !refused.contains("+00:00"),
        "{refused}"
    );
    b.screenshot("form-refused").await;
    // An id in Chinese is refused before it is sent, naming the field.
    b.goto(&format!("{base}/console/forms/publish-activity"))
        .await;
    b.fill("input[name=activity]", "2027春-01").await;
    b.fill("input[name=organiser]", "haizhou").await;
    b.fill("input[name=title]", "植树").await;
    b.fill("input[name=place]", "花果山").await;
    b.set("input[name=start]", &local(60)).await;
    b.set("input[name=end]", &local(120)).await;
    b.fill("input[name=points_per_hour]", "10").await;
    b.follow("form.stacked button[type=submit]").await;
    assert!(
        b.text("#form-error .why")
            .await
            .starts_with("活动编号：含有“春”"),
        "{}",
        b.text("#form-error").await
    );
    // A filter that does not read is explained in Chinese too.
    b.goto(&format!(
        "{base}/console/leaderboards/volunteers?period=2026年3月"
    ))
    .await;
    assert!(
        b.text("#refusal .why").await.contains("期间请填写"),
        "{}",
        b.text("#refusal").await
    );

    // A redemption shows its id on the volunteer's ledger, and that id
    // is what the reversal form takes.
    b.goto(&format!("{base}/console/volunteers/v1")).await;
    let balance: u64 = b.text("#balance").await.parse().expect("a balance");
    b.goto(&format!("{base}/console/forms/redeem")).await;
    b.fill("input[name=volunteer]", "v1").await;
    b.fill("input[name=reward]", "ticket").await;
    b.fill("input[name=quantity]", "1").await;
    submit(&b).await;
    assert_eq!(
        b.text("#balance").await,
        (balance - 3).to_string(),
        "a ticket costs 3 points"
    );
    let redeemed = b.text("#history tbody tr:last-child").await;
    assert!(redeemed.contains("积分兑换 · R1 · ticket"), "{redeemed}");
    b.follow("#history a.reverse").await;
    assert_eq!(b.attr("input[name=id]", "value").await, "R1");
    b.fill("input[name=reason]", "兑换登记有误").await;
    submit(&b).await;
    // The reversal waits for a second admin; the one who asked it may
    // withdraw it, not approve it.
    assert!(b.path().await.starts_with("/console/requests"));
    let waiting = b.text("#requests tbody").await;
    assert!(
        waiting.contains("Q1") && waiting.contains("R1") && waiting.contains("兑换登记有误"),
        "{waiting}"
    );
    assert_eq!(b.count("#requests button[name=approve]").await, 0);
    assert_eq!(b.count("#requests button[name=decline]").await, 1);
    b.goto(&format!("{base}/console/volunteers/v1")).await;
    assert_eq!(b.text("#balance").await, (balance - 3).to_string());

    // The leaderboard, filtered by period and unit through the form.
    let year = chrono::Utc::now().format("%Y").to_string();
    b.goto(&format!("{base}/console/leaderboards/volunteers"))
        .await;
    b.fill("input[name=period]", &year).await;
    b.set("select[name=scope]", "haizhou").await;
    b.follow("form.filters button[type=submit]").await;
    assert!(b.path().await.contains(&format!("period={year}")));
    assert!(b.path().await.contains("scope=haizhou"));
    assert_eq!(b.count("#board tbody tr").await, 1);
    assert!(b.text("#board tbody tr").await.contains("0.9"));
    b.screenshot("leaderboard").await;
    b.set("select[name=scope]", "lianyun").await;
    b.follow("form.filters button[type=submit]").await;
    assert_eq!(b.count("#board tbody tr").await, 0);

    // From the board to the volunteer.
    b.set("select[name=scope]", "city").await;
    b.follow("form.filters button[type=submit]").await;
    b.follow("#board tbody tr a").await;
    assert!(b.path().await.starts_with("/console/volunteers/v1"));

    // The export of what the board shows, downloaded by the browser.
    b.goto(&format!(
        "{base}/console/leaderboards/volunteers?period={year}&scope=city"
    ))
    .await;
    b.click(".exports a[href*='.xlsx']").await;
    let xlsx = b.downloaded(".xlsx").await;
    let rows = sheet_rows(&xlsx);
    assert_eq!(
        rows[0],
        [
            "名次",
            "编号",
            "姓名",
            "所属单位",
            "服务时长（小时）",
            "单位编号"
        ]
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    // The unit by its name, as the page shows it; its id beside.
    assert_eq!(rows[1][3], "朐阳街道工会");
    assert_eq!(rows[1][5], "g1");
    b.goto(&format!(
        "{base}/console/leaderboards/volunteers?period={year}&scope=city"
    ))
    .await;
    assert_eq!(
        b.text("#board tr[data-volunteer=v1] td:nth-child(4)").await,
        "朐阳街道工会"
    );
    assert_eq!(
        b.attr("#board tr[data-volunteer=v1] td:nth-child(4) a", "title")
            .await,
        "g1"
    );

    // The roster, with the notice's columns, as XLSX and CSV.
    b.goto(&format!("{base}/console/volunteers?scope=city"))
        .await;
    assert_eq!(b.count("#roster tbody tr").await, 3);
    assert_eq!(b.text("#roster-hours").await, "累计已确认时长（小时）");
    assert_eq!(
        b.text("#roster tr[data-volunteer=v1] td.unit").await,
        "朐阳街道工会"
    );
    b.screenshot("roster").await;
    // The roster's hours follow the period: none last year, this year's
    // 0.9 this year; the export says which period in its name.
    let last_year = (year.parse::<i32>().expect("a year") - 1).to_string();
    b.goto(&format!(
        "{base}/console/volunteers?scope=city&period={last_year}"
    ))
    .await;
    assert_eq!(b.text("#roster-hours").await, "期间已确认时长（小时）");
    assert_eq!(
        b.text("#roster tr[data-volunteer=v1] td.hours").await,
        "0.0"
    );
    b.click(".exports a[href*='roster.csv']").await;
    let csv =
        std::fs::read(b.downloaded(&format!("花名册-city-{last_year}.csv")).await).expect("csv");
    assert!(
        String::from_utf8_lossy(&csv)
            .lines()
            .any(|l| l.contains("朐阳街道工会,已批准,0,g1")),
        "{}",
        String::from_utf8_lossy(&csv)
    );
    b.goto(&format!(
        "{base}/console/volunteers?scope=city&period={year}"
    ))
    .await;
    assert_eq!(
        b.text("#roster tr[data-volunteer=v1] td.hours").await,
        "0.9"
    );
    b.goto(&format!("{base}/console/volunteers?scope=city"))
        .await;
    b.click(".exports a[href*='roster.xlsx']").await;
    let roster = sheet_rows(&b.downloaded("花名册-city-all.xlsx").await);
    assert_eq!(
        roster[0][..9],
        [
            "序号",
            "编号",
            "姓名",
            "性别",
            "身份证号码",
            "工作单位",
            "政治面貌",
            "身份",
            "特长"
        ]
    );
    assert_eq!(roster.len(), 4);
    assert!(roster
        .iter()
        .any(|r| r[2] == "王海" && r[4] == citizen_id(2)));
    b.click(".exports a[href*='roster.csv']").await;
    let csv = std::fs::read(b.downloaded("花名册-city-all.csv").await).expect("csv");
    assert_eq!(&csv[..3], b"\xEF\xBB\xBF", "a UTF-8 byte-order mark");
    assert_eq!(String::from_utf8_lossy(&csv).lines().count(), 4);

    // The dashboard's totals and its month-by-month chart.
    b.goto(&format!("{base}/console/dashboard?period={year}"))
        .await;
    assert_eq!(b.text("[data-figure=hours] .value").await, "0.9");
    assert_eq!(
        b.count("svg.trend rect[height='0']").await,
        11,
        "one month has hours"
    );
    b.screenshot("dashboard").await;

    // The unit tree and the audit page.
    b.goto(&format!("{base}/console/units?scope=city&period={year}"))
        .await;
    assert_eq!(b.count("#units tbody tr").await, 2);
    b.screenshot("units").await;
    b.click(".exports a[href*='quota.xlsx']").await;
    let quota = sheet_rows(&b.downloaded("名额分配表-city.xlsx").await);
    assert_eq!(
        quota[0][..4],
        ["序号", "区市县、产业工会", "人数（名额）", "已登记"]
    );
    assert_eq!(quota.len(), 3, "{quota:?}");
    assert!(
        quota
            .iter()
            .any(|r| r[1] == "海州区总工会" && r[2] == "400" && r[3] == "2"),
        "{quota:?}"
    );
    b.click(".exports a[href*='evaluation.xlsx']").await;
    let evaluation = sheet_rows(&b.downloaded(&format!("考核表-city-{year}.xlsx")).await);
    assert_eq!(evaluation[0][..3], ["名次", "单位", "服务时长（小时）"]);
    assert_eq!(evaluation.len(), 3, "{evaluation:?}");
    assert_eq!(evaluation[1][..3], ["1", "海州区总工会", "0.9"]);
    // A unit with nothing in the period is ranked last, not left out.
    assert_eq!(evaluation[2][..3], ["2", "连云区总工会", "0"]);
    // Featured activities against the two a year: held, required, met.
    let column = |name: &str| {
        evaluation[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", evaluation[0]))
    };
    let (held, required, met) = (
        column("年度特色活动"),
        column("特色活动要求（每年）"),
        column("特色活动达标"),
    );
    assert_eq!(
        [
            &evaluation[1][held],
            &evaluation[1][required],
            &evaluation[1][met]
        ],
        ["1", "2", "否"]
    );
    assert_eq!(evaluation[2][required], "2");
    b.goto(&format!("{base}/console/units?scope=city&period={year}"))
        .await;
    let featured = b
        .text("#units tr[data-unit=haizhou] [data-figure=featured]")
        .await;
    assert!(
        featured.starts_with("1 / 2") && featured.contains("未达标"),
        "{featured}"
    );
    b.screenshot("units-featured").await;
    assert!(b
        .text("[data-figure=featured] .value")
        .await
        .starts_with("1 / 2"));

    // The unit ranking lists every sibling; equal scores share a rank
    // (nothing last year: both first), on the page and in its export.
    b.goto(&format!(
        "{base}/console/leaderboards/units?scope=city&period={year}"
    ))
    .await;
    assert_eq!(b.count("#board tbody tr").await, 2);
    assert_eq!(b.text("#board tr[data-unit=lianyun] td").await, "2");
    b.goto(&format!(
        "{base}/console/leaderboards/units?scope=city&period={last_year}"
    ))
    .await;
    assert_eq!(b.count("#board tbody tr").await, 2);
    assert_eq!(b.text("#board tr[data-unit=haizhou] td").await, "1");
    assert_eq!(b.text("#board tr[data-unit=lianyun] td").await, "1");
    b.click(".exports a[href*='evaluation.xlsx']").await;
    let tied = sheet_rows(&b.downloaded(&format!("考核表-city-{last_year}.xlsx")).await);
    assert_eq!(
        tied[1..].iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["1", "1"],
        "{tied:?}"
    );

    // A volunteer's hours, each with who verified it and when.
    b.goto(&format!("{base}/console/volunteers/v1")).await;
    b.click(".exports a[href$='.xlsx']").await;
    let hours = sheet_rows(&b.downloaded("服务时长明细-LYG00000001.xlsx").await);
    assert_eq!(hours[0][7..10], ["已验证", "验证时间", "验证人"]);
    assert_eq!(hours.len(), 3, "{hours:?}");
    assert!(
        hours[1..]
            .iter()
            .all(|r| r[7] == "是" && r[9] == "admin-city"),
        "{hours:?}"
    );
    b.goto(&format!("{base}/console/audit")).await;
    assert!(b.text("#chain-state").await.contains("✔"));
    b.screenshot("audit").await;
    b.goto(&format!("{base}/console/activities/a1")).await;
    assert_eq!(b.text("[data-figure=no-shows] .value").await, "0");
    b.screenshot("activity").await;

    // 李娜 (v3) awaits the three opinions on her registration: each is
    // given through the form her page links to, filled in with her and
    // the level awaited, and her history names each level.
    b.goto(&format!("{base}/console/volunteers/v3")).await;
    assert_eq!(b.text("#status").await, "待审批：单位工会意见");
    for (level, name) in [
        ("unit", "单位工会意见"),
        ("district_or_industry", "区市县总工会、产业工会意见"),
        ("city", "市总工会意见"),
    ] {
        assert!(b.text("#opinion").await.contains(name));
        b.follow("#opinion a#approve").await;
        assert_eq!(b.attr("input[name=volunteer]", "value").await, "v3");
        assert_eq!(
            b.text("select[name=level] option:checked").await,
            name,
            "{level}"
        );
        submit(&b).await;
        assert!(b.path().await.starts_with("/console/volunteers/v3"));
        assert!(
            b.text("#history")
                .await
                .contains(&format!("审批通过 · {name}")),
            "{}",
            b.text("#history").await
        );
    }
    assert_eq!(b.text("#status").await, "已批准");
    assert_eq!(b.count("#opinion").await, 0);
    // Registered in the first row, then the three opinions in order.
    for (row, name) in [
        (2, "单位工会意见"),
        (3, "区市县总工会、产业工会意见"),
        (4, "市总工会意见"),
    ] {
        assert_eq!(
            b.text(&format!(
                "#history tbody tr:nth-child({row}) td:nth-child(3)"
            ))
            .await,
            format!("审批通过 · {name}")
        );
    }
    assert_eq!(sticking_out(&b, 400).await, None, "v3's page at 400 px");
    b.screenshot("volunteer-approved").await;
    // An opinion on a registration already decided is refused, and why.
    b.goto(&format!(
        "{base}/console/forms/approve-volunteer?volunteer=v1&level=city"
    ))
    .await;
    assert!(refusal(&b).await.contains("已审批完毕"));

    // a1 takes no walk-ins: v3 is refused at the check-in until she signs
    // up, which the activity's page counts.
    b.goto(&format!(
        "{base}/console/forms/check-in?activity=a1&volunteer=v3"
    ))
    .await;
    b.set("input[name=at]", &local(-5)).await;
    assert!(refusal(&b).await.contains("没有报名此活动"));
    b.goto(&format!("{base}/console/activities/a1")).await;
    assert_eq!(b.text("[data-figure=sign-ups] .value").await, "1");
    b.follow("a#sign-up").await;
    assert_eq!(b.attr("input[name=activity]", "value").await, "a1");
    b.fill("input[name=volunteer]", "v3").await;
    submit(&b).await;
    assert_eq!(
        b.path().await.split('?').next(),
        Some("/console/activities/a1")
    );
    assert_eq!(b.text("[data-figure=sign-ups] .value").await, "2");
    b.goto(&format!("{base}/console/volunteers/v3")).await;
    assert!(b
        .text("#history tbody tr:last-child")
        .await
        .contains("报名 · 文明交通劝导（a1）"));
    // Withdrawn, the sign-up no longer counts.
    b.goto(&format!("{base}/console/activities/a1")).await;
    b.follow("a#cancel-sign-up").await;
    b.fill("input[name=volunteer]", "v3").await;
    submit(&b).await;
    assert_eq!(b.text("[data-figure=sign-ups] .value").await, "1");
    b.goto(&format!("{base}/console/volunteers/v3")).await;
    assert!(b
        .text("#history tbody tr:last-child")
        .await
        .contains("取消报名 · 文明交通劝导（a1）"));
    // Signed up again, she is checked in; attendance cannot be withdrawn.
    b.goto(&format!(
        "{base}/console/forms/sign-up?activity=a1&volunteer=v3"
    ))
    .await;
    submit(&b).await;
    b.goto(&format!(
        "{base}/console/forms/check-in?activity=a1&volunteer=v3"
    ))
    .await;
    b.set("input[name=at]", &local(-5)).await;
    submit(&b).await;
    assert_eq!(b.text("[data-figure=sign-ups] .value").await, "2");
    assert_eq!(b.text("[data-figure=attended] .value").await, "2");
    // The organiser by name; who took part, by name, each once with his
    // check-ins: v1's two
    // sessions (above), v3's one.
    assert_eq!(b.text("#organisers").await, "主办：朐阳街道工会");
    assert_eq!(b.count("#participants tbody tr").await, 2);
    let li_na = "#participants tr[data-volunteer=v3]";
    assert_eq!(b.text(&format!("{li_na} td:nth-child(2)")).await, "李娜");
    assert_eq!(b.text(&format!("{li_na} td.how")).await, "报名");
    assert_eq!(b.text(&format!("{li_na} td.sessions")).await, "1");
    assert_eq!(
        b.text("#participants tr[data-volunteer=v1] td.sessions")
            .await,
        "2"
    );
    // v3 has not checked out: counted, marked, and the way to close
    // forgotten check-outs offered; a1 runs for another hour, so closing
    // them is refused, and why.
    assert_eq!(b.text("[data-figure=open] .value").await, "1");
    assert_eq!(b.text(&format!("{li_na} td.open")).await, "1");
    assert_eq!(
        b.text("#participants tr[data-volunteer=v1] td.open").await,
        ""
    );
    b.follow("a#close-check-outs").await;
    assert_eq!(b.attr("input[name=activity]", "value").await, "a1");
    assert!(refusal(&b).await.contains("活动尚未结束"));
    b.goto(&format!("{base}/console/activities/a1")).await;
    assert_eq!(b.text("[data-figure=open] .value").await, "1");
    assert_eq!(
        sticking_out(&b, 400).await,
        None,
        "the activity's page at 400 px"
    );
    b.goto(&format!(
        "{base}/console/forms/cancel-sign-up?activity=a1&volunteer=v3"
    ))
    .await;
    assert!(refusal(&b).await.contains("不能取消报名"));
    assert_eq!(
        sticking_out(&b, 400).await,
        None,
        "a refused form at 400 px"
    );

    // 王海 (v2) is refused at the grassroots level, with a reason.
    b.goto(&format!("{base}/console/volunteers/v2")).await;
    b.follow("#opinion a#reject").await;
    assert_eq!(
        b.text("select[name=level] option:checked").await,
        "单位工会意见"
    );
    b.fill("input[name=reason]", "登记表信息不全").await;
    submit(&b).await;
    assert!(b.text("#status").await.starts_with("未通过"));
    assert_eq!(b.count("#opinion").await, 0);
    assert!(b
        .text("#history tbody tr:last-child")
        .await
        .contains("审批未通过 · 单位工会意见 · 登记表信息不全"));
    assert_eq!(b.text("#status").await, "未通过：单位工会意见");

    // The reward catalogue: the city's ticket, one redeemed (the reversal
    // waits for a second admin).
    b.follow("header nav a[href='/console/rewards']").await;
    let ticket = "#rewards tr[data-reward=ticket]";
    assert_eq!(b.text(&format!("{ticket} td:nth-child(2)")).await, "电影票");
    assert_eq!(b.text(&format!("{ticket} td.unit")).await, "连云港市总工会");
    assert_eq!(b.text(&format!("{ticket} td.cost")).await, "3");
    assert_eq!(b.text(&format!("{ticket} td.stock")).await, "9");
    assert_eq!(b.text(&format!("{ticket} td.redeemed")).await, "1");
    // haizhou lists a book, out of stock, then restocks it.
    b.follow("a#list-reward").await;
    b.fill("input[name=reward]", "book").await;
    b.fill("input[name=unit]", "haizhou").await;
    b.fill("input[name=name]", "工会图书").await;
    b.fill("input[name=cost_points]", "5").await;
    b.fill("input[name=stock]", "0").await;
    submit(&b).await;
    assert!(b.path().await.starts_with("/console/rewards"));
    let book = "#rewards tr[data-reward=book]";
    assert_eq!(b.text(&format!("{book} td.unit")).await, "海州区总工会");
    assert_eq!(b.text(&format!("{book} td.stock")).await, "0");
    b.goto(&format!(
        "{base}/console/forms/list-reward?reward=book&unit=haizhou&name=x&cost_points=1&stock=1"
    ))
    .await;
    assert!(refusal(&b).await.contains("奖品编号已被使用"));
    b.goto(&format!("{base}/console/rewards")).await;
    b.follow(&format!("{book} a.restock")).await;
    assert_eq!(b.attr("input[name=reward]", "value").await, "book");
    b.fill("input[name=quantity]", "4").await;
    submit(&b).await;
    assert_eq!(b.text(&format!("{book} td.stock")).await, "4");
    assert_eq!(
        sticking_out(&b, 400).await,
        None,
        "the reward catalogue at 400 px"
    );
    b.screenshot("rewards").await;

    // The forms index, by the work each form belongs to; the hand-made
    // entries under their own heading.
    b.follow("header nav a[href='/console/forms']").await;
    assert_eq!(b.count("section.forms").await, 4);
    let entries = b.text("section.forms:nth-of-type(4) h2").await;
    assert!(entries.contains("须另一位管理员批准"), "{entries}");
    assert_eq!(
        b.count("section.forms:nth-of-type(4) a[href='/console/forms/backfill']")
            .await,
        1
    );
    b.screenshot("forms").await;

    // English on request.
    b.follow("a.lang").await;
    assert!(b.source().await.contains("lang=\"en\""));
    assert!(b.text("header nav").await.contains("Leaderboards"));

    // An admin of haizhou sees haizhou only.
    b.follow("form.inline button").await;
    sign_in(&b, &base, "haizhou-secret").await;
    b.goto(&format!("{base}/console/volunteers")).await;
    let listed = b.text("#roster tbody").await;
    assert!(
        listed.contains("李娜") && !listed.contains("王海"),
        "{listed}"
    );
    // The search box finds haizhou's volunteers by citizen ID number, as
    // typed with spaces, or by unified number in small letters; lianyun's
    // are not found, as if never registered; a mistyped number is named.
    let find = |typed: String| {
        let b = &b;
        let base = &base;
        async move {
            b.goto(&format!("{base}/console/volunteers")).await;
            b.fill("#find-q", &typed).await;
            b.follow("form#find button").await;
            b.path().await
        }
    };
    let li_na = citizen_id(3);
    let spaced = format!("{} {} {}", &li_na[..6], &li_na[6..14], &li_na[14..]);
    assert_eq!(find(spaced).await, "/console/volunteers/v3");
    assert_eq!(find("lyg00000001".into()).await, "/console/volunteers/v1");
    for elsewhere in [citizen_id(2), "LYG00000002".into(), "v2".into()] {
        assert!(find(elsewhere.clone()).await.starts_with("/console/find"));
        assert!(
            b.text("#not-found")
                .await
                .contains("No volunteer of your units"),
            "{elsewhere}"
        );
    }
    let last = if li_na.ends_with('0') { '1' } else { '0' };
    let mistyped = format!("{}{last}", &li_na[..17]);
    assert!(find(mistyped).await.starts_with("/console/find"));
    assert!(b
        .text("#not-found")
        .await
        .contains("Not a valid citizen ID number: the check digit"));
    b.goto(&format!("{base}/console/volunteers/v2")).await;
    assert!(b.text("main h1").await.contains("Not yours"));
    b.goto(&format!(
        "{base}/console/leaderboards/volunteers?scope=lianyun"
    ))
    .await;
    assert!(b.text("main h1").await.contains("Not yours"));
    b.goto(&format!("{base}/console/exports/roster.csv?scope=lianyun"))
        .await;
    assert!(b.text("main h1").await.contains("Not yours"));

    // The city admin's reversal of v1's redemption is haizhou's to
    // approve: approved, it is entered, under this admin's name.
    b.goto(&format!("{base}/console/requests")).await;
    b.screenshot("requests").await;
    b.follow("#requests button[name=approve]").await;
    assert!(b.path().await.starts_with("/console/requests"));
    assert_eq!(b.count("#requests tbody tr").await, 0);
    b.goto(&format!("{base}/console/volunteers/v1")).await;
    assert_eq!(b.text("#balance").await, balance.to_string());
    let reversed = b.text("#history tbody tr:last-child").await;
    assert!(reversed.contains("R1"), "{reversed}");

    // haizhou's catalogue holds haizhou's book and the city's ticket, which
    // haizhou's volunteers may redeem too, but only the book is haizhou's
    // to restock; the book is redeemed for v1 from there.
    b.goto(&format!("{base}/console/rewards")).await;
    assert_eq!(b.count("#rewards tbody tr").await, 2);
    assert_eq!(b.count("#rewards tr[data-reward=ticket] a.redeem").await, 1);
    assert_eq!(
        b.count("#rewards tr[data-reward=ticket] a.restock").await,
        0
    );
    assert_eq!(b.count("#rewards tr[data-reward=book] a.restock").await, 1);
    b.follow("#rewards tr[data-reward=book] a.redeem").await;
    assert_eq!(b.attr("input[name=reward]", "value").await, "book");
    b.fill("input[name=volunteer]", "v1").await;
    b.fill("input[name=quantity]", "1").await;
    submit(&b).await;
    assert_eq!(b.text("#balance").await, (balance - 5).to_string());
    b.goto(&format!("{base}/console/rewards")).await;
    assert_eq!(b.text("#rewards tr[data-reward=book] td.stock").await, "3");
    assert_eq!(
        b.text("#rewards tr[data-reward=book] td.redeemed").await,
        "1"
    );

    b.stop().await;
}

/// The console's cookies, as `ledger serve` sets them: HttpOnly and
/// SameSite=Strict always, and Secure only when told it is served over
/// HTTPS (`--console-secure-cookie`); plain HTTP on loopback keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_the_console_is_served_over_https() {
    let nats = Nats::start();
    let plain = ServiceProcess::start(&nats.url());
    let projections = tempfile::tempdir().expect("temporary folder");
    let https = ServiceProcess::start_with_args(
        &nats.url(),
        projections.path(),
        &["--console-secure-cookie".into()],
        None,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // Each cookie a response sets, as its attributes.
    let set_cookies = |r: &reqwest::Response| -> Vec<Vec<String>> {
        r.headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| {
                let v = v.to_str().expect("a cookie in ASCII");
                v.split(';').map(|a| a.trim().to_owned()).collect()
            })
            .collect()
    };
    for (service, secure) in [(&plain, false), (&https, true)] {
        let base = service.http_url();
        wait_for_http(&base).await;
        // Accounts are open without --accounts: any token signs in.
        let signed_in = http
            .post(format!("{base}/console/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token=some-token&next=%2Fconsole%2Fdashboard")
            .send()
            .await
            .expect("sign-in answers");
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let signed_out = http
            .post(format!("{base}/console/sign-out"))
            .send()
            .await
            .expect("sign-out answers");
        assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
        let switched = http
            .get(format!(
                "{base}/console/lang?to=en&next=%2Fconsole%2Fdashboard"
            ))
            .send()
            .await
            .expect("the language switch answers");
        assert_eq!(switched.status(), StatusCode::SEE_OTHER);
        let token_cookies = [set_cookies(&signed_in), set_cookies(&signed_out)];
        let lang_cookies = set_cookies(&switched);
        assert_eq!(token_cookies[0][0][0], "ledger_token=some-token");
        assert_eq!(token_cookies[1][0][0], "ledger_token=");
        assert_eq!(lang_cookies[0][0], "ledger_lang=en");
        for cookie in token_cookies.iter().flatten() {
            assert!(cookie.iter().any(|a| a == "HttpOnly"), "{cookie:?}");
            assert!(cookie.iter().any(|a| a == "SameSite=Strict"), "{cookie:?}");
        }
        for cookie in token_cookies.iter().flatten().chain(&lang_cookies) {
            assert_eq!(
                cookie.iter().any(|a| a == "Secure"),
                secure,
                "{base}: {cookie:?}"
            );
        }
    }
}
