//! Where the simulated crowd sends its requests: an engine in the calling
//! program's process (it supplies one: [`LocalEngine`], since this crate
//! does not link the engine), or a server over HTTP, optionally one we
//! start and `kill -9` ourselves.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Admin token the simulator gives servers it starts.
pub const SIM_ADMIN_TOKEN: &str = "boxoffice-simulator-admin";

/// An engine running in this process on a store of its own, which the
/// simulator may crash and restart and, at the end, check.
pub trait LocalEngine: Send {
    /// Its base URL (`http://127.0.0.1:port`); restarts keep it.
    fn base_url(&self) -> String;
    /// Stops it abruptly (in-flight requests cut off, in-memory state
    /// dropped) and starts it again from its store.
    fn crash_and_restart(&mut self) -> std::io::Result<()>;
    /// Stops it gracefully and checks its store's records against each
    /// other (`boxoffice check`); returns every inconsistency found.
    fn stop_and_check_store(&mut self) -> std::io::Result<Vec<String>>;
}

/// Starts a [`LocalEngine`] with the given hold TTL (seconds) and the
/// admin token [`SIM_ADMIN_TOKEN`]; the program that runs the simulator
/// supplies it (`boxoffice simulate` starts the engine it is built with).
#[derive(Clone)]
pub struct LocalEngines(
    pub Arc<dyn Fn(u64) -> std::io::Result<Box<dyn LocalEngine>> + Send + Sync>,
);

impl std::fmt::Debug for LocalEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalEngines")
    }
}

/// A server process the simulator started with `--server-cmd`.
pub struct External {
    command: String,
    child: Option<Child>,
    base: String,
}

impl External {
    pub fn start(command: &str, base: &str) -> std::io::Result<External> {
        let mut server = External {
            command: command.to_string(),
            child: None,
            base: base.to_string(),
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.command))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        self.child = Some(child);
        wait_healthy(&self.base, Duration::from_secs(30))
    }

    /// `kill -9` and start again.
    pub fn crash_and_restart(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self.launch()
    }
}

impl Drop for External {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

/// Polls `/healthz` until it answers 200, within `limit`.
pub fn wait_healthy(base: &str, limit: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + limit;
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    loop {
        if healthz_ok(addr) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "{base} did not become healthy"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain blocking `GET /healthz` (no async runtime needed here).
fn healthz_ok(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
