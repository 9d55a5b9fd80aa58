//! Servers on 127.0.0.1:0 with storage of their own (a temporary data
//! directory, or a fresh PostgreSQL database: `Storage`): in this process
//! (`spawn_app`, `StoreKind::spawn_app`) or the real binary as a child
//! process (`BinaryServer`).

use super::{Client, Storage, StoreKind};
use boxoffice::config::Settings;
use boxoffice::store::Store;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Settings for tests: no demo shows, no rate limit, an admin token.
pub fn test_settings(dir: &Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        admin_token: Some(ADMIN_TOKEN.into()),
        user_rate_limit: 0,
        demo: false,
        workers: 2,
        actor_threads: 2,
        // A loaded CI disk must not make tests shed or stop.
        store_stall_ms: 5_000,
        store_deadline_ms: 60_000,
        ..Settings::default()
    }
}

/// A server running in this process on its own actix system thread.
pub struct TestServer {
    pub base: String,
    /// Dropped after the server has stopped (the fields drop after `drop`).
    _storage: Storage,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// An in-process server on sled (tests that run on one store).
pub fn spawn_app() -> TestServer {
    spawn_app_with(|_| {})
}

/// `spawn_app`, with settings adjusted.
pub fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    StoreKind::Sled.spawn_app_with(adjust)
}

/// An in-process server with test settings on `storage`.
pub fn spawn_app_on(storage: Storage, adjust: impl FnOnce(&mut Settings)) -> TestServer {
    spawn_app_through(storage, adjust, |store| store)
}

/// An in-process server whose store is seen through `wrap` (a test's
/// decorator that watches what is written).
pub fn spawn_app_through(
    storage: Storage,
    adjust: impl FnOnce(&mut Settings),
    wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store> + Send + 'static,
) -> TestServer {
    let mut settings = test_settings(&storage.data);
    storage.apply(&mut settings);
    adjust(&mut settings);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let mut opened = boxoffice::http::open_storage(&settings)
                .await
                .expect("the store opens");
            opened.store = wrap(opened.store);
            let running = boxoffice::http::start_with_storage(&settings, opened)
                .await
                .expect("server starts");
            let handle = running.server.handle();
            let shutdown = running.shutdown_sender();
            ready_tx.send(running.addr).unwrap();
            let server = actix_web::rt::spawn(running.server);
            // Wait for the stop signal off the runtime's threads.
            let _ = actix_web::rt::task::spawn_blocking(move || stop_rx.recv()).await;
            boxoffice::http::Running::stop(handle, &shutdown).await;
            let _ = server.await;
        });
        actix_web::rt::System::current().stop();
    });
    let addr = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server reports its address");
    TestServer {
        base: format!("http://{addr}"),
        _storage: storage,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl TestServer {
    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// `host:port`, for raw TCP.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The real `boxoffice` binary as a child process.
pub struct BinaryServer {
    pub child: Child,
    pub base: String,
}

impl BinaryServer {
    /// Starts `boxoffice serve` on `storage`: its data directory, and its
    /// database (`BOXOFFICE_DATABASE_URL`) on PostgreSQL; `env` adds
    /// BOXOFFICE_* settings. A restart on the same storage finds what the
    /// last run left.
    pub fn on(storage: &Storage, env: &[(&str, &str)]) -> BinaryServer {
        let mut env = env.to_vec();
        // On PostgreSQL, with no node id unless the test gives one: each
        // run is the node whose id is kept in the data directory.
        if let Some(url) = storage.database_url() {
            env.push(("BOXOFFICE_DATABASE_URL", url));
        }
        BinaryServer::start(&storage.data, &env)
    }

    /// Starts `boxoffice serve` on `dir`; `env` adds BOXOFFICE_* settings.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> BinaryServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_boxoffice"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--data-dir"])
            .arg(dir)
            // Run from an empty directory so no config file is picked up.
            .current_dir(dir.parent().unwrap_or(dir))
            .env("BOXOFFICE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("BOXOFFICE_USER_RATE_LIMIT", "0")
            .env("BOXOFFICE_WORKERS", "2")
            .env("BOXOFFICE_ACTOR_THREADS", "2")
            // A loaded CI disk must not make tests shed or stop: the hung
            // store's own test sets tight limits.
            .env("BOXOFFICE_STORE_STALL_MS", "5000")
            .env("BOXOFFICE_STORE_DEADLINE_MS", "60000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start boxoffice binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        BinaryServer { child, base }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client of this server signed in with `token`.
    pub fn as_user(&self, token: &str) -> Client {
        Client::on(&self.base, token)
    }

    /// SIGSTOP: the process runs no further, answers nothing more, and
    /// holds everything it has open (before a power cut, so that it cannot
    /// answer what the cut breaks).
    pub fn pause(&self) {
        // SAFETY: kill(2) on our child's pid; no memory is touched.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGSTOP) };
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("reap")
    }

    /// SIGTERM, and asserts a clean exit.
    pub fn stop(self) {
        let status = self.terminate();
        assert!(status.success(), "SIGTERM exit: {status:?}");
    }

    /// Waits for the process to end by itself (crash points abort it).
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().expect("reap")
    }

    /// Waits up to `limit` for the process to end by itself; `None` if it
    /// is still running then (it is killed when dropped).
    pub async fn wait_for(&mut self, limit: std::time::Duration) -> Option<ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            if started.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory and a data directory inside it that does not
/// exist yet (the binary makes it).
pub fn temp_data_dir() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    (parent, data)
}

/// On an in-process server: one show `A1..A{seats}` and a guest. Returns
/// an anonymous client, the show and the guest.
pub async fn show_and_guest(server: &TestServer, seats: u32) -> (Client, String, Client) {
    let client = server.client();
    let show = client.create_show("Contract", &[("A", seats)]).await;
    let guest = client.guest().await;
    (client, show, guest)
}
