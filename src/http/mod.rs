//! The HTTP edge: parse, authenticate, check the key, call the engine, and
//! turn its `Reply` into a response. No business rule lives here.

mod client_address;
mod doc_parts;
mod endpoints;
mod extract;
mod forward;
/// The header of a request one node sent on to another (one hop).
pub use forward::FORWARDED;
pub mod openapi;
mod rate_limit;
pub mod requests;
mod respond;
mod routes;
mod seat_map_body;
mod state;
mod token_guesses;

pub use respond::respond;
pub use state::{AppState, MAX_BODY_BYTES};

use crate::config::Settings;
use crate::engine::{Engine, Storage};
use crate::replies;
use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, App, HttpServer};
use client_address::TrustedProxies;
use rate_limit::RateLimiter;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use token_guesses::TokenGuesses;
use tokio::sync::watch;

/// A running server.
pub struct Running {
    pub server: Server,
    pub addr: SocketAddr,
    pub engine: Engine,
    shutdown: watch::Sender<bool>,
}

impl Running {
    /// Graceful stop: end event streams, finish in-flight requests, flush.
    pub async fn stop(handle: ServerHandle, shutdown: &watch::Sender<bool>) {
        let _ = shutdown.send(true);
        handle.stop(true).await;
    }

    pub fn shutdown_sender(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Bytes the kernel may queue for one client before our writes wait (Linux
/// doubles it for bookkeeping). Without a bound it grows to 4 MiB a socket
/// (`tcp_wmem`): 400 clients that read nothing would hold 1.6 GB of kernel
/// memory, and the server would render megabytes for each. 256 KiB still
/// fills a 100 ms path at 5 MB/s.
const SEND_BUFFER_BYTES: usize = 256 * 1024;

/// Bounds the kernel's send buffer of each accepted connection.
fn bound_send_buffer(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(error) = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER_BYTES) {
            tracing::debug!(%error, "could not bound a send buffer");
        }
    }
}

/// What the handlers share, from the settings.
fn app_state(
    settings: &Settings,
    trusted_proxies: TrustedProxies,
    engine: Engine,
    shutdown: watch::Receiver<bool>,
) -> AppState {
    AppState {
        engine,
        trusted_proxies,
        token_guesses: TokenGuesses::new(settings.token_guesses_per_minute),
        peers: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client"),
        streams: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client"),
        forward_patience: Duration::from_millis(3 * settings.lease_ms),
        admin_token_sha256: settings
            .admin_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(crate::engine::token_hash),
        limiter: RateLimiter::new(settings.user_rate_limit, 2),
        session_limiter: RateLimiter::new(
            settings.session_rate_limit,
            settings.session_burst_factor,
        ),
        max_seats_per_booking: settings.max_seats_per_booking,
        body_timeout: Duration::from_secs(settings.client_request_timeout_secs),
        exports: Arc::new(tokio::sync::Semaphore::new(1)),
        shutdown,
    }
}

/// `HEAD` wherever `GET` works (docs/API.md §1): the request is served as a
/// `GET` and its answer sent without the body (its headers, status and
/// `Content-Length` kept; an event stream ends at once).
fn head_as_get<S>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>>
where
    S: Service<
        ServiceRequest,
        Response = ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
    >,
{
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if !head {
            return Ok(res);
        }
        Ok(res.map_body(|_, body| {
            use actix_web::body::{BodySize, MessageBody};
            let length = match body.size() {
                BodySize::Sized(n) => Some(n),
                _ => None,
            };
            drop(body);
            match length {
                Some(n) => actix_web::body::BoxBody::new(HeadBody(n)),
                None => actix_web::body::BoxBody::new(()),
            }
        }))
    }
}

/// The body of a `HEAD` answer: no bytes, but the size of the `GET`
/// answer's, for its `Content-Length`.
struct HeadBody(u64);

impl actix_web::body::MessageBody for HeadBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.0)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<bytes::Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

/// Counts and times every request by method, route and status.
fn observe<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let started = Instant::now();
    // A fixed label set: clients choose methods, and every new label value
    // would be a new series held forever.
    let method: &'static str = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        // The pattern its resource keeps (matching the path against the
        // routes again here cost 2.5% of the server's CPU, issue 18).
        let route = res
            .request()
            .app_data::<endpoints::RoutePattern>()
            .map_or("unmatched", |pattern| pattern.0);
        let status = res.status();
        crate::metrics::HTTP_REQUESTS
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        crate::metrics::HTTP_LATENCY
            .with_label_values(&[method, route])
            .observe(started.elapsed().as_secs_f64());
        Ok(res)
    }
}

/// The store and membership the settings name (`engine::Storage::open`).
pub async fn open_storage(settings: &Settings) -> std::io::Result<Storage> {
    Storage::open(settings.storage()).await
}

/// Opens the store, recovers the engine, seeds demo shows on an empty
/// store, and binds the server. Must run inside an actix `System`.
pub async fn start(settings: &Settings) -> std::io::Result<Running> {
    start_with_storage(settings, open_storage(settings).await?).await
}

/// `start` on storage opened by the caller (an embedding program's, or a
/// test's that watches what is written); the store settings are unused.
pub async fn start_with_storage(settings: &Settings, storage: Storage) -> std::io::Result<Running> {
    // A bad setting stops the start here, before the engine starts.
    let trusted_proxies =
        TrustedProxies::parse(&settings.trusted_proxies).map_err(std::io::Error::other)?;
    let membership = storage.membership.clone();
    let was_empty = storage
        .store
        .is_empty()
        .await
        .map_err(std::io::Error::other)?;
    let engine = Engine::start(settings.engine(), storage)
        .await
        .map_err(std::io::Error::other)?;
    if was_empty && settings.demo {
        engine.seed_demo().await.map_err(std::io::Error::other)?;
        tracing::info!("seeded demo shows");
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = web::Data::new(app_state(
        settings,
        trusted_proxies,
        engine.clone(),
        shutdown_rx,
    ));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap_fn(head_as_get)
            .wrap_fn(observe)
            .configure(endpoints::configure)
            .default_service(web::to(|| async {
                respond(replies::not_found("resource"))
            }))
    })
    .on_connect(bound_send_buffer)
    .workers(settings.http_workers())
    .max_connections(settings.max_connections)
    .client_request_timeout(Duration::from_secs(settings.client_request_timeout_secs))
    .client_disconnect_timeout(Duration::from_secs(2))
    .shutdown_timeout(10)
    .disable_signals()
    .bind(&settings.bind)?;
    let addr = server.addrs()[0];
    if settings.advertise.is_none() {
        membership.advertise(&format!("http://{addr}"));
    }
    let server = server.run();
    Ok(Running {
        server,
        addr,
        engine,
        shutdown: shutdown_tx,
    })
}
