//! The auditor's commands: verify the chain, write its events out as it
//! is verified, prove an event or a checkpoint from it, and check a
//! statement or a proof offline.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use ledger_core::signing::PublicKey;
use ledger_core::Event;
use ledger_service::audit::{AuditError, Summary};
use ledger_service::chain_events::{Pick, Tap};
use ledger_service::statement::StatementFont;
use ledger_service::{audit, proofs, statement};

use crate::cli::{connect_store, NatsSignIn, StreamArgs};

/// Where an auditor reads the chain: the live stream, or a bundle file.
#[derive(clap::Args)]
pub struct ChainSource {
    /// The live stream's NATS servers; --bundle, when given, is read
    /// instead (so a `LEDGER_NATS` in the environment does not stand in
    /// the way of checking a file).
    #[arg(long, env = "LEDGER_NATS")]
    pub nats: Option<String>,
    #[command(flatten)]
    pub sign_in: NatsSignIn,
    #[arg(long, env = "LEDGER_SHARD", default_value = "lyg")]
    pub shard: String,
    #[arg(long)]
    pub bundle: Option<PathBuf>,
}

impl ChainSource {
    /// Verifies the whole chain, handing each verified event to `tap`.
    /// NATS that cannot be reached ends the process with exit 2.
    async fn verify(
        &self,
        expected: Option<&audit::Expected>,
        quiet: bool,
        tap: Option<Tap>,
    ) -> anyhow::Result<Result<(Summary, Option<Tap>), AuditError>> {
        Ok(match (&self.bundle, &self.nats) {
            (Some(path), _) => audit::verify_bundle_tapped(path, expected, !quiet, tap),
            (None, Some(nats)) => {
                match connect_store(&self.sign_in.access(nats), &self.shard).await {
                    Ok(store) => audit::verify_stream_tapped(&store, expected, !quiet, tap).await,
                    Err(e) => {
                        eprintln!("could not verify: {e:#}");
                        std::process::exit(2)
                    }
                }
            }
            (None, None) => anyhow::bail!("name --nats or --bundle"),
        })
    }
}

/// Ends the process for a chain that did not verify: exit 1 naming what
/// failed (through `say`), or 2 when the chain could not be read at all.
fn failed(e: AuditError, say: impl Fn(String)) -> ! {
    match e {
        AuditError::Chain(e) => {
            say(format!("FAILED at sequence {}: {}", e.sequence, e.fault));
            std::process::exit(1)
        }
        e @ (AuditError::UnknownKey { .. } | AuditError::HeaderDisagrees { .. }) => {
            say(format!("FAILED: {e}"));
            std::process::exit(1)
        }
        e => {
            eprintln!("could not verify: {e}");
            std::process::exit(2)
        }
    }
}

/// What the auditor learns when no key was given.
const KEY_FROM_CHAIN: &str = "note: the ledger key was taken from the chain itself; pass --key with the key the federation publishes to know the chain is its ledger";

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: ChainSource,
    /// A head verified before, `SEQ` or `SEQ:HASH`: the chain must
    /// still reach it (nothing cut off) with that hash (nothing rewritten).
    #[arg(long)]
    pub expect_head: Option<audit::Expected>,
    /// The ledger's public key (hex) as the federation publishes it,
    /// outside the chain: the chain must be sealed with it (its first
    /// key or one it was rotated to). Without it, the chain's own key
    /// is trusted.
    #[arg(long)]
    pub key: Option<String>,
    /// Also compare every volunteer's hours and points, recomputed from
    /// the chain, with what the service at this URL serves.
    #[arg(long, requires = "nats")]
    pub service: Option<String>,
    /// The bearer token for --service (an auditor's).
    #[arg(long, env = "LEDGER_TOKEN", default_value = "")]
    pub token: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let VerifyArgs {
        source,
        expect_head,
        key,
        service,
        token,
        quiet,
    } = args;
    let key = key.as_deref().map(parse_key).transpose()?;
    let result = source
        .verify(expect_head.as_ref(), quiet, None)
        .await?
        .and_then(|(summary, _)| match &key {
            Some(key) => summary.check_key(key).map(|()| summary),
            None => Ok(summary),
        });
    if let (Ok(_), Some(url), Some(nats)) = (&result, &service, &source.nats) {
        let store = connect_store(&source.sign_in.access(nats), &source.shard).await?;
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
                println!("{KEY_FROM_CHAIN}");
            }
            Ok(())
        }
        Err(e) => failed(e, |line| println!("{line}")),
    }
}

#[derive(clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub source: ChainSource,
    /// The ledger's public key (hex) as the federation publishes it, as
    /// for `ledger verify`.
    #[arg(long)]
    pub key: Option<String>,
    /// Only events recorded under this actor (an admin's, a system's or
    /// the writer's name); repeat it for several.
    #[arg(long)]
    pub actor: Vec<String>,
    /// Only events of this kind (`points_awarded`, `entry_reversed`, …, as
    /// docs/events.md names them); repeat it for several.
    #[arg(long)]
    pub kind: Vec<String>,
    /// Only events about this volunteer (his registration, attendance,
    /// credits, points, redemptions, wishes, pairings): his history from
    /// the chain alone; repeat it for several.
    #[arg(long)]
    pub volunteer: Vec<String>,
    /// Only events from this sequence on.
    #[arg(long)]
    pub from: Option<u64>,
    /// Only events up to this sequence.
    #[arg(long)]
    pub to: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn events(args: EventsArgs) -> anyhow::Result<()> {
    let EventsArgs {
        source,
        key,
        actor,
        kind,
        volunteer,
        from,
        to,
        quiet,
    } = args;
    let key = key.as_deref().map(parse_key).transpose()?;
    if let Some(unknown) = kind.iter().find(|k| !Event::KINDS.contains(&k.as_str())) {
        anyhow::bail!(
            "--kind {unknown}: no event is of this kind; the kinds are {}",
            Event::KINDS.join(", ")
        );
    }
    let pick = Pick {
        actors: actor,
        kinds: kind,
        volunteers: volunteer,
        from,
        to,
    };
    let tap = Tap::new(pick, Box::new(std::io::stdout()));
    let result = source
        .verify(None, quiet, Some(tap))
        .await?
        .and_then(|(summary, tap)| {
            if let Some(key) = &key {
                summary.check_key(key)?;
            }
            Ok((summary, tap))
        });
    let (summary, tap) = match result {
        Ok(done) => done,
        Err(e) => failed(e, |line| eprintln!("{line}")),
    };
    let written = match tap.map(Tap::finish).transpose() {
        Ok(written) => written.unwrap_or(0),
        // The reader stopped reading (`| head`): what it took was verified.
        Err(AuditError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => {
            eprintln!("could not write the events out: {e}");
            std::process::exit(2)
        }
    };
    eprintln!("OK: {summary}; {written} events written");
    if key.is_none() && !summary.keys.is_empty() {
        eprintln!("{KEY_FROM_CHAIN}");
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ProveArgs {
    #[command(flatten)]
    pub stream: StreamArgs,
    #[command(subcommand)]
    pub what: ProofKind,
}

pub async fn prove(args: ProveArgs) -> anyhow::Result<()> {
    let ProveArgs { stream, what } = args;
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

#[derive(Subcommand)]
pub enum ProofKind {
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

#[derive(clap::Args)]
pub struct VerifyStatementArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub key: String,
    /// Write the checked statement as a printable PDF here.
    #[arg(long)]
    pub pdf: Option<PathBuf>,
    /// The font for --pdf. Default: a common system CJK font.
    #[arg(long, requires = "pdf")]
    pub font: Option<PathBuf>,
}

pub async fn verify_statement(args: VerifyStatementArgs) -> anyhow::Result<()> {
    let VerifyStatementArgs {
        file,
        key,
        pdf,
        font,
    } = args;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
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

#[derive(clap::Args)]
pub struct VerifyProofArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub key: String,
}

pub async fn verify_proof(args: VerifyProofArgs) -> anyhow::Result<()> {
    let VerifyProofArgs { file, key } = args;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
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

pub fn parse_key(hex_key: &str) -> anyhow::Result<PublicKey> {
    let bytes = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("--key takes 32 bytes in hex")?;
    Ok(PublicKey(bytes))
}
