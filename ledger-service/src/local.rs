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
    #[error(
        "a nats-server (pid {pid}) left running on {dir} by an earlier run could not be stopped; stop it first"
    )]
    LeftRunning { pid: u32, dir: PathBuf },
    #[error("nats-server exited ({status}) before listening on port {port}; its log ends:\n{log}")]
    Exited {
        port: u16,
        status: std::process::ExitStatus,
        log: String,
    },
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

/// A free TCP port on the loopback interface, below the range the kernel
/// hands out to outgoing connections. A port from that range can be taken
/// by any client's connection while its server is down (a node killed and
/// restarted keeps its port), and the server then cannot listen on it.
pub fn free_port() -> u16 {
    let (low, _) = ephemeral_ports();
    let below = low.saturating_sub(FIRST_CHOSEN_PORT);
    // Several test processes choose at once: start each at its own place.
    let mut seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..64 {
        if below == 0 {
            break;
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = FIRST_CHOSEN_PORT + ((seed >> 33) % u64::from(below)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4222)
}

/// Ports are chosen from here up to the ephemeral range.
const FIRST_CHOSEN_PORT: u16 = 10_000;

/// The kernel's range for outgoing connections' ports (Linux's default
/// where it cannot be read).
fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u16>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
}

/// Stops a nats-server that an earlier run left on this folder (its parent
/// killed with SIGKILL, say): two servers on one JetStream store would both
/// write it. Only a process that runs this very folder's configuration
/// counts, so a pid the system has since given to another process is left
/// alone.
fn stop_left_over(pid_path: &Path, config_path: &Path) -> Result<(), LocalError> {
    let Some(pid) = std::fs::read_to_string(pid_path)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return Ok(());
    };
    let runs_ours = || {
        // A process's arguments, NUL-separated; empty once it has exited.
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|args| {
            args.split(|&b| b == 0)
                .any(|arg| arg == config_path.as_os_str().as_encoded_bytes())
        })
    };
    if !runs_ours() {
        return Ok(());
    }
    let dir = config_path.parent().unwrap_or(config_path);
    tracing::warn!(
        pid,
        dir = %dir.display(),
        "stopping a nats-server left running on this folder by an earlier run"
    );
    for signal in ["-TERM", "-KILL"] {
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let asked = Instant::now();
        while runs_ours() && asked.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !runs_ours() {
            return Ok(());
        }
    }
    Err(LocalError::LeftRunning {
        pid,
        dir: dir.to_owned(),
    })
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
        let config_path = dir.join("nats-server.conf");
        let pid_path = dir.join("nats-server.pid");
        stop_left_over(&pid_path, &config_path)?;
        let store = dir.join("jetstream");
        let config = format!(
            "listen: 127.0.0.1:{port}\nmax_payload: 8MB\npid_file: \"{}\"\n\
             jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n{extra}\n",
            pid_path.display(),
            store.display()
        );
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
        let mut server = NatsServer {
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

    fn wait_listening(&mut self, limit: Duration) -> Result<(), LocalError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LocalError::Exited {
                    port: self.port,
                    status,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LocalError::NotListening {
            port: self.port,
            waited: limit,
        })
    }

    /// The last lines of the server's log, to say why it stopped.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("nats-server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_left_running_on_a_folder_is_stopped_before_another_starts_there() {
        let dir = tempfile::tempdir().expect("a folder");
        let first = NatsServer::start(dir.path(), free_port()).expect("the first starts");
        let (first_port, first_pid) = (first.port, first.child.id());
        // Its owner gone without stopping it, as after a SIGKILL.
        std::mem::forget(first);

        let second = NatsServer::start(dir.path(), free_port()).expect("the second starts");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", first_port)).is_err(),
            "the first server still listens"
        );
        let first_args = std::fs::read(format!("/proc/{first_pid}/cmdline")).unwrap_or_default();
        assert!(first_args.is_empty(), "the first server still runs");
        assert!(std::net::TcpStream::connect(("127.0.0.1", second.port)).is_ok());
    }

    #[test]
    fn a_pid_file_naming_another_program_is_left_alone() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut other = Command::new("sleep").arg("30").spawn().expect("sleep runs");
        std::fs::write(dir.path().join("nats-server.pid"), other.id().to_string())
            .expect("a pid file");
        let server = NatsServer::start(dir.path(), free_port()).expect("the server starts");
        assert!(
            other.try_wait().expect("its status").is_none(),
            "sleep was stopped"
        );
        drop(server);
        let _ = other.kill();
        let _ = other.wait();
    }

    #[test]
    fn a_free_port_is_free_and_below_the_ephemeral_range() {
        let (low, _) = ephemeral_ports();
        // Where the ephemeral range leaves no room below it, any free port
        // will do.
        let below_range = low > FIRST_CHOSEN_PORT;
        for _ in 0..20 {
            let port = free_port();
            assert!(
                !below_range || port < low,
                "{port} is in the ephemeral range from {low}"
            );
            assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        }
    }

    #[test]
    fn a_server_that_cannot_listen_says_why_at_once() {
        let Ok(_) = find_nats_server() else {
            panic!("no nats-server: set NATS_SERVER_BIN (scripts/test.sh does)");
        };
        let dir = tempfile::tempdir().expect("a folder");
        let port = free_port();
        let started = Instant::now();
        match NatsServer::start_with(dir.path(), port, "jetstream {\n  no_such_block {") {
            Err(LocalError::Exited { port: p, log, .. }) => {
                assert_eq!(p, port);
                assert!(log.contains("Parse error"), "{log}");
            }
            Err(other) => panic!("expected the exit to be reported, got {other}"),
            Ok(_) => panic!("nats-server listened with a broken configuration"),
        }
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
