//! What a simulation saw: every request with its timing and answer, and
//! the final state read back at the end. The checker works on these alone,
//! so it can be tested on hand-made histories.

use std::collections::BTreeMap;

/// A state-changing request as the client meant it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Book {
        show: String,
        seats: Vec<String>,
    },
    CreateCart,
    Hold {
        cart: String,
        show: String,
        seat: String,
    },
    Release {
        cart: String,
        show: String,
        seat: String,
    },
    Checkout {
        cart: String,
        show: String,
        seats: Vec<String>,
    },
    Cancel {
        booking: String,
        show: String,
        seats: Vec<String>,
    },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Book { .. } => "book",
            Op::CreateCart => "create-cart",
            Op::Hold { .. } => "hold",
            Op::Release { .. } => "release",
            Op::Checkout { .. } => "checkout",
            Op::Cancel { .. } => "cancel",
        }
    }
}

/// The server's answer to one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Last path segment of a problem's `type`.
    pub fn code(&self) -> Option<String> {
        let body = self.json()?;
        Some(body.get("type")?.as_str()?.rsplit('/').next()?.to_string())
    }
}

/// One attempt of one request (a retry is another event with the same key).
#[derive(Clone, Debug)]
pub struct Event {
    pub seq: usize,
    pub user: usize,
    pub op: Op,
    pub key: Option<String>,
    /// Wall-clock ms since the epoch when the attempt was sent / answered.
    pub start_ms: u64,
    pub end_ms: u64,
    /// `None`: no answer (connection lost, timeout, fault injection).
    pub answer: Option<Answer>,
}

impl Event {
    pub fn ok(&self) -> bool {
        self.answer
            .as_ref()
            .is_some_and(|a| (200..300).contains(&a.status))
    }
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
    pub hold_ttl_ms: u64,
}

/// A booking as read back at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingObs {
    pub id: String,
    pub user: usize,
    pub show: String,
    pub seats: Vec<String>,
    pub confirmed: bool,
}

/// A cart item as read back at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemObs {
    pub seat: String,
    pub expires_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartObs {
    pub id: String,
    pub user: usize,
    pub show: String,
    pub open: bool,
    pub items: Vec<ItemObs>,
}

/// The engine's state at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    pub bookings: Vec<BookingObs>,
    pub carts: Vec<CartObs>,
    /// (show, seat) -> "available" | "held" | "booked".
    pub seat_map: BTreeMap<(String, String), String>,
    pub observed_at_ms: u64,
}
