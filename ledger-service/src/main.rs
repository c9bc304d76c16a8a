//! `ledger`: run the ledger service.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ledger_core::values::LedgerId;
use ledger_service::local::{free_port, NatsServer};
use ledger_service::{intake, ChainStore, Sequencer, Shard};

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
        #[arg(long, default_value = "lyg")]
        shard: String,
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
        } => serve(&nats, &shard, replicas).await,
        Cmd::Local { data, shard } => {
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
            serve(&server.url(), &shard, 1).await
        }
    }
}

async fn serve(nats: &str, shard: &str, replicas: usize) -> anyhow::Result<()> {
    let shard = Shard::new(LedgerId::new(shard).context("shard")?);
    let client = async_nats::connect(nats)
        .await
        .with_context(|| format!("connecting to {nats}"))?;
    let store = ChainStore::new(async_nats::jetstream::new(client.clone()), shard.clone());
    store.ensure(replicas).await?;
    let sequencer = Sequencer::open(store).await?;
    tracing::info!(head = sequencer.head().sequence, "writer ready");
    let writer = sequencer.spawn();
    let intake = tokio::spawn(intake::serve(client, shard, writer));
    tokio::select! {
        r = intake => { r?.map_err(|e| anyhow::anyhow!(e))?; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("stopping"); }
    }
    Ok(())
}
