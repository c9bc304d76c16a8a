//! The command line: which command, and the arguments every command that
//! reaches the live stream shares.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ledger_core::values::LedgerId;
use ledger_service::nats_access::NatsAccess;
use ledger_service::{ChainStore, Shard};

use crate::audits::{EventsArgs, ProveArgs, VerifyArgs, VerifyProofArgs, VerifyStatementArgs};
use crate::bench::BenchKind;
use crate::local::LocalArgs;
use crate::secrets::KeysKind;
use crate::serve::ServeArgs;
use crate::upkeep::{ExportArgs, RebuildArgs, RestoreArgs};

#[derive(Parser)]
#[command(name = "ledger", about = "The union volunteer-service ledger")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// Which NATS to reach, how to sign in, and which shard's stream: the
/// same for every command that reads or writes the live stream.
#[derive(clap::Args)]
pub struct StreamArgs {
    /// NATS server URLs, comma-separated.
    #[arg(long, env = "LEDGER_NATS", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    #[command(flatten)]
    pub sign_in: NatsSignIn,
    /// The shard (top-level federation): the stream and subjects it names.
    #[arg(long, env = "LEDGER_SHARD", default_value = "lyg")]
    pub shard: String,
}

impl StreamArgs {
    pub fn access(&self) -> NatsAccess {
        self.sign_in.access(&self.nats)
    }

    pub async fn store(&self) -> anyhow::Result<ChainStore> {
        connect_store(&self.access(), &self.shard).await
    }
}

/// How to sign in to NATS beyond its URLs (docs/operations.md, "Signing
/// in to NATS"). A URL may also carry `user:password@`; set it through
/// `LEDGER_NATS` to keep the password off the process list.
#[derive(clap::Args)]
pub struct NatsSignIn {
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
    pub fn access(&self, urls: &str) -> NatsAccess {
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
pub enum Cmd {
    /// Connect to NATS and serve: the sequencer and the intake for other systems.
    Serve(ServeArgs),
    /// Rebuild an instance's read models from the stream (the instance must
    /// be stopped), compare them with the incrementally built ones over
    /// every row, and swap them in. Exit 1 when they differed, 2 when it
    /// could not run (NATS refused, the instance still holds the directory).
    Rebuild(RebuildArgs),
    /// Verify the chain: re-hash and re-link every frame, check every
    /// checkpoint. From the live stream (--nats) or a bundle (--bundle).
    /// Exit 0 when all holds; 1 naming the first bad sequence; 2 when the
    /// chain could not be read at all.
    Verify(VerifyArgs),
    /// Write the chain's events out as JSON lines, one an event (its
    /// sequence, hash, kind, time, actor, submission key and the event as
    /// the chain carries it), verifying the chain as `ledger verify` does:
    /// only events of blocks that verified are written, and a fault ends
    /// the run (exit 1, named on stderr). --actor, --kind, --volunteer,
    /// --from and --to pick some events; the summary goes to stderr.
    Events(EventsArgs),
    /// Prove from the live stream (verified on the way): that an event is in
    /// a checkpoint's tree, or that one checkpoint extends another. Prints a
    /// JSON document that `ledger verify-proof` checks offline.
    Prove(ProveArgs),
    /// Check a volunteer's statement offline with the ledger's public key
    /// (hex); with --pdf, then print it (only a statement that checks).
    VerifyStatement(VerifyStatementArgs),
    /// Check a proof document offline with the ledger's public key (hex).
    VerifyProof(VerifyProofArgs),
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
    Export(ExportArgs),
    /// Write a bundle's chain into the shard's stream: after the stream was
    /// lost, or to move the ledger to new servers. The bundle is verified
    /// whole, sealed with --key, before anything is written; a stream that
    /// holds the start of the same chain is completed, one that holds
    /// anything else is left as it is. Run it before any instance serves.
    /// Exit 0 when the stream holds the bundle's chain; 1 when the bundle
    /// does not verify or the stream holds another chain; 2 when NATS or
    /// the file could not be used.
    Restore(RestoreArgs),
    /// Start a local nats-server (JetStream, fsync before every ack) in a data
    /// folder and serve against it.
    Local(LocalArgs),
}

/// The chain's stream, for reading only.
pub async fn connect_store(nats: &NatsAccess, shard: &str) -> anyhow::Result<ChainStore> {
    let shard = Shard::new(LedgerId::new(shard).context("shard")?);
    let client = nats
        .clone()
        .inbox_for(shard.id().as_str())
        .connect(&format!("ledger reader {}", shard.id()))
        .await?;
    Ok(ChainStore::new(async_nats::jetstream::new(client), shard))
}
