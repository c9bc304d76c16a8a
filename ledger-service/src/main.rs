//! `ledger`: run the ledger service.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ledger_core::domain::IdentityKey;
use ledger_core::rights::Role;
use ledger_core::signing::LedgerSigner;
use ledger_core::signing::PublicKey;
use ledger_core::values::{ActorId, Digest, LedgerId, UnitId};
use ledger_service::accounts::{Accounts, AccountsFile, SystemAccount, TokenAccount};
use ledger_service::attachments::AttachmentStore;
use ledger_service::lease::{Lease, LeaseBucket};
use ledger_service::local::{free_port, NatsServer};
use ledger_service::nats_access::NatsAccess;
use ledger_service::personal::PersonalStore;
use ledger_service::read_models::{ReadModels, Tuning};
use ledger_service::reader::Reader;
use ledger_service::rejections::RejectionLog;
use ledger_service::sequencer::CheckpointPolicy;
use ledger_service::statement::StatementFont;
use ledger_service::stop::StopRequests;
use ledger_service::store::once_jetstream_answers;
use ledger_service::{
    allocator, audit, demo, http, intake, proofs, statement, ChainStore, Sequencer, Shard,
};

/// glibc's allocator keeps what one thread freed for that thread's arena:
/// catching up the read models (sled writing batches on whichever thread
/// the runtime gives it) left the service at several times its working
/// set. mimalloc hands freed pages back; `allocator.rs` says when
/// (docs/performance.md, service memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ledger", about = "The union volunteer-service ledger")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// How to sign in to NATS beyond its URLs (docs/operations.md, "Signing
/// in to NATS"). A URL may also carry `user:password@`; set it through
/// `LEDGER_NATS` to keep the password off the process list.
/// Which NATS to reach, how to sign in, and which shard's stream: the
/// same for every command that reads or writes the live stream.
#[derive(clap::Args)]
struct StreamArgs {
    /// NATS server URLs, comma-separated.
    #[arg(long, env = "LEDGER_NATS", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    #[command(flatten)]
    sign_in: NatsSignIn,
    /// The shard (top-level federation): the stream and subjects it names.
    #[arg(long, env = "LEDGER_SHARD", default_value = "lyg")]
    shard: String,
}

impl StreamArgs {
    fn access(&self) -> NatsAccess {
        self.sign_in.access(&self.nats)
    }

    async fn store(&self) -> anyhow::Result<ChainStore> {
        connect_store(&self.access(), &self.shard).await
    }
}

#[derive(clap::Args)]
struct NatsSignIn {
    /// A creds file (user JWT and NKEY seed), for servers whose accounts
    /// an operator issues.
    #[arg(long, env = "LEDGER_NATS_CREDS", conflicts_with = "nats_nkey")]
    nats_creds: Option<PathBuf>,
    /// A file holding a user's NKEY seed (SU…).
    #[arg(long, env = "LEDGER_NATS_NKEY")]
    nats_nkey: Option<PathBuf>,
    /// CA certificates (PEM) that sign the servers' TLS certificates; TLS
    /// is then required.
    #[arg(long, env = "LEDGER_NATS_TLS_CA")]
    nats_tls_ca: Option<PathBuf>,
    /// This client's TLS certificate (PEM), for servers that verify clients.
    #[arg(long, env = "LEDGER_NATS_TLS_CERT", requires = "nats_tls_key")]
    nats_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --nats-tls-cert.
    #[arg(long, env = "LEDGER_NATS_TLS_KEY", requires = "nats_tls_cert")]
    nats_tls_key: Option<PathBuf>,
    /// The first token of this connection's reply subjects. Default:
    /// `_INBOX_ledger_<shard>`, which only the service's user may
    /// subscribe to; an auditor's user is given one of its own
    /// (docs/operations.md, "NATS permissions").
    #[arg(long, env = "LEDGER_NATS_INBOX_PREFIX")]
    nats_inbox_prefix: Option<String>,
}

impl NatsSignIn {
    fn access(&self, urls: &str) -> NatsAccess {
        NatsAccess {
            urls: urls.to_owned(),
            creds: self.nats_creds.clone(),
            nkey_seed: self.nats_nkey.clone(),
            tls_ca: self.nats_tls_ca.clone(),
            tls_client: self.nats_tls_cert.clone().zip(self.nats_tls_key.clone()),
            inbox_prefix: self.nats_inbox_prefix.clone(),
        }
    }
}

#[derive(Subcommand)]
enum KeysKind {
    /// 32 random bytes in a new file only its owner may read: an identity
    /// key (--identity-key) or the ledger's signing key (--signing-key).
    NewSecret { out: PathBuf },
    /// The ledger's public key (hex) for a signing key: what the federation
    /// publishes, and auditors pass to `ledger verify --key`.
    PublicKey {
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// A new bearer token, and the BLAKE3 hash the accounts file keeps of it.
    NewToken,
}

#[derive(Subcommand)]
enum Cmd {
    /// Connect to NATS and serve: the sequencer and the intake for other systems.
    Serve {
        #[command(flatten)]
        stream: StreamArgs,
        /// Stream replicas: 1 on a single server, 3 on a cluster.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Where the HTTP API listens.
        #[arg(long, env = "LEDGER_HTTP", default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Tokens and publishing systems with their roles (JSON; see
        /// docs/operations.md). Without it every caller is a city admin.
        #[arg(long, env = "LEDGER_ACCOUNTS")]
        accounts: Option<PathBuf>,
        /// The 32-byte key of identity commitments (a file). Without it,
        /// registration with personal data is refused.
        #[arg(long, env = "LEDGER_IDENTITY_KEY")]
        identity_key: Option<PathBuf>,
        /// The ledger's ed25519 secret key (a file of 32 bytes): it signs
        /// checkpoints. Without it the writer appends no checkpoints.
        #[arg(long, env = "LEDGER_SIGNING_KEY")]
        signing_key: Option<PathBuf>,
        /// The ledger's current secret key when rotating it out: this
        /// writer then publishes --signing-key endorsed by it.
        #[arg(long, env = "LEDGER_PREVIOUS_SIGNING_KEY", requires = "signing_key")]
        previous_signing_key: Option<PathBuf>,
        /// A checkpoint after at most this many events…
        #[arg(long, default_value_t = 10_000)]
        checkpoint_events: u64,
        /// …or this many seconds.
        #[arg(long, default_value_t = 60)]
        checkpoint_seconds: u64,
        /// This instance's read models (a sled directory of its own).
        /// Default: projections/<shard>-<http port>.
        #[arg(long, env = "LEDGER_PROJECTIONS")]
        projections: Option<PathBuf>,
        /// sled's page cache for the read models, in MiB.
        #[arg(long, env = "LEDGER_READ_MODEL_CACHE_MIB", default_value_t = 128)]
        read_model_cache_mib: u64,
        /// What a catch-up stages before each commit to the read models,
        /// in MiB: more is faster and takes more memory.
        #[arg(long, env = "LEDGER_CATCH_UP_BATCH_MIB", default_value_t = 64)]
        catch_up_batch_mib: usize,
        /// A TrueType/OpenType font covering Chinese, for statements as
        /// PDF. Default: the first common system CJK font found.
        #[arg(long, env = "LEDGER_STATEMENT_FONT")]
        statement_font: Option<PathBuf>,
        /// The console is reached over HTTPS (TLS ended here or by a proxy
        /// in front): its sign-in cookie is marked Secure, so that a browser
        /// never sends the token over plain HTTP. Leave it off only where
        /// the console is served over plain HTTP, as on loopback.
        #[arg(
            long,
            env = "LEDGER_CONSOLE_SECURE_COOKIE",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        console_secure_cookie: bool,
    },
    /// Rebuild an instance's read models from the stream (the instance must
    /// be stopped), compare them with the incrementally built ones over
    /// every row, and swap them in. Exit 1 when they differed, 2 when it
    /// could not run (NATS refused, the instance still holds the directory).
    Rebuild {
        #[command(flatten)]
        stream: StreamArgs,
        /// The read models' directory.
        #[arg(long, env = "LEDGER_PROJECTIONS")]
        projections: PathBuf,
        /// Compare only; leave the read models as they are.
        #[arg(long)]
        check: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Verify the chain: re-hash and re-link every frame, check every
    /// checkpoint. From the live stream (--nats) or a bundle (--bundle).
    /// Exit 0 when all holds; 1 naming the first bad sequence; 2 when the
    /// chain could not be read at all.
    Verify {
        /// The live stream's NATS servers; --bundle, when given, is read
        /// instead (so a `LEDGER_NATS` in the environment does not stand in
        /// the way of checking a file).
        #[arg(long, env = "LEDGER_NATS")]
        nats: Option<String>,
        #[command(flatten)]
        sign_in: NatsSignIn,
        #[arg(long, env = "LEDGER_SHARD", default_value = "lyg")]
        shard: String,
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// A head verified before, `SEQ` or `SEQ:HASH`: the chain must
        /// still reach it (nothing cut off) with that hash (nothing rewritten).
        #[arg(long)]
        expect_head: Option<audit::Expected>,
        /// The ledger's public key (hex) as the federation publishes it,
        /// outside the chain: the chain must be sealed with it (its first
        /// key or one it was rotated to). Without it, the chain's own key
        /// is trusted.
        #[arg(long)]
        key: Option<String>,
        /// Also compare every volunteer's hours and points, recomputed from
        /// the chain, with what the service at this URL serves.
        #[arg(long, requires = "nats")]
        service: Option<String>,
        /// The bearer token for --service (an auditor's).
        #[arg(long, env = "LEDGER_TOKEN", default_value = "")]
        token: String,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Prove from the live stream (verified on the way): that an event is in
    /// a checkpoint's tree, or that one checkpoint extends another. Prints a
    /// JSON document that `ledger verify-proof` checks offline.
    Prove {
        #[command(flatten)]
        stream: StreamArgs,
        #[command(subcommand)]
        what: ProofKind,
    },
    /// Check a volunteer's statement offline with the ledger's public key
    /// (hex); with --pdf, then print it (only a statement that checks).
    VerifyStatement {
        file: PathBuf,
        #[arg(long)]
        key: String,
        /// Write the checked statement as a printable PDF here.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// The font for --pdf. Default: a common system CJK font.
        #[arg(long, requires = "pdf")]
        font: Option<PathBuf>,
    },
    /// Check a proof document offline with the ledger's public key (hex).
    VerifyProof {
        file: PathBuf,
        #[arg(long)]
        key: String,
    },
    /// Benchmarks, each printed beside a raw baseline from the same run.
    Bench {
        #[command(subcommand)]
        what: BenchKind,
    },
    /// Make the secrets and tokens a production service needs, and the
    /// public key auditors check against (docs/operations.md, "Keys and
    /// tokens").
    Keys {
        #[command(subcommand)]
        what: KeysKind,
    },
    /// Write the whole chain to a self-describing bundle file.
    Export {
        #[command(flatten)]
        stream: StreamArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a bundle's chain into the shard's stream: after the stream was
    /// lost, or to move the ledger to new servers. The bundle is verified
    /// whole, sealed with --key, before anything is written; a stream that
    /// holds the start of the same chain is completed, one that holds
    /// anything else is left as it is. Run it before any instance serves.
    /// Exit 0 when the stream holds the bundle's chain; 1 when the bundle
    /// does not verify or the stream holds another chain; 2 when NATS or
    /// the file could not be used.
    Restore {
        #[command(flatten)]
        stream: StreamArgs,
        /// Stream replicas, when the restore creates the stream: 1 on a
        /// single server, 3 on a cluster (as `ledger serve --replicas`).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        #[arg(long)]
        bundle: PathBuf,
        /// The ledger's public key (hex) as the federation publishes it.
        #[arg(long)]
        key: String,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Start a local nats-server (JetStream, fsync before every ack) in a data
    /// folder and serve against it.
    Local {
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, default_value = "dl")]
        shard: String,
        /// Do not load the demo federation (notice 004, Dalian).
        #[arg(long)]
        no_demo: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
    },
}

/// The season the append and intake benchmarks record, and where.
#[derive(clap::Args)]
struct Season {
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
enum BenchKind {
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

#[derive(Subcommand)]
enum ProofKind {
    /// Event `sequence` against the checkpoint over `tree_size` events (or
    /// the first checkpoint that covers it).
    Inclusion {
        #[arg(long)]
        sequence: u64,
        #[arg(long)]
        tree_size: Option<u64>,
    },
    /// The checkpoint over `to` events extends the one over `from`.
    Consistency {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    let serves = matches!(command, Cmd::Serve { .. } | Cmd::Local { .. });
    if serves {
        // Before the runtime's threads start: see `allocator.rs`.
        allocator::hand_back_freed_pages_at_once();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?
        .block_on(run(command, serves))
}

async fn run(command: Cmd, serves: bool) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if serves {
        tracing::info!(
            purge_delay_ms = allocator::purge_delay_ms(),
            "freed memory goes back to the kernel after this delay"
        );
    }
    match command {
        Cmd::Verify {
            nats,
            sign_in,
            shard,
            bundle,
            expect_head,
            key,
            service,
            token,
            quiet,
        } => {
            let expected = expect_head.as_ref();
            let key = key.as_deref().map(parse_key).transpose()?;
            let result = match (bundle, &nats) {
                (Some(path), _) => audit::verify_bundle(&path, expected, !quiet),
                (None, Some(nats)) => match connect_store(&sign_in.access(nats), &shard).await {
                    Ok(store) => audit::verify_stream(&store, expected, !quiet).await,
                    Err(e) => {
                        eprintln!("could not verify: {e:#}");
                        std::process::exit(2)
                    }
                },
                (None, None) => anyhow::bail!("name --nats or --bundle"),
            };
            let result = result.and_then(|summary| match &key {
                Some(key) => summary.check_key(key).map(|()| summary),
                None => Ok(summary),
            });
            if let (Ok(_), Some(url), Some(nats)) = (&result, &service, &nats) {
                let store = connect_store(&sign_in.access(nats), &shard).await?;
                match audit::compare_with_service(&store, url, &token).await {
                    Ok(Ok(count)) => println!("compared {count} volunteers with {url}: all equal"),
                    Ok(Err((sequence, mismatch))) => {
                        println!("FAILED at sequence {sequence}: {mismatch}");
                        std::process::exit(1)
                    }
                    Err(e) => {
                        eprintln!("could not compare: {e}");
                        std::process::exit(2)
                    }
                }
            }
            match result {
                Ok(summary) => {
                    println!("OK: {summary}");
                    if key.is_none() && !summary.keys.is_empty() {
                        println!(
                            "note: the ledger key was taken from the chain itself; pass --key with the key the federation publishes to know the chain is its ledger"
                        );
                    }
                    Ok(())
                }
                Err(audit::AuditError::Chain(e)) => {
                    println!("FAILED at sequence {}: {}", e.sequence, e.fault);
                    std::process::exit(1)
                }
                Err(
                    e @ (audit::AuditError::UnknownKey { .. }
                    | audit::AuditError::HeaderDisagrees { .. }),
                ) => {
                    println!("FAILED: {e}");
                    std::process::exit(1)
                }
                Err(e) => {
                    eprintln!("could not verify: {e}");
                    std::process::exit(2)
                }
            }
        }
        Cmd::Bench { what } => {
            println!("{}", ledger_service::bench::machine());
            bench(what).await
        }
        Cmd::Prove { stream, what } => {
            let store = stream.store().await?;
            let log = audit::proof_log(&store, ledger_service::proofs::ProofLog::new()).await?;
            let doc = match what {
                ProofKind::Inclusion {
                    sequence,
                    tree_size,
                } => serde_json::to_string_pretty(&log.inclusion(sequence, tree_size)?)?,
                ProofKind::Consistency { from, to } => {
                    serde_json::to_string_pretty(&log.consistency(from, to)?)?
                }
            };
            println!("{doc}");
            Ok(())
        }
        Cmd::VerifyStatement {
            file,
            key,
            pdf,
            font,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let key = parse_key(&key)?;
            let result = serde_json::from_str::<statement::Statement>(&text)
                .map_err(|e| statement::StatementError::Format(e.to_string()))
                .and_then(|s| statement::verify(&s, &key).map(|t| (s, t)));
            match result {
                Ok((s, t)) => {
                    println!(
                        "OK: {} events of volunteer {} from {} to {}: {} confirmed minutes, {} points earned, {} redeemed; under checkpoint {}",
                        s.body.events.len(), s.body.volunteer, s.body.from, s.body.to,
                        t.confirmed_minutes, t.points_earned, t.points_redeemed, s.body.checkpoint.tree_size
                    );
                    if let Some(out) = pdf {
                        let font = StatementFont::find(font.as_deref())?;
                        std::fs::write(&out, statement::render_pdf(&s, &font)?)
                            .with_context(|| format!("writing {}", out.display()))?;
                        println!("printed to {}", out.display());
                    }
                    Ok(())
                }
                Err(e) => {
                    println!("FAILED: {e}");
                    std::process::exit(1)
                }
            }
        }
        Cmd::VerifyProof { file, key } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let key = parse_key(&key)?;
            let value: serde_json::Value = serde_json::from_str(&text)?;
            let result = if value.get("sequence").is_some() {
                let doc: proofs::InclusionDocument = serde_json::from_value(value)?;
                proofs::verify_inclusion(&doc, &key).map(|()| {
                    format!(
                        "event {} ({}) is in the tree of checkpoint {}",
                        doc.sequence, doc.event_hash, doc.checkpoint.tree_size
                    )
                })
            } else {
                let doc: proofs::ConsistencyDocument = serde_json::from_value(value)?;
                proofs::verify_consistency(&doc, &key).map(|()| {
                    format!(
                        "checkpoint {} extends checkpoint {}",
                        doc.new.tree_size, doc.old.tree_size
                    )
                })
            };
            match result {
                Ok(what) => {
                    println!("OK: {what}");
                    Ok(())
                }
                Err(e) => {
                    println!("FAILED: {e}");
                    std::process::exit(1)
                }
            }
        }
        Cmd::Rebuild {
            stream,
            projections,
            check,
            quiet,
        } => {
            // Exit 1 is kept for read models that differed.
            let could_not = |e: anyhow::Error| -> ! {
                eprintln!("could not rebuild: {e:#}");
                std::process::exit(2)
            };
            let store = stream.store().await.unwrap_or_else(|e| could_not(e));
            let r = ledger_service::rebuild::rebuild(&store, &projections, check, quiet)
                .await
                .unwrap_or_else(|e| could_not(e));
            println!(
                "rebuilt {} events in {} blocks in {:.1} s ({:.0} events/s)",
                r.events,
                r.blocks,
                r.seconds,
                r.events as f64 / r.seconds.max(1e-9)
            );
            match r.differences {
                None => println!("no earlier read models to compare with"),
                Some(d) if d.is_empty() => {
                    println!("identical to the incrementally built read models, row for row")
                }
                Some(d) => {
                    println!(
                        "DIFFERENT from the incrementally built read models (the first; the rebuild is the second), {d}"
                    );
                    std::process::exit(1)
                }
            }
            if !check {
                println!("read models in {} replaced", projections.display());
            }
            Ok(())
        }
        Cmd::Keys { what } => keys(what),
        Cmd::Export { stream, out } => {
            let store = stream.store().await?;
            let header = audit::export(&store, &out).await?;
            println!(
                "exported {} events in {} blocks to {} (head {})",
                header.events,
                header.blocks,
                out.display(),
                header.head_hash
            );
            Ok(())
        }
        Cmd::Restore {
            stream,
            replicas,
            bundle,
            key,
            quiet,
        } => {
            restore(
                &stream.access(),
                &stream.shard,
                replicas,
                &bundle,
                &key,
                quiet,
            )
            .await
        }
        Cmd::Serve {
            stream,
            replicas,
            http,
            accounts,
            identity_key,
            signing_key,
            previous_signing_key,
            checkpoint_events,
            checkpoint_seconds,
            projections,
            read_model_cache_mib,
            catch_up_batch_mib,
            statement_font,
            console_secure_cookie,
        } => {
            let accounts = match accounts {
                Some(path) => Accounts::from_file(&path)?,
                None => {
                    tracing::warn!(
                        "no --accounts: every caller acts as a city admin (development only)"
                    );
                    Accounts::open()
                }
            };
            let identity_key = identity_key.map(|p| read_key(&p)).transpose()?;
            let previous = previous_signing_key.map(|p| read_secret(&p)).transpose()?;
            let checkpoints = signing_key
                .map(|p| read_secret(&p))
                .transpose()?
                .map(|secret| Checkpoints {
                    secret,
                    previous,
                    every_events: checkpoint_events,
                    every: Duration::from_secs(checkpoint_seconds),
                });
            let options = Options {
                replicas,
                http,
                accounts,
                identity_key,
                checkpoints,
                demo: false,
                projections: projections.unwrap_or_else(|| {
                    ledger_service::read_models::default_dir(&stream.shard, &http)
                }),
                tuning: Tuning {
                    cache_bytes: read_model_cache_mib << 20,
                    batch_bytes: catch_up_batch_mib << 20,
                },
                statement_font: statement_font_or_none(statement_font.as_deref())?,
                secure_cookies: console_secure_cookie,
            };
            serve(&stream.access(), &stream.shard, options).await
        }
        Cmd::Local {
            data,
            shard,
            no_demo,
            http,
        } => {
            let port = free_port();
            let server = NatsServer::start(&data.join("nats"), port)
                .context("starting the local nats-server")?;
            println!(
                "nats-server (JetStream, sync_interval: always) at {}",
                server.url()
            );
            println!("data in {}", data.display());
            println!(
                "submit commands as the demo's kiosk (bound to unit {DEMO_KIOSK_UNIT}): nats request ledger.{shard}.intake.{DEMO_KIOSK} '{{\"key\": ..., \"command\": ...}}'"
            );
            let identity_key = Some(identity_key(&data)?);
            let secret = local_secret(&data, "signing.key")?;
            println!(
                "ledger key (auditors pass it to `ledger verify --key`): {}",
                LedgerSigner::from_secret(&secret).public_key()
            );
            let checkpoints = Some(Checkpoints {
                secret,
                previous: None,
                every_events: 1_000,
                every: Duration::from_secs(10),
            });
            let (accounts, tokens) = local_accounts(&data)?;
            println!("HTTP API: http://{http}/api/v1/  (OpenAPI at /api/v1/openapi.json)");
            println!("admin console (中文 / English): http://{http}/console/  (sign in with a token below)");
            println!("city admin token: {}", tokens.city_admin);
            println!(
                "district admin token (西岗区总工会, unit {DEMO_DISTRICT}): {}",
                tokens.district_admin
            );
            println!(
                "auditor token (reads everything, writes nothing): {}",
                tokens.auditor
            );
            let options = Options {
                replicas: 1,
                http,
                accounts,
                identity_key,
                checkpoints,
                demo: !no_demo,
                projections: data.join("projections"),
                tuning: Tuning::default(),
                statement_font: statement_font_or_none(None)?,
                // Plain HTTP on loopback: a Secure cookie would not be kept.
                secure_cookies: false,
            };
            serve(&NatsAccess::urls(server.url()), &shard, options).await
        }
    }
}

/// One `ledger bench` command, its figures printed.
async fn bench(what: BenchKind) -> anyhow::Result<()> {
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

fn parse_key(hex_key: &str) -> anyhow::Result<PublicKey> {
    let bytes = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("--key takes 32 bytes in hex")?;
    Ok(PublicKey(bytes))
}

async fn restore(
    nats: &NatsAccess,
    shard: &str,
    replicas: usize,
    bundle: &Path,
    key: &str,
    quiet: bool,
) -> anyhow::Result<()> {
    use ledger_service::restore::RestoreError;
    let key = parse_key(key)?;
    let store = match connect_store(nats, shard).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("could not restore: {e:#}");
            std::process::exit(2)
        }
    };
    match ledger_service::restore::restore(&store, bundle, &key, replicas, !quiet).await {
        Ok(done) => {
            println!(
                "restored {} blocks into {} ({} were there already): {}",
                done.written,
                store.shard().stream(),
                done.found,
                done.summary
            );
            Ok(())
        }
        Err(RestoreError::Audit(audit::AuditError::Chain(e))) => {
            println!(
                "FAILED at sequence {}: {}; nothing was written",
                e.sequence, e.fault
            );
            std::process::exit(1)
        }
        Err(
            e @ (RestoreError::Audit(
                audit::AuditError::UnknownKey { .. } | audit::AuditError::HeaderDisagrees { .. },
            )
            | RestoreError::OtherShard { .. }),
        ) => {
            println!("FAILED: {e}; nothing was written");
            std::process::exit(1)
        }
        Err(
            e @ (RestoreError::StreamLonger { .. }
            | RestoreError::StreamDiffers { .. }
            | RestoreError::BundleChanged { .. }
            | RestoreError::NoLongerVerifies { .. }
            | RestoreError::ReadBack { .. }),
        ) => {
            println!("FAILED: {e}");
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("could not restore: {e}");
            std::process::exit(2)
        }
    }
}

/// The chain's stream, for reading only.
async fn connect_store(nats: &NatsAccess, shard: &str) -> anyhow::Result<ChainStore> {
    let shard = Shard::new(LedgerId::new(shard).context("shard")?);
    let client = nats
        .clone()
        .inbox_for(shard.id().as_str())
        .connect(&format!("ledger reader {}", shard.id()))
        .await?;
    Ok(ChainStore::new(async_nats::jetstream::new(client), shard))
}

/// A local secret of 32 random bytes, made once per data folder.
fn local_secret(data: &Path, name: &str) -> anyhow::Result<[u8; 32]> {
    let path = data.join(name);
    if path.exists() {
        make_private(&path)?;
    } else {
        write_private(&path, &random_bytes::<32>()?)?;
    }
    read_secret(&path)
}

/// Lets only the owner read a secret an earlier version left readable.
fn make_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} readable by its owner only", path.display()))
}

/// Writes a secret into a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::io::Write::write_all(&mut file, bytes))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes)
}

/// `ledger keys …`.
fn keys(what: KeysKind) -> anyhow::Result<()> {
    match what {
        KeysKind::NewSecret { out } => {
            use std::os::unix::fs::OpenOptionsExt as _;
            // Never over an existing key: a changed identity key would let
            // people register twice, a lost signing key ends the ledger's.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| {
                    format!(
                        "creating {} (an existing file is never replaced)",
                        out.display()
                    )
                })?;
            std::io::Write::write_all(&mut file, &random_bytes::<32>()?)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote 32 random bytes to {}", out.display());
        }
        KeysKind::PublicKey { signing_key } => {
            let secret = read_secret(&signing_key)?;
            println!("{}", LedgerSigner::from_secret(&secret).public_key());
        }
        KeysKind::NewToken => {
            let token = hex::encode(random_bytes::<24>()?);
            println!("token: {token}");
            println!("token_blake3: {}", Digest::of(token.as_bytes()).to_hex());
        }
    }
    Ok(())
}

/// The local identity-commitment key.
fn identity_key(data: &Path) -> anyhow::Result<IdentityKey> {
    local_secret(data, "identity.key").map(IdentityKey)
}

fn read_key(path: &Path) -> anyhow::Result<IdentityKey> {
    read_secret(path).map(IdentityKey)
}

fn read_secret(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()))
}

/// The publishing system `ledger local` knows, and the unit it serves.
const DEMO_KIOSK: &str = "kiosk-dl-01";
const DEMO_KIOSK_UNIT: &str = "dalian";

/// The tokens of local mode, each made once per data folder.
struct LocalTokens {
    city_admin: String,
    district_admin: String,
    auditor: String,
}

/// The demo district whose admin local mode signs in, to try narrower rights.
const DEMO_DISTRICT: &str = "xigang";

/// Local mode's accounts: a city admin, an admin of one district and an
/// auditor, and the demo kiosk; the accounts file that holds their hashes.
fn local_accounts(data: &Path) -> anyhow::Result<(Accounts, LocalTokens)> {
    let tokens = LocalTokens {
        city_admin: local_token(data, "admin.token")?,
        district_admin: local_token(data, "district-admin.token")?,
        auditor: local_token(data, "auditor.token")?,
    };
    let account = |token: &str, actor: &str, role: Role| -> anyhow::Result<TokenAccount> {
        Ok(TokenAccount {
            token_blake3: Digest::of(token.as_bytes()),
            actor: ActorId::new(actor)?,
            role,
        })
    };
    let file = AccountsFile {
        tokens: vec![
            account(&tokens.city_admin, "admin-dalian", Role::CityAdmin)?,
            account(
                &tokens.district_admin,
                &format!("admin-{DEMO_DISTRICT}"),
                Role::UnitAdmin {
                    unit: UnitId::new(DEMO_DISTRICT)?,
                },
            )?,
            account(&tokens.auditor, "auditor-dalian", Role::Auditor)?,
        ],
        systems: vec![SystemAccount {
            system: ActorId::new(DEMO_KIOSK)?,
            role: Role::System {
                units: vec![UnitId::new(DEMO_KIOSK_UNIT)?],
            },
        }],
    };
    write_private(
        &data.join("accounts.json"),
        &serde_json::to_vec_pretty(&file)?,
    )?;
    Ok((Accounts::from(file), tokens))
}

/// A bearer token kept in `data/name`, made there the first time.
fn local_token(data: &Path, name: &str) -> anyhow::Result<String> {
    let path = data.join(name);
    if path.exists() {
        make_private(&path)?;
    } else {
        write_private(&path, hex::encode(random_bytes::<24>()?).as_bytes())?;
    }
    Ok(std::fs::read_to_string(&path)?.trim().to_owned())
}

/// The writer's checkpoints: its signing key and how often.
struct Checkpoints {
    secret: [u8; 32],
    previous: Option<[u8; 32]>,
    every_events: u64,
    every: Duration,
}

struct Options {
    replicas: usize,
    http: SocketAddr,
    accounts: Accounts,
    identity_key: Option<IdentityKey>,
    checkpoints: Option<Checkpoints>,
    /// Load the demo federation once the writer is ready.
    demo: bool,
    /// This instance's read models.
    projections: PathBuf,
    tuning: Tuning,
    statement_font: Option<Arc<StatementFont>>,
    /// Mark the console's cookies Secure (served over HTTPS).
    secure_cookies: bool,
}

/// The named font (which must load), or a system one if there is one: a
/// service without a font serves statements as JSON and HTML only.
fn statement_font_or_none(named: Option<&Path>) -> anyhow::Result<Option<Arc<StatementFont>>> {
    match StatementFont::find(named) {
        Ok(font) => {
            tracing::info!(font = %font.path().display(), "statements print as PDF");
            Ok(Some(Arc::new(font)))
        }
        Err(e) if named.is_some() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "statements will not print as PDF");
            Ok(None)
        }
    }
}

async fn serve(nats: &NatsAccess, shard: &str, options: Options) -> anyhow::Result<()> {
    let Options {
        replicas,
        http,
        accounts,
        identity_key,
        checkpoints,
        mut demo,
        projections,
        tuning,
        statement_font,
        secure_cookies,
    } = options;
    // From the start: a stop asked for while JetStream is awaited ends the
    // wait, and one asked for later is not lost between two waits.
    let stop = StopRequests::listen().context("listening for SIGINT and SIGTERM")?;
    // HTTP first, so that the probes answer while JetStream is awaited.
    let listener = tokio::net::TcpListener::bind(http)
        .await
        .with_context(|| format!("listening on {http}"))?;
    let app = Arc::new(std::sync::OnceLock::new());
    // Once asked to stop, the server takes no new connections and answers
    // those in flight (see `finish_in_flight`).
    let draining = stop.clone();
    let starting = ledger_service::health::starting(app.clone());
    let serving = tokio::spawn(ledger_service::serving::serve(
        listener,
        starting,
        async move { draining.requested().await },
    ));
    let signer = checkpoints
        .as_ref()
        .map(|c| Arc::new(LedgerSigner::from_secret(&c.secret)));
    let shard = Shard::new(LedgerId::new(shard).context("shard")?);
    let client = nats
        .clone()
        .inbox_for(shard.id().as_str())
        .connect(&format!("ledger serve {}", shard.id()))
        .await?;
    let js = async_nats::jetstream::new(client.clone());
    let store = ChainStore::new(js.clone(), shard.clone());
    let setup = {
        let (store, js, shard) = (&store, &js, &shard);
        once_jetstream_answers(JETSTREAM_PATIENCE, move || async move {
            store.ensure(replicas).await?;
            let leases = LeaseBucket::open(js, shard, LEASE_TTL, replicas).await?;
            let rejections = RejectionLog::open(js, shard, replicas).await?;
            let personal = PersonalStore::open(js, shard, replicas).await?;
            let attachments = AttachmentStore::open(js, shard, replicas).await?;
            anyhow::Ok((leases, rejections, personal, attachments))
        })
    };
    let (leases, rejections, personal, attachments) = tokio::select! {
        set_up = setup => set_up?,
        _ = stop.requested() => {
            tracing::info!("stopping");
            finish_in_flight(serving).await;
            return Ok(());
        }
    };
    // Every instance serves HTTP; commands go to the lease holder over NATS.
    let demo_key = identity_key.clone();
    // The reader's proof log keeps its event hashes beside the read models.
    let mut proof_file = projections.clone().into_os_string();
    proof_file.push(".proofs");
    let proof_file = PathBuf::from(proof_file);
    // The writer's index of answered submissions keeps its older answers
    // in an unnamed file there.
    let mut answers_dir = projections.clone().into_os_string();
    answers_dir.push(".answers");
    let answers_dir = PathBuf::from(answers_dir);
    let reader = Reader::with_proof_file(&proof_file)
        .with_context(|| format!("creating the proof log {}", proof_file.display()))?;
    tokio::spawn(reader.clone().follow(store.clone()));
    let read_models = ReadModels::start(&projections, store.clone(), tuning)
        .with_context(|| format!("opening the read models in {}", projections.display()))?;
    // Until then they serve nothing: better to answer "starting" a moment
    // longer than to refuse every query.
    if !read_models.until_checked(Duration::from_secs(30)).await {
        tracing::warn!(
            "the read models are not yet checked against the stream; queries wait for it"
        );
    }
    let role = ledger_service::health::Role::default();
    let answers = Arc::new(ledger_service::metrics::AnswerCounts::default());
    let api = http::Api {
        read_models,
        client: client.clone(),
        shard: shard.clone(),
        store: store.clone(),
        accounts: accounts.clone(),
        personal,
        attachments,
        reader,
        signer: signer.clone(),
        identity_key,
        statement_font,
        secure_cookies,
        role: role.clone(),
        answers: answers.clone(),
    };
    if app.set(http::router(api)).is_err() {
        anyhow::bail!("the HTTP service was set up twice");
    }
    let holder = format!("{}-{}", hostname(), std::process::id());
    loop {
        let Some(lease) = wait_for_lease(&leases, &holder, &stop).await else {
            tracing::info!("stopping");
            finish_in_flight(serving).await;
            return Ok(());
        };
        tracing::info!(holder, "holding the write lease");
        // The lease is renewed from the moment it is taken, on a task of
        // its own: opening reads the whole chain and every logged answer,
        // which can outlast it.
        let watch = lease.watch();
        let mut lease = lease.keep_on_own_task();
        let opening = async {
            let sequencer = Sequencer::open_spilling(store.clone(), Some(answers_dir.clone()))
                .await?
                .with_lease(watch)
                .republishing(client.clone())
                .counting(answers.clone())
                .remembering_rejections(rejections.clone())
                .await?;
            anyhow::Ok(match (&checkpoints, &signer) {
                (Some(c), Some(signer)) => sequencer.checkpointing(CheckpointPolicy {
                    every_events: c.every_events,
                    every: c.every,
                    signer: signer.clone(),
                    previous: c.previous.map(|p| Arc::new(LedgerSigner::from_secret(&p))),
                    actor: ActorId::new("ledger-writer")?,
                }),
                _ => sequencer,
            })
        };
        let opened = tokio::select! {
            opened = opening => opened,
            lost = lease.lost() => {
                tracing::warn!(error = %lost, "write lease lost while opening; following again");
                continue;
            }
            _ = stop.requested() => {
                tracing::info!("stopping; giving up the write lease");
                lease.give_up().await;
                finish_in_flight(serving).await;
                return Ok(());
            }
        };
        // A stream or bucket that does not answer for a moment (a node just
        // died) is no reason to stop serving: another instance, or this one
        // again, takes the lease.
        let sequencer = match opened {
            Ok(sequencer) => sequencer,
            Err(e) => {
                tracing::warn!(error = %e, "the writer could not open; following again");
                lease.give_up().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !sequencer.can_seal() {
            // Left holding the lease, it would answer every command
            // `unavailable` while an instance with the key stood by.
            tracing::error!(
                "this instance does not hold the ledger's signing key (a rotation not made on every instance?); it gives the write lease up and follows"
            );
            lease.give_up().await;
            tokio::select! {
                _ = tokio::time::sleep(LEASE_TTL * 2) => continue,
                _ = stop.requested() => {
                    finish_in_flight(serving).await;
                    return Ok(());
                }
            }
        }
        tracing::info!(head = sequencer.head().sequence, "writer ready");
        let writer = sequencer.spawn();
        role.set_writing(true);
        if let (true, Some(key)) = (std::mem::take(&mut demo), &demo_key) {
            let loaded = demo::load(&writer, key).await;
            println!(
                "demo federation (notice 004, Dalian): {} commands accepted, rejected: {:?}",
                loaded.accepted, loaded.rejected
            );
        }
        let forwarded = tokio::spawn(intake::serve_forwarded(
            client.clone(),
            shard.clone(),
            writer.clone(),
        ));
        let mut intake = tokio::spawn(intake::serve(
            client.clone(),
            shard.clone(),
            writer,
            accounts.clone(),
        ));
        tokio::select! {
            lost = lease.lost() => {
                tracing::warn!(error = %lost, "write lease lost; following again");
                role.set_writing(false);
                intake.abort();
                forwarded.abort();
            }
            r = &mut intake => {
                r?.map_err(|e| anyhow::anyhow!(e))?;
                return Ok(());
            }
            _ = stop.requested() => {
                tracing::info!("stopping; giving up the write lease");
                lease.give_up().await;
                role.set_writing(false);
                finish_in_flight(serving).await;
                return Ok(());
            }
        }
    }
}

/// How long a stopping instance goes on answering the HTTP requests it has
/// begun: a read-your-writes wait (`after=`) lasts up to 5 s.
const DRAIN: Duration = Duration::from_secs(10);

/// Waits, up to [`DRAIN`], for the HTTP server to answer what it has begun.
async fn finish_in_flight(serving: tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(DRAIN, serving).await.is_err() {
        tracing::warn!(
            "HTTP requests still unanswered after {} s; stopping anyway",
            DRAIN.as_secs()
        );
    }
}

/// How long a dead writer's lease outlives it: another instance takes over
/// within about this long.
const LEASE_TTL: Duration = Duration::from_secs(3);

/// How long an instance starting up waits for JetStream to answer before
/// it gives up.
const JETSTREAM_PATIENCE: Duration = Duration::from_secs(60);

/// Waits until this instance holds the lease (None when asked to stop).
async fn wait_for_lease(leases: &LeaseBucket, holder: &str, stop: &StopRequests) -> Option<Lease> {
    let mut announced = false;
    loop {
        if let Some(lease) = leases.try_acquire(holder).await {
            return Some(lease);
        }
        if !announced {
            match leases.holder().await {
                Some(writer) if writer == holder => tracing::info!(
                    "this instance's last lease has not run out yet; following until it does"
                ),
                Some(writer) => tracing::info!(writer, "another instance writes; following"),
                None => tracing::warn!(
                    "no instance holds the write lease, and this one could not take it; retrying (a refusal above says why)"
                ),
            }
            announced = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(LEASE_TTL / 6) => {}
            _ = stop.requested() => return None,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "ledger".into())
}
