//! What the routes read from a request besides its headers: the JSON
//! bodies and query parameters, one file per resource, each with its check
//! into the engine's types. A handler hands the engine only what passed;
//! what fails is a 400 `invalid-request` before anything runs.

mod bookings;
mod box_office;
mod carts;
mod cluster;
mod parse_body;
mod seats;
mod shows;

pub(crate) use bookings::NewBookingIn;
pub(crate) use box_office::{blocked_seat, BookingsAsked, NewBlockIn, ShowBookingsQuery};
pub(crate) use carts::{EmptyIn, NewItemIn};
pub(crate) use cluster::ClusterQuery;
pub use parse_body::{parse_body, BodyOf};
pub(crate) use seats::SeatsAsked;
pub(crate) use shows::NewShowIn;
