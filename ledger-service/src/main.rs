//! `ledger`: run the ledger service.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ledger_core::domain::IdentityKey;
use ledger_core::values::LedgerId;
use ledger_service::local::{free_port, NatsServer};
use ledger_service::{demo, intake, ChainStore, Sequencer, Shard};

#[derive(Parser)]
#[command(name = "ledger", about = "The union volunteer-service ledger")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Connect to NATS and serve: the sequencer and the intake for other systems.
    Serve {
        /// NATS server URLs, comma-separated.
        #[arg(long, env = "LEDGER_NATS", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// The shard (top-level federation) this instance writes.
        #[arg(long, env = "LEDGER_SHARD", default_value = "lyg")]
        shard: String,
        /// Stream replicas: 1 on a single server, 3 on a cluster.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
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
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Cmd::Serve {
            nats,
            shard,
            replicas,
        } => serve(&nats, &shard, replicas, None).await,
        Cmd::Local {
            data,
            shard,
            no_demo,
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
                "submit commands: nats request ledger.{shard}.intake.<system> '{{\"key\": ..., \"command\": ...}}'"
            );
            let demo = (!no_demo).then(|| identity_key(&data)).transpose()?;
            serve(&server.url(), &shard, 1, demo).await
        }
    }
}

/// The local identity-commitment key, made once per data folder.
fn identity_key(data: &Path) -> anyhow::Result<IdentityKey> {
    let path = data.join("identity.key");
    if !path.exists() {
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .context("reading /dev/urandom")?;
        std::fs::write(&path, key).with_context(|| format!("writing {}", path.display()))?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()))?;
    Ok(IdentityKey(key))
}

async fn serve(
    nats: &str,
    shard: &str,
    replicas: usize,
    demo: Option<IdentityKey>,
) -> anyhow::Result<()> {
    let shard = Shard::new(LedgerId::new(shard).context("shard")?);
    let client = async_nats::connect(nats)
        .await
        .with_context(|| format!("connecting to {nats}"))?;
    let store = ChainStore::new(async_nats::jetstream::new(client.clone()), shard.clone());
    store.ensure(replicas).await?;
    let sequencer = Sequencer::open(store).await?;
    tracing::info!(head = sequencer.head().sequence, "writer ready");
    let writer = sequencer.spawn();
    if let Some(key) = demo {
        let loaded = demo::load(&writer, &key).await;
        println!(
            "demo federation (notice 004, Dalian): {} commands accepted, rejected: {:?}",
            loaded.accepted, loaded.rejected
        );
    }
    let intake = tokio::spawn(intake::serve(client, shard, writer));
    tokio::select! {
        r = intake => { r?.map_err(|e| anyhow::anyhow!(e))?; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("stopping"); }
    }
    Ok(())
}
