//! A request body parsed and checked exactly as its route does, without
//! running it: what the fuzz target for the request bodies calls.

use super::bookings::NewBookingIn;
use super::carts::{EmptyIn, NewItemIn};
use super::shows::NewShowIn;
use crate::http::extract::{self, EmptyBody};
use crate::wire::Reply;

/// The bodies the routes take, for `parse_body`.
#[derive(Clone, Copy, Debug)]
pub enum BodyOf {
    NewShow,
    NewBooking,
    NewCart,
    NewItem,
    Checkout,
}

/// Parses and validates a request body exactly as its route does, without
/// running it (the fuzz target for the request DTOs).
pub fn parse_body(of: BodyOf, body: &[u8], max_seats: usize) -> Result<(), Reply> {
    match of {
        BodyOf::NewShow => {
            let (show, _) = extract::typed_body::<NewShowIn>(body, EmptyBody::Invalid)?;
            show.into_new_show().map(|_| ())
        }
        BodyOf::NewBooking => {
            let (booking, _) = extract::typed_body::<NewBookingIn>(body, EmptyBody::Invalid)?;
            booking.into_ask(max_seats).map(|_| ())
        }
        BodyOf::NewCart | BodyOf::Checkout => {
            extract::typed_body::<EmptyIn>(body, EmptyBody::IsObject).map(|_| ())
        }
        BodyOf::NewItem => {
            let (item, _) = extract::typed_body::<NewItemIn>(body, EmptyBody::Invalid)?;
            item.into_ask(max_seats).map(|_| ())
        }
    }
}
