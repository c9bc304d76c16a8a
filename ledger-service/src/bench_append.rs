//! `ledger bench append`: the writer fed in-process, against raw block
//! publishes of the very same blocks to the same nats-server (or 3-node
//! cluster), and the writer's commit latency at a steady rate.
//!
//! The writer here is built as `ledger serve` builds it: it decides each
//! command against the state, frames and links its events, seals each
//! block, republishes events for subscribers, checkpoints every 10,000
//! events, and answers a command once its block is acknowledged by a
//! nats-server that syncs to disk before every acknowledgement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use ledger_core::command::*;
use ledger_core::domain::{
    made_up_resident_id, ApprovalLevel, AutoCheckOut, Category, Grassroots, IdentityCommitment,
    IdentityKey, Membership, PointsRule, UnitKind,
};
use ledger_core::frame::parse_frame;
use ledger_core::rights::Role;
use ledger_core::signing::LedgerSigner;
use ledger_core::time::{Timestamp, UtcOffset, Window};
use ledger_core::values::*;
use ledger_core::Command;
use tokio::sync::mpsc;

use crate::accounts::Accounts;
use crate::answer::{Answer, Submission};
use crate::bench::{thousands, Scratch};
use crate::intake;
use crate::local::{free_port, NatsServer};
use crate::rejections::RejectionLog;
use crate::sequencer::{CheckpointPolicy, Pending, Sequencer, Writer};
use crate::shard::Shard;
use crate::store::ChainStore;

pub struct Options {
    pub volunteers: u64,
    pub activities: u64,
    /// Attendances (a check-in and a check-out) at each activity.
    pub per_activity: u64,
    /// Commands per second in the latency run, and for how long.
    pub rate: u64,
    pub latency_secs: u64,
    /// A 3-node cluster and streams with three replicas.
    pub cluster: bool,
    pub data: Option<std::path::PathBuf>,
    /// Events between checkpoints; proofs are timed against them.
    pub checkpoint_every: u64,
    /// Rounds of the writer and the raw baseline, alternating, each on
    /// servers of its own; the best of each is compared.
    pub rounds: u32,
}

/// What `ledger serve` checkpoints at by default.
pub const CHECKPOINT_EVERY: u64 = 10_000;

/// The servers a run talks to, stopped when dropped.
struct Servers {
    nodes: Vec<NatsServer>,
    replicas: usize,
}

impl Servers {
    fn start(dir: &std::path::Path, cluster: bool) -> anyhow::Result<Servers> {
        let start = |dir: &std::path::Path, port, extra: &str| {
            NatsServer::start_with(dir, port, extra)
                .context("starting nats-server (scripts/install-nats.sh installs it)")
        };
        if !cluster {
            let node = start(&dir.join("nats"), free_port(), "")?;
            return Ok(Servers {
                nodes: vec![node],
                replicas: 1,
            });
        }
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (client_port, route_port)) in ports.iter().enumerate() {
            let routes: Vec<String> = (0..3)
                .filter(|j| *j != i)
                .map(|j| format!("nats-route://127.0.0.1:{}", ports[j].1))
                .collect();
            let extra = format!(
                "server_name: n{i}\ncluster {{\n  name: bench\n  listen: 127.0.0.1:{route_port}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
            nodes.push(start(&dir.join(format!("n{i}")), *client_port, &extra)?);
        }
        Ok(Servers { nodes, replicas: 3 })
    }

    async fn connect(&self) -> anyhow::Result<async_nats::Client> {
        let urls: Vec<async_nats::ServerAddr> = self
            .nodes
            .iter()
            .map(|n| n.url().parse())
            .collect::<Result<_, _>>()?;
        Ok(async_nats::connect(urls.as_slice()).await?)
    }
}

pub struct Figures {
    pub replicas: usize,
    pub commands: u64,
    pub events: u64,
    pub blocks: u64,
    pub chain_bytes: u64,
    /// How long the best round of each took.
    pub writer: Duration,
    pub raw: Duration,
    /// Every round's rates, events a second, in the order they ran.
    pub writer_rounds: Vec<f64>,
    pub raw_rounds: Vec<f64>,
    pub latency: Vec<Duration>,
    pub latency_run: Duration,
    pub verified: Verified,
}

/// The servers, a client, the chain's store and the writer as `ledger
/// serve` builds it.
struct Setup {
    servers: Servers,
    client: async_nats::Client,
    js: jetstream::Context,
    shard: Shard,
    store: ChainStore,
    writer: Writer,
    /// Where the writers keep their older answers, as `ledger serve`'s do.
    answers: std::path::PathBuf,
}

impl Setup {
    async fn start(
        dir: &std::path::Path,
        cluster: bool,
        checkpoint_every: u64,
    ) -> anyhow::Result<Setup> {
        let servers = Servers::start(dir, cluster)?;
        let client = servers.connect().await?;
        let js = jetstream::new(client.clone());
        let shard = Shard::new(LedgerId::new("bench")?);
        let store = ChainStore::new(js.clone(), shard.clone());
        ensure(&store, servers.replicas).await?;
        let answers = dir.join("answers");
        let writer = Sequencer::open_spilling(store.clone(), Some(answers.clone()))
            .await?
            .republishing(client.clone())
            .remembering_rejections(RejectionLog::open(&js, &shard, servers.replicas).await?)
            .await?
            .checkpointing(CheckpointPolicy {
                every_events: checkpoint_every,
                every: Duration::from_secs(60),
                signer: Arc::new(LedgerSigner::from_secret(&[7; 32])),
                previous: None,
                actor: ActorId::new("ledger-writer")?,
            })
            .spawn();
        Ok(Setup {
            servers,
            client,
            js,
            shard,
            store,
            writer,
            answers,
        })
    }

    /// The blocks stored after stream sequence `after`.
    async fn blocks_after(&self, after: u64) -> anyhow::Result<Vec<Bytes>> {
        let mut blocks = Vec::new();
        self.store
            .replay(after + 1, |block| {
                blocks.push(block.frames);
                Ok(())
            })
            .await?;
        Ok(blocks)
    }

    async fn stop(self) {
        drop(self.writer);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.drain()).await;
        drop(self.servers);
    }
}

pub async fn run(o: &Options) -> anyhow::Result<Figures> {
    if o.per_activity > o.volunteers || o.rate * o.latency_secs > o.volunteers {
        bail!("--per-activity and --rate × --latency-secs must not exceed --volunteers");
    }
    if o.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let scratch = Scratch::new("append", o.data.as_deref())?;
    let workload = Workload::new(o)?;
    let mut f = Figures {
        replicas: 0,
        commands: 0,
        events: 0,
        blocks: 0,
        chain_bytes: 0,
        writer: Duration::ZERO,
        raw: Duration::ZERO,
        writer_rounds: Vec::new(),
        raw_rounds: Vec::new(),
        latency: Vec::new(),
        latency_run: Duration::ZERO,
        verified: Verified::default(),
    };
    // Each round writes the season afresh on servers of its own, so that
    // no round reads another's files; the last round's servers stay for the
    // latency run and the verification, in the folder `--data` names.
    let mut last: Option<(Setup, std::path::PathBuf)> = None;
    for round in 1..=o.rounds {
        if let Some((setup, dir)) = last.take() {
            setup.stop().await;
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let dir = if round == o.rounds {
            scratch.path.clone()
        } else {
            scratch.path.join(format!("round-{round}"))
        };
        let setup = Setup::start(&dir, o.cluster, o.checkpoint_every).await?;
        let measured = write_season(&setup, &workload).await?;
        f.replicas = setup.servers.replicas;
        f.commands = measured.commands;
        f.events = measured.events;
        f.blocks = measured.blocks;
        f.chain_bytes = measured.chain_bytes;
        let (writer, raw) = (
            per_sec(measured.events, measured.writer),
            per_sec(measured.events, measured.raw),
        );
        if writer > best(&f.writer_rounds) {
            f.writer = measured.writer;
        }
        if raw > best(&f.raw_rounds) {
            f.raw = measured.raw;
        }
        f.writer_rounds.push(writer);
        f.raw_rounds.push(raw);
        last = Some((setup, dir));
    }
    let (setup, _) = last.ok_or_else(|| anyhow::anyhow!("no round ran"))?;

    let (latency, took) = steady(&setup.writer, &workload, o.rate, o.latency_secs).await?;
    f.latency = latency;
    f.latency_run = took;
    f.verified = Verified::measure(&setup, &scratch.path).await?;
    setup.stop().await;
    drop(scratch);
    Ok(f)
}

/// One round: the season fed to the writer, then the very blocks it
/// stored published raw.
struct Round {
    commands: u64,
    events: u64,
    blocks: u64,
    chain_bytes: u64,
    writer: Duration,
    raw: Duration,
}

async fn write_season(setup: &Setup, workload: &Workload) -> anyhow::Result<Round> {
    let started = Instant::now();
    let tally = feed(&setup.writer, workload.setup().chain(workload.attendance())).await;
    let writer = started.elapsed();
    if !tally.rejected.is_empty() {
        // Rejected commands are cheaper than recorded ones: no figure.
        bail!("the workload had rejections: {:?}", tally.rejected);
    }
    // The raw baseline: the blocks the writer stored, published again as
    // they are, one in flight at a time as the writer has them.
    let blocks = setup.blocks_after(0).await?;
    let raw = raw_publish(&setup.js, setup.servers.replicas, &blocks).await?;
    Ok(Round {
        commands: tally.commands,
        events: blocks.iter().map(|b| frames_in(b)).sum(),
        blocks: blocks.len() as u64,
        chain_bytes: blocks.iter().map(|b| b.len() as u64).sum(),
        writer,
        raw,
    })
}

/// `ledger bench intake`: the federation set up in-process (not timed),
/// then the season's attendance sent by a kiosk system over NATS, in
/// batches, several in flight, every submission answered; against raw
/// publishes of the blocks the attendance made.
pub async fn run_intake(
    o: &Options,
    batch: usize,
    in_flight: usize,
) -> anyhow::Result<IntakeFigures> {
    if o.per_activity > o.volunteers || batch == 0 || batch > intake::MAX_BATCH || batch % 2 == 1 {
        bail!(
            "--per-activity must not exceed --volunteers; --batch must be even, 2 to {}",
            intake::MAX_BATCH
        );
    }
    let scratch = Scratch::new("intake", o.data.as_deref())?;
    let setup = Setup::start(&scratch.path, o.cluster, o.checkpoint_every).await?;
    let workload = Workload::new(o)?;
    let tally = feed(&setup.writer, workload.setup()).await;
    if !tally.rejected.is_empty() {
        bail!("the set-up had rejections: {:?}", tally.rejected);
    }
    let before = setup.store.last_sequence().await?;
    // Open accounts: every system is let in (as a city admin), which the
    // checks of a kiosk's units would not make slower or faster to measure.
    tokio::spawn(intake::serve(
        setup.client.clone(),
        setup.shard.clone(),
        setup.writer.clone(),
        Accounts::open(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kiosk = setup.servers.connect().await?;
    let subject = setup.shard.intake_subject(KIOSK);
    let bodies = intake_batches(workload.attendance(), batch)?;
    let submissions = (bodies.len() * batch) as u64;

    let started = Instant::now();
    let mut tally = Tally::default();
    let mut replies = futures::stream::iter(bodies.into_iter().map(|body| {
        let kiosk = kiosk.clone();
        let subject = subject.clone();
        async move { kiosk.request(subject, body).await }
    }))
    .buffered(in_flight.max(1));
    while let Some(reply) = replies.next().await {
        let reply: intake::BatchReply = serde_json::from_slice(&reply?.payload)?;
        for reply in reply.results {
            tally.count(reply.answer);
        }
    }
    let took = started.elapsed();
    if !tally.rejected.is_empty() || tally.commands != submissions {
        bail!(
            "{} of {submissions} answered; rejections: {:?}",
            tally.commands,
            tally.rejected
        );
    }
    let blocks = setup.blocks_after(before).await?;
    let events = blocks.iter().map(|b| frames_in(b)).sum();
    let raw = raw_publish(&setup.js, setup.servers.replicas, &blocks).await?;
    let figures = IntakeFigures {
        replicas: setup.servers.replicas,
        submissions,
        batch,
        in_flight,
        events,
        blocks: blocks.len() as u64,
        intake: took,
        raw,
    };
    setup.stop().await;
    drop(scratch);
    Ok(figures)
}

/// The JSON bodies a kiosk would send: `{"submissions": [...]}`, each
/// submission under a key of its own.
fn intake_batches(
    submissions: impl Iterator<Item = Submission>,
    batch: usize,
) -> anyhow::Result<Vec<Bytes>> {
    let mut bodies = Vec::new();
    let mut current = Vec::with_capacity(batch);
    for (n, s) in submissions.enumerate() {
        current.push(serde_json::json!({
            "key": format!("att-{n}"),
            "command": serde_json::to_value(&s.command)?,
        }));
        if current.len() == batch {
            let body = serde_json::json!({ "submissions": std::mem::take(&mut current) });
            bodies.push(Bytes::from(serde_json::to_vec(&body)?));
        }
    }
    if !current.is_empty() {
        bail!("the attendance does not fill whole batches of {batch}: give --per-activity a multiple of it");
    }
    Ok(bodies)
}

pub struct IntakeFigures {
    pub replicas: usize,
    pub submissions: u64,
    pub batch: usize,
    pub in_flight: usize,
    pub events: u64,
    pub blocks: u64,
    pub intake: Duration,
    pub raw: Duration,
}

impl std::fmt::Display for IntakeFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let intake = per_sec(self.events, self.intake);
        let raw = per_sec(self.events, self.raw);
        writeln!(
            f,
            "intake ({} replica{}, sync_interval: always): {} check-ins and check-outs in batches of {}, {} in flight; {} events in {} blocks",
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            thousands(self.submissions),
            self.batch,
            self.in_flight,
            thousands(self.events),
            thousands(self.blocks),
        )?;
        raw_line(f, raw, self.raw, "")?;
        writeln!(
            f,
            "  intake over NATS, every submission answered:    {:>10.0} events/s  ({:.1} s)  {:.0} % of raw",
            intake,
            self.intake.as_secs_f64(),
            100.0 * intake / raw.max(1e-9)
        )?;
        writeln!(
            f,
            "  submissions answered: {:.0}/s",
            per_sec(self.submissions, self.intake)
        )
    }
}

/// Creates the chain's stream; a cluster that has just started takes a few
/// seconds to elect the leader that answers.
async fn ensure(store: &ChainStore, replicas: usize) -> anyhow::Result<()> {
    crate::store::once_jetstream_answers(Duration::from_secs(30), || async {
        Ok(store.ensure(replicas).await?)
    })
    .await
}

fn frames_in(mut block: &[u8]) -> u64 {
    let mut n = 0;
    while let Ok((_, rest)) = parse_frame(block) {
        n += 1;
        block = rest;
    }
    n
}

/// Publishes `blocks` to a stream of their own, configured as the chain's,
/// each awaited before the next; returns the time it took.
async fn raw_publish(
    js: &jetstream::Context,
    replicas: usize,
    blocks: &[Bytes],
) -> anyhow::Result<Duration> {
    js.create_stream(stream::Config {
        name: "RAW_BLOCKS".into(),
        subjects: vec!["raw.blocks".into()],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await?;
    let started = Instant::now();
    for block in blocks {
        js.publish("raw.blocks", block.clone()).await?.await?;
    }
    Ok(started.elapsed())
}

#[derive(Default)]
struct Tally {
    commands: u64,
    rejected: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    fn count(&mut self, answer: Answer) {
        self.commands += 1;
        let code = match answer {
            Answer::Accepted { .. } => return,
            Answer::Rejected { code, .. } => code,
            Answer::Unavailable { .. } => "UNAVAILABLE".to_owned(),
        };
        *self.rejected.entry(code).or_default() += 1;
    }
}

/// Queues every submission in order, as fast as the writer takes them,
/// while another task collects the answers.
async fn feed(writer: &Writer, submissions: impl Iterator<Item = Submission>) -> Tally {
    let (answers, mut pending) = mpsc::unbounded_channel::<Pending>();
    let collector = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(p) = pending.recv().await {
            tally.count(p.answer().await);
        }
        tally
    });
    for submission in submissions {
        if answers.send(writer.queue(submission).await).is_err() {
            break;
        }
    }
    drop(answers);
    collector.await.unwrap_or_default()
}

/// One command every 1/rate seconds, each timed from queueing to its
/// answer; returns the latencies and how long the run took.
async fn steady(
    writer: &Writer,
    workload: &Workload,
    rate: u64,
    secs: u64,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let publish = feed(writer, std::iter::once(workload.live_activity())).await;
    if !publish.rejected.is_empty() {
        bail!(
            "the live activity was not published: {:?}",
            publish.rejected
        );
    }
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut timed = Vec::new();
    let started = Instant::now();
    for n in 0..rate * secs {
        ticks.tick().await;
        let queued = Instant::now();
        let pending = writer.queue(workload.live_check_in(n)).await;
        timed.push(tokio::spawn(async move {
            let answer = pending.answer().await;
            (queued.elapsed(), matches!(answer, Answer::Accepted { .. }))
        }));
    }
    let mut latency = Vec::with_capacity(timed.len());
    for t in timed {
        if let Ok((took, true)) = t.await {
            latency.push(took);
        }
    }
    if latency.len() as u64 != rate * secs {
        bail!(
            "{} of {} commands in the latency run were not accepted",
            rate * secs - latency.len() as u64,
            rate * secs
        );
    }
    Ok((latency, started.elapsed()))
}

/// A city federation with its volunteers approved at three levels, and a
/// season of past activities with walk-in attendance reported by kiosks.
struct Workload {
    volunteers: u64,
    activities: u64,
    per_activity: u64,
    season_start: chrono::DateTime<Utc>,
    identity: IdentityKey,
}

const ADMIN: &str = "admin-bench";
const KIOSK: &str = "kiosk-bench-01";
const UNITS: u64 = 20;

impl Workload {
    fn new(o: &Options) -> anyhow::Result<Workload> {
        Ok(Workload {
            volunteers: o.volunteers,
            activities: o.activities,
            per_activity: o.per_activity,
            season_start: Utc::now() - chrono::Duration::days(o.activities as i64 + 2),
            identity: IdentityKey([9; 32]),
        })
    }

    fn setup(&self) -> impl Iterator<Item = Submission> + '_ {
        let opening = [
            Command::OpenLedger(OpenLedger {
                ledger: valid(LedgerId::new("bench")),
                name: valid(Text::new("基准测试市总工会志愿服务")),
                objection_window_days: 0,
                utc_offset_minutes: UtcOffset::CHINA,
                number_prefix: "BM".into(),
            }),
            register_unit("city", UnitKind::CityFederation, None),
        ];
        let units = (0..UNITS).map(|u| {
            register_unit(
                &format!("g{u:02}"),
                UnitKind::Grassroots(Grassroots::Enterprise),
                Some("city"),
            )
        });
        let volunteers = (0..self.volunteers).flat_map(move |n| self.register(n));
        let activities = (0..self.activities).map(move |a| self.publish(a));
        opening
            .into_iter()
            .chain(units)
            .chain(volunteers)
            .chain(activities)
            .map(|c| as_actor(ADMIN, c))
    }

    fn register(&self, n: u64) -> Vec<Command> {
        let mut commands = vec![Command::RegisterVolunteer(RegisterVolunteer {
            volunteer: volunteer(n),
            home_unit: valid(UnitId::new(format!("g{:02}", n % UNITS))),
            membership: Membership::Member,
            groups: vec![],
            specialties: vec![],
            identity: IdentityCommitment::compute(&self.identity, &made_up_resident_id(n)),
        })];
        for level in [
            ApprovalLevel::Unit,
            ApprovalLevel::DistrictOrIndustry,
            ApprovalLevel::City,
        ] {
            commands.push(Command::ApproveVolunteer(ApproveVolunteer {
                volunteer: volunteer(n),
                level,
            }));
        }
        commands
    }

    fn start_of(&self, a: u64) -> chrono::DateTime<Utc> {
        self.season_start + chrono::Duration::days(a as i64) + chrono::Duration::hours(1)
    }

    fn publish(&self, a: u64) -> Command {
        let start = self.start_of(a);
        activity_command(
            activity(a),
            Window {
                start: stamp(start),
                end: stamp(start + chrono::Duration::hours(3)),
            },
        )
    }

    /// A check-in and a check-out for each attendance, activity by activity.
    fn attendance(&self) -> impl Iterator<Item = Submission> + '_ {
        (0..self.activities).flat_map(move |a| {
            let start = self.start_of(a);
            (0..self.per_activity).flat_map(move |k| {
                let who = volunteer((a * self.per_activity + k) % self.volunteers);
                let arrived = stamp(start + chrono::Duration::minutes((k % 20) as i64));
                let left = stamp(start + chrono::Duration::minutes(150));
                [
                    Command::CheckIn(CheckIn {
                        activity: activity(a),
                        volunteer: who.clone(),
                        at: arrived,
                        device: ExternalRef::new("kiosk-12").ok(),
                        external_id: ExternalRef::new(format!("in-{a}-{k}")).ok(),
                    }),
                    Command::CheckOut(CheckOut {
                        activity: activity(a),
                        volunteer: who,
                        at: left,
                        device: ExternalRef::new("kiosk-12").ok(),
                        external_id: ExternalRef::new(format!("out-{a}-{k}")).ok(),
                    }),
                ]
                .into_iter()
                .map(|c| as_actor(KIOSK, c))
            })
        })
    }

    /// An activity going on now, for the latency run.
    fn live_activity(&self) -> Submission {
        let now = Utc::now();
        as_actor(
            ADMIN,
            activity_command(
                valid(ActivityId::new("live")),
                Window {
                    start: stamp(now - chrono::Duration::hours(1)),
                    end: stamp(now + chrono::Duration::hours(2)),
                },
            ),
        )
    }

    fn live_check_in(&self, n: u64) -> Submission {
        as_actor(
            KIOSK,
            Command::CheckIn(CheckIn {
                activity: valid(ActivityId::new("live")),
                volunteer: volunteer(n),
                at: stamp(Utc::now() - chrono::Duration::seconds(1)),
                device: ExternalRef::new("kiosk-12").ok(),
                external_id: ExternalRef::new(format!("live-{n}")).ok(),
            }),
        )
    }
}

fn register_unit(id: &str, kind: UnitKind, parent: Option<&str>) -> Command {
    Command::RegisterUnit(RegisterUnit {
        unit: valid(UnitId::new(id)),
        name: valid(Text::new(format!("基准测试单位{id}"))),
        kind,
        parent: parent.map(|p| valid(UnitId::new(p))),
        quota: None,
    })
}

pub(crate) fn activity_command(activity: ActivityId, window: Window) -> Command {
    Command::PublishActivity(PublishActivity {
        activity,
        project: None,
        campaign: None,
        organiser: valid(UnitId::new("city")),
        co_organisers: vec![],
        category: Category::Environment,
        title: valid(Text::new("城市环境志愿服务")),
        place: valid(Text::new("中山广场")),
        window,
        capacity: None,
        featured: false,
        points_rule: PointsRule {
            version: 1,
            points_per_hour: 10,
            coefficient_permille: 1000,
            cap_per_credit: Some(50),
        },
        auto_check_out: AutoCheckOut::AtActivityEnd,
        insurance_required: false,
        walk_ins: true,
    })
}

fn as_actor(actor: &str, command: Command) -> Submission {
    let role = if actor == KIOSK {
        Role::System {
            units: vec![valid(UnitId::new("city"))],
        }
    } else {
        Role::CityAdmin
    };
    Submission {
        actor: valid(ActorId::new(actor)),
        role,
        key: None,
        command,
    }
}

fn volunteer(n: u64) -> VolunteerId {
    valid(VolunteerId::new(format!("bv{n:07}")))
}

fn activity(a: u64) -> ActivityId {
    valid(ActivityId::new(format!("ba{a:05}")))
}

fn stamp(t: chrono::DateTime<Utc>) -> Timestamp {
    Timestamp::from_chrono(&t).unwrap_or(Timestamp(0))
}

/// The workload's own literals are valid by construction.
fn valid<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("benchmark value: {e:?}"))
}

/// Rounds of each verification and its baseline, alternating; the best of
/// each counts. (One round each, the bundle's ratio moved by ten points
/// and more from run to run on a busy machine.)
const VERIFY_ROUNDS: usize = 3;

/// Verifying what was written: the live stream against raw ordered replay
/// of it, a bundle of it against raw chained hashing of its frames.
#[derive(Default)]
pub struct Verified {
    pub events: u64,
    /// A writer opened on the whole stream: replayed, verified, applied.
    pub reopen: Duration,
    pub replay_raw: Duration,
    pub live: Duration,
    pub hashing_raw: Duration,
    pub bundle: Duration,
    pub proofs: crate::bench_proofs::ProofFigures,
}

impl Verified {
    async fn measure(setup: &Setup, dir: &std::path::Path) -> anyhow::Result<Verified> {
        // The first read of a stream just written is the slow one, so the
        // two alternate and the best of each counts: neither pays for the
        // other's cold start. The bundle and its baseline alternate too.
        let mut frames = Vec::new();
        let mut replay_raw = Duration::MAX;
        let mut live_took = Duration::MAX;
        let mut live = None;
        for _ in 0..VERIFY_ROUNDS {
            frames.clear();
            let started = Instant::now();
            setup
                .store
                .replay(1, |block| {
                    frames.extend_from_slice(&block.frames);
                    Ok(())
                })
                .await?;
            replay_raw = replay_raw.min(started.elapsed());
            let started = Instant::now();
            live = Some(crate::audit::verify_stream(&setup.store, None, false).await?);
            live_took = live_took.min(started.elapsed());
        }
        let live = live.ok_or_else(|| anyhow::anyhow!("no replay round ran"))?;
        // What a take-over costs: a writer rebuilt from the stream.
        let started = Instant::now();
        let reopened =
            Sequencer::open_spilling(setup.store.clone(), Some(setup.answers.clone())).await?;
        let reopen = started.elapsed();
        if reopened.head() != live.head {
            bail!("the writer reopened at another head than the chain's");
        }
        drop(reopened);
        let bundle = dir.join("chain.bundle");
        crate::audit::export(&setup.store, &bundle).await?;
        let mut bundle_took = Duration::MAX;
        let mut hashing = f64::MAX;
        let mut checked = None;
        for _ in 0..VERIFY_ROUNDS {
            let started = Instant::now();
            let from_bundle = crate::audit::verify_bundle(&bundle, None, false)?;
            bundle_took = bundle_took.min(started.elapsed());
            let (events, took) = crate::bench::raw_chained_hashing(&frames);
            hashing = hashing.min(took);
            checked = Some((from_bundle, events));
        }
        let (from_bundle, events) =
            checked.ok_or_else(|| anyhow::anyhow!("no verification round ran"))?;
        if live.head != from_bundle.head || live.head.sequence != events {
            bail!("the stream, the bundle and the frames disagree on the chain");
        }
        Ok(Verified {
            events,
            reopen,
            replay_raw,
            live: live_took,
            hashing_raw: Duration::from_secs_f64(hashing),
            bundle: bundle_took,
            proofs: crate::bench_proofs::measure(&setup.store, dir).await?,
        })
    }
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = |d: Duration| self.events as f64 / d.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "verify {} events, best of {VERIFY_ROUNDS} alternating rounds: live stream {:.0} events/s, raw ordered replay {:.0} events/s ({:.0} %); bundle {:.0} events/s, raw chained BLAKE3 {:.0} events/s ({:.0} %)",
            thousands(self.events),
            rate(self.live),
            rate(self.replay_raw),
            100.0 * rate(self.live) / rate(self.replay_raw).max(1e-9),
            rate(self.bundle),
            rate(self.hashing_raw),
            100.0 * rate(self.bundle) / rate(self.hashing_raw).max(1e-9),
        )?;
        writeln!(
            f,
            "  a writer reopened on the stream (replay, verify, apply): {:.0} events/s ({:.2} s), {:.0} % of raw ordered replay",
            rate(self.reopen),
            self.reopen.as_secs_f64(),
            100.0 * rate(self.reopen) / rate(self.replay_raw).max(1e-9),
        )
    }
}

fn per_sec(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

/// The raw baseline's line; `more` goes inside its parentheses.
fn raw_line(
    f: &mut std::fmt::Formatter<'_>,
    rate: f64,
    took: Duration,
    more: &str,
) -> std::fmt::Result {
    writeln!(
        f,
        "  raw block publish (same blocks, one in flight): {:>10.0} events/s  ({:.1} s{more})",
        rate,
        took.as_secs_f64()
    )
}

/// Rates of several rounds, in millions a second: "1.93M 2.01M".
fn rounds(rates: &[f64]) -> String {
    let each: Vec<String> = rates.iter().map(|r| format!("{:.2}M", r / 1e6)).collect();
    each.join(" ")
}

fn best(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0.0, f64::max)
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let writer = best(&self.writer_rounds);
        let raw = best(&self.raw_rounds);
        writeln!(
            f,
            "append ({} replica{}, sync_interval: always): {} commands, {} events in {} blocks ({:.0} events/block, {:.0} bytes/event); best of {} alternating rounds",
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            thousands(self.commands),
            thousands(self.events),
            thousands(self.blocks),
            self.events as f64 / self.blocks.max(1) as f64,
            self.chain_bytes as f64 / self.events.max(1) as f64,
            self.writer_rounds.len(),
        )?;
        let raw_rounds = format!("; rounds: {}", rounds(&self.raw_rounds));
        raw_line(f, raw, self.raw, &raw_rounds)?;
        writeln!(
            f,
            "  writer (decide, chain, seal, store, answer):    {:>10.0} events/s  ({:.1} s, {:.0} commands/s; rounds: {})  {:.0} % of raw",
            writer,
            self.writer.as_secs_f64(),
            per_sec(self.commands, self.writer),
            rounds(&self.writer_rounds),
            100.0 * writer / raw.max(1e-9)
        )?;
        let mut sorted = self.latency.clone();
        sorted.sort();
        let at = |q: f64| crate::bench::quantile(&sorted, q).as_secs_f64() * 1e3;
        writeln!(
            f,
            "  commit latency, {} commands at {:.0}/s: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            thousands(sorted.len() as u64),
            sorted.len() as f64 / self.latency_run.as_secs_f64().max(1e-9),
            at(0.5),
            at(0.99),
            sorted.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
        )?;
        write!(f, "  {}  {}", self.verified, self.verified.proofs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run against a real nats-server: the workload is accepted
    /// whole (a rejection fails the run), the figures count what the chain
    /// holds, and every command of the latency run is timed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_benchmark_appends_what_it_measures() {
        let o = Options {
            volunteers: 300,
            activities: 3,
            per_activity: 100,
            rate: 100,
            latency_secs: 1,
            cluster: false,
            data: None,
            checkpoint_every: 500,
            rounds: 2,
        };
        let f = run(&o).await.unwrap();
        // Opening, the city and its units, four commands a volunteer, the
        // activities, and a check-in and check-out an attendance.
        assert_eq!(f.commands, 2 + UNITS + 4 * 300 + 3 + 2 * 3 * 100);
        // A walk-in check-in signs up too; a check-out credits hours.
        let recorded = 2 + UNITS + 4 * 300 + 3 + 4 * 3 * 100;
        assert!(f.events >= recorded, "{} < {recorded}", f.events);
        assert!(f.blocks >= 1 && f.chain_bytes > 100 * f.events);
        assert_eq!(f.latency.len(), 100);
        assert!(!f.writer.is_zero() && !f.raw.is_zero());
        // Two rounds, each on servers of its own, the best of each kept.
        assert_eq!((f.writer_rounds.len(), f.raw_rounds.len()), (2, 2));
        assert!(f
            .writer_rounds
            .iter()
            .chain(&f.raw_rounds)
            .all(|r| *r > 0.0));
        // Everything written, the latency run's too, is verified both ways.
        assert!(f.verified.events >= f.events + 2 * 100);
        assert!(!f.verified.live.is_zero() && !f.verified.bundle.is_zero());
        // Proofs are timed against the checkpoints, written every 500
        // events at the end of a block.
        let proofs = &f.verified.proofs;
        assert!(
            proofs.checkpoints >= 2 && proofs.tree_size >= 2_000,
            "{} checkpoints, the last over {}",
            proofs.checkpoints,
            proofs.tree_size
        );
        assert_eq!(proofs.inclusion.len(), 1_000);
        assert_eq!(proofs.consistency.len(), 1_000);
        assert_eq!(proofs.from_leaves.len(), 10);
    }

    /// The same season through the intake: every submission answered and
    /// accepted, and the figures count the attendance's own blocks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_intake_benchmark_answers_every_submission() {
        let o = Options {
            volunteers: 300,
            activities: 3,
            per_activity: 100,
            rate: 0,
            latency_secs: 0,
            cluster: false,
            data: None,
            checkpoint_every: 500,
            rounds: 1,
        };
        let f = run_intake(&o, 100, 2).await.unwrap();
        assert_eq!(f.submissions, 2 * 3 * 100);
        // Sign-up, check-in, check-out and credit for each attendance.
        assert!(f.events >= 4 * 3 * 100, "{}", f.events);
        assert!(f.blocks >= 1 && !f.intake.is_zero() && !f.raw.is_zero());
        assert!(
            run_intake(&o, 99, 2).await.is_err(),
            "odd batches split pairs"
        );
    }
}
