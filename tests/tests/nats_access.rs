//! Signing in to a production NATS: the `ledger` binary against a
//! nats-server that requires TLS with client certificates and whose
//! accounts an operator issues (creds files), and against one that knows
//! its users by NKEY. The certificates, keys and JWTs are made here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ConnectOptions;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ledger_service::local::{free_port, NatsServer};
use ledger_tests::*;
use nkeys::KeyPair;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair as TlsKey,
};
use serde_json::{json, Value};

/// A CA and what it signs: the server's certificate (for 127.0.0.1) and a
/// client's, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("a PEM file written");
        path
    };
    let ca_key = TlsKey::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ledger test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");

    let signed = |names: Vec<String>, purpose: ExtendedKeyUsagePurpose| {
        let key = TlsKey::generate().expect("a key");
        let mut params = CertificateParams::new(names).expect("parameters");
        params.extended_key_usages = vec![purpose];
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("a certificate signed by the CA");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = signed(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) =
        signed(vec!["ledger".into()], ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: write("ca.pem", ca.pem()),
        server_cert: write("server.pem", server_cert),
        server_key: write("server-key.pem", server_key),
        client_cert: write("client.pem", client_cert),
        client_key: write("client-key.pem", client_key),
    }
}

/// A NATS JWT: `issuer` signs claims about `subject`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let claims = json!({
        "jti": blake3::hash(format!("{subject} {name}").as_bytes()).to_hex().to_string(),
        "iat": chrono::Utc::now().timestamp(),
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = issuer.sign(signed.as_bytes()).expect("signed");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An operator, a system account and an application account with
/// JetStream, and one user of it: the server's configuration and the
/// user's creds file.
struct Operator {
    config: String,
    creds: String,
}

fn operator() -> Operator {
    let operator = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let app = KeyPair::new_account();
    let user = KeyPair::new_user();
    let unlimited = json!({"subs": -1, "data": -1, "payload": -1, "imports": -1,
                           "exports": -1, "wildcards": true, "conn": -1, "leaf": -1});
    let mut with_jetstream = unlimited.clone();
    for limit in ["mem_storage", "disk_storage", "streams", "consumer"] {
        with_jetstream[limit] = json!(-1);
    }
    let account = |limits: &Value| json!({"limits": limits, "type": "account", "version": 2});
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "federation",
        json!({"type": "operator", "version": 2}),
    );
    let system_jwt = jwt(&operator, &system.public_key(), "SYS", account(&unlimited));
    let app_jwt = jwt(
        &operator,
        &app.public_key(),
        "ledger",
        account(&with_jetstream),
    );
    let user_jwt = jwt(
        &app,
        &user.public_key(),
        "ledger-service",
        json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
               "type": "user", "version": 2}),
    );
    let config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {sys}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {sys}: \"{system_jwt}\"\n  {app}: \"{app_jwt}\"\n}}\n",
        sys = system.public_key(),
        app = app.public_key(),
    );
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().expect("the user's seed")
    );
    Operator { config, creds }
}

fn tls_config(pki: &Pki) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: true\n  timeout: 5\n}}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca.display()
    )
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// `ledger serve`, signed in at `url` with `sign_in`, takes a command from
/// a system signed in with `system` at `server` (the URL without a user),
/// and `ledger verify`, signed in as the service is, verifies the chain to
/// its head.
async fn serves_and_verifies(
    (url, server): (&str, &str),
    sign_in: &[String],
    projections: &Path,
    system: ConnectOptions,
) {
    let mut service = ServiceProcess::start_with_args(url, projections, sign_in, None);
    let client = system.connect(server).await.expect("a system signs in");
    wait_for_intake(&client).await;
    let first = submission("setup-0", federation()[0].clone());
    let answer = request(&client, "admin-city", &first).await;
    assert_eq!(answer["status"], "accepted", "{answer}");
    let (code, said) = verify_live(url, sign_in);
    assert_eq!(code, 0, "{said}");
    verified_to_the_head(&said, client).await;
    assert!(service.exit_status().is_none(), "the service stopped");
}

/// `ledger verify` of the live stream at `url`, signed in with `sign_in`.
fn verify_live(url: &str, sign_in: &[String]) -> (i32, String) {
    let mut args = vec!["verify", "--nats", url, "--shard", SHARD, "--quiet"];
    args.extend(sign_in.iter().map(String::as_str));
    ledger(&args)
}

/// Checks that the verifier `said` it verified the chain to its head, as
/// read through `client`; how many events that is.
async fn verified_to_the_head(said: &str, client: async_nats::Client) -> u64 {
    let store = ledger_service::ChainStore::new(async_nats::jetstream::new(client), shard());
    let (_, head) = read_chain(&store).await;
    assert!(
        said.contains(&format!(
            "OK: verified {} events, head {} {}",
            head.sequence, head.sequence, head.hash
        )),
        "the auditor verifies the chain up to {head:?}: {said}"
    );
    head.sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_the_auditor_sign_in_with_creds_over_tls_with_client_certificates() {
    let dir = tempfile::tempdir().expect("a folder");
    let pki = pki(dir.path());
    let operator = operator();
    let creds = dir.path().join("ledger.creds");
    std::fs::write(&creds, &operator.creds).expect("the creds file written");
    let server = NatsServer::start_with(
        &dir.path().join("nats"),
        free_port(),
        &format!("{}{}", tls_config(&pki), operator.config),
    )
    .expect("nats-server starts with TLS and an operator");
    let url = server.url();
    let tls = [
        "--nats-tls-ca".to_owned(),
        arg(&pki.ca),
        "--nats-tls-cert".to_owned(),
        arg(&pki.client_cert),
        "--nats-tls-key".to_owned(),
        arg(&pki.client_key),
    ];
    let mut signed_in = vec!["--nats-creds".to_owned(), arg(&creds)];
    signed_in.extend(tls.iter().cloned());

    // Refused, each with what was wrong.
    let export = |extra: &[String]| {
        let out = dir.path().join("refused.bundle");
        let mut args = vec!["export", "--nats", &url, "--shard", SHARD, "--out"];
        let out = arg(&out);
        args.push(&out);
        args.extend(extra.iter().map(String::as_str));
        ledger(&args)
    };
    let (code, said) = export(&tls);
    assert_ne!(code, 0, "{said}");
    assert!(
        said.to_lowercase().contains("authorization violation"),
        "no credential: {said}"
    );
    let (code, said) = export(&signed_in[..4]);
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("connecting to NATS at"),
        "no client certificate: {said}"
    );
    let mut missing = signed_in.clone();
    missing[1] = arg(&dir.path().join("missing.creds"));
    let (code, said) = export(&missing);
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("reading the NATS creds file") && said.contains("missing.creds"),
        "a missing creds file: {said}"
    );

    // Signed in: the service serves, a system submits, the auditor verifies.
    let projections = dir.path().join("projections");
    let mut service = ServiceProcess::start_with_args(&url, &projections, &signed_in, None);
    wait_for_http(&service.http_url()).await;
    assert!(service.exit_status().is_none(), "the service stopped");
    let client = ConnectOptions::with_credentials(&operator.creds)
        .expect("the creds parse")
        .add_root_certificates(pki.ca.clone())
        .add_client_certificate(pki.client_cert.clone(), pki.client_key.clone())
        .require_tls(true)
        .connect(&url)
        .await
        .expect("a system signs in");
    wait_for_intake(&client).await;
    set_up(&client).await;

    let (code, said) = verify_live(&url, &signed_in);
    assert_eq!(code, 0, "{said}");
    let events = verified_to_the_head(&said, client).await;
    assert!(events >= federation().len() as u64, "{events} events");
    assert!(
        tokio::task::block_in_place(|| service.stop_with("TERM", Duration::from_secs(20)))
            .is_some_and(|s| s.success()),
        "the service stops cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_signs_in_with_an_nkey_seed_and_another_seed_is_refused() {
    let dir = tempfile::tempdir().expect("a folder");
    let user = KeyPair::new_user();
    let stranger = KeyPair::new_user();
    let seed_file = |name: &str, pair: &KeyPair| {
        let path = dir.path().join(name);
        std::fs::write(&path, pair.seed().expect("a seed")).expect("the seed written");
        path
    };
    let (seed, stranger_seed) = (
        seed_file("user.nk", &user),
        seed_file("other.nk", &stranger),
    );
    let server = NatsServer::start_with(
        &dir.path().join("nats"),
        free_port(),
        &format!(
            "authorization {{\n  users = [ {{ nkey: {} }} ]\n}}\n",
            user.public_key()
        ),
    )
    .expect("nats-server starts with an NKEY user");
    let url = server.url();

    let (code, said) = verify_live(&url, &["--nats-nkey".to_owned(), arg(&stranger_seed)]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.to_lowercase().contains("authorization violation"),
        "an unknown NKEY: {said}"
    );

    let signed_in = ["--nats-nkey".to_owned(), arg(&seed)];
    let system = ConnectOptions::with_nkey(user.seed().expect("the seed"));
    serves_and_verifies(
        (&url, &url),
        &signed_in,
        &dir.path().join("projections"),
        system,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_password_in_the_url_sign_in_and_the_password_is_never_printed() {
    let dir = tempfile::tempdir().expect("a folder");
    let server = NatsServer::start_with(
        &dir.path().join("nats"),
        free_port(),
        "authorization {\n  users = [ { user: \"ledger\", password: \"p@ss/w\" } ]\n}\n",
    )
    .expect("nats-server starts with a user");
    let at = server.url().replace("nats://", "");
    let url = format!("nats://ledger:p%40ss%2Fw@{at}");

    let wrong = format!("nats://ledger:not-the-password@{at}");
    let (code, said) = verify_live(&wrong, &[]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains(&format!("nats://ledger:***@{at}")) && !said.contains("not-the-password"),
        "the URL named, the password not: {said}"
    );

    let system = ConnectOptions::with_user_and_password("ledger".into(), "p@ss/w".into());
    serves_and_verifies(
        (&url, &server.url()),
        &[],
        &dir.path().join("projections"),
        system,
    )
    .await;
}
