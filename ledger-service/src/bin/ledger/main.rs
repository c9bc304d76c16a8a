//! `ledger`: run the ledger service, keep it, and check it. Each command
//! lives in the module named for what it is for (`cli.rs` lists them).

mod audits;
mod bench;
mod cli;
mod local;
mod secrets;
mod serve;
mod upkeep;

use anyhow::Context as _;
use clap::Parser;
use ledger_service::allocator;

use crate::cli::{Cli, Cmd};

/// glibc's allocator keeps what one thread freed for that thread's arena:
/// catching up the read models (sled writing batches on whichever thread
/// the runtime gives it) left the service at several times its working
/// set. mimalloc hands freed pages back; `allocator.rs` says when
/// (docs/performance.md, service memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // Logs go to stderr: stdout is what a command gives (`ledger prove`'s
    // proof, `ledger events`' lines), to be redirected to a file whole.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if serves {
        tracing::info!(
            purge_delay_ms = allocator::purge_delay_ms(),
            "freed memory goes back to the kernel after this delay"
        );
    }
    match command {
        Cmd::Verify(args) => audits::verify(args).await,
        Cmd::Events(args) => audits::events(args).await,
        Cmd::Prove(args) => audits::prove(args).await,
        Cmd::VerifyStatement(args) => audits::verify_statement(args).await,
        Cmd::VerifyProof(args) => audits::verify_proof(args).await,
        Cmd::Bench { what } => {
            println!("{}", ledger_service::bench::machine());
            bench::run(what).await
        }
        Cmd::Rebuild(args) => upkeep::rebuild(args).await,
        Cmd::Export(args) => upkeep::export(args).await,
        Cmd::Restore(args) => upkeep::restore(args).await,
        Cmd::Keys { what } => secrets::keys(what),
        Cmd::Serve(args) => serve::run(args).await,
        Cmd::Local(args) => local::run(args).await,
    }
}
