//! A show as the API writes it: in the list (`ShowSummaryOut`), whole
//! with every seat (`ShowOut`; also in pieces, for a map too large to
//! build at once per reader), as builds before 1.1 answered its creation,
//! and a seat change on its event stream (`SeatEventOut`).

use super::reply::Reply;
use super::schema::one_of;
use super::time::rfc3339;
use crate::domain::{SeatStatus, Show};
use serde::Serialize;
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

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
    /// When online sales end (RFC 3339); only on a show that has an end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, required = false)]
    pub sales_end_at: Option<String>,
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
        sales_end_at: show.sales_end_at_ms.map(rfc3339),
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
    #[schema(schema_with = seat_status_schema)]
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
    /// Present, and `true`, only where an aisle follows the seat; omitted
    /// otherwise (never `false`, never null).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(value_type = bool, required = false)]
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
    /// When online sales end (RFC 3339); only on a show that has an end
    /// (so a show without one answers as it did before 1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, required = false)]
    pub sales_end_at: Option<String>,
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
    #[schema(schema_with = seat_status_schema)]
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
        sales_end_at: show.sales_end_at_ms.map(rfc3339),
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
        #[serde(skip_serializing_if = "Option::is_none")]
        sales_end_at: Option<String>,
    }
    let head = Head {
        id: show.id.to_string(),
        title: &show.title,
        starts_at: rfc3339(show.starts_at_ms),
        currency: show.offer.currency(),
        categories: categories_out(show),
        sales_end_at: show.sales_end_at_ms.map(rfc3339),
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

/// The OpenAPI schema of a seat's status: the values `SeatStatus` writes.
fn seat_status_schema() -> Object {
    one_of(SeatStatus::ALL.map(SeatStatus::as_str))
}
