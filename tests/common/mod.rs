//! Test harness: servers on 127.0.0.1:0 with a temporary data directory,
//! in process (`spawn_app`) or as the real binary (`BinaryServer`), and a
//! small HTTP client that speaks the contract.
#![allow(dead_code)]

use boxoffice::config::Settings;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
        ..Settings::default()
    }
}

/// A server running in this process on its own actix system thread.
pub struct TestServer {
    pub base: String,
    pub dir: tempfile::TempDir,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn spawn_app() -> TestServer {
    spawn_app_with(|_| {})
}

pub fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(dir.path());
    adjust(&mut settings);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let running = boxoffice::http::start(&settings)
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
        dir,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl TestServer {
    pub fn client(&self) -> Client {
        Client::new(&self.base)
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

    /// `kill -9`.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("reap")
    }

    /// Waits for the process to end by itself (crash points abort it).
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("reap")
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_data_dir() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    (parent, data)
}

/// One HTTP answer, decoded.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The problem code: last path segment of `type`.
    pub fn code(&self) -> String {
        let body = self.json();
        let kind = body["type"]
            .as_str()
            .unwrap_or_else(|| panic!("no type in {body}"));
        kind.rsplit('/').next().unwrap().to_string()
    }

    pub fn is_replay(&self) -> bool {
        self.header("idempotent-replayed").as_deref() == Some("true")
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.code(), code, "body: {}", self.text);
        let body = self.json();
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["detail"].is_string());
    }
}

/// A client of one server, optionally signed in.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            base: base.to_string(),
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    pub fn admin(&self) -> Client {
        self.with_token(ADMIN_TOKEN)
    }

    /// A new guest session.
    pub async fn guest(&self) -> Client {
        let answer = self.send("POST", "/v1/sessions", None, None).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        let token = answer.json()["token"].as_str().unwrap().to_string();
        self.with_token(&token)
    }

    /// Sends a request; `body` is raw text so tests can send anything.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Answer {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.send("POST", path, Some(key), Some(&body.to_string()))
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None, None).await
    }

    /// Creates a show with rows like `[("A", 10)]` (as admin); returns its id.
    pub async fn create_show(&self, title: &str, rows: &[(&str, u32)]) -> String {
        let rows: Vec<Value> = rows
            .iter()
            .map(|(label, seats)| json!({"label": label, "seats": seats}))
            .collect();
        let body = json!({"title": title, "starts_at": "2026-12-01T19:30:00Z", "rows": rows});
        let answer = self
            .admin()
            .post("/v1/shows", &uuid::Uuid::new_v4().to_string(), body)
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.json()["id"].as_str().unwrap().to_string()
    }

    /// Creates a cart (a fresh key), asserts the 201 JSON answer and
    /// returns the cart's id.
    pub async fn new_cart(&self) -> String {
        let answer = self.post("/v1/carts", &new_key(), json!({})).await;
        assert_eq!(answer.status, 201, "POST /v1/carts: {}", answer.text);
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/json"),
            "{}",
            answer.text
        );
        answer.json()["id"].as_str().expect("a cart id").to_string()
    }

    /// Holds a seat in a cart: `POST /v1/carts/{cart}/items`.
    pub async fn hold(&self, cart: &str, key: &str, show: &str, seat: &str) -> Answer {
        self.post(
            &format!("/v1/carts/{cart}/items"),
            key,
            json!({"show_id": show, "seat_id": seat}),
        )
        .await
    }

    pub async fn book(&self, key: &str, show: &str, seats: &[&str]) -> Answer {
        self.post(
            "/v1/bookings",
            key,
            json!({"show_id": show, "seats": seats}),
        )
        .await
    }

    /// Seat id -> status from the public seat map.
    pub async fn seat_map(&self, show: &str) -> std::collections::BTreeMap<String, String> {
        let answer = self.get(&format!("/v1/shows/{show}")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
