//! The finished answer every part of the engine hands back (`Reply`):
//! status, body bytes and the headers that vary. It is built once, as
//! bytes, because the engine stores it with its idempotency key and
//! replays it byte for byte.

use crate::domain::ShowId;
use bytes::Bytes;
use serde::Serialize;

/// A finished HTTP answer: status, body and the headers that vary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// `Idempotent-Replayed: true`.
    pub replayed: bool,
    /// `Retry-After` in seconds (409 in progress, 429, 503).
    pub retry_after_secs: Option<u32>,
    /// Not for this node: the show's partition is another node's. The
    /// HTTP edge sends the request on to that node (else this 503 goes
    /// out as it is).
    pub forward_to: Option<ShowId>,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        Reply {
            status,
            body: Bytes::from(json_bytes(value)),
            replayed: false,
            retry_after_secs: None,
            forward_to: None,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: Bytes::new(),
            replayed: false,
            retry_after_secs: None,
            forward_to: None,
        }
    }

    pub fn is_problem(&self) -> bool {
        self.status >= 400
    }

    pub fn with_retry_after(mut self, secs: u32) -> Reply {
        self.retry_after_secs = Some(secs);
        self
    }
}

/// A value as JSON, into a buffer sized for a typical answer (a booking's
/// is about 260 bytes; `to_vec` starts at 128 and grows it twice).
fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, value).expect("replies serialise");
    out
}
