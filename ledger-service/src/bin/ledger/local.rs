//! `ledger local`: a nats-server of its own in a data folder, the secrets
//! and tokens made there once, the demo federation, and the service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ledger_core::rights::Role;
use ledger_core::signing::LedgerSigner;
use ledger_core::values::{ActorId, Digest, UnitId};
use ledger_service::accounts::{Accounts, AccountsFile, SystemAccount, TokenAccount};
use ledger_service::local::{free_port, NatsServer};
use ledger_service::nats_access::NatsAccess;
use ledger_service::read_models::Tuning;

use crate::secrets::{identity_key, local_secret, make_private, random_bytes, write_private};
use crate::serve::{serve, statement_font_or_none, Checkpoints, Options};

#[derive(clap::Args)]
pub struct LocalArgs {
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    #[arg(long, default_value = "dl")]
    pub shard: String,
    /// Do not load the demo federation (notice 004, Dalian).
    #[arg(long)]
    pub no_demo: bool,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
}

pub async fn run(args: LocalArgs) -> anyhow::Result<()> {
    let LocalArgs {
        data,
        shard,
        no_demo,
        http,
    } = args;
    let port = free_port();
    let server =
        NatsServer::start(&data.join("nats"), port).context("starting the local nats-server")?;
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
    println!(
        "admin console (中文 / English): http://{http}/console/  (sign in with a token below)"
    );
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
