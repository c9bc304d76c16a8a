//! The auditor's view: checkpoints the writer signs, `ledger export` and
//! `ledger verify` run as an auditor would run them, and a changed byte —
//! in a bundle or in nats-server's own store files — found and named.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::signing::LedgerSigner;
use ledger_core::Event;
use ledger_service::sequencer::CheckpointPolicy;
use ledger_service::{intake, Sequencer};
use ledger_tests::*;
use serde_json::json;

/// A ledger of the federation and 60 awards, checkpointed every 20 events;
/// a client of its intake.
async fn checkpointed_ledger(nats: &Nats) -> async_nats::Client {
    let client = serve_checkpointed(nats).await;
    set_up(&client).await;
    for i in 0..60 {
        assert_eq!(award(&client, &format!("a{i}")).await["status"], "accepted");
    }
    client
}

/// A writer sealing with the key of secret `[3; 32]` and checkpointing
/// every 20 events, and the intake in front of it.
async fn serve_checkpointed(nats: &Nats) -> async_nats::Client {
    let signer = Arc::new(LedgerSigner::from_secret(&[3; 32]));
    let writer = Sequencer::open(nats.store().await)
        .await
        .unwrap()
        .checkpointing(CheckpointPolicy {
            every_events: 20,
            every: Duration::from_secs(3600),
            signer,
            previous: None,
            actor: ledger_core::testing::actor("ledger-writer"),
        })
        .spawn();
    let client = nats.client().await;
    tokio::spawn(intake::serve(
        client.clone(),
        shard(),
        writer,
        ledger_service::accounts::Accounts::open(),
    ));
    wait_for_intake(&client).await;
    client
}

/// One point for `v1`, under submission key `key`.
async fn award(client: &async_nats::Client, key: &str) -> serde_json::Value {
    let body = submission(
        key,
        json!({"type": "award_points", "volunteer": "v1",
        "points": 1, "approver": "admin-haizhou", "reason": "审计测试"}),
    );
    request(client, "admin-city", &body).await
}

/// Which sequence a verifier must name for a changed byte at each offset of
/// a bundle's body: a frame's own sequence for its bytes, the block's first
/// for the block record's flag, seal and length.
fn blame(body: &[u8]) -> Vec<(usize, u64)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let len = u32::from_le_bytes(body[at + 65..at + 69].try_into().unwrap()) as usize;
        let frames_at = at + 69;
        let (first, _) = ledger_core::frame::parse_frame(&body[frames_at..]).unwrap();
        spans.push((at, first.header.sequence));
        let mut f = frames_at;
        while f < frames_at + len {
            let (frame, _) = ledger_core::frame::parse_frame(&body[f..]).unwrap();
            spans.push((f, frame.header.sequence));
            f += frame.len();
        }
        at = frames_at + len;
    }
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_verify_and_a_changed_byte_in_a_bundle_is_named() {
    let nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let (records, head) = read_chain(&nats.store().await).await;
    let checkpoints = records
        .iter()
        .filter(|(_, r)| matches!(r.event, Event::CheckpointRecorded(_)))
        .count();
    assert!(
        checkpoints >= 3,
        "{checkpoints} checkpoints in {} events",
        records.len()
    );
    assert!(records
        .iter()
        .any(|(_, r)| matches!(r.event, Event::LedgerKeyPublished(_))));

    let url = nats.url();
    let (code, out) = ledger(&["verify", "--nats", &url, "--shard", SHARD, "--quiet"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("verified {} events", head.sequence)),
        "{out}"
    );
    assert!(out.contains(&format!("{checkpoints} checkpoints")), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("lyg.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    let (code, out) = ledger(&[
        "export", "--nats", &url, "--shard", SHARD, "--out", bundle_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = ledger(&["verify", "--bundle", bundle_arg, "--quiet"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("pass --key"),
        "the auditor is told the key was the chain's own: {out}"
    );
    // With the NATS URL in the environment, as operations.md advises.
    let with_env = std::process::Command::new(ledger_binary())
        .args(["verify", "--bundle", bundle_arg, "--quiet"])
        .env("LEDGER_NATS", &url)
        .output()
        .expect("ledger runs");
    assert!(
        with_env.status.success(),
        "{}",
        String::from_utf8_lossy(&with_env.stderr)
    );

    // The key the federation publishes, known outside the chain: the chain
    // must be sealed with it; any other is named.
    let key = LedgerSigner::from_secret(&[3; 32]).public_key();
    let stranger = LedgerSigner::from_secret(&[4; 32]).public_key();
    for source in [["--bundle", bundle_arg], ["--nats", &url]] {
        let verify_with = |key: &ledger_core::signing::PublicKey| {
            let key = key.to_hex();
            let mut args = vec!["verify", "--shard", SHARD, "--quiet", "--key", &key];
            args.extend(source);
            ledger(&args)
        };
        let (code, out) = verify_with(&key);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(&format!("sealed with ledger key {key}")),
            "{out}"
        );
        assert!(!out.contains("pass --key"), "{out}");
        let (code, out) = verify_with(&stranger);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("FAILED: the chain is sealed with ledger key {key}, not with the ledger key expected ({stranger})")),
            "{out}"
        );
    }

    let original = std::fs::read(&bundle).unwrap();
    let body_start = original.iter().position(|b| *b == b'\n').unwrap() + 1;
    let spans = blame(&original[body_start..]);
    // Bytes spread over the file: headers, bodies and trailers of many frames.
    for k in 0..12 {
        let at = body_start + (original.len() - body_start) * k / 12 + 7 * k;
        let within = at - body_start;
        let expected = spans
            .iter()
            .rev()
            .find(|(start, _)| *start <= within)
            .unwrap()
            .1;
        let mut tampered = original.clone();
        tampered[at] ^= 0x40;
        std::fs::write(&bundle, &tampered).unwrap();
        let (code, out) = ledger(&["verify", "--bundle", bundle_arg, "--quiet"]);
        assert_eq!(code, 1, "byte {at}: {out}");
        assert!(
            out.contains(&format!("FAILED at sequence {expected}:")),
            "byte {at} is in frame {expected}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_byte_in_the_servers_store_files_is_named() {
    let mut nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let (records, head) = read_chain(&nats.store().await).await;
    let target = records[records.len() / 2].0;
    // What the auditor verified before the damage.
    let expect = format!("{}:{}", head.sequence, head.hash);

    // Stop the server and change one byte of that event's body on disk.
    let dir = nats.server.dir.clone();
    let port = nats.server.port;
    nats.server.kill();
    let mut files = Vec::new();
    let streams = dir.join("jetstream");
    let mut stack = vec![streams];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p)
            } else if p.extension().is_some_and(|e| e == "blk")
                && p.to_string_lossy().contains(&shard().stream())
            {
                files.push(p)
            }
        }
    }
    let mut header = vec![1u8, 0, 1, 0];
    header.extend_from_slice(&target.to_le_bytes());
    let mut changed = false;
    for file in files {
        let mut bytes = std::fs::read(&file).unwrap();
        if let Some(at) = bytes
            .windows(header.len())
            .position(|w| w == header.as_slice())
        {
            bytes[at + 60] ^= 0x01; // inside the body, past the 48-byte header
            std::fs::write(&file, &bytes).unwrap();
            changed = true;
        }
    }
    assert!(changed, "frame {target} not found in the store files");
    nats.server = ledger_service::local::NatsServer::start(&dir, port).unwrap();

    let url = nats.url();
    let (code, out) = ledger(&[
        "verify",
        "--nats",
        &url,
        "--shard",
        SHARD,
        "--quiet",
        "--expect-head",
        &expect,
    ]);
    assert_eq!(code, 1, "a changed byte went unnoticed: {out}");
    println!("{out}");
    let named: u64 = out
        .split("FAILED at sequence ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sequence named: {out}"));
    // nats-server may notice first and drop the damaged message and all
    // after it (the chain then ends early, and the first missing sequence is
    // named), or serve it, and the hash fails at the frame itself.
    assert!(named <= target, "named {named}, changed {target}: {out}");
}

/// A writer without the ledger's key, able to publish to the stream, appends
/// a perfectly linked frame: its block has no valid seal, and verify names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_forged_without_the_key_is_named() {
    let nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let store = nats.store().await;
    let (_, head) = read_chain(&store).await;
    let forged = ledger_core::EventRecord {
        recorded_at: ledger_core::time::Timestamp(1_800_000_000_000_000),
        actor: ledger_core::testing::actor("admin-city"),
        submission: None,
        event: Event::PointsAwarded(ledger_core::event::PointsAwarded {
            award: ledger_core::values::AwardId(9_999),
            volunteer: ledger_core::testing::vid("v1"),
            points: 100_000,
            basis: ledger_core::domain::AwardBasis::Manual(Box::new(
                ledger_core::domain::Approval {
                    approver: ledger_core::testing::actor("admin-haizhou"),
                    reason: ledger_core::testing::text("伪造"),
                },
            )),
        }),
    };
    let mut frames = Vec::new();
    ledger_core::Chain::resume(head)
        .append(&forged, &mut frames)
        .unwrap();
    let last = store.last_sequence().await.unwrap();
    let stored = store.append(frames.into(), last, None).await.unwrap();
    assert_eq!(stored, last + 1, "the forger could write to the stream");

    let url = nats.url();
    let (code, out) = ledger(&["verify", "--nats", &url, "--shard", SHARD, "--quiet"]);
    assert_eq!(code, 1, "{out}");
    let named = format!(
        "FAILED at sequence {}: bad signature on a block",
        head.sequence + 1
    );
    assert!(out.contains(&named), "{out}");
}

/// Proofs made from the stream check offline with the public key alone,
/// and fail when any part is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_the_stream_check_offline() {
    let nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let (records, _) = read_chain(&nats.store().await).await;
    let sizes: Vec<u64> = records
        .iter()
        .filter_map(|(_, r)| match &r.event {
            Event::CheckpointRecorded(c) => Some(c.checkpoint.tree_size),
            _ => None,
        })
        .collect();
    let key = hex::encode(LedgerSigner::from_secret(&[3; 32]).public_key().0);
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();

    // As audit.md runs it, `ledger prove … > p.json`: stdout is the
    // document alone (the logs go to stderr).
    let prove = |args: &[&str], name: &str| {
        let out = std::process::Command::new(ledger_binary())
            .args(["prove", "--nats", &url, "--shard", SHARD])
            .args(args)
            .output()
            .expect("ledger runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.path().join(name);
        std::fs::write(&path, &out.stdout).unwrap();
        path
    };
    let inclusion = prove(&["inclusion", "--sequence", "5"], "inclusion.json");
    let (from, to) = (sizes[0].to_string(), sizes[sizes.len() - 1].to_string());
    let consistency = prove(
        &["consistency", "--from", &from, "--to", &to],
        "consistency.json",
    );

    for path in [&inclusion, &consistency] {
        let p = path.to_str().unwrap();
        let (code, out) = ledger(&["verify-proof", p, "--key", &key]);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("OK: "), "{out}");
        // Another key, or one changed hex digit anywhere in a hash: refused.
        let stranger = hex::encode(LedgerSigner::from_secret(&[4; 32]).public_key().0);
        assert_eq!(ledger(&["verify-proof", p, "--key", &stranger]).0, 1);
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let root = doc.get("checkpoint").or(doc.get("new")).unwrap()["root"]
            .as_str()
            .unwrap()
            .to_owned();
        let flipped = match root.strip_prefix('0') {
            Some(rest) => format!("1{rest}"),
            None => format!("0{}", &root[1..]),
        };
        std::fs::write(path, text.replace(&root, &flipped)).unwrap();
        let (code, out) = ledger(&["verify-proof", p, "--key", &key]);
        assert_eq!(code, 1, "{out}");
    }
}

/// `ledger verify --service` recomputes every account from the chain and
/// compares it with what a service serves; a service of another ledger
/// is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_compares_the_chain_with_what_the_service_serves() {
    let (a, b) = (Nats::start(), Nats::start());
    let (service_a, service_b) = (
        ServiceProcess::start(&a.url()),
        ServiceProcess::start(&b.url()),
    );
    // Two ledgers of the same length whose figures differ.
    for (nats, points) in [(&a, 1), (&b, 2)] {
        let client = nats.client().await;
        wait_for_intake(&client).await;
        set_up(&client).await;
        for i in 0..3 {
            let body = submission(
                &format!("a{i}"),
                json!({"type": "award_points", "volunteer": "v1", "points": points,
                       "approver": "admin-haizhou", "reason": "比对测试"}),
            );
            let answer = request(&client, "admin-city", &body).await;
            assert_eq!(answer["status"], "accepted", "{answer}");
        }
    }
    let url = a.url();
    let own = service_a.http_url();
    let (code, out) = ledger(&[
        "verify",
        "--nats",
        &url,
        "--shard",
        SHARD,
        "--quiet",
        "--service",
        &own,
        "--token",
        "x",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("compared 1 volunteers"), "{out}");
    let other = service_b.http_url();
    let (code, out) = ledger(&[
        "verify",
        "--nats",
        &url,
        "--shard",
        SHARD,
        "--quiet",
        "--service",
        &other,
        "--token",
        "x",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "projection mismatch: volunteer v1 points_earned is 3 by the chain, 6 by the service"
        ),
        "{out}"
    );
}

/// A writer started with a new key and the current one rotates the ledger's
/// key; the chain verifies across the rotation. A writer holding a key the
/// ledger does not know records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_rotates_the_key_and_a_writer_without_it_records_nothing() {
    use ledger_service::Answer;
    let nats = Nats::start();
    let store = nats.store().await;
    let old = Arc::new(LedgerSigner::from_secret(&[3; 32]));
    let new = Arc::new(LedgerSigner::from_secret(&[4; 32]));
    let policy =
        |signer: &Arc<LedgerSigner>, previous: Option<&Arc<LedgerSigner>>| CheckpointPolicy {
            every_events: 5,
            every: Duration::from_secs(3600),
            signer: signer.clone(),
            previous: previous.cloned(),
            actor: ledger_core::testing::actor("ledger-writer"),
        };
    let award = |key: &str| {
        as_city_admin(
            key,
            serde_json::from_value(json!({"type": "award_points", "volunteer": "v1",
            "points": 1, "approver": "admin-haizhou", "reason": "轮换"}))
            .unwrap(),
        )
    };

    let first = Sequencer::open(store.clone())
        .await
        .unwrap()
        .checkpointing(policy(&old, None))
        .spawn();
    for (i, command) in federation().into_iter().enumerate() {
        let answer = first
            .submit(as_city_admin(
                &format!("s{i}"),
                serde_json::from_value(command).unwrap(),
            ))
            .await;
        assert!(answer.is_accepted(), "{answer:?}");
    }
    drop(first);

    let stranger = Sequencer::open(store.clone())
        .await
        .unwrap()
        .checkpointing(policy(&new, None))
        .spawn();
    let before = store.last_sequence().await.unwrap();
    let refused = stranger.submit(award("x")).await;
    assert!(matches!(refused, Answer::Unavailable { .. }), "{refused:?}");
    assert_eq!(
        store.last_sequence().await.unwrap(),
        before,
        "nothing recorded"
    );
    drop(stranger);

    let rotating = Sequencer::open(store.clone())
        .await
        .unwrap()
        .checkpointing(policy(&new, Some(&old)))
        .spawn();
    for i in 0..8 {
        let answer = rotating.submit(award(&format!("r{i}"))).await;
        assert!(answer.is_accepted(), "{answer:?}");
    }
    let (records, _) = read_chain(&store).await;
    let keys: Vec<_> = records
        .iter()
        .filter_map(|(_, r)| match &r.event {
            Event::LedgerKeyPublished(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1].public_key, new.public_key());
    assert!(keys[1].endorsement.is_some());
    let url = nats.url();
    let (code, out) = ledger(&["verify", "--nats", &url, "--shard", SHARD, "--quiet"]);
    assert_eq!(code, 0, "{out}");
    // Either key vouches for the chain; a third does not.
    for signer in [&old, &new] {
        let key = signer.public_key().to_hex();
        let (code, out) = ledger(&[
            "verify", "--nats", &url, "--shard", SHARD, "--quiet", "--key", &key,
        ]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(&format!(
                "ledger keys {}, then {}",
                old.public_key(),
                new.public_key()
            )),
            "{out}"
        );
    }
    let third = LedgerSigner::from_secret(&[5; 32]).public_key().to_hex();
    let (code, out) = ledger(&[
        "verify", "--nats", &url, "--shard", SHARD, "--quiet", "--key", &third,
    ]);
    assert_eq!(code, 1, "{out}");
}

/// A block appended by someone who can write to the stream but does not
/// hold the ledger's key: its frame links, its seal is a stranger's. A
/// writer opening the stream finds it and refuses to start, naming its
/// sequence, after dozens of small sealed blocks checked in one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_refuses_a_chain_with_a_forged_block() {
    use ledger_core::chain::Chain;
    use ledger_core::event::WishWithdrawn;
    use ledger_core::signing::block_message;
    use ledger_core::values::{LedgerId, WishId};
    use ledger_service::sequencer::SequencerError;

    let nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let store = nats.store().await;
    let blocks = store.last_sequence().await.unwrap();
    assert!(blocks > 60, "many small blocks before ({blocks})");
    let (_, head) = read_chain(&store).await;
    let record = ledger_core::EventRecord {
        recorded_at: ledger_core::time::Timestamp(head.sequence as i64),
        actor: ledger_core::testing::actor("intruder"),
        submission: None,
        event: Event::WishWithdrawn(WishWithdrawn {
            wish: WishId::new("w-forged").unwrap(),
            reason: ledger_core::testing::text("伪造"),
        }),
    };
    let mut frames = Vec::new();
    let forged = Chain::resume(head).append(&record, &mut frames).unwrap();
    let ledger = LedgerId::new(SHARD).unwrap();
    let seal = LedgerSigner::from_secret(&[9; 32]).sign(&block_message(
        &ledger,
        forged.sequence,
        &forged.hash,
    ));
    store
        .append(frames.into(), blocks, Some(&seal))
        .await
        .expect("the stream takes any well-fenced message");

    match Sequencer::open(store).await {
        Err(SequencerError::Chain { error, .. }) => {
            assert_eq!(error.sequence, head.sequence + 1, "{error}");
            assert_eq!(error.fault, ledger_core::Fault::BadSignature("block"));
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("a writer opened a chain with a forged block"),
    }
}

/// The chain of the stream at `nats`, exported by `ledger export` to a
/// bundle in `dir`.
fn exported(nats: &Nats, dir: &std::path::Path) -> std::path::PathBuf {
    let bundle = dir.join("lyg.bundle");
    let (code, out) = ledger(&[
        "export",
        "--nats",
        &nats.url(),
        "--shard",
        SHARD,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    bundle
}

/// Every block of a stream, as stored: its seal and its frames.
async fn stored_blocks(
    store: &ledger_service::store::ChainStore,
) -> Vec<(Option<ledger_core::values::Signature>, Vec<u8>)> {
    let mut blocks = Vec::new();
    store
        .replay(1, |block| {
            blocks.push((block.seal, block.frames.to_vec()));
            Ok(())
        })
        .await
        .unwrap();
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_stream_is_restored_from_a_bundle_and_the_ledger_goes_on() {
    use ledger_service::bundle::{BundleReader, Next};

    let original = Nats::start();
    checkpointed_ledger(&original).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = exported(&original, dir.path());
    let bundle_arg = bundle.to_str().unwrap();
    let blocks = stored_blocks(&original.store().await).await;
    assert!(blocks.len() >= 4, "{} blocks", blocks.len());
    let key = LedgerSigner::from_secret(&[3; 32]).public_key().to_hex();
    let stranger = LedgerSigner::from_secret(&[4; 32]).public_key().to_hex();

    // New servers: nothing is written from a bundle that is not the
    // ledger's, or that was changed, or that is another shard's.
    let fresh = Nats::start();
    let url = fresh.url();
    let restore = |bundle: &str, key: &str, shard: &str| {
        ledger(&[
            "restore", "--nats", &url, "--shard", shard, "--bundle", bundle, "--key", key,
            "--quiet",
        ])
    };
    let (code, out) = restore(bundle_arg, &stranger, SHARD);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not with the ledger key expected"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    let tampered = dir.path().join("tampered.bundle");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    std::fs::write(&tampered, &bytes).unwrap();
    let (code, out) = restore(tampered.to_str().unwrap(), &key, SHARD);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED at sequence"), "{out}");
    let (code, out) = restore(bundle_arg, &key, "dl");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not of shard dl"), "{out}");
    let (code, out) = restore("/nonexistent/lyg.bundle", &key, SHARD);
    assert_eq!(code, 2, "{out}");
    let store = ledger_service::store::ChainStore::new(
        async_nats::jetstream::new(fresh.client().await),
        shard(),
    );
    assert!(
        store.last_sequence().await.is_err(),
        "no stream was created by a refused restore"
    );

    // A restore that stopped after two blocks is completed.
    store.ensure(1).await.unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&bundle).unwrap());
    let (_, mut reader) = BundleReader::open(file, "bundle").unwrap();
    for k in 0..2 {
        let Next::Block { seal, len } = reader.next_record().unwrap() else {
            panic!("block {k}")
        };
        let mut frames = Vec::new();
        reader.frames(len, &mut frames).unwrap();
        store.append(frames.into(), k, seal.as_ref()).await.unwrap();
    }
    let (code, out) = restore(bundle_arg, &key, SHARD);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("restored {} blocks", blocks.len() - 2)),
        "{out}"
    );
    assert!(out.contains("(2 were there already)"), "{out}");
    assert_eq!(
        stored_blocks(&store).await,
        blocks,
        "the same blocks, seals and all"
    );
    let (code, out) = restore(bundle_arg, &key, SHARD);
    assert_eq!(code, 0, "run again, it writes nothing: {out}");
    assert!(out.contains("restored 0 blocks"), "{out}");
    let (code, out) = ledger(&[
        "verify", "--nats", &url, "--shard", SHARD, "--key", &key, "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");

    // The ledger goes on from the restored chain: a retry of a submission
    // made before the loss is answered as before and counts once.
    let client = serve_checkpointed(&fresh).await;
    let retried = award(&client, "a7").await;
    assert_eq!(retried["status"], "accepted", "{retried}");
    assert_eq!(retried["replayed"], true, "{retried}");
    assert_eq!(award(&client, "after-restore").await["status"], "accepted");
    let (records, _) = read_chain(&store).await;
    let points: u64 = records
        .iter()
        .filter_map(|(_, r)| match &r.event {
            Event::PointsAwarded(e) => Some(e.points),
            _ => None,
        })
        .sum();
    assert_eq!(points, 61, "60 awards before the loss and one after");

    // A stream that holds another chain is left as it is.
    let other = Nats::start();
    let other_store = other.store().await;
    other_store.ensure(1).await.unwrap();
    other_store
        .append(blocks[1].1.clone().into(), 0, None)
        .await
        .unwrap();
    let (code, out) = ledger(&[
        "restore",
        "--nats",
        &other.url(),
        "--shard",
        SHARD,
        "--bundle",
        bundle_arg,
        "--key",
        &key,
        "--quiet",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("holds another chain: its block 1 differs"),
        "{out}"
    );
    assert_eq!(other_store.last_sequence().await.unwrap(), 1);
}

/// `v1`'s account as the service at `base` serves it once it has applied
/// sequence `after`: status and body.
async fn account_of_v1(base: &str, after: u64) -> (u16, serde_json::Value) {
    let url = format!("{base}/api/v1/volunteers/v1/account?after={after}");
    for _ in 0..300 {
        if let Ok(response) = reqwest::Client::new()
            .get(&url)
            .bearer_auth("any")
            .send()
            .await
        {
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            // Not yet the volunteer's, or the instance still starting.
            if status != 404 && body["status"] != "unavailable" {
                return (status, body);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_ahead_of_a_restored_stream_stop_until_rebuilt() {
    let original = Nats::start();
    let client = checkpointed_ledger(&original).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = exported(&original, dir.path());
    // Five awards after the last backup: the read models see them, and
    // then the stream is lost.
    for i in 0..5 {
        assert_eq!(
            award(&client, &format!("late{i}")).await["status"],
            "accepted"
        );
    }
    let (_, head) = read_chain(&original.store().await).await;
    let projections = original.scratch("read-models");
    let mut service = ServiceProcess::start_with_projections(&original.url(), &projections);
    let (status, account) = account_of_v1(&service.http_url(), head.sequence).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["points_earned"], 65);
    service.kill();

    let fresh = Nats::start();
    let key = LedgerSigner::from_secret(&[3; 32]).public_key().to_hex();
    let (code, out) = ledger(&[
        "restore",
        "--nats",
        &fresh.url(),
        "--shard",
        SHARD,
        "--bundle",
        bundle.to_str().unwrap(),
        "--key",
        &key,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");

    // The same read models against the restored stream would count the
    // five awards it no longer holds: they stop, and say what to do.
    let mut service = ServiceProcess::start_with_projections(&fresh.url(), &projections);
    let (status, refused) = account_of_v1(&service.http_url(), 0).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "CHAIN_BROKEN", "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("built from another chain"), "{message}");
    assert!(message.contains("ledger rebuild"), "{message}");
    let ready = until_readiness(&service.http_url(), Duration::from_secs(10), |s, _| s != 0).await;
    assert_eq!(ready["read_models"], "broken", "{ready}");
    service.kill();

    let rebuilt = std::process::Command::new(ledger_binary())
        .args([
            "rebuild",
            "--quiet",
            "--nats",
            &fresh.url(),
            "--shard",
            SHARD,
        ])
        .arg("--projections")
        .arg(&projections)
        .output()
        .unwrap();
    assert_eq!(
        rebuilt.status.code(),
        Some(1),
        "the rebuilt read models differ from the ones before: {}{}",
        String::from_utf8_lossy(&rebuilt.stdout),
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let (_, restored_head) = read_chain(&fresh.store().await).await;
    let service = ServiceProcess::start_with_projections(&fresh.url(), &projections);
    let (status, account) = account_of_v1(&service.http_url(), restored_head.sequence).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(
        account["points_earned"], 60,
        "what the restored chain holds"
    );
}

/// `ledger events` as an auditor runs it: stdout's JSON lines, stderr, and
/// the exit code.
fn events(args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let out = std::process::Command::new(ledger_binary())
        .arg("events")
        .args(args)
        .args(["--quiet", "--shard", SHARD])
        .output()
        .expect("ledger runs");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), lines, stderr)
}

/// The chain's events come out as JSON lines from the live stream and from
/// a bundle alike, each as the chain carries it; an auditor picks an
/// admin's awards; and from a bundle with a changed byte nothing at or
/// after the fault comes out, which is named, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_the_verified_events_and_picks_an_admins_awards() {
    let nats = Nats::start();
    checkpointed_ledger(&nats).await;
    let (records, head) = read_chain(&nats.store().await).await;
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("lyg.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    let (code, out) = ledger(&[
        "export", "--nats", &url, "--shard", SHARD, "--out", bundle_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    let key = LedgerSigner::from_secret(&[3; 32]).public_key().to_hex();

    for source in [["--nats", url.as_str()], ["--bundle", bundle_arg]] {
        let (code, all, stderr) = events(&[source[0], source[1], "--key", &key]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains(&format!("verified {} events", head.sequence))
                && stderr.contains(&format!("{} events written", head.sequence)),
            "{stderr}"
        );
        assert_eq!(all.len() as u64, head.sequence);
        for (line, (sequence, record)) in all.iter().zip(&records) {
            assert_eq!(line["sequence"], *sequence);
            assert_eq!(line["kind"], record.event.kind());
            assert_eq!(line["actor"], record.actor.as_str());
            let event: Event = serde_json::from_value(line["event"].clone()).unwrap();
            assert_eq!(event, record.event, "sequence {sequence}");
        }
        assert_eq!(all.last().unwrap()["hash"], head.hash.to_hex());
    }

    // The city admin's awards between sequences 20 and 50.
    let (code, picked, stderr) = events(&[
        "--bundle",
        bundle_arg,
        "--actor",
        "admin-city",
        "--kind",
        "points_awarded",
        "--from",
        "20",
        "--to",
        "50",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let expected: Vec<u64> = records
        .iter()
        .filter(|(s, r)| {
            (20..=50).contains(s)
                && r.actor.as_str() == "admin-city"
                && matches!(r.event, Event::PointsAwarded(_))
        })
        .map(|(s, _)| *s)
        .collect();
    assert!(expected.len() > 10, "{expected:?}");
    let got: Vec<u64> = picked
        .iter()
        .map(|l| l["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(got, expected);
    let award = &picked[0]["event"]["points_awarded"];
    assert_eq!(award["volunteer"], "v1", "{award}");
    assert_eq!(award["points"], 1, "{award}");

    // v1's history, as the chain alone files it: the events the core's
    // owners say are about v1, each marked so.
    let (code, his, stderr) = events(&["--bundle", bundle_arg, "--volunteer", "v1"]);
    assert_eq!(code, 0, "{stderr}");
    let mut owners = ledger_core::owners::Owners::new();
    let mut about_v1 = Vec::new();
    for (sequence, record) in &records {
        let about = ledger_core::owners::volunteer_of(&owners, &record.event);
        owners.record(&record.event);
        if about.is_some_and(|v| v.as_str() == "v1") {
            about_v1.push(*sequence);
        }
    }
    assert!(about_v1.len() > 60, "{about_v1:?}");
    let got: Vec<u64> = his
        .iter()
        .map(|l| l["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(got, about_v1);
    assert!(his.iter().all(|l| l["volunteer"] == "v1"));

    let (code, none, stderr) = events(&["--bundle", bundle_arg, "--kind", "points_given"]);
    assert_ne!(code, 0);
    assert!(none.is_empty());
    assert!(
        stderr.contains("--kind points_given: no event is of this kind"),
        "{stderr}"
    );

    // A changed byte late in the bundle: what comes out stops before it
    // (this bundle is one batch, so nothing does; batch by batch, see
    // `audit.rs`'s `a_tap_writes_out_the_events_of_blocks_verified_and_no_others`).
    let mut tampered = std::fs::read(&bundle).unwrap();
    let at = tampered.len() - 40;
    tampered[at] ^= 0x40;
    std::fs::write(&bundle, &tampered).unwrap();
    let (code, before, stderr) = events(&["--bundle", bundle_arg]);
    assert_eq!(code, 1, "{stderr}");
    let fault: u64 = stderr
        .split("FAILED at sequence ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sequence named: {stderr}"));
    assert!(before
        .iter()
        .all(|l| l["sequence"].as_u64().unwrap() < fault));
}
