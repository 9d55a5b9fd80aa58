//! `GET /v1/admin/export`: the whole store as a dump (`docs/DUMP.md`),
//! from one consistent snapshot, while the server keeps serving. The
//! store hands records out on a blocking thread; they are written as dump
//! lines into chunks of 64 KiB that wait in a queue of eight for the
//! client to read: memory stays bounded whatever the store's size, and a
//! client that stops reading stops the export. One export runs at a time.

use crate::http::extract;
use crate::http::respond::respond;
use crate::http::state::AppState;
use crate::replies;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use std::io::Write;
use tokio::sync::mpsc;

/// Bytes of a chunk of the answer.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks written and not yet sent, at most.
const CHUNKS_WAITING: usize = 8;

#[utoipa::path(
    get, path = "/v1/admin/export", tag = "operations", operation_id = "exportStore",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dump: UTF-8 JSON lines, the first naming the format and version, a line per record, the last with the counts and the SHA-256 of every byte before it (docs/DUMP.md). Every write acknowledged before the request began is in it, and nothing in it is half of a write. A dump that ends without its last line was cut short (the connection, or the export failed): `boxoffice import` refuses it.", content_type = "application/x-ndjson", body = String),
        (status = 401, response = crate::http::doc_parts::Unauthorized),
        (status = 403, response = crate::http::doc_parts::Forbidden),
        (status = 429, response = crate::http::doc_parts::RateLimited),
        (status = 503, response = crate::http::doc_parts::Overloaded),
    ),
)]
/// Export the store (admin)
///
/// Admin only. Streams the whole store as a dump, read from one
/// consistent snapshot while the server keeps serving; `boxoffice import`
/// loads it into an empty store of either kind. One export at a time:
/// another while one runs answers 503.
pub(crate) async fn export(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Err(reply) = extract::admin(&state, &req).await {
        return respond(reply);
    }
    let Ok(permit) = state.exports.clone().try_acquire_owned() else {
        return respond(replies::export_running());
    };
    let (chunks, receiver) = mpsc::channel(CHUNKS_WAITING);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _running = permit;
        let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let out = Chunks {
            sender: chunks,
            pending: Vec::with_capacity(CHUNK_BYTES),
        };
        match engine.export_dump(out, created_at) {
            Ok(counts) => tracing::info!(?counts, "exported the store"),
            // The answer ends without its last line: a cut dump.
            Err(error) => tracing::warn!(%error, "the export stopped"),
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, actix_web::Error>(chunk), receiver))
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

/// The answer's body as it is written: full chunks go to the client as
/// they fill (blocking while eight wait), the rest when it is flushed.
struct Chunks {
    sender: mpsc::Sender<Bytes>,
    pending: Vec<u8>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender.blocking_send(chunk).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
