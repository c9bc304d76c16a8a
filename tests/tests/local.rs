//! `ledger local`, the Quick start's command: a nats-server of its own, the
//! demo federation, the API and the console; and a clean stop on SIGTERM
//! that takes the nats-server with it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ledger_core::values::LedgerId;
use ledger_service::local::free_port;
use ledger_service::{ChainStore, Shard};
use ledger_tests::*;
use serde_json::Value;

/// `ledger local` running; a test that fails before it is stopped stops it
/// the way the test would, so that its nats-server does not outlive it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        // No assertion here: this may run while a test is already failing.
        if self.0.try_wait().ok().flatten().is_none()
            && ask_to_stop(&mut self.0, "TERM", Duration::from_secs(10)).is_none()
        {
            let _ = self.0.kill();
        }
    }
}

/// The lines `ledger local` printed, up to and including the first that
/// starts with `last`.
fn lines_until(printed: &mpsc::Receiver<String>, last: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with(last)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(e) => panic!("no line starting {last:?} ({e}); printed: {lines:#?}"),
        }
    }
    lines
}

/// The rest of the line that starts with `prefix`.
fn after<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:#?}"))
}

/// `ledger local` on `data`, HTTP on `http`, and what it printed up to the
/// demo's line.
fn start_local(data: &Path, http: &str) -> (Running, Vec<String>) {
    let mut local = Command::new(ledger_binary())
        .arg("local")
        .arg("--data")
        .arg(data)
        .args(["--http", http])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ledger local starts");
    let stdout = local.stdout.take().expect("its output");
    let local = Running(local);
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let lines = lines_until(&printed, "demo federation", Duration::from_secs(120));
    (local, lines)
}

/// The port of the nats-server `ledger local` said it started.
fn nats_port(lines: &[String]) -> u16 {
    let url = after(lines, "nats-server (JetStream, sync_interval: always) at ");
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{url}"))
}

fn listens(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The events `ledger local`'s nats-server holds, checkpoints left out (a
/// writer adds one when its clock says so).
async fn recorded(nats_port: u16) -> Vec<ledger_core::EventRecord> {
    let client = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
        .await
        .expect("its nats-server answers");
    let shard = Shard::new(LedgerId::new("dl").expect("the local shard"));
    let store = ChainStore::new(async_nats::jetstream::new(client), shard);
    let (records, _) = read_chain(&store).await;
    records
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| !matches!(r.event, ledger_core::Event::CheckpointRecorded(_)))
        .collect()
}

async fn head(http: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("http://{http}/api/v1/head"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a head")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_local_serves_the_demo_and_stops_its_nats_server_with_it() {
    let data = tempfile::tempdir().expect("a data folder");
    let http = format!("127.0.0.1:{}", free_port());
    let (mut local, lines) = start_local(data.path(), &http);

    let nats = nats_port(&lines);
    let token = after(&lines, "city admin token: ");
    let demo = after(&lines, "demo federation (notice 004, Dalian): ");
    assert!(demo.ends_with("rejected: {}"), "{demo}");
    let accepted: u64 = demo
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{demo}"));
    assert!(accepted > 1_000, "{demo}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("http://{http}/console/"))),
        "{lines:#?}"
    );

    let head = head(&http, token).await;
    assert!(head["sequence"].as_u64() >= Some(accepted), "{head}");
    // Its secrets are for its owner alone.
    for secret in [
        "identity.key",
        "signing.key",
        "admin.token",
        "district-admin.token",
        "auditor.token",
        "accounts.json",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.path().join(secret))
            .expect("the secret is there")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
    }
    // The district admin reads his own district and not another; the
    // auditor reads everything.
    let district = after(&lines, "district admin token (西岗区总工会, unit xigang): ");
    let auditor = after(&lines, "auditor token (reads everything, writes nothing): ");
    let summary = |unit: &str, token: &str| {
        reqwest::Client::new()
            .get(format!("http://{http}/api/v1/units/{unit}/summary"))
            .bearer_auth(token)
            .send()
    };
    for (unit, token, status) in [
        ("xigang", district, 200),
        ("zhongshan", district, 403),
        ("zhongshan", auditor, 200),
    ] {
        let answered = summary(unit, token).await.expect("the API answers");
        assert_eq!(
            answered.status().as_u16(),
            status,
            "{unit} read with {token}"
        );
    }
    let console = reqwest::Client::new()
        .get(format!("http://{http}/console/"))
        .send()
        .await
        .expect("the console answers");
    assert!(console.status().is_success(), "{}", console.status());

    // The README's auditor: the chain checked against the key printed.
    let key = after(
        &lines,
        "ledger key (auditors pass it to `ledger verify --key`): ",
    );
    let url = format!("nats://127.0.0.1:{nats}");
    let (code, said) = ledger(&[
        "verify", "--nats", &url, "--shard", "dl", "--quiet", "--key", key,
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains(&format!("sealed with ledger key {key}")),
        "{said}"
    );

    let status = ask_to_stop(&mut local.0, "TERM", Duration::from_secs(20))
        .expect("ledger local stops within 20 s of SIGTERM");
    assert!(status.success(), "ledger local ended with {status}");
    assert!(
        !listens(nats),
        "its nats-server on port {nats} still listens"
    );
}

/// SIGKILL leaves `ledger local` no chance to stop its nats-server. Run
/// again on the same data, it stops that server before starting its own
/// (two on one store would both write it), and finds the demo recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_local_run_again_after_a_sigkill_stops_the_nats_server_left_running() {
    let data = tempfile::tempdir().expect("a data folder");
    let http = format!("127.0.0.1:{}", free_port());
    let (mut first, lines) = start_local(data.path(), &http);
    let left = nats_port(&lines);
    let token = after(&lines, "city admin token: ").to_owned();
    let before = recorded(left).await;
    assert!(!before.is_empty());
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("it ended");
    assert!(listens(left), "its nats-server is left running");

    let (_second, lines) = start_local(data.path(), &http);
    assert!(
        !listens(left),
        "the nats-server left on port {left} still listens"
    );
    let now = nats_port(&lines);
    assert_ne!(now, left);
    assert_eq!(after(&lines, "city admin token: "), token);
    assert!(recorded(now).await == before, "the demo recorded twice");
}
