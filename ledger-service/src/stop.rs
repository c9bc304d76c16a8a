//! Being asked to stop: Ctrl-C from an operator, or SIGTERM from a service
//! manager or a container runtime. Either way the writer gives its lease up
//! so that another instance takes over at once, not when the lease runs out,
//! and `ledger local` stops its nats-server with it.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Stop requests, listened for from the moment this is made: one that comes
/// while nobody waits for it is kept, not lost between two waits.
#[derive(Clone)]
pub struct StopRequests(watch::Receiver<bool>);

impl StopRequests {
    /// Listens for SIGINT and SIGTERM. Needs a Tokio runtime.
    pub fn listen() -> std::io::Result<StopRequests> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (asked, requests) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let _ = asked.send(true);
        });
        Ok(StopRequests(requests))
    }

    /// Resolves once a stop is asked for, at once if it was already.
    pub async fn requested(&self) {
        let mut requests = self.0.clone();
        // An error means the listener is gone, which happens only after it
        // has said to stop.
        let _ = requests.wait_for(|&asked| asked).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_sigterm_sent_before_anyone_waits_is_kept() {
        let stop = StopRequests::listen().expect("signals");
        let waiting = tokio::time::timeout(Duration::from_millis(50), stop.requested()).await;
        assert!(waiting.is_err(), "no stop asked for yet");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::time::timeout(Duration::from_secs(5), stop.requested())
            .await
            .expect("the stop is seen after it came");
        tokio::time::timeout(Duration::from_secs(5), stop.clone().requested())
            .await
            .expect("and by every waiter");
    }
}
