//! `ledger bench http`: the service as admins and other systems meet it.
//!
//! A synthetic federation's chain (the projections benchmark's generator)
//! is published to a nats-server of its own. The `ledger serve` binary is
//! started against it as a child process, the way an operator starts it,
//! and left to catch up. Then loopback clients, many at once, query
//! leaderboards, unit rankings, unit roll-ups and balances, and submit
//! check-ins; every request is timed from sending to the whole answer, and
//! every answer must be a success. The service's peak memory is its
//! kernel-kept high-water mark (`VmHWM`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use ledger_core::command::CheckIn;
use ledger_core::time::{Timestamp, Window, MICROS_PER_MINUTE};
use ledger_core::values::{ActivityId, ExternalRef, LedgerId, UnitId};
use ledger_core::Command;
use serde_json::{json, Value};

use crate::bench::{quantile, thousands, Scratch};
use crate::bench_projections::{
    pick, publish_generated, random_category, random_metric, random_period, volunteer_id, Shape,
    Units,
};
use crate::local::{free_port, NatsServer};
use crate::seeded::Rng;
use crate::shard::Shard;
use crate::store::ChainStore;

const SHARD: &str = "bench";
/// Any token will do: the service runs with open accounts (every caller a
/// city admin), as `ledger serve` does without `--accounts`.
const TOKEN: &str = "bench";
const LIVE_ACTIVITY: &str = "bench-live";
/// The check-ins are all answered; this only stops a stuck run.
const COMMANDS_AT_MOST: Duration = Duration::from_secs(3600);

/// What `ledger bench http` is asked for.
#[derive(Clone, Debug)]
pub struct Options {
    pub volunteers: u64,
    pub events: u64,
    pub activities: u32,
    /// Requests in flight at once.
    pub clients: usize,
    /// How long each kind of query is driven.
    pub seconds: u64,
    /// Check-ins submitted over HTTP (each by another volunteer).
    pub commands: u64,
    pub data: Option<PathBuf>,
    /// The service's sled cache, if not its default.
    pub read_model_cache_mib: Option<u64>,
    /// The `ledger` binary to start as the service.
    pub ledger: PathBuf,
}

/// One kind of request under load.
#[derive(Clone, Debug, Default)]
pub struct Load {
    pub name: &'static str,
    pub requests: u64,
    pub took: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Load {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// The service's memory, from `/proc/<pid>/status`, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub resident: u64,
    pub peak: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub volunteers: u64,
    pub events: u64,
    pub clients: usize,
    pub catch_up: Duration,
    pub caught_up: Memory,
    pub queries: Vec<Load>,
    pub commands: Load,
    pub end: Memory,
}

pub async fn run(o: &Options) -> anyhow::Result<Figures> {
    if o.clients == 0 || o.seconds == 0 || o.commands == 0 {
        bail!("--clients, --seconds and --commands must be at least 1");
    }
    if o.commands > o.volunteers {
        bail!("--commands must not exceed --volunteers: each check-in is another volunteer's");
    }
    let scratch = Scratch::new("http", o.data.as_deref())?;
    let dir = &scratch.path;
    let server = NatsServer::start(&dir.join("nats"), free_port())
        .context("starting nats-server (scripts/install-nats.sh installs it)")?;
    let nats = async_nats::connect(server.url())
        .await
        .with_context(|| format!("connecting to {}", server.url()))?;
    let store = ChainStore::new(
        async_nats::jetstream::new(nats.clone()),
        Shard::new(LedgerId::new(SHARD)?),
    );
    store.ensure(1).await?;
    let mut shape = Shape::new(o.volunteers, o.events);
    shape.activities = o.activities;
    let published = publish_generated(&store, shape).await?;
    println!(
        "generated and published {} events in {} blocks ({:.1} s)",
        thousands(published.events),
        thousands(published.blocks),
        (published.generate + published.publish).as_secs_f64()
    );

    let started = Instant::now();
    let mut service = Service::start(o, dir, &server.url())?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients)
        .build()?;
    let base = service.base.clone();
    let city = published
        .units
        .city
        .clone()
        .context("the generated federation has no city union")?;
    wait_caught_up(&mut service, &http, &city, published.events).await?;
    let mut f = Figures {
        volunteers: o.volunteers,
        events: published.events,
        clients: o.clients,
        catch_up: started.elapsed(),
        caught_up: service.memory()?,
        ..Figures::default()
    };
    println!("the service caught up in {:.1} s", f.catch_up.as_secs_f64());

    let queries = Queries::new(base.clone(), &published.units, o.volunteers);
    for kind in QueryKind::ALL {
        let load = drive_queries(o, &http, &queries, kind).await?;
        println!("{}", Row(&load));
        f.queries.push(load);
    }
    f.commands = drive_check_ins(o, &http, &base, published.last_recorded_at).await?;
    println!("{}", Row(&f.commands));
    f.end = service.memory()?;
    service.stop();
    drop(store);
    let _ = tokio::time::timeout(Duration::from_secs(5), nats.drain()).await;
    drop(server);
    drop(scratch);
    Ok(f)
}

/// One kind of query, from every client at once, for `o.seconds`.
async fn drive_queries(
    o: &Options,
    http: &reqwest::Client,
    queries: &Queries,
    kind: QueryKind,
) -> anyhow::Result<Load> {
    let for_at_most = Duration::from_secs(o.seconds);
    drive(o.clients, for_at_most, kind.name(), |rng| {
        let url = queries.url(kind, rng);
        async move { get_ok(http, &url?).await.map(Some) }
    })
    .await
}

/// `o.commands` check-ins at a live activity, each by another volunteer,
/// from every client at once; every one must be accepted.
async fn drive_check_ins(
    o: &Options,
    http: &reqwest::Client,
    base: &str,
    chain_time: Timestamp,
) -> anyhow::Result<Load> {
    let live = Live::open(http, base, chain_time).await?;
    let next = AtomicU64::new(0);
    let url = format!("{base}/api/v1/commands");
    let load = drive(
        o.clients,
        COMMANDS_AT_MOST,
        "check-in (POST /api/v1/commands)",
        |_| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let body = (n < o.commands).then(|| live.check_in(n));
            let url = &url;
            async move {
                match body {
                    Some(body) => submit(http, url, body?).await.map(Some),
                    None => Ok(None),
                }
            }
        },
    )
    .await?;
    if load.requests != o.commands {
        bail!(
            "{} check-ins were answered, not {}",
            load.requests,
            o.commands
        );
    }
    Ok(load)
}

/// `ledger serve` as a child process with a log file.
struct Service {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Service {
    fn start(o: &Options, dir: &Path, nats: &str) -> anyhow::Result<Service> {
        let address = format!("127.0.0.1:{}", free_port());
        let log = dir.join("service.log");
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Process::new(&o.ledger);
        command
            .args([
                "serve", "--nats", nats, "--shard", SHARD, "--http", &address,
            ])
            .arg("--projections")
            .arg(dir.join("projections"));
        if let Some(mib) = o.read_model_cache_mib {
            command.args(["--read-model-cache-mib", &mib.to_string()]);
        }
        command.stdout(out.try_clone()?).stderr(out);
        // The bench's settings, not the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LEDGER_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn().context("starting ledger serve")?;
        Ok(Service {
            child,
            base: format!("http://{address}"),
            log,
        })
    }

    /// Resident and peak memory now.
    fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{path} has no {name}"))?;
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("reading {line:?}"))?;
            Ok(kib * 1024)
        };
        Ok(Memory {
            resident: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }

    /// Why the service is gone, with the end of its log, if it is.
    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Some(format!(
            "ledger serve exited ({status}); the end of {}:\n{}",
            self.log.display(),
            tail.join("\n")
        ))
    }

    /// Asks the service to stop as an operator would (SIGINT), then makes sure.
    fn stop(mut self) {
        let _ = Process::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until the service's read models stand at sequence `last`: a
/// query asked to wait for it (`after`) answers 200 only then.
async fn wait_caught_up(
    service: &mut Service,
    http: &reqwest::Client,
    city: &UnitId,
    last: u64,
) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/units/{city}/summary?after={last}", service.base);
    loop {
        let answer = http.get(&url).bearer_auth(TOKEN).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if let Some(why) = service.exited() {
            bail!(why);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[derive(Clone, Copy, Debug)]
enum QueryKind {
    Leaderboard,
    UnitRanking,
    UnitView,
    Balance,
}

impl QueryKind {
    const ALL: [QueryKind; 4] = [
        QueryKind::Leaderboard,
        QueryKind::UnitRanking,
        QueryKind::UnitView,
        QueryKind::Balance,
    ];

    fn name(self) -> &'static str {
        match self {
            QueryKind::Leaderboard => "leaderboard, top 20 volunteers",
            QueryKind::UnitRanking => "unit ranking, top 20 units",
            QueryKind::UnitView => "unit roll-up with sibling rank",
            QueryKind::Balance => "volunteer balance",
        }
    }
}

/// Makes up queries as admins ask them: any level of the unit tree, any
/// period of the year, all categories or one, hours or points.
struct Queries {
    base: String,
    /// Scopes of volunteer boards: the city, districts, grassroots unions.
    levels: [Vec<UnitId>; 3],
    /// Units whose children are ranked.
    parents: Vec<UnitId>,
    /// Units that have a rank among siblings.
    ranked: Vec<UnitId>,
    volunteers: u64,
}

impl Queries {
    fn new(base: String, units: &Units, volunteers: u64) -> Queries {
        let city: Vec<UnitId> = units.city.iter().cloned().collect();
        Queries {
            base,
            levels: [city, units.districts.clone(), units.grassroots.clone()],
            parents: units.parents(),
            ranked: units.ranked(),
            volunteers: volunteers.max(1),
        }
    }

    fn url(&self, kind: QueryKind, rng: &mut Rng) -> anyhow::Result<String> {
        let period = random_period(rng);
        let category = random_category(rng)
            .map(|c| format!("&category={}", wire(&c)))
            .unwrap_or_default();
        let metric = wire(&random_metric(rng));
        let unit = |rng: &mut Rng, from: &[UnitId]| {
            pick(rng, from)
                .cloned()
                .context("the generated federation lacks units of a level")
        };
        Ok(match kind {
            QueryKind::Leaderboard => {
                let level = &self.levels[rng.index(self.levels.len())];
                let scope = unit(rng, level)?;
                format!(
                    "{}/api/v1/leaderboards/volunteers?scope={scope}&period={period}&metric={metric}{category}&limit=20",
                    self.base
                )
            }
            QueryKind::UnitRanking => {
                let scope = unit(rng, &self.parents)?;
                format!(
                    "{}/api/v1/leaderboards/units?scope={scope}&period={period}&metric={metric}{category}&limit=20",
                    self.base
                )
            }
            QueryKind::UnitView => {
                let id = unit(rng, &self.ranked)?;
                format!(
                    "{}/api/v1/units/{id}/summary?period={period}{category}",
                    self.base
                )
            }
            QueryKind::Balance => {
                let id = volunteer_id(rng.below(self.volunteers))?;
                format!("{}/api/v1/volunteers/{id}/summary", self.base)
            }
        })
    }
}

/// A value as its JSON string form (`snake_case`), for a query parameter.
fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Runs `clients` request loops at once for `for_at_most` (or until `one`
/// has nothing more to send), each timing its requests; `one` sends one
/// request and says whether there was one to send.
async fn drive<F, Fut>(
    clients: usize,
    for_at_most: Duration,
    name: &'static str,
    one: F,
) -> anyhow::Result<Load>
where
    F: Fn(&mut Rng) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<()>>>,
{
    let mut seeds = Rng(0x5EED_0000 ^ name.len() as u64);
    let started = Instant::now();
    let deadline = started + for_at_most;
    let loops = (0..clients).map(|_| {
        let mut rng = seeds.fork();
        let one = &one;
        async move {
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                match one(&mut rng).await? {
                    Some(()) => times.push(sent.elapsed()),
                    None => break,
                }
            }
            anyhow::Ok(times)
        }
    });
    let mut times = Vec::new();
    for client in futures::future::join_all(loops).await {
        times.extend(client?);
    }
    let took = started.elapsed();
    times.sort_unstable();
    Ok(Load {
        name,
        requests: times.len() as u64,
        took,
        p50: quantile(&times, 0.50),
        p99: quantile(&times, 0.99),
        max: times.last().copied().unwrap_or_default(),
    })
}

/// GETs `url`; anything but 200 fails the run.
async fn get_ok(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let response = http.get(url).bearer_auth(TOKEN).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// POSTs a command; it must be accepted.
async fn submit(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<()> {
    let response = http.post(url).bearer_auth(TOKEN).json(&body).send().await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    if !status.is_success() || answer["status"] != "accepted" {
        bail!("POST {url} {body}: {status} {answer}");
    }
    Ok(())
}

/// An activity going on at the chain's time, open to walk-ins, that the
/// check-ins go to (organised by the city union, whose id is `city` in the
/// generated federation as in the append benchmark's).
struct Live {
    id: ActivityId,
    at: Timestamp,
}

impl Live {
    /// Publishes the activity (again and again until the writer, which
    /// may still be reading the chain, accepts it).
    async fn open(
        http: &reqwest::Client,
        base: &str,
        chain_time: Timestamp,
    ) -> anyhow::Result<Live> {
        let now = Timestamp::from_chrono(&chrono::Utc::now()).unwrap_or(chain_time);
        // The writer stamps events no earlier than the chain's last one.
        let at = Timestamp(now.0.max(chain_time.0));
        let id = ActivityId::new(LIVE_ACTIVITY)?;
        let publish = crate::bench_append::activity_command(
            id.clone(),
            Window {
                start: Timestamp(at.0 - 60 * MICROS_PER_MINUTE),
                end: Timestamp(at.0 + 24 * 60 * MICROS_PER_MINUTE),
            },
        );
        let body = json!({"key": "bench-http-live", "command": publish});
        let url = format!("{base}/api/v1/commands");
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let response = http
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            let answer: Value = response.json().await?;
            match answer["status"].as_str() {
                Some("accepted") => return Ok(Live { id, at }),
                Some("unavailable") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                _ => bail!("publishing the live activity: {status} {answer}"),
            }
        }
    }

    /// Volunteer `n` walks in.
    fn check_in(&self, n: u64) -> anyhow::Result<Value> {
        let command = Command::CheckIn(CheckIn {
            activity: self.id.clone(),
            volunteer: volunteer_id(n)?,
            at: self.at,
            device: ExternalRef::new("kiosk-http").ok(),
            external_id: ExternalRef::new(format!("http-{n}")).ok(),
        });
        Ok(json!({"key": format!("bench-http-{n}"), "command": command}))
    }
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

struct Row<'a>(&'a Load);

impl fmt::Display for Row<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.0;
        write!(
            out,
            "  {:<38} {:>9}/s {:>10} {:>10} {:>10}  ({} requests)",
            l.name,
            thousands(l.per_sec() as u64),
            millis(l.p50),
            millis(l.p99),
            millis(l.max),
            thousands(l.requests)
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", thousands(bytes >> 20))
}

impl fmt::Display for Figures {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            out,
            "http: {} volunteers, {} events; ledger serve caught up in {:.1} s; {} requests in flight, over loopback",
            thousands(self.volunteers),
            thousands(self.events),
            self.catch_up.as_secs_f64(),
            self.clients
        )?;
        writeln!(
            out,
            "  {:<38} {:>11} {:>10} {:>10} {:>10}",
            "", "requests", "p50", "p99", "max"
        )?;
        for load in self.queries.iter().chain([&self.commands]) {
            writeln!(out, "{}", Row(load))?;
        }
        writeln!(
            out,
            "service memory: {} resident after catching up, {} at the end; peak {} (VmHWM)",
            mib(self.caught_up.resident),
            mib(self.end.resident),
            mib(self.end.peak)
        )
    }
}
