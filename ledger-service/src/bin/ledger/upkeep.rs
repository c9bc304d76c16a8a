//! Keeping the ledger: rebuilding an instance's read models, exporting the
//! chain to a bundle, and restoring a lost stream from one.

use std::path::{Path, PathBuf};

use ledger_service::audit;
use ledger_service::nats_access::NatsAccess;

use crate::audits::parse_key;
use crate::cli::{connect_store, StreamArgs};

#[derive(clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// The read models' directory.
    #[arg(long, env = "LEDGER_PROJECTIONS")]
    pub projections: PathBuf,
    /// Compare only; leave the read models as they are.
    #[arg(long)]
    pub check: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let RebuildArgs {
        stream,
        projections,
        check,
        quiet,
    } = args;
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

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs { stream, out } = args;
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

#[derive(clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Stream replicas, when the restore creates the stream: 1 on a
    /// single server, 3 on a cluster (as `ledger serve --replicas`).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    #[arg(long)]
    pub bundle: PathBuf,
    /// The ledger's public key (hex) as the federation publishes it.
    #[arg(long)]
    pub key: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let RestoreArgs {
        stream,
        replicas,
        bundle,
        key,
        quiet,
    } = args;
    restore_bundle(
        &stream.access(),
        &stream.shard,
        replicas,
        &bundle,
        &key,
        quiet,
    )
    .await
}

async fn restore_bundle(
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
