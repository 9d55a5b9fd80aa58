//! An engine with its HTTP edge on a thread of the calling process, on a
//! store of its own: started, crashed (in-flight requests cut off, every
//! actor and its memory dropped) and started again from what the store
//! kept, then stopped and its store checked. `boxoffice simulate` runs its
//! crowd against one when given no target, and the model tests drive one;
//! it is the whole engine, nothing mocked, in a process the caller owns.

use crate::config::Settings;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The admin token an [`InProcess`] engine is given unless the caller's
/// settings say otherwise.
pub const IN_PROCESS_ADMIN_TOKEN: &str = "boxoffice-simulator-admin";

/// An engine with its HTTP edge in this process.
pub struct InProcess {
    pub base: String,
    settings: Settings,
    _dir: Option<tempfile::TempDir>,
    stop: Option<mpsc::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    /// Starts on a new temporary directory.
    pub fn start(hold_ttl_secs: u64) -> std::io::Result<InProcess> {
        InProcess::start_with(hold_ttl_secs, |_| {})
    }

    /// Starts on a new temporary directory with settings adjusted (for
    /// example a `database_url`: then restarts find the database as the
    /// crash left it).
    pub fn start_with(
        hold_ttl_secs: u64,
        adjust: impl FnOnce(&mut Settings),
    ) -> std::io::Result<InProcess> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            data_dir: dir.path().join("data"),
            admin_token: Some(IN_PROCESS_ADMIN_TOKEN.into()),
            user_rate_limit: 0,
            hold_ttl_secs,
            demo: false,
            ..Settings::default()
        };
        adjust(&mut settings);
        let mut server = InProcess {
            base: String::new(),
            settings,
            _dir: Some(dir),
            stop: None,
            thread: None,
        };
        server.launch()?;
        // Restarts keep the port, so clients keep their address.
        server.settings.bind = server.base.trim_start_matches("http://").to_string();
        Ok(server)
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let settings = self.settings.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<bool>();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let running = match crate::http::start(&settings).await {
                    Ok(running) => running,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                let handle = running.server.handle();
                let shutdown = running.shutdown_sender();
                let engine = running.engine.clone();
                let _ = ready_tx.send(Ok(running.addr));
                let server = actix_web::rt::spawn(running.server);
                let graceful = actix_web::rt::task::spawn_blocking(move || stop_rx.recv())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(true);
                let _ = shutdown.send(true);
                handle.stop(graceful).await;
                let _ = server.await;
                engine.stop_actors();
            });
        });
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| std::io::Error::other("in-process engine did not start"))??;
        self.base = format!("http://{addr}");
        self.stop = Some(stop_tx);
        self.thread = Some(thread);
        Ok(())
    }

    fn halt(&mut self, graceful: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(graceful);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the engine abruptly (in-flight requests are cut off, actors
    /// and their in-memory state dropped) and starts it again from its
    /// store (the sled directory, or the database).
    pub fn crash_and_restart(&mut self) -> std::io::Result<()> {
        self.halt(false);
        // The store is released when the last engine handle is dropped;
        // opening may race that by a moment, so retry for a bounded time.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "restart not yet possible");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl InProcess {
    /// Stops the engine (gracefully) and checks its store's records
    /// against each other (`boxoffice check`); returns every
    /// inconsistency found.
    pub fn stop_and_check_store(&mut self) -> std::io::Result<Vec<String>> {
        use crate::store::dump::{each_record, StoreLocation};
        self.halt(true);
        let location = match &self.settings.database_url {
            Some(url) => StoreLocation::Postgres(url.clone()),
            None => StoreLocation::Sled(self.settings.data_dir.clone()),
        };
        // The directory is released when the engine's last handle drops.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut checker = crate::store::check::Checker::default();
            let now_ms = chrono::Utc::now().timestamp_millis() as u64;
            match each_record(&location, |record| {
                checker.add(record);
                Ok(())
            }) {
                Ok(()) => return Ok(checker.finish(now_ms).problems),
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "the store is not yet free to check");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => return Err(std::io::Error::other(error)),
            }
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.halt(true);
    }
}
