//! Runs a local nats-server with JetStream for `ledger local` and the tests:
//! file storage under a data folder, fsync before every acknowledgement.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LocalError {
    #[error("no nats-server found: run scripts/install-nats.sh or set NATS_SERVER_BIN")]
    NoServer,
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("nats-server did not start listening on port {port} within {waited:?}")]
    NotListening { port: u16, waited: Duration },
}

/// Where the pinned nats-server is: `NATS_SERVER_BIN`, else `.venv/bin` in
/// this directory or one above it, else `nats-server` on the PATH.
pub fn find_nats_server() -> Result<PathBuf, LocalError> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    for dir in cwd.ancestors().take(3) {
        let candidate = dir.join(".venv/bin/nats-server");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    on_path.ok_or(LocalError::NoServer)
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4222)
}

/// A running nats-server; stopped when dropped.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl NatsServer {
    /// Starts nats-server with JetStream storing under `dir`, syncing to disk
    /// before every acknowledgement (`sync_interval: always`).
    pub fn start(dir: &Path, port: u16) -> Result<NatsServer, LocalError> {
        Self::start_with(dir, port, "")
    }

    /// As [`NatsServer::start`], with more configuration (accounts, users,
    /// cluster routes) appended to the file.
    pub fn start_with(dir: &Path, port: u16, extra: &str) -> Result<NatsServer, LocalError> {
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| LocalError::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let store = dir.join("jetstream");
        let config = format!(
            "listen: 127.0.0.1:{port}\nmax_payload: 8MB\n\
             jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n{extra}\n",
            store.display()
        );
        let config_path = dir.join("nats-server.conf");
        std::fs::write(&config_path, config).map_err(io("writing", &config_path))?;
        let log_path = dir.join("nats-server.log");
        let log = std::fs::File::create(&log_path).map_err(io("creating", &log_path))?;
        let bin = find_nats_server()?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io("starting", &bin))?;
        let server = NatsServer {
            child,
            port,
            dir: dir.to_owned(),
        };
        server.wait_listening(Duration::from_secs(20))?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn wait_listening(&self, limit: Duration) -> Result<(), LocalError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LocalError::NotListening {
            port: self.port,
            waited: limit,
        })
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
