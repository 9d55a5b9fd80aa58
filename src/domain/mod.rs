//! Pure domain logic: seats, carts, bookings, shows and the idempotency ledger.
//!
//! Why pure: every rule that decides who gets a seat lives here, with no IO,
//! no actix, no clock reads (time is an argument, `now_ms`) and no serde.
//! That keeps the rules testable in microseconds, reusable by the simulator,
//! and portable to another actor runtime or store.

pub mod best;
pub mod booking;
pub mod cart;
pub mod ids;
pub mod key;
pub mod ledger;
pub mod offer;
pub mod sales;
pub mod seat;
pub mod show;

pub use booking::{Booking, BookingStatus, Canceller};
pub use cart::{AddPlan, Cart, CartError, CartItem, CartStatus, ItemStatus};
pub use ids::{BookingId, CartId, SeatLabel, ShowId, TxnId, UserId};
pub use key::{Fingerprint, IdempotencyKey, KeyError};
pub use ledger::{
    judge, Admission, IdempotencyLedger, KeyedRequest, RequestLine, StoredBody, StoredReply,
};
pub use offer::{Accessibility, Category, Offer, OfferError, OfferSpec, RowOffer};
pub use sales::{MinuteSales, Sales};
pub use seat::{Claim, Decision, Holder, Seat, SeatRefusal, SeatState, SeatStatus};
pub use show::{Layout, LayoutError, Row, Show};
