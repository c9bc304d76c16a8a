//! `ledger bench`: each benchmark, printed beside its raw baseline.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(clap::Args)]
pub struct Season {
    #[arg(long, default_value_t = 50_000)]
    volunteers: u64,
    #[arg(long, default_value_t = 100)]
    activities: u64,
    /// Attendances (check-in and check-out) at each activity.
    #[arg(long, default_value_t = 2_000)]
    per_activity: u64,
    /// Three nats-servers in a cluster, streams with three replicas.
    #[arg(long)]
    cluster: bool,
    /// A new or empty folder to keep the servers' data in.
    #[arg(long)]
    data: Option<PathBuf>,
}

impl Season {
    fn options(
        self,
        rate: u64,
        latency_secs: u64,
        rounds: u32,
    ) -> ledger_service::bench_append::Options {
        ledger_service::bench_append::Options {
            volunteers: self.volunteers,
            activities: self.activities,
            per_activity: self.per_activity,
            rate,
            latency_secs,
            cluster: self.cluster,
            data: self.data,
            checkpoint_every: ledger_service::bench_append::CHECKPOINT_EVERY,
            rounds,
        }
    }
}

#[derive(Subcommand)]
pub enum BenchKind {
    /// The chain verifier against raw chained BLAKE3 over the same frames.
    Verify {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Rounds of each, alternating; the best of each is compared.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// The writer fed in-process against raw block publishes of the same
    /// blocks, and its commit latency at a steady rate, on a nats-server of
    /// its own (or a 3-node cluster with three replicas).
    Append {
        #[command(flatten)]
        season: Season,
        /// Commands per second in the latency run.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        /// Rounds of the writer and the raw baseline, alternating, each on
        /// servers of its own; the best of each is compared.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// A kiosk system's check-ins and check-outs over NATS, in batches,
    /// every submission answered, against raw publishes of the blocks they
    /// made; the federation is set up in-process first.
    Intake {
        #[command(flatten)]
        season: Season,
        /// Submissions in one request (at most 1,000).
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Requests awaiting their answer at once.
        #[arg(long, default_value_t = 4)]
        in_flight: usize,
    },
    /// The sled read models: a synthetic year published to a nats-server
    /// of its own, replayed raw, rebuilt, set against raw sled inserts, and
    /// queried (leaderboards, unit rankings, balances).
    Projections {
        #[arg(long, default_value_t = 1_000_000)]
        volunteers: u64,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        #[arg(long, default_value_t = 20_000)]
        activities: u32,
        /// Where the nats-server, the read models and the raw sled baseline
        /// go (a new or empty directory; kept). Default: a temporary one,
        /// removed after.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The rebuild commits once this many MiB are staged.
        #[arg(long, default_value_t = 512)]
        commit_mib: usize,
        /// Queries of each kind to time.
        #[arg(long, default_value_t = 5_000)]
        queries: usize,
    },
    /// `ledger serve` itself, started against a synthetic federation's
    /// chain: leaderboards, unit rankings, roll-ups and balances queried
    /// over HTTP by many loopback clients at once, then check-ins submitted
    /// the same way; requests/s and latencies, and the service's peak
    /// memory.
    Http {
        #[arg(long, default_value_t = 1_000_000)]
        volunteers: u64,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        #[arg(long, default_value_t = 20_000)]
        activities: u32,
        /// Requests in flight at once (closed loop: each client sends its
        /// next request when the last is answered).
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds each kind of query is driven.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Check-ins submitted, each another volunteer's.
        #[arg(long, default_value_t = 20_000)]
        commands: u64,
        /// A new or empty folder for the nats-server and the service's read
        /// models (kept). Default: a temporary one, removed after.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The service's `--read-model-cache-mib`. Default: its own.
        #[arg(long)]
        read_model_cache_mib: Option<u64>,
    },
}

/// One `ledger bench` command, its figures printed.
pub async fn run(what: BenchKind) -> anyhow::Result<()> {
    match what {
        BenchKind::Verify { events, rounds } => {
            let f = ledger_service::bench::verify(events, rounds);
            let list = |v: &[f64]| {
                v.iter()
                    .map(|r| format!("{:.2}M", r / 1e6))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!(
                "verify: {} events ({} MiB of frames), best of {} alternating rounds, {} threads\n  raw chained BLAKE3: {:>12.0} events/s  (rounds: {})\n  ledger verifier:    {:>12.0} events/s  (rounds: {})  {:.0} % of raw",
                f.events,
                f.bytes >> 20,
                f.rounds,
                ledger_service::audit::workers(),
                f.raw_per_sec,
                list(&f.raw_rounds),
                f.verify_per_sec,
                list(&f.verify_rounds),
                100.0 * f.verify_per_sec / f.raw_per_sec
            );
            Ok(())
        }
        BenchKind::Append {
            season,
            rate,
            latency_secs,
            rounds,
        } => {
            let options = season.options(rate, latency_secs, rounds);
            print!("{}", ledger_service::bench_append::run(&options).await?);
            Ok(())
        }
        BenchKind::Intake {
            season,
            batch,
            in_flight,
        } => {
            let options = season.options(0, 0, 1);
            let figures =
                ledger_service::bench_append::run_intake(&options, batch, in_flight).await?;
            print!("{figures}");
            Ok(())
        }
        BenchKind::Projections {
            volunteers,
            events,
            activities,
            data,
            commit_mib,
            queries,
        } => {
            let options = ledger_service::bench_projections::Options {
                volunteers,
                events,
                activities,
                data,
                commit_bytes: commit_mib << 20,
                queries,
            };
            let figures = ledger_service::bench_projections::run(&options).await?;
            print!("{figures}");
            Ok(())
        }
        BenchKind::Http {
            volunteers,
            events,
            activities,
            clients,
            seconds,
            commands,
            data,
            read_model_cache_mib,
        } => {
            let options = ledger_service::bench_http::Options {
                volunteers,
                events,
                activities,
                clients,
                seconds,
                commands,
                data,
                read_model_cache_mib,
                ledger: std::env::current_exe().context("finding this ledger binary")?,
            };
            let figures = ledger_service::bench_http::run(&options).await?;
            print!("{figures}");
            Ok(())
        }
    }
}
