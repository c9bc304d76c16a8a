//! The harness the end-to-end tests share: a real nats-server in a temporary
//! folder, the service against it (in-process, or as the `ledger` binary),
//! and a client that submits as another system would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use ledger_core::chain::{verify_concatenated, Head};
use ledger_core::values::LedgerId;
use ledger_core::EventRecord;
use ledger_service::local::{free_port, NatsServer};
use ledger_service::{intake, ChainStore, Sequencer, Shard, Writer};
use serde_json::{json, Value};

pub mod browser;

pub const SHARD: &str = "lyg";

pub fn shard() -> Shard {
    Shard::new(LedgerId::new(SHARD).expect("valid shard"))
}

/// A nats-server of its own in a temporary folder.
pub struct Nats {
    pub server: NatsServer,
    _dir: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Nats {
        let dir = tempfile::tempdir().expect("temporary folder");
        let server = NatsServer::start(dir.path(), free_port()).expect("nats-server starts");
        Nats { server, _dir: dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A path inside this server's temporary folder, gone with it.
    pub fn scratch(&self, name: &str) -> std::path::PathBuf {
        self._dir.path().join(name)
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to nats")
    }

    pub async fn store(&self) -> ChainStore {
        let store = ChainStore::new(jetstream::new(self.client().await), shard());
        store.ensure(1).await.expect("stream");
        store
    }

    pub async fn rejections(&self) -> ledger_service::rejections::RejectionLog {
        let js = jetstream::new(self.client().await);
        ledger_service::rejections::RejectionLog::open(&js, &shard(), 1)
            .await
            .expect("rejection log")
    }

    /// The writer and intake, in-process.
    pub async fn serve(&self) -> Writer {
        // As `ledger serve` opens it: older answers go to a file.
        let answers = Some(self.scratch("answers"));
        let sequencer = Sequencer::open_spilling(self.store().await, answers)
            .await
            .expect("writer opens")
            .republishing(self.client().await)
            .remembering_rejections(self.rejections().await)
            .await
            .expect("rejection log");
        let writer = sequencer.spawn();
        let client = self.client().await;
        tokio::spawn(intake::serve(
            client,
            shard(),
            writer.clone(),
            ledger_service::accounts::Accounts::open(),
        ));
        // The intake subscription must be in place before the first request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer
    }
}

/// Waits until the intake answers (a service process takes a moment to start).
pub async fn wait_for_intake(client: &async_nats::Client) {
    let probe = json!({"key": "probe", "command": {"type": "nonsense"}});
    for _ in 0..200 {
        if try_request(client, "probe", &probe, Duration::from_millis(500))
            .await
            .is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service's intake never answered");
}

/// Waits until a service process answers over HTTP at `url`.
pub async fn wait_for_http(url: &str) {
    let address = format!("{url}/api/v1/openapi.json");
    for _ in 0..300 {
        if reqwest::get(&address)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service at {url} never answered over HTTP");
}

/// What `/readyz` of the service at `url` answers: its status and body
/// (status 0 when nothing answers).
pub async fn readiness(url: &str) -> (u16, Value) {
    match reqwest::get(format!("{url}/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

/// Waits up to `limit` until `/readyz` of the service at `url` answers
/// what `wanted` looks for; that answer's body.
pub async fn until_readiness(
    url: &str,
    limit: Duration,
    wanted: impl Fn(u16, &Value) -> bool,
) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = readiness(url).await;
        if wanted(status, &body) {
            return body;
        }
        assert!(
            started.elapsed() < limit,
            "/readyz of {url} still answers {status} {body} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A three-node JetStream cluster on the loopback interface.
pub struct Cluster {
    pub nodes: Vec<Option<NatsServer>>,
    ports: Vec<(u16, u16)>,
    dirs: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temporary folder");
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let dirs: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("n{i}"))).collect();
        let mut cluster = Cluster {
            nodes: Vec::new(),
            ports,
            dirs,
            _dir: dir,
        };
        for i in 0..3 {
            let node = cluster.start_node(i);
            cluster.nodes.push(Some(node));
        }
        cluster
    }

    fn start_node(&self, i: usize) -> NatsServer {
        let routes: Vec<String> = (0..3)
            .filter(|j| *j != i)
            .map(|j| format!("nats-route://127.0.0.1:{}", self.ports[j].1))
            .collect();
        let extra = format!(
            "server_name: n{i}\ncluster {{\n  name: ledger\n  listen: 127.0.0.1:{}\n  routes: [{}]\n}}\n",
            self.ports[i].1,
            routes.join(", ")
        );
        NatsServer::start_with(&self.dirs[i], self.ports[i].0, &extra).expect("cluster node starts")
    }

    /// All three client URLs.
    pub fn servers(&self) -> Vec<async_nats::ServerAddr> {
        self.ports
            .iter()
            .map(|(p, _)| format!("nats://127.0.0.1:{p}").parse().expect("address"))
            .collect()
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.servers().as_slice())
            .await
            .expect("connect to the cluster")
    }

    /// All three client URLs, comma-separated, as `ledger --nats` takes them.
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|(p, _)| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `name` (`n0`, `n1`, `n2`) with SIGKILL.
    pub fn kill(&mut self, name: &str) {
        let i: usize = name.trim_start_matches('n').parse().expect("node name");
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
        }
    }

    pub fn restart(&mut self, name: &str) {
        let i: usize = name.trim_start_matches('n').parse().expect("node name");
        if self.nodes[i].is_none() {
            self.nodes[i] = Some(self.start_node(i));
        }
    }
}

/// One submission's reply, or None if none came in time.
pub type Reply =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, Option<Value>)> + Send>>;

/// Sends every body to the intake as `system` at once; the replies come
/// back in any order, each with its body's index.
pub fn fire_all(
    client: &async_nats::Client,
    system: &str,
    bodies: Vec<Value>,
    timeout: Duration,
) -> futures::stream::FuturesUnordered<Reply> {
    let subject = shard().intake_subject(system);
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let client = client.clone();
            let subject = subject.clone();
            let reply: Reply = Box::pin(async move {
                let payload = serde_json::to_vec(&body).expect("json");
                let reply =
                    tokio::time::timeout(timeout, client.request(subject, payload.into())).await;
                let answer = match reply {
                    Ok(Ok(m)) => serde_json::from_slice::<Value>(&m.payload).ok(),
                    _ => None,
                };
                (i, answer)
            });
            reply
        })
        .collect()
}

/// Sets up `federation()` through the HTTP API with `token`.
/// A second district, 连云区 (`lianyun`), beside the federation's haizhou:
/// the scope of `test_accounts()`'s lianyun admin.
pub async fn register_lianyun(router: &axum::Router) {
    let lianyun = json!({"type": "register_unit", "unit": "lianyun", "name": "连云区总工会",
        "kind": "district_federation", "parent": "city", "quota": 300});
    let (status, answer) = call(
        router,
        "POST",
        "/api/v1/commands",
        Some("city-secret"),
        Some(submission("u-lianyun", lianyun)),
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{answer}");
}

pub async fn set_up_http(router: &axum::Router, token: &str) {
    for (i, command) in federation().into_iter().enumerate() {
        let body = submission(&format!("setup-{i}"), command);
        let (status, answer) =
            call(router, "POST", "/api/v1/commands", Some(token), Some(body)).await;
        assert_eq!(
            status,
            axum::http::StatusCode::OK,
            "setup step {i}: {answer}"
        );
    }
}

/// A nats-server, the service in-process, a client, and `federation()` set up.
pub async fn served_federation() -> (Nats, Writer, async_nats::Client) {
    let nats = Nats::start();
    let writer = nats.serve().await;
    let client = nats.client().await;
    set_up(&client).await;
    (nats, writer, client)
}

/// Signs volunteer `v1` up for activity `a1`, as the city's admin.
pub async fn sign_up_v1(client: &async_nats::Client) -> Value {
    let body = submission(
        "s1",
        json!({"type": "sign_up", "activity": "a1", "volunteer": "v1"}),
    );
    request(client, "admin-city", &body).await
}

/// Sends a request to the intake as `system` and returns the JSON reply.
pub async fn request(client: &async_nats::Client, system: &str, body: &Value) -> Value {
    let subject = shard().intake_subject(system);
    let payload = serde_json::to_vec(body).expect("json");
    let reply = tokio::time::timeout(
        Duration::from_secs(30),
        client.request(subject, payload.into()),
    )
    .await
    .expect("reply in time")
    .expect("request answered");
    serde_json::from_slice(&reply.payload).expect("reply is json")
}

/// As [`request`], but a request that goes unanswered `within` (no service
/// yet, a take-over under way) is `None` rather than a failure.
pub async fn try_request(
    client: &async_nats::Client,
    system: &str,
    body: &Value,
    within: Duration,
) -> Option<Value> {
    let payload = serde_json::to_vec(body).expect("json");
    let subject = shard().intake_subject(system);
    let reply = tokio::time::timeout(within, client.request(subject, payload.into()))
        .await
        .ok()?
        .ok()?;
    Some(serde_json::from_slice(&reply.payload).expect("reply is json"))
}

/// A submission by the city's admin under `key`, for the writer directly.
pub fn as_city_admin(key: &str, command: ledger_core::Command) -> ledger_service::Submission {
    ledger_service::Submission {
        actor: ledger_core::testing::actor("admin-city"),
        role: ledger_core::rights::Role::CityAdmin,
        key: Some(ledger_core::values::SubmissionKey::new(key).expect("valid key")),
        command,
    }
}

pub fn submission(key: &str, command: Value) -> Value {
    json!({ "key": key, "command": command })
}

/// Reads the whole stream, verifying every link, and returns the records
/// with their ledger sequences, and the head.
pub async fn read_chain(store: &ChainStore) -> (Vec<(u64, EventRecord)>, Head) {
    // On a cluster the stream's API may not answer for a few seconds after
    // a node dies, while JetStream elects new leaders.
    let mut frames = Vec::new();
    let mut attempt = 0;
    loop {
        frames.clear();
        let read = store
            .replay(1, |block| {
                frames.extend_from_slice(&block.frames);
                Ok(())
            })
            .await;
        match read {
            Ok(_) => break,
            Err(e) if attempt < 30 => {
                attempt += 1;
                eprintln!("reading the chain, attempt {attempt}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("reading the chain: {e}"),
        }
    }
    let head = verify_concatenated(&frames, Head::EMPTY).expect("the chain verifies");
    let mut verifier = ledger_core::Verifier::new();
    let mut rest: &[u8] = &frames;
    let mut records = Vec::new();
    while !rest.is_empty() {
        let (v, tail) = verifier.push_front(rest).expect("verified");
        records.push((v.head.sequence, v.record));
        rest = tail;
    }
    (records, head)
}

/// Local time (UTC+8) `minutes` from now, as RFC 3339.
pub fn from_now(minutes: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .to_rfc3339()
}

/// The commands that set up a small federation: ledger `lyg` with no
/// objection window, a city, a district, a community union, volunteer `v1`
/// approved, and activity `a1` running from an hour ago to an hour ahead.
pub fn federation() -> Vec<Value> {
    let identity = "0707070707070707070707070707070707070707070707070707070707070707";
    let mut commands = vec![
        json!({"type": "open_ledger", "ledger": SHARD, "name": "连云港市职工志愿服务",
               "objection_window_days": 0, "utc_offset_minutes": 480, "number_prefix": "LYG"}),
        json!({"type": "register_unit", "unit": "city", "name": "连云港市总工会",
               "kind": "city_federation", "parent": null, "quota": 5800}),
        json!({"type": "register_unit", "unit": "haizhou", "name": "海州区总工会",
               "kind": "district_federation", "parent": "city", "quota": 400}),
        json!({"type": "register_unit", "unit": "g1", "name": "朐阳街道工会",
               "kind": {"grassroots": "street"}, "parent": "haizhou", "quota": null}),
        json!({"type": "register_volunteer", "volunteer": "v1", "home_unit": "g1",
               "membership": "member", "groups": ["model_worker"], "specialties": [],
               "identity": identity}),
    ];
    for level in ["unit", "district_or_industry", "city"] {
        commands.push(json!({"type": "approve_volunteer", "volunteer": "v1", "level": level}));
    }
    commands.push(json!({
        "type": "publish_activity", "activity": "a1", "project": null, "campaign": null,
        "organiser": "g1", "co_organisers": [], "category": "traffic_order",
        "title": "文明交通劝导", "place": "解放路路口",
        "window": {"start": from_now(-60), "end": from_now(60)},
        "capacity": 20, "featured": true,
        "points_rule": {"version": 1, "points_per_hour": 10, "coefficient_permille": 1000, "cap_per_credit": null},
        "auto_check_out": "at_activity_end", "insurance_required": false, "walk_ins": false
    }));
    commands.push(
        json!({"type": "list_reward", "reward": "ticket", "unit": "city",
                         "name": "电影票", "cost_points": 3, "stock": 10}),
    );
    commands
}

/// Submits `federation()` as `admin-city`, each under key `setup-<n>`.
pub async fn set_up(client: &async_nats::Client) {
    for (i, command) in federation().into_iter().enumerate() {
        let answer = request(
            client,
            "admin-city",
            &submission(&format!("setup-{i}"), command),
        )
        .await;
        assert_eq!(answer["status"], "accepted", "setup step {i}: {answer}");
    }
}

/// The `ledger` binary of this build, beside the test executable.
pub fn ledger_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("ledger");
    assert!(
        bin.is_file(),
        "{} missing: build the workspace first (cargo nextest run --workspace builds it)",
        bin.display()
    );
    bin
}

/// An answer given again to a retry, checked to say so (`"replayed": true`)
/// and without that mark, to compare with the first.
pub fn replayed(mut answer: Value) -> Value {
    assert_eq!(
        answer["replayed"], true,
        "not marked as given before: {answer}"
    );
    if let Some(fields) = answer.as_object_mut() {
        fields.remove("replayed");
    }
    answer
}

/// Runs the `ledger` binary to its end: its exit code, and what it wrote
/// to stdout, then stderr.
pub fn ledger(args: &[&str]) -> (i32, String) {
    let out = Command::new(ledger_binary())
        .args(args)
        .output()
        .expect("ledger runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Sends `signal` to `child` ("INT" as an operator's Ctrl-C, "TERM" as a
/// service manager) and waits up to `limit` for it to end; how it ended,
/// or None if it did not (or the signal could not be sent).
pub fn ask_to_stop(
    child: &mut Child,
    signal: &str,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let started = std::time::Instant::now();
    while sent && started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `ledger serve` as a separate process, to be killed like a crashed one.
pub struct ServiceProcess {
    child: Child,
    http_port: u16,
    _projections: Option<tempfile::TempDir>,
}

impl ServiceProcess {
    /// With read models in a temporary folder of its own.
    pub fn start(nats_url: &str) -> ServiceProcess {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut service = ServiceProcess::start_with_projections(nats_url, dir.path());
        service._projections = Some(dir);
        service
    }

    /// With its read models in `projections`, which outlives it.
    pub fn start_with_projections(nats_url: &str, projections: &std::path::Path) -> ServiceProcess {
        ServiceProcess::start_with_args(nats_url, projections, &[], None)
    }

    /// As [`ServiceProcess::start_with_projections`], with more arguments
    /// for `ledger serve` (`--replicas 3`, a signing key…). With `log`, its
    /// output (info and above, without colours or backtraces) is appended
    /// to that file rather than mixed into the test's. `nats_url` may name
    /// several servers, comma-separated.
    pub fn start_with_args(
        nats_url: &str,
        projections: &std::path::Path,
        args: &[String],
        log: Option<&std::path::Path>,
    ) -> ServiceProcess {
        let http_port = free_port();
        let mut command = Command::new(ledger_binary());
        command
            .args(["serve", "--nats", nats_url, "--shard", SHARD])
            .arg("--projections")
            .arg(projections)
            .arg("--http")
            .arg(format!("127.0.0.1:{http_port}"))
            .args(args);
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("the service's log file opens");
                let stdout = file.try_clone().expect("the log file again");
                command
                    .env("RUST_LOG", "info,async_nats=warn")
                    .env("NO_COLOR", "1")
                    .env("RUST_BACKTRACE", "0")
                    .env("RUST_LIB_BACKTRACE", "0")
                    .stdout(stdout)
                    .stderr(file);
            }
            None => {
                command
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit());
            }
        }
        let child = command.spawn().expect("ledger serve starts");
        ServiceProcess {
            child,
            http_port,
            _projections: None,
        }
    }

    /// How the process ended, if it has ended by itself.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks it to stop with `signal` (see [`ask_to_stop`]): the service gives
    /// its lease up and stops. Waits up to `limit`, then kills it; how it
    /// ended if it stopped by itself.
    pub fn stop_with(&mut self, signal: &str, limit: Duration) -> Option<std::process::ExitStatus> {
        let ended = ask_to_stop(&mut self.child, signal, limit);
        if ended.is_none() {
            self.kill();
        }
        ended
    }

    /// Where its HTTP API listens.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush or answer anything more.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The service with its HTTP router, against a nats-server of its own.
pub struct HttpSetup {
    pub nats: Nats,
    pub router: axum::Router,
    pub client: async_nats::Client,
}

/// The identity-commitment key of the HTTP tests.
pub fn identity_key() -> ledger_core::domain::IdentityKey {
    ledger_core::domain::IdentityKey([9; 32])
}

pub async fn start_http(accounts: ledger_service::accounts::Accounts) -> HttpSetup {
    start_http_with(accounts, None).await
}

/// As [`start_http`], with a writer that checkpoints every 5 events and an
/// API that signs statements, when given the ledger's key.
pub async fn start_http_with(
    accounts: ledger_service::accounts::Accounts,
    signer: Option<std::sync::Arc<ledger_core::signing::LedgerSigner>>,
) -> HttpSetup {
    let nats = Nats::start();
    let store = nats.store().await;
    let client = nats.client().await;
    let mut sequencer = Sequencer::open(store.clone()).await.expect("writer");
    if let Some(signer) = &signer {
        sequencer = sequencer.checkpointing(ledger_service::sequencer::CheckpointPolicy {
            every_events: 5,
            every: Duration::from_secs(3600),
            signer: signer.clone(),
            previous: None,
            actor: ledger_core::testing::actor("ledger-writer"),
        });
    }
    let writer = sequencer.spawn();
    tokio::spawn(intake::serve(
        client.clone(),
        shard(),
        writer.clone(),
        accounts.clone(),
    ));
    tokio::spawn(intake::serve_forwarded(client.clone(), shard(), writer));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let js = jetstream::new(client.clone());
    let personal = ledger_service::personal::PersonalStore::open(&js, &shard(), 1)
        .await
        .expect("personal store");
    let attachments = ledger_service::attachments::AttachmentStore::open(&js, &shard(), 1)
        .await
        .expect("attachment store");
    let reader = ledger_service::reader::Reader::new();
    tokio::spawn(reader.clone().follow(store.clone()));
    let read_models = ledger_service::read_models::ReadModels::start(
        &nats.scratch("projections"),
        store.clone(),
        Default::default(),
    )
    .expect("read models");
    read_models.until_checked(Duration::from_secs(10)).await;
    let router = ledger_service::http::router(ledger_service::http::Api {
        read_models,
        client: client.clone(),
        shard: shard(),
        reader,
        signer,
        store,
        accounts,
        personal,
        attachments,
        identity_key: Some(identity_key()),
        statement_font: ledger_service::statement::StatementFont::find(None)
            .ok()
            .map(std::sync::Arc::new),
        secure_cookies: false,
        role: Default::default(),
        answers: Default::default(),
    });
    HttpSetup {
        nats,
        router,
        client,
    }
}

/// One HTTP request through the service's router.
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (axum::http::StatusCode, Value) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let body = body
        .map(|b| axum::body::Body::from(serde_json::to_vec(&b).expect("json")))
        .unwrap_or_else(axum::body::Body::empty);
    let request = request
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// One bearer token of the HTTP tests.
pub fn token(
    actor: &str,
    secret: &str,
    role: ledger_core::rights::Role,
) -> ledger_service::accounts::TokenAccount {
    ledger_service::accounts::TokenAccount {
        token_blake3: ledger_core::values::Digest::of(secret.as_bytes()),
        actor: ledger_core::values::ActorId::new(actor).unwrap(),
        role,
    }
}

/// City admin, admins of haizhou and lianyun, an auditor; the city admin's
/// system, and kiosks bound to lianyun and haizhou.
pub fn test_accounts() -> ledger_service::accounts::Accounts {
    let unit = |u: &str| ledger_core::values::UnitId::new(u).unwrap();
    ledger_service::accounts::Accounts::from(ledger_service::accounts::AccountsFile {
        tokens: vec![
            token(
                "admin-city",
                "city-secret",
                ledger_core::rights::Role::CityAdmin,
            ),
            token(
                "admin-haizhou",
                "haizhou-secret",
                ledger_core::rights::Role::UnitAdmin {
                    unit: unit("haizhou"),
                },
            ),
            token(
                "admin-lianyun",
                "lianyun-secret",
                ledger_core::rights::Role::UnitAdmin {
                    unit: unit("lianyun"),
                },
            ),
            token(
                "auditor-1",
                "auditor-secret",
                ledger_core::rights::Role::Auditor,
            ),
        ],
        systems: vec![
            ledger_service::accounts::SystemAccount {
                system: ledger_core::values::ActorId::new("admin-city").unwrap(),
                role: ledger_core::rights::Role::CityAdmin,
            },
            ledger_service::accounts::SystemAccount {
                system: ledger_core::values::ActorId::new("kiosk-12").unwrap(),
                role: ledger_core::rights::Role::System {
                    units: vec![unit("lianyun")],
                },
            },
            ledger_service::accounts::SystemAccount {
                system: ledger_core::values::ActorId::new("kiosk-hz").unwrap(),
                role: ledger_core::rights::Role::System {
                    units: vec![unit("haizhou")],
                },
            },
        ],
    })
}
