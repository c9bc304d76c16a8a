//! Reading the chain's stream against a real nats-server.

use std::time::Duration;

use bytes::Bytes;
use ledger_tests::Nats;

/// Blocks of nearly a megabyte each, more of them than a server holds for
/// a client that is slow to read (`max_pending`, 64 MiB by default).
const BLOCKS: u64 = 96;
const BLOCK_BYTES: usize = 900_000;

/// A reader that takes its time over every block must still get every
/// block in order: the server cuts off a client with more than 64 MiB
/// waiting for it, so blocks are pulled a few megabytes at a time. The
/// runtime has one thread, so while a block is being handled nothing
/// reads the socket.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_reader_of_large_blocks_gets_every_block() {
    let nats = Nats::start();
    let store = nats.store().await;
    for n in 0..BLOCKS {
        let block = Bytes::from(vec![n as u8; BLOCK_BYTES]);
        let stored = store.append(block, n, None).await.expect("append");
        assert_eq!(stored, n + 1);
    }
    let mut seen = Vec::new();
    let last = tokio::time::timeout(
        Duration::from_secs(60),
        store.replay(1, |block| {
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(block.frames.len(), BLOCK_BYTES);
            seen.push((block.stream_sequence, block.frames[0]));
            Ok(())
        }),
    )
    .await
    .expect("the replay finishes")
    .expect("the replay reads every block");
    assert_eq!(last, BLOCKS);
    let expected: Vec<(u64, u8)> = (0..BLOCKS).map(|n| (n + 1, n as u8)).collect();
    assert_eq!(seen, expected);
}

/// A stream of the ledger's name that allows deletes is refused at once:
/// `ledger serve` exits naming the problem rather than waiting for it to
/// change, and the stream is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_refuses_a_stream_that_allows_deletes_at_once() {
    use async_nats::jetstream::{self, stream};

    let nats = Nats::start();
    let js = jetstream::new(nats.client().await);
    let shard = ledger_tests::shard();
    js.create_stream(stream::Config {
        name: shard.stream(),
        subjects: vec![shard.blocks_subject()],
        storage: stream::StorageType::File,
        deny_delete: false,
        deny_purge: true,
        ..Default::default()
    })
    .await
    .expect("a stream that allows deletes");
    let log = nats.scratch("serve.log");
    let mut service = ledger_tests::ServiceProcess::start_with_args(
        &nats.url(),
        &nats.scratch("projections"),
        &[],
        Some(&log),
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = service.exit_status() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the instance kept running on an unsafe stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("not safe for a ledger: deletes or purges are allowed"),
        "{logged}"
    );
    assert!(
        !logged.contains("JetStream does not answer yet"),
        "{logged}"
    );
    let info = js
        .get_stream(shard.stream())
        .await
        .expect("the stream is still there")
        .info()
        .await
        .expect("its configuration")
        .clone();
    assert!(!info.config.deny_delete);
}
