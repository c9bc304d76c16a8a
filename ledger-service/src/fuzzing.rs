//! What the fuzzers drive (`fuzz/`, with cargo-fuzz) and what the test
//! suite replays from their corpus: frame parsing and chain verification,
//! event decoding, the JSON intake parser and bundle reading. Each takes
//! any bytes and must return, never panic, whatever they hold.

use std::io::Cursor;

use ledger_core::chain::Verifier;
use ledger_core::frame::{decode_body, parse_frame};
use ledger_core::rights::Role;
use ledger_core::values::{ActorId, UnitId};

use crate::accounts::Principal;

/// Frames one after another: each parsed, hashed and decoded, and the
/// whole run verified as a chain from the start.
pub fn frames(data: &[u8]) {
    let mut rest = data;
    while let Ok((frame, tail)) = parse_frame(rest) {
        let _ = frame.computed_hash();
        let _ = frame.decode();
        if tail.len() >= rest.len() {
            break;
        }
        rest = tail;
    }
    let mut verifier = Verifier::new();
    let mut rest = data;
    while !rest.is_empty() {
        match verifier.push_front(rest) {
            Ok((_, tail)) => rest = tail,
            Err(_) => break,
        }
    }
}

/// An event record's body.
pub fn event(data: &[u8]) {
    let _ = decode_body(data);
}

/// A request to the intake, from a kiosk bound to one unit.
pub fn intake(data: &[u8]) {
    let (Ok(actor), Ok(unit)) = (ActorId::new("kiosk-fuzz"), UnitId::new("g1")) else {
        return;
    };
    let who = Principal {
        actor,
        role: Role::System { units: vec![unit] },
    };
    let _ = crate::intake::read_request(&who, data);
}

/// A bundle file.
pub fn bundle(data: &[u8]) {
    let _ = crate::audit::verify_bundle_from(Cursor::new(data), "fuzz", None, false);
}

/// What a fuzz target runs.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/`
/// name them.
pub const TARGETS: [(&str, Target); 4] = [
    ("frames", frames),
    ("event", event),
    ("intake", intake),
    ("bundle", bundle),
];

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::chain::Chain;
    use ledger_core::testing::world;
    use ledger_core::time::Timestamp;
    use ledger_core::EventRecord;
    use std::path::{Path, PathBuf};

    /// Seeds: a valid chain's frames, one event's body, intake requests
    /// good and bad, a bundle of the chain.
    fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let w = world();
        let mut chain = Chain::new();
        let mut frames = Vec::new();
        let mut first_body = Vec::new();
        for (i, event) in w.events.iter().enumerate() {
            let record = EventRecord {
                recorded_at: Timestamp(1_772_700_000_000_000 + i as i64),
                actor: ActorId::new("admin-city").expect("actor"),
                submission: None,
                event: event.clone(),
            };
            if i == 0 {
                first_body = postcard::to_allocvec(&record).expect("body");
            }
            chain.append(&record, &mut frames).expect("frame");
        }
        let header = crate::bundle::BundleHeader {
            format: crate::bundle::BUNDLE_FORMAT.into(),
            version: 1,
            shard: "lyg".into(),
            stream: "LEDGER_lyg".into(),
            blocks: 1,
            events: w.events.len() as u64,
            head_hash: chain.head().hash.to_hex(),
            exported_at: "2026-03-05T12:00:00+08:00".into(),
        };
        let mut bundle = serde_json::to_vec(&header).expect("header");
        bundle.push(b'\n');
        crate::bundle::bundle_record(None, &frames, &mut bundle);
        vec![
            ("frames", "chain", frames.clone()),
            ("frames", "truncated", frames[..frames.len() / 2].to_vec()),
            ("event", "ledger-opened", first_body),
            ("intake", "check-in", br#"{"key":"in-1","command":{"type":"check_in","activity":"a1","volunteer":"v1","at":"2026-03-05T09:00:00+08:00","device":null,"external_id":null}}"#.to_vec()),
            ("intake", "batch", br#"{"submissions":[{"key":"s1","command":{"type":"sign_up","activity":"a1","volunteer":"v1"}},{"key":"s2","command":{"type":"nonsense"}}]}"#.to_vec()),
            ("intake", "not-json", b"{\"key\": \"x\", \"command\": [".to_vec()),
            ("bundle", "one-block", bundle),
        ]
    }

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
    }

    /// Every file of the fuzz corpus (seeds, and every crash ever found,
    /// kept as a regression) goes through its target without a panic.
    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let dir = corpus().join(name);
            let entries =
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("entry").path();
                target(&std::fs::read(&path).expect("corpus file"));
                replayed += 1;
            }
        }
        assert!(replayed >= seeds().len(), "only {replayed} corpus files");
    }

    /// The seeds are what the committed corpus starts from; with
    /// LEDGER_WRITE_FUZZ_SEEDS=1 this writes them there.
    #[test]
    fn seeds_reach_deep_and_are_in_the_corpus() {
        let seeds = seeds();
        // The chain seed verifies whole: the fuzzers start from real frames.
        let (_, _, chain) = &seeds[0];
        assert!(ledger_core::chain::verify_concatenated(chain, Default::default()).is_ok());
        let (_, _, bundle) = &seeds[6];
        let summary = crate::audit::verify_bundle_from(Cursor::new(bundle), "seed", None, false)
            .expect("the bundle seed verifies");
        assert!(summary.head.sequence > 5);
        for (target, name, bytes) in &seeds {
            let path = corpus().join(target).join(format!("seed-{name}"));
            if std::env::var_os("LEDGER_WRITE_FUZZ_SEEDS").is_some() {
                std::fs::create_dir_all(path.parent().expect("folder")).expect("corpus folder");
                std::fs::write(&path, bytes).expect("seed");
            }
            assert_eq!(
                std::fs::read(&path).ok().as_ref(),
                Some(bytes),
                "{} is stale: LEDGER_WRITE_FUZZ_SEEDS=1 cargo test -p ledger-service fuzzing",
                path.display()
            );
        }
    }
}
