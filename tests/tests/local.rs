//! `ledger local`, the Quick start's command: a nats-server of its own, the
//! demo federation, the API and the console; and a clean stop on SIGTERM
//! that takes the nats-server with it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ledger_service::local::free_port;
use ledger_tests::*;
use serde_json::Value;

/// `ledger local` running; a test that fails before it is stopped stops it
/// the way the test would, so that its nats-server does not outlive it.
struct Running(std::process::Child);

impl Running {
    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// How it ended, within `limit`.
    fn ended(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.0.try_wait().expect("its status") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.terminate();
            if self.ended(Duration::from_secs(10)).is_none() {
                let _ = self.0.kill();
            }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_local_serves_the_demo_and_stops_its_nats_server_with_it() {
    let data = tempfile::tempdir().expect("a data folder");
    let http = format!("127.0.0.1:{}", free_port());
    let mut local = Command::new(ledger_binary())
        .arg("local")
        .arg("--data")
        .arg(data.path())
        .args(["--http", &http])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ledger local starts");
    let stdout = local.stdout.take().expect("its output");
    let mut local = Running(local);
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let lines = lines_until(&printed, "demo federation", Duration::from_secs(120));

    let nats = after(&lines, "nats-server (JetStream, sync_interval: always) at ").to_owned();
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

    let client = reqwest::Client::new();
    let head: Value = client
        .get(format!("http://{http}/api/v1/head"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a head");
    assert!(head["sequence"].as_u64() >= Some(accepted), "{head}");
    let console = client
        .get(format!("http://{http}/console/"))
        .send()
        .await
        .expect("the console answers");
    assert!(console.status().is_success(), "{}", console.status());

    local.terminate();
    let status = local
        .ended(Duration::from_secs(20))
        .expect("ledger local stops within 20 s of SIGTERM");
    assert!(status.success(), "ledger local ended with {status}");
    let port: u16 = nats
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{nats}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "its nats-server at {nats} still listens"
    );
}
