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
