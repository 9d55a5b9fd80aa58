//! A cart as its owner sees it: its items with their holds' status and
//! price, its total, and the booking it became.

use super::schema::one_of;
use super::time::rfc3339;
use crate::domain::{BookingStatus, Cart, CartStatus, ItemStatus};
use serde::Serialize;
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

/// A cart's status while items can be added.
pub const CART_OPEN: &str = "open";
/// A cart's status once checked out.
pub const CART_CHECKED_OUT: &str = "checked_out";

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
    #[schema(schema_with = item_status_schema)]
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
    #[schema(schema_with = cart_status_schema)]
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

/// The OpenAPI schema of a cart item's status: the values `ItemStatus`
/// writes.
fn item_status_schema() -> Object {
    one_of(ItemStatus::ALL.map(ItemStatus::as_str))
}

/// The OpenAPI schema of a cart's status: `CART_OPEN`, `CART_CHECKED_OUT`.
fn cart_status_schema() -> Object {
    one_of([CART_OPEN, CART_CHECKED_OUT])
}
