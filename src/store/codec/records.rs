//! Shows and carts: JSON bodies behind the version byte; sessions: the
//! user's id and the creation time, binary.

use super::common::*;
use crate::domain::{
    BookingId, Cart, CartId, CartItem, CartStatus, Category, OfferSpec, Row, RowOffer, Show,
    ShowId, UserId,
};
use crate::store::contract::StoreResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ---- shows, carts, bookings: JSON bodies behind the version byte ----

#[derive(Serialize, Deserialize)]
pub(super) struct ShowRecord {
    id: Uuid,
    title: String,
    starts_at_ms: i64,
    rows: Vec<(String, u32)>,
    // The offer (v1.1); absent in records of earlier builds: a plain show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    /// (id, name, price in cents)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    categories: Vec<(String, String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    row_offers: Vec<RowOfferRecord>,
    // v1.2; absent in records of earlier builds and of shows without an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sales_end_at_ms: Option<i64>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct RowOfferRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aisles_after: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wheelchair: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    companion: Vec<u32>,
}

pub fn encode_show(show: &Show) -> Vec<u8> {
    let offer = &show.offer;
    json(&ShowRecord {
        id: show.id.0,
        title: show.title.clone(),
        starts_at_ms: show.starts_at_ms,
        rows: show
            .layout
            .rows()
            .iter()
            .map(|r| (r.label.clone(), r.seats))
            .collect(),
        currency: Some(offer.currency().to_string()),
        categories: offer
            .categories()
            .iter()
            .map(|c| (c.id.clone(), c.name.clone(), c.price_cents))
            .collect(),
        row_offers: offer
            .rows()
            .iter()
            .map(|r| RowOfferRecord {
                category: r.category.clone(),
                aisles_after: r.aisles_after.clone(),
                wheelchair: r.wheelchair.clone(),
                companion: r.companion.clone(),
            })
            .collect(),
        sales_end_at_ms: show.sales_end_at_ms,
    })
}

pub fn decode_show(bytes: &[u8]) -> StoreResult<Show> {
    let record: ShowRecord = from_json(bytes, "show")?;
    let rows = record
        .rows
        .into_iter()
        .map(|(label, seats)| Row { label, seats })
        .collect();
    let offer = OfferSpec {
        currency: record.currency,
        categories: record
            .categories
            .into_iter()
            .map(|(id, name, price_cents)| Category {
                id,
                name,
                price_cents,
            })
            .collect(),
        rows: record
            .row_offers
            .into_iter()
            .map(|r| RowOffer {
                category: r.category,
                aisles_after: r.aisles_after,
                wheelchair: r.wheelchair,
                companion: r.companion,
            })
            .collect(),
    };
    Show::with_offer(
        ShowId(record.id),
        record.title,
        record.starts_at_ms,
        rows,
        offer,
    )
    .map(|show| show.with_sales_end(record.sales_end_at_ms))
    .map_err(|e| corrupt(&format!("show: {e}")))
}

#[derive(Serialize, Deserialize)]
pub(super) struct ItemRecord {
    show: Uuid,
    seat: String,
    index: u32,
    until_ms: u64,
    // v1.1; absent in records of earlier builds (free shows).
    #[serde(default, skip_serializing_if = "is_zero")]
    price_cents: u64,
}

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
pub(super) struct CartRecord {
    id: Uuid,
    owner: Uuid,
    checked_out: Option<Uuid>,
    items: Vec<ItemRecord>,
    created_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

pub fn encode_cart(cart: &Cart) -> Vec<u8> {
    json(&CartRecord {
        id: cart.id.0,
        owner: cart.owner.0,
        checked_out: match cart.status {
            CartStatus::Open => None,
            CartStatus::CheckedOut { booking } => Some(booking.0),
        },
        items: cart
            .items
            .iter()
            .map(|item| ItemRecord {
                show: item.show.0,
                seat: item.seat.to_string(),
                index: item.seat_index,
                until_ms: item.until_ms,
                price_cents: item.price_cents,
            })
            .collect(),
        created_at_ms: cart.created_at_ms,
        currency: cart.currency.clone(),
    })
}

pub fn decode_cart(bytes: &[u8]) -> StoreResult<Cart> {
    let record: CartRecord = from_json(bytes, "cart")?;
    let mut items = Vec::with_capacity(record.items.len());
    for item in record.items {
        items.push(CartItem {
            show: ShowId(item.show),
            seat: label(&item.seat)?,
            seat_index: item.index,
            until_ms: item.until_ms,
            price_cents: item.price_cents,
        });
    }
    Ok(Cart {
        id: CartId(record.id),
        owner: UserId(record.owner),
        status: match record.checked_out {
            None => CartStatus::Open,
            Some(id) => CartStatus::CheckedOut {
                booking: BookingId(id),
            },
        },
        items,
        created_at_ms: record.created_at_ms,
        currency: record.currency,
    })
}

/// A session record's value (under the hash of its token): the user's id,
/// then when it was created (ms, big-endian).
pub fn encode_session(user: UserId, created_at_ms: u64) -> Vec<u8> {
    let mut value = user.0.as_bytes().to_vec();
    value.extend_from_slice(&created_at_ms.to_be_bytes());
    value
}

/// When a session record (user id, then creation time) was created.
pub fn session_created_ms(value: &[u8]) -> Option<u64> {
    value
        .get(16..24)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}
