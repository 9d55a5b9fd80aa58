//! The JSON shape of each line of a dump, version 1 (`docs/DUMP.md`), and
//! its translation to and from `Record`. A field is never renamed or given
//! another meaning; a later version may only add.

use super::format::{FORMAT, VERSION};
use super::record::Record;
use crate::domain::{
    Booking, BookingId, BookingStatus, Canceller, Cart, CartId, CartItem, CartStatus, Category,
    Fingerprint, IdempotencyKey, OfferSpec, RequestLine, Row, RowOffer, SeatLabel, SeatState, Show,
    ShowId, StoredBody, StoredReply, UserId,
};
use crate::store::key_record::KeyRecord;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The first line.
#[derive(Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// When the dump was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The store it was taken from: `sled` or `postgres`.
    pub source: String,
}

impl Header {
    pub fn new(source: &str, created_at: String) -> Header {
        Header {
            format: FORMAT.to_string(),
            version: VERSION,
            created_at,
            source: source.to_string(),
        }
    }
}

/// The last line: what the lines between the first and it hold, and the
/// SHA-256 of every byte before it (the first line and newlines included).
#[derive(Serialize, Deserialize)]
pub struct Trailer {
    pub end: bool,
    /// Records by kind (every kind, zeros included).
    pub counts: BTreeMap<String, u64>,
    pub sha256: String,
}

/// A record line.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Show {
        id: Uuid,
        title: String,
        starts_at_ms: i64,
        rows: Vec<RowLine>,
        currency: String,
        categories: Vec<CategoryLine>,
        /// Per row, what was asked for it (empty: every row plain).
        row_offers: Vec<RowOfferLine>,
        /// When online sales end (dump version 2); absent: never.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sales_end_at_ms: Option<i64>,
    },
    Seat {
        show_id: Uuid,
        index: u32,
        /// `held` (with `cart_id` and `until_ms`), `booked` (with
        /// `booking_id`) or `blocked` (dump version 2; with neither).
        state: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cart_id: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booking_id: Option<Uuid>,
    },
    Cart {
        id: Uuid,
        owner_id: Uuid,
        /// The booking it was checked out to; absent while open.
        checked_out_to: Option<Uuid>,
        created_at_ms: u64,
        currency: Option<String>,
        items: Vec<ItemLine>,
    },
    Booking {
        id: Uuid,
        owner_id: Uuid,
        show_id: Uuid,
        status: String,
        created_at_ms: u64,
        cart_id: Option<Uuid>,
        currency: String,
        seats: Vec<BookedSeatLine>,
        /// Each seat's price, in `seats`' order (empty in bookings made
        /// before prices existed).
        prices_cents: Vec<u64>,
        /// `customer` or `box-office` on a cancelled booking (dump version
        /// 2); absent on a confirmed one, and in version 1, where a
        /// cancelled booking was cancelled by its owner.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cancelled_by: Option<String>,
    },
    Session {
        token_sha256: String,
        user_id: Uuid,
        created_at_ms: u64,
    },
    Key {
        user_id: Uuid,
        key: String,
        /// SHA-256 of the request it answered (method, path, body).
        fingerprint: String,
        status: u16,
        created_at_ms: u64,
        method: Option<String>,
        path: Option<String>,
        body: BodyLine,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowLine {
    pub label: String,
    pub seats: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryLine {
    pub id: String,
    pub name: String,
    pub price_cents: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowOfferLine {
    pub category: Option<String>,
    pub aisles_after: Vec<u32>,
    pub wheelchair: Vec<u32>,
    pub companion: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemLine {
    pub show_id: Uuid,
    pub seat: String,
    pub index: u32,
    pub until_ms: u64,
    pub price_cents: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookedSeatLine {
    pub index: u32,
    pub seat: String,
}

/// A stored answer's body: the bytes sent, or what it is rebuilt from.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BodyLine {
    /// The bytes, base64 (standard alphabet, padded).
    Bytes(String),
    /// A new show's answer, rebuilt from the show.
    CreatedShow(Uuid),
    /// The same, in the shape of builds before v1.1 (no prices).
    CreatedShowV1(Uuid),
    /// A new booking's answer, rebuilt from the booking as confirmed.
    CreatedBooking(Uuid),
}

impl Line {
    pub fn of(record: &Record) -> Line {
        match record {
            Record::Show(show) => Line::Show {
                id: show.id.0,
                title: show.title.clone(),
                starts_at_ms: show.starts_at_ms,
                rows: show
                    .layout
                    .rows()
                    .iter()
                    .map(|r| RowLine {
                        label: r.label.clone(),
                        seats: r.seats,
                    })
                    .collect(),
                currency: show.offer.currency().to_string(),
                categories: show
                    .offer
                    .categories()
                    .iter()
                    .map(|c| CategoryLine {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        price_cents: c.price_cents,
                    })
                    .collect(),
                row_offers: show
                    .offer
                    .rows()
                    .iter()
                    .map(|r| RowOfferLine {
                        category: r.category.clone(),
                        aisles_after: r.aisles_after.clone(),
                        wheelchair: r.wheelchair.clone(),
                        companion: r.companion.clone(),
                    })
                    .collect(),
                sales_end_at_ms: show.sales_end_at_ms,
            },
            Record::Seat { show, index, state } => {
                let (state, cart_id, until_ms, booking_id) = match state {
                    SeatState::Held { cart, until_ms } => {
                        ("held", Some(cart.0), Some(*until_ms), None)
                    }
                    SeatState::Booked { booking } => ("booked", None, None, Some(booking.0)),
                    SeatState::Blocked => ("blocked", None, None, None),
                    SeatState::Available => unreachable!("an available seat has no record"),
                };
                Line::Seat {
                    show_id: show.0,
                    index: *index,
                    state: state.to_string(),
                    cart_id,
                    until_ms,
                    booking_id,
                }
            }
            Record::Cart(cart) => Line::Cart {
                id: cart.id.0,
                owner_id: cart.owner.0,
                checked_out_to: match cart.status {
                    CartStatus::Open => None,
                    CartStatus::CheckedOut { booking } => Some(booking.0),
                },
                created_at_ms: cart.created_at_ms,
                currency: cart.currency.clone(),
                items: cart
                    .items
                    .iter()
                    .map(|i| ItemLine {
                        show_id: i.show.0,
                        seat: i.seat.to_string(),
                        index: i.seat_index,
                        until_ms: i.until_ms,
                        price_cents: i.price_cents,
                    })
                    .collect(),
            },
            Record::Booking(b) => Line::Booking {
                id: b.id.0,
                owner_id: b.owner.0,
                show_id: b.show.0,
                status: b.status.as_str().to_string(),
                created_at_ms: b.created_at_ms,
                cart_id: b.cart.map(|c| c.0),
                currency: b.currency.clone(),
                seats: b
                    .seats
                    .iter()
                    .map(|(index, label)| BookedSeatLine {
                        index: *index,
                        seat: label.to_string(),
                    })
                    .collect(),
                prices_cents: b.prices_cents.clone(),
                cancelled_by: b.cancelled_by.map(|by| by.as_str().to_string()),
            },
            Record::Session {
                token_hash,
                user,
                created_at_ms,
            } => Line::Session {
                token_sha256: hex::encode(token_hash),
                user_id: user.0,
                created_at_ms: *created_at_ms,
            },
            Record::Key(key) => Line::Key {
                user_id: key.user.0,
                key: key.key.as_str().to_string(),
                fingerprint: hex::encode(key.reply.fingerprint.0),
                status: key.reply.status,
                created_at_ms: key.reply.created_at_ms,
                method: key.reply.line.as_ref().map(|l| l.method.clone()),
                path: key.reply.line.as_ref().map(|l| l.path.clone()),
                body: match &key.reply.body {
                    StoredBody::Bytes(bytes) => {
                        BodyLine::Bytes(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                    StoredBody::CreatedShow(id) => BodyLine::CreatedShow(id.0),
                    StoredBody::CreatedShowV1(id) => BodyLine::CreatedShowV1(id.0),
                    StoredBody::CreatedBooking(id) => BodyLine::CreatedBooking(id.0),
                    StoredBody::CreatedBookingAsMade(booking) => {
                        BodyLine::CreatedBooking(booking.id.0)
                    }
                },
            },
        }
    }

    /// The record this line describes, checked as the engine checks what
    /// it stores (a show's layout and offer, seat labels, keys).
    pub fn into_record(self) -> Result<Record, String> {
        Ok(match self {
            Line::Show {
                id,
                title,
                starts_at_ms,
                rows,
                currency,
                categories,
                row_offers,
                sales_end_at_ms,
            } => {
                let rows = rows
                    .into_iter()
                    .map(|r| Row {
                        label: r.label,
                        seats: r.seats,
                    })
                    .collect();
                let offer = OfferSpec {
                    currency: Some(currency),
                    categories: categories
                        .into_iter()
                        .map(|c| Category {
                            id: c.id,
                            name: c.name,
                            price_cents: c.price_cents,
                        })
                        .collect(),
                    rows: row_offers
                        .into_iter()
                        .map(|r| RowOffer {
                            category: r.category,
                            aisles_after: r.aisles_after,
                            wheelchair: r.wheelchair,
                            companion: r.companion,
                        })
                        .collect(),
                };
                let show = Show::with_offer(ShowId(id), title, starts_at_ms, rows, offer)
                    .map_err(|e| format!("show {id}: {e}"))?
                    .with_sales_end(sales_end_at_ms);
                Record::Show(show)
            }
            Line::Seat {
                show_id,
                index,
                state,
                cart_id,
                until_ms,
                booking_id,
            } => Record::Seat {
                show: ShowId(show_id),
                index,
                state: match (state.as_str(), cart_id, until_ms, booking_id) {
                    ("held", Some(cart), Some(until_ms), None) => SeatState::Held {
                        cart: CartId(cart),
                        until_ms,
                    },
                    ("booked", None, None, Some(booking)) => SeatState::Booked {
                        booking: BookingId(booking),
                    },
                    ("blocked", None, None, None) => SeatState::Blocked,
                    _ => {
                        return Err(format!(
                            "seat {index} of show {show_id}: held with a cart and an end, \
                             booked with a booking, or blocked with neither"
                        ))
                    }
                },
            },
            Line::Cart {
                id,
                owner_id,
                checked_out_to,
                created_at_ms,
                currency,
                items,
            } => Record::Cart(Cart {
                id: CartId(id),
                owner: UserId(owner_id),
                status: match checked_out_to {
                    None => CartStatus::Open,
                    Some(booking) => CartStatus::CheckedOut {
                        booking: BookingId(booking),
                    },
                },
                items: items
                    .into_iter()
                    .map(|i| {
                        Ok(CartItem {
                            show: ShowId(i.show_id),
                            seat: seat_label(&i.seat)?,
                            seat_index: i.index,
                            until_ms: i.until_ms,
                            price_cents: i.price_cents,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                created_at_ms,
                currency,
            }),
            Line::Booking {
                id,
                owner_id,
                show_id,
                status,
                created_at_ms,
                cart_id,
                currency,
                seats,
                prices_cents,
                cancelled_by,
            } => {
                let status = BookingStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str() == status)
                    .ok_or_else(|| format!("booking {id}: no status {status:?}"))?;
                if !prices_cents.is_empty() && prices_cents.len() != seats.len() {
                    return Err(format!("booking {id}: a price for each seat, or none"));
                }
                Record::Booking(Booking {
                    id: BookingId(id),
                    owner: UserId(owner_id),
                    show: ShowId(show_id),
                    seats: seats
                        .into_iter()
                        .map(|s| Ok((s.index, seat_label(&s.seat)?)))
                        .collect::<Result<_, String>>()?,
                    status,
                    created_at_ms,
                    cart: cart_id.map(CartId),
                    prices_cents,
                    currency,
                    cancelled_by: match (status, cancelled_by.as_deref()) {
                        (BookingStatus::Confirmed, None) => None,
                        (BookingStatus::Cancelled, None) => Some(Canceller::Customer),
                        (BookingStatus::Cancelled, Some(by)) => Some(
                            Canceller::ALL
                                .into_iter()
                                .find(|c| c.as_str() == by)
                                .ok_or_else(|| format!("booking {id}: no canceller {by:?}"))?,
                        ),
                        (BookingStatus::Confirmed, Some(_)) => {
                            return Err(format!("booking {id}: confirmed, yet cancelled_by"))
                        }
                    },
                })
            }
            Line::Session {
                token_sha256,
                user_id,
                created_at_ms,
            } => Record::Session {
                token_hash: sha256(&token_sha256, "token_sha256")?,
                user: UserId(user_id),
                created_at_ms,
            },
            Line::Key {
                user_id,
                key,
                fingerprint,
                status,
                created_at_ms,
                method,
                path,
                body,
            } => {
                let key = IdempotencyKey::parse(key.as_bytes())
                    .map_err(|e| format!("key {key:?}: {e}"))?;
                let line = match (method, path) {
                    (Some(method), Some(path)) => Some(RequestLine { method, path }),
                    (None, None) => None,
                    _ => return Err("a key's method and path come together".into()),
                };
                let body = match body {
                    BodyLine::Bytes(text) => StoredBody::Bytes(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map_err(|e| format!("a key's body: {e}"))?
                            .into(),
                    ),
                    BodyLine::CreatedShow(id) => StoredBody::CreatedShow(ShowId(id)),
                    BodyLine::CreatedShowV1(id) => StoredBody::CreatedShowV1(ShowId(id)),
                    BodyLine::CreatedBooking(id) => StoredBody::CreatedBooking(BookingId(id)),
                };
                Record::Key(KeyRecord {
                    user: UserId(user_id),
                    key,
                    reply: StoredReply {
                        fingerprint: Fingerprint(sha256(&fingerprint, "fingerprint")?),
                        status,
                        body,
                        created_at_ms,
                        line,
                    },
                })
            }
        })
    }
}

fn seat_label(text: &str) -> Result<SeatLabel, String> {
    SeatLabel::parse(text).ok_or_else(|| format!("{text:?} is not a seat"))
}

fn sha256(text: &str, what: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text).map_err(|e| format!("{what}: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{what}: 32 bytes, as 64 hex digits"))
}
