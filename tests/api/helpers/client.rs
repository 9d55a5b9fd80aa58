//! A small HTTP client that speaks the contract: one request sender
//! (`Client::try_send_raw`) under every way of sending, and the answers it
//! reads back.

use super::{assert_json, ADMIN_TOKEN};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
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

    /// The `id` of a JSON body.
    pub fn id(&self) -> String {
        let body = self.json();
        body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {body}"))
            .to_string()
    }
}

/// A keyed or plain request as data, to send and send again.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub key: Option<String>,
    pub body: Option<String>,
}

impl Request {
    /// A POST of `body` with a new idempotency key.
    pub fn post(path: impl Into<String>, body: &Value) -> Request {
        Request {
            method: "POST",
            path: path.into(),
            key: Some(new_key()),
            body: Some(body.to_string()),
        }
    }

    /// A DELETE (no key, no body).
    pub fn delete(path: impl Into<String>) -> Request {
        Request {
            method: "DELETE",
            path: path.into(),
            key: None,
            body: None,
        }
    }
}

/// A client of one server, optionally signed in.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    basic_auth: Option<(String, String)>,
}

impl Client {
    /// A client with its own connection pool.
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            base: base.to_string(),
            token: None,
            basic_auth: None,
        }
    }

    /// A client of `base` (its own connection pool) signed in with `token`.
    pub fn on(base: &str, token: &str) -> Client {
        Client::new(base).with_token(token)
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            basic_auth: None,
            ..self.clone()
        }
    }

    /// The same server with no credentials (for 401 checks).
    pub fn anonymous(&self) -> Client {
        Client {
            token: None,
            basic_auth: None,
            ..self.clone()
        }
    }

    /// Credentials of another scheme than Bearer.
    pub fn with_basic_auth(&self, user: &str, password: &str) -> Client {
        Client {
            token: None,
            basic_auth: Some((user.to_string(), password.to_string())),
            ..self.clone()
        }
    }

    pub fn admin(&self) -> Client {
        self.with_token(ADMIN_TOKEN)
    }

    /// The session token of a signed-in client.
    pub fn token(&self) -> String {
        self.token.clone().expect("a signed-in client")
    }

    /// A new guest session.
    pub async fn guest(&self) -> Client {
        let answer = self.send("POST", "/v1/sessions", None, None).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        let token = answer.json()["token"].as_str().unwrap().to_string();
        self.with_token(&token)
    }

    // ------------------------------------------------------------ sending

    /// Sends a request: the one place that does. The key is raw bytes (any
    /// header value http can carry), the body any body (text or a stream),
    /// sent as JSON. `None` when no answer arrived: the connection failed,
    /// the server died before or while answering.
    pub async fn try_send_raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&[u8]>,
        body: Option<reqwest::Body>,
    ) -> Option<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &self.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(key) = key {
            let value = HeaderValue::from_bytes(key).expect("a header value http can send");
            request = request.header("Idempotency-Key", value);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.ok()?;
        Some(Answer {
            status,
            headers,
            text,
        })
    }

    /// `try_send_raw`, answered.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&[u8]>,
        body: Option<reqwest::Body>,
    ) -> Answer {
        self.try_send_raw(method, path, key, body)
            .await
            .expect("request is answered")
    }

    /// A request with a text key and body; `None` when no answer arrived.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Option<Answer> {
        let body = body.map(|b| reqwest::Body::from(b.to_string()));
        self.try_send_raw(method, path, key.map(str::as_bytes), body)
            .await
    }

    /// A request with a text key and body; `body` is raw text so tests can
    /// send anything.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        self.try_send(method, path, key, body)
            .await
            .expect("request is answered")
    }

    /// Sends `request` (again); `None` when no answer arrived.
    pub async fn try_request(&self, request: &Request) -> Option<Answer> {
        let (key, body) = (request.key.as_deref(), request.body.as_deref());
        self.try_send(request.method, &request.path, key, body)
            .await
    }

    /// Sends `request` (again).
    pub async fn request(&self, request: &Request) -> Answer {
        self.try_request(request)
            .await
            .expect("request is answered")
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

    // ------------------------------------------------------------ shows

    /// Creates a show with rows like `[("A", 10)]` (as admin); returns its id.
    pub async fn create_show(&self, title: &str, rows: &[(&str, u32)]) -> String {
        let mut body = super::show_body(rows);
        body["title"] = json!(title);
        let answer = self.admin().post("/v1/shows", &new_key(), body).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.id()
    }

    /// `GET /v1/shows`: the listed shows.
    pub async fn shows(&self) -> Vec<Value> {
        let answer = self.get("/v1/shows").await;
        assert_json(&answer, 200)["shows"]
            .as_array()
            .expect("shows is an array")
            .clone()
    }

    /// The show list's entry for `show`.
    pub async fn show_summary(&self, show: &str) -> Value {
        self.shows()
            .await
            .into_iter()
            .find(|s| s["id"] == show)
            .unwrap_or_else(|| panic!("show {show} is not listed"))
    }

    /// Seat id -> status from the public seat map.
    pub async fn seat_map(&self, show: &str) -> BTreeMap<String, String> {
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

    /// Opens `GET /v1/shows/{show}/events` (a stream).
    pub async fn open_events(&self, show: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/shows/{show}/events", self.base))
            .send()
            .await
            .expect("the event stream answers")
    }

    // ------------------------------------------------------------ bookings

    pub async fn book(&self, key: &str, show: &str, seats: &[&str]) -> Answer {
        self.post("/v1/bookings", key, super::booking_body(show, seats))
            .await
    }

    /// Books with a new key; asserts the 201 JSON answer and returns it.
    pub async fn book_new(&self, show: &str, seats: &[&str]) -> Value {
        assert_json(&self.book(&new_key(), show, seats).await, 201)
    }

    /// `GET /v1/bookings`: this user's bookings.
    pub async fn bookings(&self) -> Vec<Value> {
        let answer = self.get("/v1/bookings").await;
        assert_json(&answer, 200)["bookings"]
            .as_array()
            .expect("bookings is an array")
            .clone()
    }

    pub async fn booking(&self, id: &str) -> Value {
        assert_json(&self.get(&format!("/v1/bookings/{id}")).await, 200)
    }

    /// `DELETE /v1/bookings/{id}`.
    pub async fn cancel(&self, id: &str) -> Answer {
        self.delete(&format!("/v1/bookings/{id}")).await
    }

    // ------------------------------------------------------------ carts

    /// Creates a cart (a fresh key), asserts the 201 JSON answer and
    /// returns the cart's id.
    pub async fn new_cart(&self) -> String {
        let answer = self.post("/v1/carts", &new_key(), json!({})).await;
        assert_json(&answer, 201)["id"]
            .as_str()
            .expect("a cart id")
            .to_string()
    }

    pub async fn cart(&self, id: &str) -> Value {
        assert_json(&self.get(&format!("/v1/carts/{id}")).await, 200)
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

    /// Holds a seat with a new key; asserts the 201 JSON answer (the cart)
    /// and returns it.
    pub async fn hold_new(&self, cart: &str, show: &str, seat: &str) -> Value {
        assert_json(&self.hold(cart, &new_key(), show, seat).await, 201)
    }

    /// Releases a held seat: `DELETE /v1/carts/{cart}/items/{show}/{seat}`.
    pub async fn release(&self, cart: &str, show: &str, seat: &str) -> Answer {
        self.delete(&format!("/v1/carts/{cart}/items/{show}/{seat}"))
            .await
    }

    pub async fn checkout(&self, cart: &str, key: &str) -> Answer {
        self.post(&format!("/v1/carts/{cart}/checkout"), key, json!({}))
            .await
    }

    // ------------------------------------------------------------ operations

    /// The value of one series of `/metrics`, e.g.
    /// `boxoffice_actors_active{actor="seat"}`. The metrics are the serving
    /// process's: in-process servers share them.
    pub async fn metric(&self, series: &str) -> f64 {
        let metrics = self.get("/metrics").await.text;
        let prefix = format!("{series} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {series} in metrics"))
            .trim()
            .parse()
            .unwrap()
    }
}
