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
    /// `DELETE /v1/bookings/{id}`: by its customer, or by the box office
    /// on the customer's behalf (`by_staff`, with the admin token).
    Cancel {
        booking: String,
        show: String,
        seats: Vec<String>,
        by_staff: bool,
    },
    /// `POST /v1/shows/{show}/blocks` (staff): house seats taken off sale.
    Block {
        show: String,
        seats: Vec<String>,
        reason: Option<String>,
    },
    /// `DELETE /v1/shows/{show}/blocks/{seat}` (staff): back on sale.
    Unblock {
        show: String,
        seat: String,
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
            Op::Cancel {
                by_staff: false, ..
            } => "cancel",
            Op::Cancel { by_staff: true, .. } => "staff-cancel",
            Op::Block { .. } => "block",
            Op::Unblock { .. } => "unblock",
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
    /// (show, seat) -> "available" | "held" | "booked" | "blocked".
    pub seat_map: BTreeMap<(String, String), String>,
    pub observed_at_ms: u64,
    /// The box-office scenario: what the staff's own views say.
    pub box_office: Option<BoxOfficeObs>,
}

/// What the staff read back at the end of a box-office run, after every
/// request had been answered.
#[derive(Clone, Debug, Default)]
pub struct BoxOfficeObs {
    /// `GET /v1/shows/{id}/bookings`, every page; `None` if a page could
    /// not be read.
    pub bookings: Option<Vec<ListedBooking>>,
    /// `GET /v1/shows/{id}/sales`, as it came; `None` if it could not be read.
    pub sales: Option<serde_json::Value>,
    /// Each seat's category, from the seat map.
    pub categories: BTreeMap<String, String>,
    /// The seat map read just before the sales figures equals the one read
    /// just after (`FinalState::seat_map`): no hold lapsed in between, so
    /// the held and available counts must match it too.
    pub map_steady: bool,
}

/// One booking of the staff list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedBooking {
    pub id: String,
    pub show: String,
    /// The engine's id of the customer (not the simulator's user number).
    pub user_id: String,
    pub seats: Vec<String>,
    pub confirmed: bool,
    pub total_cents: i64,
    /// (seat, price) as the booking was priced.
    pub seat_prices: Vec<(String, i64)>,
    /// `"customer"` or `"box-office"`, for a cancelled booking.
    pub cancelled_by: Option<String>,
}
