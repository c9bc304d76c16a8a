//! `ledger serve`: HTTP from the start, the read models and the reader,
//! and the writer while this instance holds the write lease.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ledger_core::domain::IdentityKey;
use ledger_core::signing::LedgerSigner;
use ledger_core::values::{ActorId, LedgerId};
use ledger_service::accounts::Accounts;
use ledger_service::attachments::AttachmentStore;
use ledger_service::health;
use ledger_service::lease::{Lease, LeaseBucket};
use ledger_service::metrics::AnswerCounts;
use ledger_service::nats_access::NatsAccess;
use ledger_service::personal::PersonalStore;
use ledger_service::read_models::{ReadModels, Tuning};
use ledger_service::reader::Reader;
use ledger_service::rejections::RejectionLog;
use ledger_service::sequencer::CheckpointPolicy;
use ledger_service::statement::StatementFont;
use ledger_service::stop::StopRequests;
use ledger_service::store::once_jetstream_answers;
use ledger_service::{demo, http, intake, ChainStore, Sequencer, Shard};

use crate::cli::StreamArgs;
use crate::secrets::{read_key, read_secret};

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Stream replicas: 1 on a single server, 3 on a cluster.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Where the HTTP API listens.
    #[arg(long, env = "LEDGER_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Tokens and publishing systems with their roles (JSON; see
    /// docs/operations.md). Without it every caller is a city admin.
    #[arg(long, env = "LEDGER_ACCOUNTS")]
    pub accounts: Option<PathBuf>,
    /// The 32-byte key of identity commitments (a file). Without it,
    /// registration with personal data is refused.
    #[arg(long, env = "LEDGER_IDENTITY_KEY")]
    pub identity_key: Option<PathBuf>,
    /// The ledger's ed25519 secret key (a file of 32 bytes): it signs
    /// checkpoints. Without it the writer appends no checkpoints.
    #[arg(long, env = "LEDGER_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// The ledger's current secret key when rotating it out: this
    /// writer then publishes --signing-key endorsed by it.
    #[arg(long, env = "LEDGER_PREVIOUS_SIGNING_KEY", requires = "signing_key")]
    pub previous_signing_key: Option<PathBuf>,
    /// A checkpoint after at most this many events…
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint_events: u64,
    /// …or this many seconds.
    #[arg(long, default_value_t = 60)]
    pub checkpoint_seconds: u64,
    /// This instance's read models (a sled directory of its own).
    /// Default: projections/<shard>-<http port>.
    #[arg(long, env = "LEDGER_PROJECTIONS")]
    pub projections: Option<PathBuf>,
    /// sled's page cache for the read models, in MiB.
    #[arg(long, env = "LEDGER_READ_MODEL_CACHE_MIB", default_value_t = 128)]
    pub read_model_cache_mib: u64,
    /// What a catch-up stages before each commit to the read models,
    /// in MiB: more is faster and takes more memory.
    #[arg(long, env = "LEDGER_CATCH_UP_BATCH_MIB", default_value_t = 64)]
    pub catch_up_batch_mib: usize,
    /// A TrueType/OpenType font covering Chinese, for statements as
    /// PDF. Default: the first common system CJK font found.
    #[arg(long, env = "LEDGER_STATEMENT_FONT")]
    pub statement_font: Option<PathBuf>,
    /// The console is reached over HTTPS (TLS ended here or by a proxy
    /// in front): its sign-in cookie is marked Secure, so that a browser
    /// never sends the token over plain HTTP. Leave it off only where
    /// the console is served over plain HTTP, as on loopback.
    #[arg(
        long,
        env = "LEDGER_CONSOLE_SECURE_COOKIE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub console_secure_cookie: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
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
    } = args;
    let accounts = match accounts {
        Some(path) => Accounts::from_file(&path)?,
        None => {
            tracing::warn!("no --accounts: every caller acts as a city admin (development only)");
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
        projections: projections
            .unwrap_or_else(|| ledger_service::read_models::default_dir(&stream.shard, &http)),
        tuning: Tuning {
            cache_bytes: read_model_cache_mib << 20,
            batch_bytes: catch_up_batch_mib << 20,
        },
        statement_font: statement_font_or_none(statement_font.as_deref())?,
        secure_cookies: console_secure_cookie,
    };
    serve(&stream.access(), &stream.shard, options).await
}

/// The writer's checkpoints: its signing key and how often.
pub struct Checkpoints {
    pub secret: [u8; 32],
    pub previous: Option<[u8; 32]>,
    pub every_events: u64,
    pub every: Duration,
}

pub struct Options {
    pub replicas: usize,
    pub http: SocketAddr,
    pub accounts: Accounts,
    pub identity_key: Option<IdentityKey>,
    pub checkpoints: Option<Checkpoints>,
    /// Load the demo federation once the writer is ready.
    pub demo: bool,
    /// This instance's read models.
    pub projections: PathBuf,
    pub tuning: Tuning,
    pub statement_font: Option<Arc<StatementFont>>,
    /// Mark the console's cookies Secure (served over HTTPS).
    pub secure_cookies: bool,
}

/// The named font (which must load), or a system one if there is one: a
/// service without a font serves statements as JSON and HTML only.
pub fn statement_font_or_none(named: Option<&Path>) -> anyhow::Result<Option<Arc<StatementFont>>> {
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

pub async fn serve(nats: &NatsAccess, shard: &str, options: Options) -> anyhow::Result<()> {
    let Options {
        replicas,
        http,
        accounts,
        identity_key,
        checkpoints,
        demo,
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
    let role = health::Role::default();
    let answers = Arc::new(AnswerCounts::default());
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
    let writing = Writing {
        store,
        client,
        shard,
        leases,
        rejections,
        accounts,
        answers_dir,
        answers,
        checkpoints,
        signer,
        role,
        demo: if demo { demo_key } else { None },
    };
    write_while_leased(writing, &stop, serving).await
}

/// What the writer needs each time this instance takes the write lease.
struct Writing {
    store: ChainStore,
    client: async_nats::Client,
    shard: Shard,
    leases: LeaseBucket,
    rejections: RejectionLog,
    accounts: Accounts,
    answers_dir: PathBuf,
    answers: Arc<AnswerCounts>,
    checkpoints: Option<Checkpoints>,
    signer: Option<Arc<LedgerSigner>>,
    role: health::Role,
    /// The identity key the demo federation registers with, until the
    /// first writer this instance runs has loaded it.
    demo: Option<IdentityKey>,
}

/// Follows while another instance writes, takes the write lease when it is
/// free and writes while holding it, and follows again when it is lost;
/// until asked to stop.
async fn write_while_leased(
    mut w: Writing,
    stop: &StopRequests,
    serving: tokio::task::JoinHandle<()>,
) -> anyhow::Result<()> {
    let holder = format!("{}-{}", hostname(), std::process::id());
    loop {
        let Some(lease) = wait_for_lease(&w.leases, &holder, stop).await else {
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
            let sequencer = Sequencer::open_spilling(w.store.clone(), Some(w.answers_dir.clone()))
                .await?
                .with_lease(watch)
                .republishing(w.client.clone())
                .counting(w.answers.clone())
                .remembering_rejections(w.rejections.clone())
                .await?;
            anyhow::Ok(match (&w.checkpoints, &w.signer) {
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
        w.role.set_writing(true);
        if let Some(key) = w.demo.take() {
            let loaded = demo::load(&writer, &key).await;
            println!(
                "demo federation (notice 004, Dalian): {} commands accepted, rejected: {:?}",
                loaded.accepted, loaded.rejected
            );
        }
        let forwarded = tokio::spawn(intake::serve_forwarded(
            w.client.clone(),
            w.shard.clone(),
            writer.clone(),
        ));
        let mut intake = tokio::spawn(intake::serve(
            w.client.clone(),
            w.shard.clone(),
            writer,
            w.accounts.clone(),
        ));
        tokio::select! {
            lost = lease.lost() => {
                tracing::warn!(error = %lost, "write lease lost; following again");
                w.role.set_writing(false);
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
                w.role.set_writing(false);
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
