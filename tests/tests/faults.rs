//! Fault injection. A city federation modelled on notice 004 (the Dalian city
//! federation and its 19 district and industry unions with their quotas)
//! runs a season of volunteer service against two `ledger serve` instances
//! and a three-node JetStream cluster, while the instance that writes, the
//! other instance and one NATS node at a time are killed (SIGKILL) and
//! restarted at random moments. Several systems submit at once, each under
//! its own idempotency keys, and retry with the same key what went
//! unanswered, as a kiosk would (or give up on it). At the end:
//!
//! - every acknowledged submission is in the chain as it was answered:
//!   accepted ones exactly once, at the sequences and hash of the answer;
//!   rejected ones not at all;
//! - nothing unacknowledged is there twice, and nothing is there that was
//!   never submitted;
//! - the chain verifies (here, and with `ledger verify` as an auditor runs it);
//! - a submission sent again is answered as it was the first time;
//! - balances recomputed from the events (by this file's own fold, and by
//!   ledger-core's `Ledger::replay`) equal what both instances' read models
//!   serve, for every volunteer, the city and each union;
//! - both instances' read models equal a rebuild from the stream, row for
//!   row (`ledger rebuild --check`).
//!
//! The short version, in the default suite, loads for 35 s with a tenth of
//! each quota. `LEDGER_FAULTS_MINUTES=N` runs the long one: N minutes of
//! load, every quota filled (5,800 volunteers, and a few over quota who are
//! refused) and a season of 180 activities (run it with nextest's `long`
//! profile, which ends no test for its length). The seed of the fault schedule
//! and of every choice is printed; `LEDGER_FAULTS_SEED=S` runs with seed S
//! again (the choices and the fault timings repeat; how the load interleaves
//! with them cannot). `LEDGER_FAULTS_KEEP=1` keeps the instances' read
//! models and logs, and prints where.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use futures::StreamExt;
use ledger_core::chain::Head;
use ledger_core::domain::CreditSource;
use ledger_core::values::UnitId;
use ledger_core::{Event, EventRecord, Ledger, Verifier};
use ledger_service::intake::BatchReply;
use ledger_service::lease::LeaseBucket;
use ledger_service::seeded::Rng;
use ledger_service::{Answer, ChainStore};
use ledger_tests::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The run's shape

#[derive(Clone, Debug)]
struct Plan {
    seed: u64,
    long: bool,
    load: Duration,
    /// Volunteers a union registers, given its quota.
    volunteers_for_quota: fn(u32) -> u32,
    past_activities: usize,
    upcoming_activities: usize,
    kiosks: usize,
    /// Volunteers per roster upload (each: registration and three approvals).
    roster_batch: usize,
    /// Seconds between one fault and the next, and how long a killed
    /// process stays down.
    fault_gap: (f64, f64),
    downtime: (f64, f64),
    /// The chance that a system gives up an unanswered submission after
    /// each failed attempt, instead of retrying it.
    abandon: f64,
}

impl Plan {
    fn from_env() -> Plan {
        let seed = std::env::var("LEDGER_FAULTS_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        let minutes = std::env::var("LEDGER_FAULTS_MINUTES")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|m| *m > 0.0);
        match minutes {
            None => Plan {
                seed,
                long: false,
                load: Duration::from_secs(35),
                volunteers_for_quota: |quota| quota / 10,
                past_activities: 30,
                upcoming_activities: 5,
                kiosks: 4,
                roster_batch: 10,
                fault_gap: (2.5, 5.0),
                downtime: (1.0, 4.0),
                abandon: 0.15,
            },
            Some(m) => Plan {
                seed,
                long: true,
                load: Duration::from_secs_f64(m * 60.0),
                // Five over each quota: the ledger refuses them.
                volunteers_for_quota: |quota| quota + 5,
                past_activities: 180,
                upcoming_activities: 20,
                kiosks: 6,
                roster_batch: 50,
                fault_gap: (3.0, 10.0),
                downtime: (1.0, 6.0),
                abandon: 0.15,
            },
        }
    }
}

/// Waits drawn from the run's seeded generator, so that a schedule can be
/// replayed.
trait Waits {
    fn seconds(&mut self, range: (f64, f64)) -> Duration;
    fn millis(&mut self, low: u64, high: u64) -> Duration;
}

impl Waits for Rng {
    fn seconds(&mut self, (low, high): (f64, f64)) -> Duration {
        Duration::from_secs_f64(low + (high - low) * self.unit())
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.below(high - low + 1))
    }
}

// ---------------------------------------------------------------------------
// The federation of notice 004

/// 附件1 工会服务帮扶志愿者名额分配表: code, name, kind, quota.
const UNIONS: [(&str, &str, &str, u32); 19] = [
    ("zhongshan", "中山区总工会", "district_federation", 300),
    ("xigang", "西岗区总工会", "district_federation", 300),
    ("shahekou", "沙河口区总工会", "district_federation", 300),
    ("ganjingzi", "甘井子区总工会", "district_federation", 400),
    ("jinzhou", "金州新区总工会", "zone_federation", 400),
    ("lvshunkou", "旅顺口区总工会", "district_federation", 300),
    ("gaoxin", "高新区总工会", "zone_federation", 300),
    ("baoshui", "保税区总工会", "zone_federation", 300),
    ("wafangdian", "瓦房店市总工会", "county_federation", 300),
    ("pulandian", "普兰店市总工会", "county_federation", 300),
    ("zhuanghe", "庄河市总工会", "county_federation", 300),
    ("changhai", "长海县总工会", "county_federation", 200),
    ("changxingdao", "长兴岛区总工会", "zone_federation", 200),
    ("huayuankou", "花园口区总工会", "zone_federation", 200),
    ("jixie", "机械重工工会", "industry_union", 400),
    ("haiyuan", "海员工会", "industry_union", 400),
    ("caimao", "财贸工会", "industry_union", 300),
    ("qingfang", "轻纺工会", "industry_union", 300),
    ("jiaoyu", "教育工会", "industry_union", 300),
];

const CITY: &str = "dalian";

const CATEGORIES: [&str; 6] = [
    "traffic_order",
    "civility_talk",
    "environment",
    "hardship_care",
    "legal_aid",
    "model_worker_mentoring",
];

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8")
}

/// An activity of the season, as the kiosks know it.
#[derive(Clone)]
struct Activity {
    id: String,
    start: DateTime<FixedOffset>,
    minutes: i64,
}

/// The season: activities held over the past weeks (kiosks sync their
/// attendance late, walk-ins welcome) and a few ahead (sign-ups, limited
/// places).
#[derive(Clone)]
struct Season {
    past: Vec<Activity>,
    upcoming: Vec<String>,
}

fn season(plan: &Plan) -> Season {
    let now = Utc::now().with_timezone(&china());
    let days = (plan.past_activities / 2 + 1) as i64;
    let past = (0..plan.past_activities)
        .map(|i| {
            // Two a day, morning and afternoon, so none overlap.
            let day = now.date_naive() - chrono::Duration::days(days - (i / 2) as i64);
            let hour = if i % 2 == 0 { 9 } else { 14 };
            let start = day
                .and_hms_opt(hour, 0, 0)
                .and_then(|t| t.and_local_timezone(china()).single())
                .expect("a local time");
            Activity {
                id: format!("dl-a{i:03}"),
                start,
                minutes: 180,
            }
        })
        .collect();
    let upcoming = (0..plan.upcoming_activities)
        .map(|i| format!("dl-u{i:02}"))
        .collect();
    Season { past, upcoming }
}

/// The commands that open the ledger and set the federation up: the city,
/// its unions with their quotas, a community and an enterprise union under
/// each, the reward catalogue, and the season's activities.
fn federation(plan: &Plan, season: &Season) -> Vec<Value> {
    let mut commands = vec![
        json!({"type": "open_ledger", "ledger": SHARD, "name": "大连市职工志愿服务",
               "objection_window_days": 0, "utc_offset_minutes": 480, "number_prefix": "DL"}),
        json!({"type": "register_unit", "unit": CITY, "name": "大连市总工会",
               "kind": "city_federation", "parent": null, "quota": 5800}),
    ];
    for (code, name, kind, quota) in UNIONS {
        commands.push(json!({"type": "register_unit", "unit": code, "name": name,
                             "kind": kind, "parent": CITY, "quota": quota}));
        let short = name.trim_end_matches("总工会").trim_end_matches("工会");
        for (suffix, grassroots, what) in
            [("g0", "community", "社区"), ("g1", "enterprise", "企业")]
        {
            commands.push(
                json!({"type": "register_unit", "unit": format!("{code}-{suffix}"),
                "name": format!("{short}{what}工会"), "kind": {"grassroots": grassroots},
                "parent": code, "quota": null}),
            );
        }
    }
    commands.push(
        json!({"type": "list_reward", "reward": "ticket", "unit": CITY,
                         "name": "工人文化宫电影票", "cost_points": 10, "stock": 1_000_000}),
    );
    // Few books: some redemptions find them gone.
    let books = if plan.long { 300 } else { 40 };
    commands.push(
        json!({"type": "list_reward", "reward": "book", "unit": CITY,
                         "name": "职工书屋图书", "cost_points": 30, "stock": books}),
    );
    for (i, a) in season.past.iter().enumerate() {
        let end = a.start + chrono::Duration::minutes(a.minutes);
        commands.push(activity(i, &a.id, a.start, end, Some(80), true));
    }
    let now = Utc::now().with_timezone(&china());
    for (i, id) in season.upcoming.iter().enumerate() {
        let start = now + chrono::Duration::days(i as i64 + 1);
        let end = start + chrono::Duration::hours(2);
        commands.push(activity(i, id, start, end, Some(25), false));
    }
    commands
}

fn activity(
    i: usize,
    id: &str,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    capacity: Option<u32>,
    walk_ins: bool,
) -> Value {
    let (code, name, _, _) = UNIONS[i % UNIONS.len()];
    let co_organisers: Vec<&str> = if i % 7 == 3 {
        vec![UNIONS[(i + 1) % UNIONS.len()].0]
    } else {
        vec![]
    };
    json!({
        "type": "publish_activity", "activity": id, "project": null, "campaign": null,
        "organiser": format!("{code}-g{}", i % 2), "co_organisers": co_organisers,
        "category": CATEGORIES[i % CATEGORIES.len()],
        "title": format!("{name}职工志愿服务第{}场", i + 1), "place": "大连市中山广场",
        "window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()},
        "capacity": capacity, "featured": i.is_multiple_of(5),
        "points_rule": {"version": 1, "points_per_hour": 10, "coefficient_permille": 1000,
                        "cap_per_credit": 50},
        "auto_check_out": "at_activity_end", "insurance_required": false, "walk_ins": walk_ins
    })
}

// ---------------------------------------------------------------------------
// Submitting

/// What the submitting tasks share: whether the load is over, the
/// volunteers approved so far, and where the instances' HTTP APIs are.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    approved: Mutex<Vec<String>>,
    http: Mutex<Vec<String>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn approve(&self, volunteer: String) {
        if let Ok(mut approved) = self.approved.lock() {
            approved.push(volunteer);
        }
    }

    fn some_volunteer(&self, rng: &mut Rng) -> Option<String> {
        let approved = self.approved.lock().ok()?;
        (!approved.is_empty()).then(|| approved[rng.index(approved.len())].clone())
    }

    fn some_instance(&self, rng: &mut Rng) -> Option<String> {
        let urls = self.http.lock().ok()?;
        (!urls.is_empty()).then(|| urls[rng.index(urls.len())].clone())
    }
}

/// A kiosk waits this long for an answer before it counts the attempt lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(8);
/// A system stops retrying a submission after this long (the faults are
/// seconds long; a submission still unanswered after this is a finding).
const GIVE_UP_AFTER: Duration = Duration::from_secs(90);

/// How a system reaches the ledger.
enum Transport {
    /// Request/reply on its own intake subject.
    Nats(async_nats::Client),
    /// `POST /api/v1/commands` on whichever instance is up. The service
    /// runs without an accounts file, so every token is the city admin
    /// `developer`: the actor of these submissions.
    Http(reqwest::Client, Arc<Shared>),
}

/// One submission and what its system heard.
struct Record {
    key: String,
    command: Value,
    /// The definite answer (accepted or rejected), once one came.
    answer: Option<Answer>,
    sends: u32,
    /// Why the last attempt without a definite answer had none.
    last_failure: Option<&'static str>,
}

/// One submitting system: a kiosk, a union's roster upload, the points
/// desk… with its own connection, its own keys, and a record of every
/// submission it made.
struct Desk {
    name: String,
    transport: Transport,
    rng: Rng,
    abandon: f64,
    records: Vec<Record>,
    failures: BTreeMap<&'static str, usize>,
}

impl Desk {
    fn over_nats(name: &str, client: async_nats::Client, rng: Rng, abandon: f64) -> Desk {
        Desk {
            name: name.to_owned(),
            transport: Transport::Nats(client),
            rng,
            abandon,
            records: Vec::new(),
            failures: BTreeMap::new(),
        }
    }

    fn over_http(name: &str, shared: Arc<Shared>, rng: Rng, abandon: f64) -> Desk {
        let client = reqwest::Client::builder()
            .timeout(REPLY_TIMEOUT)
            .build()
            .expect("an HTTP client");
        Desk {
            name: name.to_owned(),
            transport: Transport::Http(client, shared),
            rng,
            abandon,
            records: Vec::new(),
            failures: BTreeMap::new(),
        }
    }

    /// Who the ledger records as the actor of this desk's submissions.
    fn actor(&self) -> &str {
        match &self.transport {
            Transport::Nats(_) => &self.name,
            Transport::Http(..) => "developer",
        }
    }

    fn add(&mut self, command: Value) -> usize {
        let key = format!("{}-{}", self.name, self.records.len());
        self.records.push(Record {
            key,
            command,
            answer: None,
            sends: 0,
            last_failure: None,
        });
        self.records.len() - 1
    }

    /// Submits one command; its definite answer, if one came.
    async fn one(&mut self, command: Value) -> Option<Answer> {
        let i = self.add(command);
        self.settle(&[i]).await;
        self.records[i].answer.clone()
    }

    /// Submits commands as one batch, decided in order (an offline kiosk's
    /// queue, a roster); their definite answers, if they came.
    async fn batch(&mut self, commands: Vec<Value>) -> Vec<Option<Answer>> {
        let ids: Vec<usize> = commands.into_iter().map(|c| self.add(c)).collect();
        self.settle(&ids).await;
        ids.iter()
            .map(|&i| self.records[i].answer.clone())
            .collect()
    }

    /// Sends records until each has a definite answer or the desk gives up
    /// on it: the same keys every time, with backoff, as a kiosk retries.
    async fn settle(&mut self, ids: &[usize]) {
        let started = Instant::now();
        let mut open = ids.to_vec();
        let mut attempt = 0u32;
        loop {
            let heard = self.send(&open).await;
            for (&i, heard) in open.iter().zip(heard) {
                let record = &mut self.records[i];
                record.sends += 1;
                match heard {
                    Ok(answer) => record.answer = Some(answer),
                    Err(why) => {
                        record.last_failure = Some(why);
                        *self.failures.entry(why).or_default() += 1;
                    }
                }
            }
            open.retain(|&i| self.records[i].answer.is_none());
            if open.is_empty() || started.elapsed() > GIVE_UP_AFTER {
                return;
            }
            if self.rng.chance(self.abandon) {
                return;
            }
            attempt += 1;
            let backoff = Duration::from_millis(250 << attempt.min(4));
            tokio::time::sleep(backoff + self.rng.millis(0, 250)).await;
        }
    }

    /// One attempt at the records `ids`: a definite answer for each, or
    /// why there was none.
    async fn send(&mut self, ids: &[usize]) -> Vec<Result<Answer, &'static str>> {
        let bodies: Vec<Value> = ids
            .iter()
            .map(|&i| submission(&self.records[i].key, self.records[i].command.clone()))
            .collect();
        match &self.transport {
            Transport::Nats(client) if bodies.len() == 1 => {
                vec![request_one(client, &self.name, &bodies[0]).await]
            }
            Transport::Nats(client) => request_batch(client, &self.name, bodies).await,
            Transport::Http(client, shared) => {
                let mut heard = Vec::with_capacity(bodies.len());
                for body in &bodies {
                    let url = shared.some_instance(&mut self.rng);
                    heard.push(match url {
                        Some(url) => post_one(client, &url, body).await,
                        None => Err("no instance up"),
                    });
                }
                heard
            }
        }
    }

    /// Sends up to `n` submissions that were answered once more, under
    /// their keys, and names each whose answer differs from the first. Past
    /// `deadline` it sends no more: with no writer left, waiting for each
    /// in turn would take hours, and the run would hang instead of failing.
    async fn ask_again(&mut self, n: usize, deadline: Instant) -> (usize, Vec<String>) {
        let answered: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.records[i].answer.is_some())
            .collect();
        let mut asked = 0;
        let mut differ = Vec::new();
        for _ in 0..n.min(answered.len()) {
            let i = answered[self.rng.index(answered.len())];
            if Instant::now() >= deadline {
                differ.push(format!(
                    "{}: no time left to send {} again",
                    self.actor(),
                    self.records[i].key
                ));
                break;
            }
            let again = self.until_answered(i, deadline).await;
            asked += 1;
            let first = self.records[i].answer.as_ref();
            if again.as_ref() != first {
                differ.push(format!(
                    "{}/{}: first answered {first:?}, sent again answered {again:?} ({})",
                    self.actor(),
                    self.records[i].key,
                    self.records[i].command
                ));
            }
        }
        (asked, differ)
    }

    /// Sends record `i` until it has a definite answer (the faults are
    /// over), for `GIVE_UP_AFTER` at most and never past `deadline`.
    async fn until_answered(&mut self, i: usize, deadline: Instant) -> Option<Answer> {
        let until = deadline.min(Instant::now() + GIVE_UP_AFTER);
        while Instant::now() < until {
            if let Some(Ok(answer)) = self.send(&[i]).await.pop() {
                return Some(answer);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        None
    }
}

/// Accepted and rejected are answers; unavailable is not.
fn definite(reply: Value) -> Result<Answer, &'static str> {
    match serde_json::from_value::<Answer>(reply) {
        Ok(Answer::Unavailable { .. }) => Err("unavailable"),
        Ok(answer) => Ok(answer),
        Err(_) => Err("unreadable reply"),
    }
}

async fn nats_request(
    client: &async_nats::Client,
    system: &str,
    body: &Value,
) -> Result<Value, &'static str> {
    let payload = serde_json::to_vec(body).map_err(|_| "unencodable")?;
    let subject = shard().intake_subject(system);
    match tokio::time::timeout(REPLY_TIMEOUT, client.request(subject, payload.into())).await {
        Err(_) => Err("timeout"),
        Ok(Err(e)) => Err(match e.kind() {
            async_nats::RequestErrorKind::NoResponders => "no responders",
            async_nats::RequestErrorKind::TimedOut => "timeout",
            async_nats::RequestErrorKind::Other => "request failed",
        }),
        Ok(Ok(message)) => serde_json::from_slice(&message.payload).map_err(|_| "unreadable reply"),
    }
}

async fn request_one(
    client: &async_nats::Client,
    system: &str,
    body: &Value,
) -> Result<Answer, &'static str> {
    definite(nats_request(client, system, body).await?)
}

async fn request_batch(
    client: &async_nats::Client,
    system: &str,
    bodies: Vec<Value>,
) -> Vec<Result<Answer, &'static str>> {
    let n = bodies.len();
    let reply = nats_request(client, system, &json!({ "submissions": bodies })).await;
    let results = reply.and_then(|r| {
        serde_json::from_value::<BatchReply>(r)
            .map_err(|_| "unreadable reply")
            .map(|b| b.results.into_iter().map(|r| r.answer).collect::<Vec<_>>())
    });
    match results {
        Ok(results) if results.len() == n => results
            .into_iter()
            .map(|a| match a {
                Answer::Unavailable { .. } => Err("unavailable"),
                answer => Ok(answer),
            })
            .collect(),
        Ok(_) => vec![Err("unreadable reply"); n],
        Err(why) => vec![Err(why); n],
    }
}

async fn post_one(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<Answer, &'static str> {
    let response = client
        .post(format!("{url}/api/v1/commands"))
        .bearer_auth("desk")
        .json(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timeout"
            } else {
                "connection failed"
            }
        })?;
    let reply: Value = response.json().await.map_err(|_| "unreadable reply")?;
    definite(reply)
}

fn accepted(answer: &Option<Answer>) -> bool {
    matches!(answer, Some(Answer::Accepted { .. }))
}

// ---------------------------------------------------------------------------
// The load

/// A volunteer to register: id, home unit (a grassroots union), and the
/// number behind the identity commitment.
type Registration = (String, String, u64);

/// Each union's volunteers, taken in turn from every union so that all
/// rosters fill at the same pace.
fn volunteers(plan: &Plan) -> Vec<Registration> {
    let per_union: Vec<Vec<Registration>> = UNIONS
        .iter()
        .enumerate()
        .map(|(u, (code, _, _, quota))| {
            (0..(plan.volunteers_for_quota)(*quota))
                .map(|n| {
                    let identity = (u as u64 + 1) * 100_000 + n as u64;
                    (
                        format!("dl-{code}-{n:04}"),
                        format!("{code}-g{}", n % 2),
                        identity,
                    )
                })
                .collect()
        })
        .collect();
    let longest = per_union.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|n| {
            per_union
                .iter()
                .filter_map(move |list| list.get(n).cloned())
        })
        .collect()
}

/// The registration office uploads rosters in batches over the first
/// quarter of the load: each volunteer registered and approved at the three levels
/// (unit, district or industry union, city) in order, in one batch.
async fn roster(
    mut desk: Desk,
    shared: Arc<Shared>,
    plan: Arc<Plan>,
    people: Vec<Registration>,
) -> Desk {
    let batches = people.len().div_ceil(plan.roster_batch).max(1) as u32;
    let pace = plan.load / 4 / batches;
    for chunk in people.chunks(plan.roster_batch) {
        if shared.stopped() {
            break;
        }
        let mut commands = Vec::with_capacity(chunk.len() * 4);
        for (id, home, identity) in chunk {
            let groups = match identity % 10 {
                0 => json!(["model_worker"]),
                1 => json!(["union_cadre"]),
                2 => json!(["retiree"]),
                _ => json!([]),
            };
            let membership = if identity % 7 == 0 {
                "invited_non_member"
            } else {
                "member"
            };
            commands.push(json!({"type": "register_volunteer", "volunteer": id,
                "home_unit": home, "membership": membership, "groups": groups,
                "specialties": [], "identity": format!("{identity:064x}")}));
            for level in ["unit", "district_or_industry", "city"] {
                commands
                    .push(json!({"type": "approve_volunteer", "volunteer": id, "level": level}));
            }
        }
        let answers = desk.batch(commands).await;
        for (j, (id, _, _)) in chunk.iter().enumerate() {
            if accepted(&answers[4 * j + 3]) {
                shared.approve(id.clone());
            }
        }
        tokio::time::sleep(pace).await;
    }
    desk
}

fn attendance(
    kind: &str,
    kiosk: &str,
    activity: &str,
    volunteer: &str,
    at: DateTime<FixedOffset>,
) -> Value {
    json!({"type": kind, "activity": activity, "volunteer": volunteer, "at": at.to_rfc3339(),
           "device": kiosk, "external_id": null})
}

/// When a volunteer arrived and left: around the start, for half an hour
/// to two and a half, never past the end.
fn stay(rng: &mut Rng, a: &Activity) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let arrived = a.start + chrono::Duration::minutes(rng.index(60) as i64 - 20);
    let left = arrived + chrono::Duration::minutes(30 + rng.index(120) as i64);
    (
        arrived,
        left.min(a.start + chrono::Duration::minutes(a.minutes)),
    )
}

/// A check-in kiosk at the season's activities: mostly live scans (check
/// in, now and then a second scan of the same person, check out), sometimes
/// an offline queue synced in one batch.
async fn kiosk(mut desk: Desk, shared: Arc<Shared>, season: Arc<Season>) -> Desk {
    while !shared.stopped() {
        let Some(volunteer) = shared.some_volunteer(&mut desk.rng) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let a = season.past[desk.rng.index(season.past.len())].clone();
        if desk.rng.chance(0.2) {
            offline_queue(&mut desk, &shared, &a).await;
        } else {
            live_scans(&mut desk, &a, &volunteer).await;
        }
        let think = desk.rng.millis(10, 60);
        tokio::time::sleep(think).await;
    }
    desk
}

async fn live_scans(desk: &mut Desk, a: &Activity, volunteer: &str) {
    let (arrived, left) = stay(&mut desk.rng, a);
    let name = desk.name.clone();
    let check_in = desk
        .one(attendance("check_in", &name, &a.id, volunteer, arrived))
        .await;
    if accepted(&check_in) && desk.rng.chance(0.05) {
        // Two staff scan the same person: another record, refused.
        let again = arrived + chrono::Duration::minutes(1);
        desk.one(attendance("check_in", &name, &a.id, volunteer, again))
            .await;
    }
    if accepted(&check_in) || (check_in.is_none() && desk.rng.chance(0.5)) {
        desk.one(attendance("check_out", &name, &a.id, volunteer, left))
            .await;
    }
}

async fn offline_queue(desk: &mut Desk, shared: &Shared, a: &Activity) {
    let people = 5 + desk.rng.index(16);
    let mut check_ins = Vec::new();
    let mut check_outs = Vec::new();
    let name = desk.name.clone();
    for _ in 0..people {
        let Some(v) = shared.some_volunteer(&mut desk.rng) else {
            break;
        };
        let (arrived, left) = stay(&mut desk.rng, a);
        check_ins.push(attendance("check_in", &name, &a.id, &v, arrived));
        check_outs.push(attendance("check_out", &name, &a.id, &v, left));
    }
    check_ins.extend(check_outs);
    desk.batch(check_ins).await;
}

/// The volunteers' app: sign-ups for the activities ahead (places are
/// few), and now and then a cancellation.
async fn sign_ups(mut desk: Desk, shared: Arc<Shared>, season: Arc<Season>) -> Desk {
    let mut signed: Vec<(String, String)> = Vec::new();
    while !shared.stopped() {
        let Some(volunteer) = shared.some_volunteer(&mut desk.rng) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if !signed.is_empty() && desk.rng.chance(0.1) {
            let (a, v) = signed.swap_remove(desk.rng.index(signed.len()));
            desk.one(json!({"type": "cancel_sign_up", "activity": a, "volunteer": v}))
                .await;
        } else {
            let a = season.upcoming[desk.rng.index(season.upcoming.len())].clone();
            let answer = desk
                .one(json!({"type": "sign_up", "activity": a, "volunteer": volunteer}))
                .await;
            if accepted(&answer) {
                signed.push((a, volunteer));
            }
        }
        let think = desk.rng.millis(20, 80);
        tokio::time::sleep(think).await;
    }
    desk
}

/// A union office's points desk: manual awards (approved by a second
/// person) and redemptions, which often find the balance short.
async fn points(mut desk: Desk, shared: Arc<Shared>, think: (u64, u64)) -> Desk {
    while !shared.stopped() {
        let Some(volunteer) = shared.some_volunteer(&mut desk.rng) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let command = if desk.rng.chance(0.5) {
            json!({"type": "award_points", "volunteer": volunteer,
                   "points": 1 + desk.rng.index(30), "approver": "admin-review",
                   "reason": "志愿服务表彰"})
        } else {
            let reward = if desk.rng.chance(0.8) {
                "ticket"
            } else {
                "book"
            };
            json!({"type": "redeem", "volunteer": volunteer, "reward": reward, "quantity": 1})
        };
        desk.one(command).await;
        let pause = desk.rng.millis(think.0, think.1);
        tokio::time::sleep(pause).await;
    }
    desk
}

/// The ledger's timer: confirms the credits whose objection window has
/// passed, and closes check-outs forgotten at past activities.
async fn timer(mut desk: Desk, shared: Arc<Shared>, season: Arc<Season>) -> Desk {
    while !shared.stopped() {
        desk.one(json!({"type": "confirm_due_credits", "limit": 1000}))
            .await;
        if desk.rng.chance(0.3) {
            let a = season.past[desk.rng.index(season.past.len())].id.clone();
            desk.one(json!({"type": "close_forgotten_check_outs", "activity": a}))
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    desk
}

// ---------------------------------------------------------------------------
// The system under test, and its faults

/// A `ledger serve` instance. Its read models and its log outlive each of
/// its processes: a restarted process resumes from them.
struct Instance {
    name: &'static str,
    projections: PathBuf,
    log: PathBuf,
    /// Where the current process's part of the log begins.
    log_from: usize,
    process: Option<ServiceProcess>,
    back_at: Option<Instant>,
}

/// Two instances on a three-node cluster.
struct Rig {
    cluster: Cluster,
    urls: String,
    args: Vec<String>,
    instances: Vec<Instance>,
    leases: LeaseBucket,
    store: ChainStore,
    down_node: Option<(String, Instant)>,
    nodes_whole_since: Instant,
    dir: Option<tempfile::TempDir>,
}

/// How long the cluster stays whole before another node is killed.
const NODE_CALM: Duration = Duration::from_secs(8);

/// How long the lease of a dead writer outlives it (`LEASE_TTL` in
/// ledger-service's `bin/ledger/serve.rs`).
const LEASE_TTL: Duration = Duration::from_secs(3);

impl Rig {
    async fn start() -> Rig {
        let cluster = Cluster::start();
        let client = cluster.client().await;
        let js = async_nats::jetstream::new(client.clone());
        let store = ChainStore::new(js.clone(), shard());
        replicated_stream(&store).await;
        let dir = tempfile::tempdir().expect("temporary folder");
        let key = dir.path().join("signing.key");
        std::fs::write(&key, [7u8; 32]).expect("signing key written");
        let instances = ["A", "B"]
            .into_iter()
            .map(|name| Instance {
                name,
                projections: dir.path().join(format!("{name}-read-models")),
                log: dir.path().join(format!("{name}.log")),
                log_from: 0,
                process: None,
                back_at: None,
            })
            .collect();
        let mut rig = Rig {
            urls: cluster.urls(),
            cluster,
            args: serve_args(&key),
            instances,
            leases: open_leases(&js).await,
            store,
            down_node: None,
            nodes_whole_since: Instant::now(),
            dir: Some(dir),
        };
        rig.start_instance(0);
        wait_for_intake(&client).await;
        rig.start_instance(1);
        rig
    }

    fn start_instance(&mut self, i: usize) {
        let instance = &mut self.instances[i];
        instance.log_from = std::fs::metadata(&instance.log).map_or(0, |m| m.len() as usize);
        instance.process = Some(ServiceProcess::start_with_args(
            &self.urls,
            &instance.projections,
            &self.args,
            Some(&instance.log),
        ));
        instance.back_at = None;
    }

    fn publish_http(&self, shared: &Shared) {
        if let Ok(mut urls) = shared.http.lock() {
            *urls = self
                .instances
                .iter()
                .filter_map(|i| i.process.as_ref().map(ServiceProcess::http_url))
                .collect();
        }
    }

    /// Which instance holds the write lease, if the lease can be read.
    async fn writer(&self) -> Option<usize> {
        let holder = tokio::time::timeout(Duration::from_secs(2), self.leases.holder())
            .await
            .ok()
            .flatten()?;
        self.instances.iter().position(|i| {
            i.process
                .as_ref()
                .is_some_and(|p| holder.ends_with(&format!("-{}", p.pid())))
        })
    }

    /// Kills one thing, if the state allows: at most one instance and one
    /// NATS node down at a time, and a node only once the cluster has had
    /// time to heal from the last (JetStream's API answers nothing for
    /// seconds after a node dies, while leaders are elected). The writer
    /// and a node are twice as likely as the other instance. False if
    /// nothing could be killed.
    async fn inject(&mut self, rng: &mut Rng, plan: &Plan, log: &mut FaultLog) -> bool {
        let both_up = self.instances.iter().all(|i| i.process.is_some());
        let writer = if both_up { self.writer().await } else { None };
        let node_may_go = self.down_node.is_none() && self.nodes_whole_since.elapsed() > NODE_CALM;
        let mut choices = Vec::new();
        if let Some(w) = writer {
            choices.extend([Fault::Writer(w), Fault::Writer(w), Fault::Other(1 - w)]);
        }
        if node_may_go {
            choices.extend([Fault::Node, Fault::Node]);
        }
        if choices.is_empty() {
            return false;
        }
        let downtime = rng.seconds(plan.downtime);
        match choices[rng.index(choices.len())] {
            Fault::Writer(i) => self.kill_instance(i, WRITER_KILLED, downtime, log),
            Fault::Other(i) => self.kill_instance(i, OTHER_KILLED, downtime, log),
            Fault::Node => self.kill_node(rng, downtime, log).await,
        }
        true
    }

    fn kill_instance(
        &mut self,
        i: usize,
        kind: &'static str,
        downtime: Duration,
        log: &mut FaultLog,
    ) {
        let instance = &mut self.instances[i];
        let pid = instance.process.as_ref().map_or(0, ServiceProcess::pid);
        if let Some(mut process) = instance.process.take() {
            process.kill();
        }
        instance.back_at = Some(Instant::now() + downtime);
        log.note(
            Some(kind),
            format!(
                "SIGKILL instance {} (pid {pid}, {kind}); back in {:.1} s",
                instance.name,
                downtime.as_secs_f64()
            ),
        );
    }

    /// Kills the stream's leader half the time, otherwise any node.
    async fn kill_node(&mut self, rng: &mut Rng, downtime: Duration, log: &mut FaultLog) {
        let leader = if rng.chance(0.5) {
            tokio::time::timeout(Duration::from_secs(2), self.store.leader())
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        } else {
            None
        };
        let was_leader = leader.is_some();
        let name = leader.unwrap_or_else(|| format!("n{}", rng.index(3)));
        self.cluster.kill(&name);
        self.down_node = Some((name.clone(), Instant::now() + downtime));
        log.note(
            Some(NODE_KILLED),
            format!(
                "SIGKILL NATS node {name}{}; back in {:.1} s",
                if was_leader {
                    " (the stream's leader)"
                } else {
                    ""
                },
                downtime.as_secs_f64()
            ),
        );
    }

    /// Restarts whatever is due back, with the same data.
    fn bring_back_due(&mut self, log: &mut FaultLog) {
        let now = Instant::now();
        for i in 0..self.instances.len() {
            if self.instances[i].back_at.is_some_and(|at| at <= now) {
                self.start_instance(i);
                log.note(
                    None,
                    format!("instance {} restarted", self.instances[i].name),
                );
            }
        }
        if let Some((name, _)) = self.down_node.take_if(|(_, at)| *at <= now) {
            tokio::task::block_in_place(|| self.cluster.restart(&name));
            self.nodes_whole_since = Instant::now();
            log.note(None, format!("NATS node {name} restarted"));
        }
    }

    /// An instance that ended by itself is restarted a second later, as a
    /// supervisor would; each such exit is counted and its log quoted.
    fn notice_exits(&mut self, log: &mut FaultLog) {
        for instance in &mut self.instances {
            let Some(status) = instance.process.as_mut().and_then(|p| p.exit_status()) else {
                continue;
            };
            instance.process = None;
            instance.back_at = Some(Instant::now() + Duration::from_secs(1));
            log.note(
                Some(EXITED),
                format!(
                    "instance {} exited by itself ({status}): {}",
                    instance.name,
                    troubles(&instance.log, instance.log_from).join(" | ")
                ),
            );
        }
    }

    /// After the load: restarts whatever ends by itself until both
    /// instances answer over HTTP (a minute at most).
    async fn until_both_serve(&mut self, log: &mut FaultLog, shared: &Shared) -> bool {
        let http = reqwest::Client::builder()
            .timeout(REPLY_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            self.notice_exits(log);
            self.bring_back_due(log);
            self.publish_http(shared);
            let mut serving = 0;
            for instance in &self.instances {
                if let Some(p) = &instance.process {
                    let head = format!("{}/api/v1/head", p.http_url());
                    serving += usize::from(get_json(&http, &head).await.is_ok());
                }
            }
            if serving == self.instances.len() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }

    /// With `LEDGER_FAULTS_KEEP` set, leaves the instances' read models and
    /// logs behind for a look.
    fn keep_if_asked(&mut self) {
        if std::env::var_os("LEDGER_FAULTS_KEEP").is_none() {
            return;
        }
        if let Some(dir) = self.dir.take() {
            println!("read models and logs kept in {}", dir.keep().display());
        }
    }

    /// Everything down comes back now.
    fn heal(&mut self, log: &mut FaultLog, shared: &Shared) {
        let now = Instant::now();
        for instance in &mut self.instances {
            if instance.process.is_none() {
                instance.back_at = Some(now);
            }
        }
        if let Some((_, at)) = &mut self.down_node {
            *at = now;
        }
        self.bring_back_due(log);
        self.publish_http(shared);
    }
}

/// Creates the chain's stream with three replicas once JetStream can (it
/// elects its meta leader a moment after the routes connect).
async fn replicated_stream(store: &ChainStore) {
    for _ in 0..100 {
        if store.ensure(3).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the cluster never accepted an R3 stream");
}

/// Both instances seal blocks and checkpoint with the ledger's key, by
/// count only, so that the chain stands still once the load is over.
fn serve_args(key: &Path) -> Vec<String> {
    [
        "--replicas",
        "3",
        "--checkpoint-events",
        "500",
        "--checkpoint-seconds",
        "86400",
        "--signing-key",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([key.display().to_string()])
    .collect()
}

async fn open_leases(js: &async_nats::jetstream::Context) -> LeaseBucket {
    for _ in 0..50 {
        if let Ok(leases) = LeaseBucket::open(js, &shard(), LEASE_TTL, 3).await {
            return leases;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the lease bucket never opened");
}

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The warnings and errors of a log from byte `from` on: the last few,
/// which say why a process ended.
fn troubles(path: &Path, from: usize) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(text.get(from..).unwrap_or_default()).into_owned();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.starts_with("Error"))
        .map(|l| l.chars().take(300).collect())
        .collect();
    lines[lines.len().saturating_sub(4)..].to_vec()
}

#[derive(Clone, Copy)]
enum Fault {
    Writer(usize),
    Other(usize),
    Node,
}

const WRITER_KILLED: &str = "writer killed";
const OTHER_KILLED: &str = "other instance killed";
const NODE_KILLED: &str = "NATS node killed";
const EXITED: &str = "instance exited by itself";

/// What happened when, from the start of the load.
struct FaultLog {
    started: Instant,
    counts: BTreeMap<&'static str, usize>,
    lines: Vec<String>,
}

impl FaultLog {
    fn new(started: Instant) -> FaultLog {
        FaultLog {
            started,
            counts: BTreeMap::new(),
            lines: Vec::new(),
        }
    }

    fn note(&mut self, kind: Option<&'static str>, line: String) {
        if let Some(kind) = kind {
            *self.counts.entry(kind).or_default() += 1;
        }
        let at = self.started.elapsed().as_secs_f64();
        self.lines.push(format!("{at:>7.1} s  {line}"));
    }

    fn injected(&self) -> usize {
        [WRITER_KILLED, OTHER_KILLED, NODE_KILLED]
            .iter()
            .map(|k| self.counts.get(k).copied().unwrap_or(0))
            .sum()
    }
}

/// Kills and restarts at random moments until the load's time is up.
async fn inject_faults(
    rig: &mut Rig,
    plan: &Plan,
    mut rng: Rng,
    shared: &Shared,
    log: &mut FaultLog,
) {
    let mut next = Instant::now() + rng.seconds(plan.fault_gap);
    while log.started.elapsed() < plan.load {
        tokio::time::sleep(Duration::from_millis(100)).await;
        rig.bring_back_due(log);
        rig.notice_exits(log);
        if Instant::now() >= next {
            next = Instant::now()
                + if rig.inject(&mut rng, plan, log).await {
                    rng.seconds(plan.fault_gap)
                } else {
                    Duration::from_millis(500)
                };
        }
        rig.publish_http(shared);
    }
}

// ---------------------------------------------------------------------------
// The checks

const INSTANCES: &str = "instances after the faults";
const ANSWERED_AGAIN: &str = "answers to submissions sent again";
const CHAIN: &str = "the chain";
const SUBMISSIONS: &str = "submissions against the chain";
const BALANCES: &str = "balances recomputed from the events";
const SERVED: &str = "read models served against the recomputation";
const REBUILT: &str = "read models against a rebuild";

/// What the checks found, by check.
#[derive(Default)]
struct Problems(BTreeMap<&'static str, Vec<String>>);

impl Problems {
    fn add(&mut self, check: &'static str, problem: String) {
        self.0.entry(check).or_default().push(problem);
    }

    fn extend(&mut self, check: &'static str, problems: impl IntoIterator<Item = String>) {
        for problem in problems {
            self.add(check, problem);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (check, problems) in &self.0 {
            writeln!(f, "{check}: {} problem(s)", problems.len())?;
            for problem in problems.iter().take(10) {
                writeln!(f, "  {problem}")?;
            }
        }
        Ok(())
    }
}

/// One event as stored: the stream message (block) that holds it, its
/// sequence and hash, and its record.
struct Stored {
    block: u64,
    head: Head,
    record: EventRecord,
}

/// Reads the whole stream and verifies every frame from the first (links,
/// hashes, checkpoints), keeping where each event is stored.
async fn read_stored(store: &ChainStore) -> Result<Vec<Stored>, String> {
    let mut attempt = 0;
    let blocks = loop {
        let mut blocks = Vec::new();
        let read = store
            .replay(1, |b| {
                blocks.push((b.stream_sequence, b.frames));
                Ok(())
            })
            .await;
        match read {
            Ok(_) => break blocks,
            // Leaders are still being elected a moment after a fault.
            Err(e) if attempt < 30 => {
                attempt += 1;
                eprintln!("reading the chain, attempt {attempt}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(format!("the chain could not be read: {e}")),
        }
    };
    let mut verifier = Verifier::new();
    let mut stored = Vec::new();
    for (block, frames) in &blocks {
        let mut rest: &[u8] = frames;
        if rest.is_empty() {
            return Err(format!("block {block} holds no frame"));
        }
        while !rest.is_empty() {
            let (verified, tail) = verifier
                .push_front(rest)
                .map_err(|e| format!("the chain does not verify in block {block}: {e}"))?;
            stored.push(Stored {
                block: *block,
                head: verified.head,
                record: verified.record,
            });
            rest = tail;
        }
    }
    Ok(stored)
}

/// The events one decision under one key produced: consecutive, in one
/// block. A key with two runs was decided twice.
#[derive(Debug)]
struct Run {
    block: u64,
    first: Head,
    last: Head,
    events: u32,
}

type SubmissionId = (String, String);

fn runs_by_submission(chain: &[Stored]) -> HashMap<SubmissionId, Vec<Run>> {
    let mut runs: HashMap<SubmissionId, Vec<Run>> = HashMap::new();
    for s in chain {
        let Some(key) = &s.record.submission else {
            continue;
        };
        let id = (s.record.actor.as_str().to_owned(), key.as_str().to_owned());
        let of_key = runs.entry(id).or_default();
        match of_key.last_mut() {
            Some(run) if run.block == s.block && run.last.sequence + 1 == s.head.sequence => {
                run.last = s.head;
                run.events += 1;
            }
            _ => of_key.push(Run {
                block: s.block,
                first: s.head,
                last: s.head,
                events: 1,
            }),
        }
    }
    runs
}

/// Submissions made, and what became of them.
#[derive(Default)]
struct Tally {
    made: usize,
    accepted: usize,
    rejected: usize,
    unacknowledged: usize,
    /// Unacknowledged, but in the chain once (a retry rule allows it).
    unacknowledged_recorded: usize,
    /// Of those, the last thing heard was `unavailable`, which the contract
    /// says means nothing was recorded.
    unavailable_recorded: usize,
    retried: usize,
    resends: usize,
    no_answer_because: BTreeMap<&'static str, usize>,
    rejected_because: BTreeMap<String, usize>,
}

/// Every submission against the chain: acknowledged ones as answered,
/// unacknowledged ones at most once, and nothing there never submitted.
fn check_submissions(
    desks: &[Desk],
    runs: &HashMap<SubmissionId, Vec<Run>>,
    problems: &mut Problems,
) -> Tally {
    let mut tally = Tally::default();
    let mut submitted = std::collections::HashSet::new();
    for desk in desks {
        for (why, n) in &desk.failures {
            *tally.no_answer_because.entry(why).or_default() += n;
        }
        for r in &desk.records {
            let id = (desk.actor().to_owned(), r.key.clone());
            let found = runs.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            let name = format!("{}/{}", id.0, id.1);
            tally.made += 1;
            if r.sends > 1 {
                tally.retried += 1;
                tally.resends += r.sends as usize - 1;
            }
            match &r.answer {
                Some(answer @ Answer::Accepted { .. }) => {
                    tally.accepted += 1;
                    check_accepted(&name, answer, found, problems);
                }
                Some(Answer::Rejected { code, .. }) => {
                    tally.rejected += 1;
                    *tally.rejected_because.entry(code.clone()).or_default() += 1;
                    if !found.is_empty() {
                        problems.add(
                            SUBMISSIONS,
                            format!("{name}: rejected ({code}) yet in the chain: {found:?}"),
                        );
                    }
                }
                Some(Answer::Unavailable { .. }) | None => {
                    tally.unacknowledged += 1;
                    if found.len() > 1 {
                        problems.add(
                            SUBMISSIONS,
                            format!(
                                "{name}: unacknowledged, and in the chain {} times: {found:?}",
                                found.len()
                            ),
                        );
                    } else if found.len() == 1 {
                        tally.unacknowledged_recorded += 1;
                        if r.last_failure == Some("unavailable") {
                            tally.unavailable_recorded += 1;
                        }
                    }
                }
            }
            submitted.insert(id);
        }
    }
    for (id, found) in runs {
        if !submitted.contains(id) {
            problems.add(
                SUBMISSIONS,
                format!(
                    "{}/{}: in the chain but never submitted: {found:?}",
                    id.0, id.1
                ),
            );
        }
    }
    tally
}

/// Accepted: in the chain once, at the sequences and with the hash the
/// answer gave; accepted with no events: not in the chain at all.
fn check_accepted(name: &str, answer: &Answer, found: &[Run], problems: &mut Problems) {
    let Answer::Accepted {
        first_sequence,
        last_sequence,
        hash,
        events,
    } = answer
    else {
        return;
    };
    let as_answered = |run: &Run| {
        *first_sequence == Some(run.first.sequence)
            && *last_sequence == Some(run.last.sequence)
            && *hash == Some(run.last.hash)
            && *events == run.events
    };
    let fine = match found {
        [] => *events == 0,
        [run] => as_answered(run),
        _ => false,
    };
    if !fine {
        problems.add(
            SUBMISSIONS,
            format!(
                "{name}: answered {answer:?}, but the chain holds {} run(s) of it: {found:?}",
                found.len()
            ),
        );
    }
}

/// A volunteer's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Figures {
    system: u64,
    backfill: u64,
    pending: u64,
    earned: u64,
    redeemed: u64,
}

impl Figures {
    fn balance(&self) -> u64 {
        self.earned.saturating_sub(self.redeemed)
    }
}

/// Every volunteer's figures, folded from the events by this test alone
/// (not by ledger-core or the projections). The load makes no
/// corrections; if the chain holds one, the fold says it cannot follow.
fn fold(chain: &[Stored], problems: &mut Problems) -> BTreeMap<String, Figures> {
    let mut accounts: BTreeMap<String, Figures> = BTreeMap::new();
    // Credit → (volunteer, minutes credited, backfilled?).
    let mut credits: HashMap<u64, (String, u64, bool)> = HashMap::new();
    for s in chain {
        let at = s.head.sequence;
        match &s.record.event {
            Event::VolunteerRegistered(e) => {
                accounts.entry(e.volunteer.as_str().to_owned()).or_default();
            }
            Event::HoursCredited(e) => {
                let volunteer = e.volunteer.as_str().to_owned();
                let backfill = matches!(e.source, CreditSource::Backfill(_));
                accounts.entry(volunteer.clone()).or_default().pending += u64::from(e.minutes);
                credits.insert(e.credit.0, (volunteer, u64::from(e.minutes), backfill));
            }
            Event::CreditConfirmed(e) => {
                let Some((volunteer, credited, backfill)) = credits.get(&e.credit.0) else {
                    problems.add(
                        BALANCES,
                        format!("sequence {at}: confirms unknown credit {}", e.credit),
                    );
                    continue;
                };
                let account = accounts.entry(volunteer.clone()).or_default();
                account.pending = account.pending.checked_sub(*credited).unwrap_or_else(|| {
                    problems.add(
                        BALANCES,
                        format!("sequence {at}: {volunteer}'s pending minutes below zero"),
                    );
                    0
                });
                if *backfill {
                    account.backfill += u64::from(e.minutes);
                } else {
                    account.system += u64::from(e.minutes);
                }
            }
            Event::PointsAwarded(e) => {
                accounts
                    .entry(e.volunteer.as_str().to_owned())
                    .or_default()
                    .earned += e.points;
            }
            Event::RewardRedeemed(e) => {
                let account = accounts.entry(e.volunteer.as_str().to_owned()).or_default();
                account.redeemed += e.points;
                if account.redeemed > account.earned {
                    problems.add(
                        BALANCES,
                        format!(
                            "sequence {at}: {}'s balance below zero ({} earned, {} redeemed)",
                            e.volunteer, account.earned, account.redeemed
                        ),
                    );
                }
            }
            Event::CreditDisputed(_) | Event::CreditReviewed(_) | Event::EntryReversed(_) => {
                problems.add(
                    BALANCES,
                    format!(
                        "sequence {at}: {} is not modelled by this test's fold",
                        s.record.event.kind()
                    ),
                );
            }
            _ => {}
        }
    }
    accounts
}

/// ledger-core's state, replayed from the same events, must agree with
/// the fold volunteer for volunteer.
fn compare_with_core(
    state: &Ledger,
    accounts: &BTreeMap<String, Figures>,
    problems: &mut Problems,
) {
    let core: BTreeMap<String, Figures> = state
        .volunteers
        .iter()
        .map(|(id, v)| {
            let a = &v.account;
            let figures = Figures {
                system: a.confirmed_system_minutes,
                backfill: a.confirmed_backfill_minutes,
                pending: a.pending_minutes,
                earned: a.points_earned,
                redeemed: a.points_redeemed,
            };
            (id.as_str().to_owned(), figures)
        })
        .collect();
    if core.len() != accounts.len() {
        problems.add(
            BALANCES,
            format!(
                "ledger-core knows {} volunteers, the fold {}",
                core.len(),
                accounts.len()
            ),
        );
    }
    for (id, figures) in accounts {
        if core.get(id) != Some(figures) {
            problems.add(
                BALANCES,
                format!(
                    "{id}: folded {figures:?}, ledger-core has {:?}",
                    core.get(id)
                ),
            );
        }
    }
}

/// A unit's figures rolled up from its subtree: registered volunteers,
/// confirmed minutes, points earned.
#[derive(Debug, PartialEq, Eq)]
struct UnitFigures {
    registered: u64,
    system: u64,
    backfill: u64,
    points: u64,
}

/// The city and each union, summed from the folded figures of the
/// volunteers whose home unit lies under it.
fn unit_figures(
    state: &Ledger,
    accounts: &BTreeMap<String, Figures>,
) -> Vec<(String, UnitFigures)> {
    let homes: Vec<(&UnitId, &Figures)> = state
        .volunteers
        .iter()
        .filter_map(|(id, v)| Some((&v.volunteer.home_unit, accounts.get(id.as_str())?)))
        .collect();
    std::iter::once(CITY)
        .chain(UNIONS.iter().map(|u| u.0))
        .map(|code| {
            let unit = UnitId::new(code).expect("a unit id");
            let within: Vec<&Figures> = homes
                .iter()
                .filter(|(home, _)| state.is_within(home, &unit))
                .map(|(_, f)| *f)
                .collect();
            let figures = UnitFigures {
                registered: within.len() as u64,
                system: within.iter().map(|f| f.system).sum(),
                backfill: within.iter().map(|f| f.backfill).sum(),
                points: within.iter().map(|f| f.earned).sum(),
            };
            (code.to_owned(), figures)
        })
        .collect()
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .bearer_auth("auditor")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}

/// Waits until the instance at `url` serves the chain's head.
async fn caught_up(http: &reqwest::Client, url: &str, head: u64) -> Result<(), String> {
    let address = format!("{url}/api/v1/units/{CITY}/summary?after={head}");
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(120) {
        match get_json(http, &address).await {
            Ok(body) if body["as_of"]["sequence"].as_u64() == Some(head) => return Ok(()),
            Ok(body) => return Err(format!("serves {} for head {head}", body["as_of"])),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("never served head {head}: {last}"))
}

/// What the instance's read models serve, for every volunteer and for the
/// city and each union, against the recomputation. Returns how many
/// volunteers were compared.
async fn check_served(
    name: &str,
    url: &str,
    head: u64,
    accounts: &BTreeMap<String, Figures>,
    units: &[(String, UnitFigures)],
    problems: &mut Problems,
) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    if let Err(e) = caught_up(&http, url, head).await {
        problems.add(SERVED, format!("instance {name} {e}"));
        return 0;
    }
    let http = &http;
    let volunteers: Vec<Option<String>> = futures::stream::iter(accounts)
        .map(|(id, expected)| async move {
            let address = format!("{url}/api/v1/volunteers/{id}/summary");
            match get_json(http, &address).await {
                Ok(served) => volunteer_differs(&served, head, expected)
                    .map(|what| format!("instance {name}, volunteer {id}: {what}")),
                Err(e) => Some(format!("instance {name}, volunteer {id}: {e}")),
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    problems.extend(SERVED, volunteers.into_iter().flatten());
    for (unit, expected) in units {
        let address = format!("{url}/api/v1/units/{unit}/summary");
        let served = match get_json(http, &address).await {
            Ok(body) => body["unit"].clone(),
            Err(e) => {
                problems.add(SERVED, format!("instance {name}, unit {unit}: {e}"));
                continue;
            }
        };
        let figures = UnitFigures {
            registered: served["registered_volunteers"].as_u64().unwrap_or(u64::MAX),
            system: served["confirmed_system_minutes"]
                .as_u64()
                .unwrap_or(u64::MAX),
            backfill: served["confirmed_backfill_minutes"]
                .as_u64()
                .unwrap_or(u64::MAX),
            points: served["points"].as_u64().unwrap_or(u64::MAX),
        };
        if &figures != expected {
            problems.add(
                SERVED,
                format!(
                    "instance {name}, unit {unit}: served {figures:?}, recomputed {expected:?}"
                ),
            );
        }
    }
    accounts.len()
}

/// The first figure of a volunteer's served summary that is not the
/// recomputed one, if any.
fn volunteer_differs(served: &Value, head: u64, expected: &Figures) -> Option<String> {
    let v = &served["volunteer"];
    let figures = [
        ("as_of", &served["as_of"]["sequence"], head),
        (
            "confirmed_system_minutes",
            &v["confirmed_system_minutes"],
            expected.system,
        ),
        (
            "confirmed_backfill_minutes",
            &v["confirmed_backfill_minutes"],
            expected.backfill,
        ),
        ("pending_minutes", &v["pending_minutes"], expected.pending),
        ("points_earned", &v["points_earned"], expected.earned),
        ("points_redeemed", &v["points_redeemed"], expected.redeemed),
        ("balance", &v["balance"], expected.balance()),
    ];
    figures
        .iter()
        .find(|(_, served, recomputed)| served.as_u64() != Some(*recomputed))
        .map(|(field, served, recomputed)| {
            format!("{field} served {served}, recomputed {recomputed}")
        })
}

/// How long a `ledger` command of the checks, or reading the chain, may
/// take before it counts as a failure rather than holding the run.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// How long the systems together may spend sending answered submissions
/// again.
const ASKING_AGAIN: Duration = Duration::from_secs(120);

/// `ledger <args>`: its exit code and everything it printed; killed, and
/// said so, if it runs longer than `CHILD_LIMIT`.
fn ledger(args: &[&str]) -> (i32, String) {
    let out = tempfile::tempfile().expect("a temporary file");
    let err = tempfile::tempfile().expect("a temporary file");
    let mut child = Command::new(ledger_binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().expect("a file handle"))
        .stderr(err.try_clone().expect("a file handle"))
        .spawn()
        .expect("ledger runs");
    let status = tokio::task::block_in_place(|| {
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if started.elapsed() < CHILD_LIMIT => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    });
    let read = |mut file: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        text
    };
    let mut text = read(out) + &read(err);
    let code = match status {
        Some(status) => status.code().unwrap_or(-1),
        None => {
            text.push_str(&format!(
                "\nledger {} did not end within {CHILD_LIMIT:?} and was killed",
                args.first().copied().unwrap_or_default()
            ));
            -1
        }
    };
    (code, text)
}

/// The instance's read models, rebuilt from the stream beside themselves
/// and compared row for row (the instance is stopped).
fn rebuild_check(urls: &str, projections: &Path) -> Result<String, String> {
    let dir = projections.display().to_string();
    let (code, text) = ledger(&[
        "rebuild",
        "--check",
        "--quiet",
        "--nats",
        urls,
        "--shard",
        SHARD,
        "--projections",
        &dir,
    ]);
    let identical = text.lines().find(|l| l.starts_with("identical"));
    match identical {
        Some(line) if code == 0 => Ok(line.to_owned()),
        _ => Err(text),
    }
}

// ---------------------------------------------------------------------------
// The run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federation_under_faults_keeps_every_acknowledged_submission_once() {
    let started = Instant::now();
    let plan = Arc::new(Plan::from_env());
    println!(
        "fault injection, {} version: seed {} (LEDGER_FAULTS_SEED={} runs it again), \
         {:.0} s of load",
        if plan.long { "long" } else { "short" },
        plan.seed,
        plan.seed,
        plan.load.as_secs_f64()
    );
    let mut rng = Rng(plan.seed);
    let mut rig = Rig::start().await;
    progress(started, "cluster and both instances up");
    let mut problems = Problems::default();
    let (desks, log) = season_under_faults(&plan, &mut rig, &mut rng, &mut problems).await;
    progress(
        started,
        "load over, every system has its answers or gave up",
    );
    let figures = check(&mut rig, desks, &mut problems, started).await;
    print!("{}", FaultReport(&log));
    print!("{figures}");
    println!(
        "elapsed: {:.1} s ({:.1} s of load)",
        started.elapsed().as_secs_f64(),
        plan.load.as_secs_f64()
    );
    rig.keep_if_asked();
    assert!(
        problems.is_empty(),
        "{problems}\n{}",
        failure_context(&plan, &log, &rig)
    );
}

/// Sets the federation up, runs the season's load while faults are
/// injected, then brings everything back and waits for every system to be
/// done. Returns the systems with what they heard, and the faults.
async fn season_under_faults(
    plan: &Arc<Plan>,
    rig: &mut Rig,
    rng: &mut Rng,
    problems: &mut Problems,
) -> (Vec<Desk>, FaultLog) {
    let season = Arc::new(season(plan));
    let shared = Arc::new(Shared::default());
    rig.publish_http(&shared);
    let client = rig.cluster.client().await;
    let mut setup = Desk::over_nats("admin-city", client.clone(), rng.fork(), 0.0);
    let answers = setup.batch(federation(plan, &season)).await;
    for (i, answer) in answers.iter().enumerate() {
        assert!(accepted(answer), "setup step {i}: {answer:?}");
    }

    let mut log = FaultLog::new(Instant::now());
    let tasks = start_load(plan, &season, &shared, rig, rng).await;
    inject_faults(rig, plan, rng.fork(), &shared, &mut log).await;
    shared.stop.store(true, Ordering::SeqCst);
    rig.heal(&mut log, &shared);
    if !rig.until_both_serve(&mut log, &shared).await {
        let never = "after the faults the two instances never both served";
        problems.add(INSTANCES, never.to_owned());
    }
    let mut desks = vec![setup];
    for task in tasks {
        desks.push(task.await.expect("a submitting task ends"));
    }
    // The faults are over: a writer must answer, and confirms what is due.
    let mut last = Desk::over_nats("ledger-timer-last", client, rng.fork(), 0.0);
    let confirmed = last
        .one(json!({"type": "confirm_due_credits", "limit": 1000}))
        .await;
    if !accepted(&confirmed) {
        let none = format!("after the faults no writer accepted: {confirmed:?}");
        problems.add(INSTANCES, none);
    }
    desks.push(last);
    (desks, log)
}

/// Every check of the module's documentation, in turn; the figures to
/// print whatever they found.
async fn check(
    rig: &mut Rig,
    mut desks: Vec<Desk>,
    problems: &mut Problems,
    started: Instant,
) -> RunFigures {
    let mut asked_again = 0;
    let deadline = Instant::now() + ASKING_AGAIN;
    for desk in &mut desks {
        let (asked, differ) = desk.ask_again(40, deadline).await;
        asked_again += asked;
        problems.extend(ANSWERED_AGAIN, differ);
    }
    progress(started, "answers asked again");

    let read = tokio::time::timeout(CHILD_LIMIT, read_stored(&rig.store)).await;
    let chain = match read.unwrap_or_else(|_| Err(format!("not read within {CHILD_LIMIT:?}"))) {
        Ok(chain) => chain,
        Err(e) => {
            problems.add(CHAIN, e);
            Vec::new()
        }
    };
    let head = chain.last().map_or(0, |s| s.head.sequence);
    let (code, verified) = ledger(&["verify", "--nats", &rig.urls, "--shard", SHARD, "--quiet"]);
    if code != 0 {
        problems.add(CHAIN, format!("ledger verify: {verified}"));
    }
    let runs = runs_by_submission(&chain);
    let tally = check_submissions(&desks, &runs, problems);
    let accounts = fold(&chain, problems);
    let state = Ledger::replay(chain.iter().map(|s| &s.record.event));
    compare_with_core(&state, &accounts, problems);
    let units = unit_figures(&state, &accounts);
    progress(started, "chain read and checked");

    let mut served = Vec::new();
    for instance in &rig.instances {
        let Some(url) = instance.process.as_ref().map(ServiceProcess::http_url) else {
            let down = format!("instance {} is not running", instance.name);
            problems.add(INSTANCES, down);
            continue;
        };
        let name = instance.name;
        let n = check_served(name, &url, head, &accounts, &units, problems).await;
        served.push(format!("{name}: {n} volunteers and {} units", units.len()));
    }
    progress(started, "read models compared");
    let rebuilt = rebuild_both(rig, problems);

    RunFigures {
        tally,
        by_system: desks
            .iter()
            .map(|d| (d.name.clone(), d.records.len()))
            .collect(),
        asked_again,
        head,
        blocks: chain.last().map_or(0, |s| s.block),
        verified: verified.lines().last().unwrap_or_default().to_owned(),
        served,
        rebuilt,
    }
}

/// Stops each instance (Ctrl-C) and compares its read models with a
/// rebuild from the stream.
fn rebuild_both(rig: &mut Rig, problems: &mut Problems) -> Vec<String> {
    let mut rebuilt = Vec::new();
    for instance in &mut rig.instances {
        if let Some(mut process) = instance.process.take() {
            tokio::task::block_in_place(|| process.stop_with("INT", Duration::from_secs(20)));
        }
        match rebuild_check(&rig.urls, &instance.projections) {
            Ok(line) => rebuilt.push(format!("{}: {line}", instance.name)),
            Err(text) => problems.add(
                REBUILT,
                format!(
                    "instance {}'s read models differ from a rebuild:\n{text}",
                    instance.name
                ),
            ),
        }
    }
    rebuilt
}

/// What the run printed at the end, beside the faults.
struct RunFigures {
    tally: Tally,
    by_system: BTreeMap<String, usize>,
    asked_again: usize,
    head: u64,
    blocks: u64,
    verified: String,
    served: Vec<String>,
    rebuilt: Vec<String>,
}

impl std::fmt::Display for RunFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.tally;
        writeln!(
            f,
            "submissions: {} made, {} acknowledged ({} accepted, {} rejected), {} unacknowledged \
             ({} of them in the chain once, {} of those last answered `unavailable`), {} retried \
             ({} resends); no answer, by cause: {}",
            t.made,
            t.accepted + t.rejected,
            t.accepted,
            t.rejected,
            t.unacknowledged,
            t.unacknowledged_recorded,
            t.unavailable_recorded,
            t.retried,
            t.resends,
            counts(&t.no_answer_because)
        )?;
        writeln!(f, "made, by system: {}", counts(&self.by_system))?;
        writeln!(f, "rejected, by code: {}", counts(&t.rejected_because))?;
        writeln!(
            f,
            "sent again with their keys: {} acknowledged submissions",
            self.asked_again
        )?;
        writeln!(
            f,
            "chain: {} events in {} blocks; ledger verify: {}",
            self.head, self.blocks, self.verified
        )?;
        writeln!(
            f,
            "read models compared with the recomputation: {}",
            self.served.join("; ")
        )?;
        writeln!(f, "rebuilt from the stream: {}", self.rebuilt.join("; "))
    }
}

/// The faults injected, by kind, and when each was.
struct FaultReport<'a>(&'a FaultLog);

impl std::fmt::Display for FaultReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = self.0;
        writeln!(
            f,
            "faults injected: {} ({})",
            log.injected(),
            counts(&log.counts)
        )?;
        for line in &log.lines {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Where the run is, on stderr as it goes (stdout has the figures at the end).
fn progress(started: Instant, what: &str) {
    eprintln!("{:>7.1} s  {what}", started.elapsed().as_secs_f64());
}

/// Starts every submitting system; each hands its desk back when the load
/// is over.
async fn start_load(
    plan: &Arc<Plan>,
    season: &Arc<Season>,
    shared: &Arc<Shared>,
    rig: &Rig,
    rng: &mut Rng,
) -> Vec<tokio::task::JoinHandle<Desk>> {
    let abandon = plan.abandon;
    let mut tasks = Vec::new();
    let people = volunteers(plan);
    let (first, second) = people.split_at(people.len() / 2);
    for (name, part) in [("roster-1", first), ("roster-2", second)] {
        // A registration office sends a roster again until it is answered.
        let desk = Desk::over_nats(name, rig.cluster.client().await, rng.fork(), 0.0);
        let job = roster(desk, shared.clone(), plan.clone(), part.to_vec());
        tasks.push(tokio::spawn(job));
    }
    for k in 0..plan.kiosks {
        let name = format!("kiosk-{:02}", k + 1);
        let desk = Desk::over_nats(&name, rig.cluster.client().await, rng.fork(), abandon);
        tasks.push(tokio::spawn(kiosk(desk, shared.clone(), season.clone())));
    }
    let desk = Desk::over_nats(
        "app-signup",
        rig.cluster.client().await,
        rng.fork(),
        abandon,
    );
    tasks.push(tokio::spawn(sign_ups(desk, shared.clone(), season.clone())));
    let desk = Desk::over_nats(
        "points-desk",
        rig.cluster.client().await,
        rng.fork(),
        abandon,
    );
    tasks.push(tokio::spawn(points(desk, shared.clone(), (30, 120))));
    // The same desk's work through the admins' HTTP API, on either instance.
    let desk = Desk::over_http("http-desk", shared.clone(), rng.fork(), abandon);
    tasks.push(tokio::spawn(points(desk, shared.clone(), (100, 300))));
    let desk = Desk::over_nats(
        "ledger-timer",
        rig.cluster.client().await,
        rng.fork(),
        abandon,
    );
    tasks.push(tokio::spawn(timer(desk, shared.clone(), season.clone())));
    tasks
}

fn counts<K: std::fmt::Display>(map: &BTreeMap<K, usize>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The seed, the faults in order, and the end of each instance's log.
fn failure_context(plan: &Plan, log: &FaultLog, rig: &Rig) -> String {
    let mut text = format!(
        "seed {} (LEDGER_FAULTS_SEED={})\nfaults:\n",
        plan.seed, plan.seed
    );
    for line in &log.lines {
        text.push_str(&format!("  {line}\n"));
    }
    for instance in &rig.instances {
        text.push_str(&format!(
            "instance {}'s log ends:\n{}\n",
            instance.name,
            tail(&instance.log, 20)
        ));
    }
    text
}

// ---------------------------------------------------------------------------
// Gaps the fault run found, reduced to their smallest form

/// A submission accepted with nothing to record (`confirm_due_credits`
/// when nothing is due) leaves no trace on the chain. A writer rebuilt from
/// the stream (a take-over, or the same writer after an abandoned block)
/// forgot it: sent again with its key, it was decided afresh, recorded
/// events under that key and answered differently. The fault run found
/// this; the writer now keeps such answers in the rejection log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_accepted_with_nothing_to_record_is_answered_the_same_after_a_restart() {
    let (nats, writer, client) = served_federation().await;
    let confirm = json!({"type": "confirm_due_credits", "limit": 10});
    let first = request(
        &client,
        "admin-city",
        &submission("timer-1", confirm.clone()),
    )
    .await;
    assert_eq!(first["events"], 0, "{first}");
    // v1 serves half an hour: a credit due at once (no objection window).
    sign_up_v1(&client).await;
    for (key, kind, at) in [("in-1", "check_in", -45), ("out-1", "check_out", -15)] {
        let body = submission(
            key,
            json!({"type": kind, "activity": "a1", "volunteer": "v1", "at": from_now(at),
                   "device": "kiosk-12", "external_id": key}),
        );
        let answer = request(&client, "kiosk-12", &body).await;
        assert_eq!(answer["status"], "accepted", "{answer}");
    }

    // Another writer, rebuilt from the stream, hears the timer's retry.
    drop(writer);
    let reopened = ledger_service::Sequencer::open(nats.store().await)
        .await
        .expect("writer opens")
        .remembering_rejections(nats.rejections().await)
        .await
        .expect("rejection log")
        .spawn();
    let retried = reopened
        .submit(as_city_admin(
            "timer-1",
            serde_json::from_value(confirm).expect("a command"),
        ))
        .await;
    assert_eq!(serde_json::to_value(&retried).expect("json"), first);
}

/// The write lease was taken before the writer opened, but renewed only
/// once it had opened; opening loads every answer ever logged, one KV read
/// each. Past about 20,000 rejections that took longer than the lease lives
/// (3 s): the lease lapsed while the writer opened, its first renewal
/// failed, it followed again, took the lease again, opened again… and never
/// wrote. The fault run found this; the lease is now renewed while the
/// writer opens. Here: 40,000 rejections, then the service restarts alone.
#[test]
fn a_writer_with_a_long_rejection_log_still_takes_over() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let nats = Nats::start();
    let mut service = ServiceProcess::start(&nats.url());
    let client = runtime.block_on(async {
        let client = nats.client().await;
        wait_for_intake(&client).await;
        set_up(&client).await;
        for batch in 0..40 {
            let submissions: Vec<Value> = (0..1000)
                .map(|i| {
                    let key = format!("nowhere-{batch}-{i}");
                    submission(
                        &key,
                        json!({"type": "sign_up", "activity": "nowhere", "volunteer": "v1"}),
                    )
                })
                .collect();
            let reply = request(&client, "kiosk-1", &json!({ "submissions": submissions })).await;
            assert_eq!(reply["results"][999]["code"], "UNKNOWN_ACTIVITY", "{reply}");
        }
        client
    });
    service.kill();
    let log = nats.scratch("restarted.log");
    let projections = nats.scratch("restarted-read-models");
    let _restarted = ServiceProcess::start_with_args(&nats.url(), &projections, &[], Some(&log));
    let award = submission(
        "after-restart",
        json!({"type": "award_points", "volunteer": "v1", "points": 1,
               "approver": "admin-haizhou", "reason": "重启后"}),
    );
    let started = Instant::now();
    let accepted = runtime.block_on(async {
        while started.elapsed() < Duration::from_secs(30) {
            let answer = try_request(&client, "admin-city", &award, Duration::from_secs(5)).await;
            if answer.is_some_and(|a| a["status"] == "accepted") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    });
    assert!(
        accepted,
        "after a restart the service wrote nothing for 30 s; its log ends:\n{}",
        tail(&log, 30)
    );
    println!("written again {:?} after the restart", started.elapsed());
    // `ledger serve` hands freed pages back at once (allocator.rs), which
    // its log says as it starts.
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("purge_delay_ms=0"),
        "the service did not log its allocator's purge delay as 0; its log ends:\n{}",
        tail(&log, 30)
    );
}
