//! What goes over the wire: JSON bodies and RFC 9457 problems.
//!
//! Replies are built here once, as bytes, because the engine stores them
//! with their idempotency key and replays them byte for byte.

use crate::domain::{
    Booking, BookingStatus, Cart, CartStatus, ItemStatus, SeatStatus, Show, ShowId,
};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

mod cluster;
pub use cluster::*;

/// Base of every problem `type`; the last segment is the code.
pub const PROBLEM_BASE: &str = "https://boxoffice.dev/problems/";

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

/// RFC 9457 problem details. The last path segment of `type` is the
/// error code.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody<'a> {
    /// Problem type; its last path segment is the error code.
    #[serde(rename = "type")]
    #[schema(format = "uri-reference")]
    kind: String,
    title: &'a str,
    #[schema(minimum = 100, maximum = 599)]
    status: u16,
    detail: &'a str,
    /// Present on `seat-unavailable`: the unavailable seats.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Vec<String>)]
    seats: Option<&'a [String]>,
}

/// A problem reply: `status`, its `type` the code's `slug` under
/// `PROBLEM_BASE`, its `title` and `detail`, and the seats a seat refusal
/// names. Which refusals there are, and their words, is `replies`' table.
pub fn problem_reply(
    status: u16,
    slug: &str,
    title: &str,
    detail: &str,
    seats: Option<&[String]>,
) -> Reply {
    Reply::json(
        status,
        &ProblemBody {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title,
            status,
            detail,
            seats,
        },
    )
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A guest user and its bearer token.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionOut {
    /// Unguessable bearer token; send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Opaque id (a UUID).
    pub user_id: String,
}

/// A show in the list, with its seat counts.
#[derive(Serialize, ToSchema)]
#[schema(as = ShowSummary)]
pub struct ShowSummaryOut {
    /// Opaque id (a UUID).
    pub id: String,
    pub title: String,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    pub starts_at: String,
    /// Total number of seats.
    pub capacity: u32,
    /// Seats currently available.
    pub available: u32,
    /// ISO 4217 code of the show's prices.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The cheapest and dearest seat, in cents.
    pub lowest_price_cents: u64,
    pub highest_price_cents: u64,
}

/// A show's summary as the list shows it.
pub fn show_summary_out(show: &Show, available: u32) -> ShowSummaryOut {
    let (lowest_price_cents, highest_price_cents) = show.offer.price_range_cents();
    ShowSummaryOut {
        id: show.id.to_string(),
        title: show.title.clone(),
        starts_at: rfc3339(show.starts_at_ms),
        capacity: show.layout.capacity(),
        available,
        currency: show.offer.currency().to_string(),
        lowest_price_cents,
        highest_price_cents,
    }
}

/// Every show.
#[derive(Serialize, ToSchema)]
#[schema(as = ShowList)]
pub struct ShowListOut {
    pub shows: Vec<ShowSummaryOut>,
}

/// A seat and its status.
#[derive(Serialize, ToSchema)]
#[schema(as = Seat)]
pub struct SeatOut {
    /// Seat id: row label + number, e.g. `A1`.
    #[schema(example = "A1")]
    pub id: String,
    #[schema(pattern = "^[A-Z]{1,3}$", example = "A")]
    pub row: String,
    #[schema(minimum = 1, maximum = 999, example = 1)]
    pub number: u32,
    #[schema(schema_with = schema::seat_status)]
    pub status: &'static str,
    /// The seat's category id.
    #[schema(example = "standard")]
    pub category: String,
    /// Its price, in cents of the show's currency.
    #[schema(example = 1200)]
    pub price_cents: u64,
    /// `wheelchair`, `companion` (sold only with a wheelchair seat of its
    /// row), or null.
    #[schema(required = true, example = json!(null))]
    pub accessibility: Option<&'static str>,
    /// Present, and true, where an aisle follows the seat.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(value_type = Option<bool>)]
    pub aisle_after: bool,
}

/// A price category.
#[derive(Serialize, ToSchema)]
#[schema(as = Category)]
pub struct CategoryOut {
    #[schema(example = "standard")]
    pub id: String,
    #[schema(example = "Standard")]
    pub name: String,
    #[schema(example = 1200)]
    pub price_cents: u64,
}

/// A show with the status of every seat.
#[derive(Serialize, ToSchema)]
#[schema(as = Show)]
pub struct ShowOut {
    /// Opaque id (a UUID).
    pub id: String,
    pub title: String,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    pub starts_at: String,
    /// ISO 4217 code of the prices.
    #[schema(example = "EUR")]
    pub currency: String,
    pub categories: Vec<CategoryOut>,
    pub seats: Vec<SeatOut>,
}

/// A show as builds before 1.1 answered its creation (no prices): kept to
/// replay those answers byte for byte (`StoredBody::CreatedShowV1`).
#[derive(Serialize)]
struct ShowOutV1 {
    id: String,
    title: String,
    starts_at: String,
    seats: Vec<SeatOutV1>,
}

#[derive(Serialize)]
struct SeatOutV1 {
    id: String,
    row: String,
    number: u32,
    status: &'static str,
}

/// `created_show` as builds before 1.1 wrote it.
pub fn created_show_v1(show: &Show) -> Reply {
    let out = ShowOutV1 {
        id: show.id.to_string(),
        title: show.title.clone(),
        starts_at: rfc3339(show.starts_at_ms),
        seats: show
            .layout
            .labels()
            .map(|(_, label)| SeatOutV1 {
                id: label.to_string(),
                number: label.number,
                row: label.row,
                status: SeatStatus::Available.as_str(),
            })
            .collect(),
    };
    Reply::json(201, &out)
}

/// The data of a `seat` event on a show's event stream.
#[derive(Serialize, ToSchema)]
#[schema(as = SeatEvent)]
pub struct SeatEventOut {
    /// Seat id: row label + number, e.g. `A1`.
    #[schema(example = "A1")]
    pub seat_id: String,
    #[schema(schema_with = schema::seat_status)]
    pub status: &'static str,
}

/// The answer to a show's creation: the show with every seat available.
/// Stored with its key as `StoredBody::CreatedShow` and rebuilt by this
/// function, to the same bytes, on replay.
pub fn created_show(show: &Show) -> Reply {
    Reply::json(201, &show_out(show, |_| SeatStatus::Available))
}

/// The show with each seat's status from `status_of(index)`.
pub fn show_out(show: &Show, status_of: impl Fn(u32) -> SeatStatus) -> ShowOut {
    ShowOut {
        id: show.id.to_string(),
        title: show.title.clone(),
        starts_at: rfc3339(show.starts_at_ms),
        currency: show.offer.currency().to_string(),
        categories: categories_out(show),
        seats: show
            .layout
            .labels()
            .map(|(index, label)| {
                let category = show.category_of(index);
                SeatOut {
                    id: label.to_string(),
                    number: label.number,
                    row: label.row,
                    status: status_of(index).as_str(),
                    category: category.id.clone(),
                    price_cents: category.price_cents,
                    accessibility: show.offer.accessibility(index).map(|a| a.as_str()),
                    aisle_after: show.offer.aisle_after(index),
                }
            })
            .collect(),
    }
}

fn categories_out(show: &Show) -> Vec<CategoryOut> {
    show.offer
        .categories()
        .iter()
        .map(|c| CategoryOut {
            id: c.id.clone(),
            name: c.name.clone(),
            price_cents: c.price_cents,
        })
        .collect()
}

/// The opening of a show's JSON as `show_out` writes it, up to its first
/// seat: the rest follows from `show_json_seats` and `SHOW_JSON_END`. A
/// 100,000-seat map is about 6 MB; sent in pieces, a reader that reads
/// slowly holds a piece, not a copy of the whole map.
pub fn show_json_start(show: &Show) -> Vec<u8> {
    #[derive(Serialize)]
    struct Head<'a> {
        id: String,
        title: &'a str,
        starts_at: String,
        currency: &'a str,
        categories: Vec<CategoryOut>,
    }
    let head = Head {
        id: show.id.to_string(),
        title: &show.title,
        starts_at: rfc3339(show.starts_at_ms),
        currency: show.offer.currency(),
        categories: categories_out(show),
    };
    let mut out = serde_json::to_vec(&head).expect("replies serialise");
    out.pop(); // its closing brace: the seats follow
    out.extend_from_slice(br#","seats":["#);
    out
}

/// Appends up to `count` seats of `show` from index `from` on, as
/// `show_out` writes them; returns the index after the last one written.
pub fn show_json_seats(
    show: &Show,
    from: u32,
    count: u32,
    status_of: impl Fn(u32) -> SeatStatus,
    out: &mut Vec<u8>,
) -> u32 {
    use std::io::Write;
    let mut next = from;
    for (index, row, number) in show.layout.seats_from(from).take(count as usize) {
        if index > 0 {
            out.push(b',');
        }
        // Row labels are letters A-Z (`Layout::new`): nothing to escape.
        // A category id is any text: written as JSON.
        let category = show.category_of(index);
        write!(
            out,
            r#"{{"id":"{row}{number}","row":"{row}","number":{number},"status":"{}","category":"#,
            status_of(index).as_str()
        )
        .expect("writing to a Vec cannot fail");
        serde_json::to_writer(&mut *out, &category.id).expect("a string serialises");
        let accessibility = match show.offer.accessibility(index) {
            Some(a) => format!("\"{}\"", a.as_str()),
            None => "null".to_string(),
        };
        write!(
            out,
            r#","price_cents":{},"accessibility":{accessibility}{}}}"#,
            category.price_cents,
            if show.offer.aisle_after(index) {
                r#","aisle_after":true"#
            } else {
                ""
            }
        )
        .expect("writing to a Vec cannot fail");
        next = index + 1;
    }
    next
}

/// The end of a show's JSON, after its last seat.
pub const SHOW_JSON_END: &[u8] = b"]}";

/// What became of an `Idempotency-Key` (`GET /v1/idempotency-keys/{key}`).
#[derive(Serialize, ToSchema)]
#[schema(as = IdempotencyKeyState)]
pub struct KeyOut {
    /// The key, as the server read it from the header.
    pub key: String,
    /// `in-flight` while its request runs, `completed` once it answered.
    #[schema(example = "completed")]
    pub state: &'static str,
    /// The request's method and path (null for keys stored by a build
    /// before 1.1).
    #[schema(example = "POST")]
    pub method: Option<String>,
    #[schema(example = "/v1/bookings")]
    pub path: Option<String>,
    /// The status of its stored answer (null while in flight).
    #[schema(example = 201)]
    pub status: Option<u16>,
    /// When it answered (RFC 3339; null while in flight).
    pub completed_at: Option<String>,
}

/// `KeyOut` of a running key (`completed: None`) or a completed one
/// (its status and time).
pub fn key_out(
    key: &str,
    line: Option<&crate::domain::RequestLine>,
    completed: Option<(u16, u64)>,
) -> KeyOut {
    KeyOut {
        key: key.to_string(),
        state: if completed.is_some() {
            "completed"
        } else {
            "in-flight"
        },
        method: line.map(|l| l.method.clone()),
        path: line.map(|l| l.path.clone()),
        status: completed.map(|(status, _)| status),
        completed_at: completed.map(|(_, at_ms)| rfc3339(at_ms as i64)),
    }
}

/// A booking.
#[derive(Serialize, ToSchema)]
#[schema(as = Booking)]
pub struct BookingOut {
    /// Opaque id (a UUID).
    pub id: String,
    /// Opaque id (a UUID).
    pub show_id: String,
    /// Seat ids: row label + number, e.g. `A1`.
    #[schema(example = json!(["A1", "A2"]))]
    pub seats: Vec<String>,
    #[schema(schema_with = schema::booking_status)]
    pub status: &'static str,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Each seat's price, fixed when it was booked (or held), in `seats`'
    /// order.
    pub seat_prices: Vec<SeatPriceOut>,
    /// The sum of `seat_prices`, in cents.
    #[schema(example = 2400)]
    pub total_cents: u64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A booked seat's price.
#[derive(Serialize, ToSchema)]
#[schema(as = SeatPrice)]
pub struct SeatPriceOut {
    #[schema(example = "A1")]
    pub seat_id: String,
    #[schema(example = 1200)]
    pub price_cents: u64,
}

pub fn booking_out(booking: &Booking) -> BookingOut {
    BookingOut {
        id: booking.id.to_string(),
        show_id: booking.show.to_string(),
        seats: booking.seats.iter().map(|(_, l)| l.to_string()).collect(),
        status: booking.status.as_str(),
        created_at: rfc3339(booking.created_at_ms as i64),
        seat_prices: booking
            .seats
            .iter()
            .enumerate()
            .map(|(i, (_, label))| SeatPriceOut {
                seat_id: label.to_string(),
                price_cents: booking.price_cents(i),
            })
            .collect(),
        total_cents: booking.total_cents(),
        currency: booking.currency.clone(),
    }
}

/// A new booking's answer (201): the booking as confirmed. Stored with its
/// key as `StoredBody::CreatedBooking` and rebuilt by this function on
/// replay, so the booking's later status (cancelled) does not show.
pub fn created_booking(booking: &Booking) -> Reply {
    let mut out = booking_out(booking);
    out.status = crate::domain::BookingStatus::Confirmed.as_str();
    Reply::json(201, &out)
}

/// The caller's bookings.
#[derive(Serialize, ToSchema)]
#[schema(as = BookingList)]
pub struct BookingListOut {
    pub bookings: Vec<BookingOut>,
}

/// A seat in a cart.
#[derive(Serialize, ToSchema)]
#[schema(as = CartItem)]
pub struct CartItemOut {
    /// Opaque id (a UUID).
    pub show_id: String,
    /// Seat id: row label + number, e.g. `A1`.
    #[schema(example = "A1")]
    pub seat_id: String,
    /// `held` or `expired` while the cart is open; after checkout
    /// `booked`, or `cancelled` once that booking is cancelled.
    #[schema(schema_with = schema::item_status)]
    pub status: &'static str,
    /// When the hold lapses, or lapsed (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The seat's price in cents, fixed when it was held.
    #[schema(example = 1200)]
    pub price_cents: u64,
}

/// A cart.
#[derive(Serialize, ToSchema)]
#[schema(as = Cart)]
pub struct CartOut {
    /// Opaque id (a UUID).
    pub id: String,
    #[schema(schema_with = schema::cart_status)]
    pub status: &'static str,
    pub items: Vec<CartItemOut>,
    /// Expiry of the cart's earliest live hold; null when none (RFC 3339
    /// UTC).
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// The booking a checked-out cart became; absent while the cart is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    pub booking_id: Option<String>,
    /// What the held items cost (open cart) or the booked ones cost
    /// (checked out), in cents.
    #[schema(example = 2400)]
    pub total_cents: u64,
    /// ISO 4217 code of its show's prices; null while the cart is empty.
    #[schema(example = "EUR", required = true)]
    pub currency: Option<String>,
}

/// A cart as its owner sees it at `now_ms`; `booking` is the status of the
/// booking it was checked out into (`None` while open).
pub fn cart_out(cart: &Cart, now_ms: u64, booking: Option<BookingStatus>) -> CartOut {
    CartOut {
        id: cart.id.to_string(),
        status: match cart.status {
            CartStatus::Open => CART_OPEN,
            CartStatus::CheckedOut { .. } => CART_CHECKED_OUT,
        },
        items: cart
            .items
            .iter()
            .map(|item| CartItemOut {
                show_id: item.show.to_string(),
                seat_id: item.seat.to_string(),
                status: cart.item_status(item, now_ms, booking).as_str(),
                expires_at: rfc3339(item.until_ms as i64),
                price_cents: item.price_cents,
            })
            .collect(),
        total_cents: cart
            .items
            .iter()
            .filter(|item| {
                matches!(
                    cart.item_status(item, now_ms, booking),
                    ItemStatus::Held | ItemStatus::Booked
                )
            })
            .map(|item| item.price_cents)
            .sum(),
        currency: cart.currency.clone().or_else(|| {
            (!cart.items.is_empty()).then(|| crate::domain::offer::DEFAULT_CURRENCY.to_string())
        }),
        expires_at: cart.expires_at_ms(now_ms).map(|ms| rfc3339(ms as i64)),
        booking_id: cart.booking().map(|id| id.to_string()),
    }
}

#[cfg(test)]
mod tests;

/// A cart's status while items can be added.
pub const CART_OPEN: &str = "open";
/// A cart's status once checked out.
pub const CART_CHECKED_OUT: &str = "checked_out";

/// The OpenAPI schemas of the status fields, listing the values the code
/// above writes (from the domain's own lists).
mod schema {
    use crate::domain::{BookingStatus, ItemStatus, SeatStatus};
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

    fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values))
            .build()
    }

    pub fn seat_status() -> Object {
        one_of(SeatStatus::ALL.map(SeatStatus::as_str))
    }

    pub fn booking_status() -> Object {
        one_of(BookingStatus::ALL.map(BookingStatus::as_str))
    }

    pub fn item_status() -> Object {
        one_of(ItemStatus::ALL.map(ItemStatus::as_str))
    }

    pub fn cart_status() -> Object {
        one_of([super::CART_OPEN, super::CART_CHECKED_OUT])
    }
}

/// A value as JSON, into a buffer sized for a typical answer (a booking's
/// is about 260 bytes; `to_vec` starts at 128 and grows it twice).
fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, value).expect("replies serialise");
    out
}
