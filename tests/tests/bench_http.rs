//! `ledger bench http` measures what it says: the service it starts serves
//! every query kind and accepts every check-in, and its memory is read.

use ledger_service::bench_http::{run, Options};
use ledger_tests::ledger_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_benchmark_drives_a_real_service() {
    let figures = run(&Options {
        volunteers: 2_000,
        events: 30_000,
        activities: 200,
        clients: 4,
        seconds: 1,
        commands: 300,
        data: None,
        // Passed on to the service, which would not start on a flag it
        // does not know.
        read_model_cache_mib: Some(32),
        ledger: ledger_binary(),
    })
    .await
    .expect("the benchmark runs");
    assert_eq!(figures.events, 30_000);
    assert_eq!(figures.queries.len(), 4);
    for load in &figures.queries {
        assert!(load.requests > 0, "{} was never answered", load.name);
        assert!(load.p50 <= load.p99 && load.p99 <= load.max);
    }
    assert_eq!(figures.commands.requests, 300, "every check-in answered");
    assert!(figures.caught_up.resident > 0);
    assert!(figures.end.peak >= figures.end.resident);
}
