//! The serial actor kinds: which operations a cart, a booking and a show
//! creation take, and what record each owns (`actors::serial::Owner`).

use super::{block, book, cancel, checkout, create_cart, create_show, hold, release, Ctx};
use crate::actors::serial::{Done, Owner};
use crate::domain::{
    Booking, BookingId, Canceller, Cart, CartId, KeyedRequest, SeatLabel, Show, ShowId, UserId,
};
use crate::store::StoreFuture;
use futures_util::future::BoxFuture;

/// What a cart's actor is asked to do.
#[derive(Clone)]
pub enum CartOp {
    Create {
        req: KeyedRequest,
    },
    Hold {
        req: KeyedRequest,
        show: Option<ShowId>,
        seat: SeatLabel,
    },
    /// Best available: a block of seats held at once.
    HoldBest {
        req: KeyedRequest,
        show: Option<ShowId>,
        ask: super::book::BestAsk,
    },
    Release {
        user: UserId,
        show: Option<ShowId>,
        seat: Option<SeatLabel>,
    },
    Checkout {
        req: KeyedRequest,
    },
}

/// Carts: id = UUIDv5(user, key) of the create request.
pub struct Carts;

impl Owner for Carts {
    const KIND: &'static str = "cart";
    type Id = CartId;
    type Record = Cart;
    type Op = CartOp;
    type Ctx = Ctx;

    fn record_id(cart: &Cart) -> CartId {
        cart.id
    }

    fn load(ctx: &Ctx, id: CartId) -> StoreFuture<Option<Cart>> {
        ctx.store.load_cart(id)
    }

    fn request(op: &CartOp) -> Option<&KeyedRequest> {
        match op {
            CartOp::Create { req }
            | CartOp::Hold { req, .. }
            | CartOp::HoldBest { req, .. }
            | CartOp::Checkout { req } => Some(req),
            CartOp::Release { .. } => None,
        }
    }

    fn run(ctx: Ctx, id: CartId, cart: Option<Cart>, op: CartOp) -> BoxFuture<'static, Done<Cart>> {
        match op {
            CartOp::Create { req } => Box::pin(create_cart::run(ctx, id, cart, req)),
            CartOp::Hold { req, show, seat } => Box::pin(hold::run(ctx, cart, req, show, seat)),
            CartOp::HoldBest { req, show, ask } => {
                Box::pin(hold::run_best(ctx, cart, req, show, ask))
            }
            CartOp::Release { user, show, seat } => {
                Box::pin(release::run(ctx, cart, user, show, seat))
            }
            CartOp::Checkout { req } => Box::pin(checkout::run(ctx, cart, req)),
        }
    }
}

/// What a booking's actor is asked to do.
#[derive(Clone)]
pub enum BookingOp {
    Create {
        req: KeyedRequest,
        show: Option<ShowId>,
        seats: super::book::Choice,
    },
    /// A cancel, asked as the booking's owner `user`, by the owner or by
    /// the box office on its behalf (`by`).
    Cancel { user: UserId, by: Canceller },
}

/// Bookings: a one-shot booking is created in the actor of UUIDv5(user,
/// key) (its retries meet it there) under a fresh random id, and cancelled
/// in the actor of that id; a checkout's booking id = UUIDv5(cart id).
pub struct Bookings;

/// What a booking's actor owns: the booking `id` of `owner`. Bookings are
/// kept under their owner (the store lists them by a prefix, issue 18), and
/// only the owner reaches one: another user's actor for the same id finds
/// nothing and answers 404, as for a booking that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OwnedBooking {
    pub owner: UserId,
    pub id: BookingId,
}

impl From<OwnedBooking> for uuid::Uuid {
    fn from(booking: OwnedBooking) -> uuid::Uuid {
        booking.id.0
    }
}

impl Owner for Bookings {
    const KIND: &'static str = "booking";
    type Id = OwnedBooking;
    type Record = Booking;
    type Op = BookingOp;
    type Ctx = Ctx;

    fn record_id(booking: &Booking) -> OwnedBooking {
        OwnedBooking {
            owner: booking.owner,
            id: booking.id,
        }
    }

    fn load(ctx: &Ctx, id: OwnedBooking) -> StoreFuture<Option<Booking>> {
        ctx.store.load_booking(id.owner, id.id)
    }

    fn request(op: &BookingOp) -> Option<&KeyedRequest> {
        match op {
            BookingOp::Create { req, .. } => Some(req),
            BookingOp::Cancel { .. } => None,
        }
    }

    /// A creation makes a booking under a new id: there is nothing to read.
    fn reads_record(op: &BookingOp) -> bool {
        matches!(op, BookingOp::Cancel { .. })
    }

    /// A creation's actor has nothing left to do once it ran: its key's
    /// repeats are replayed from the store, and the booking's cancel goes
    /// to the actor of the booking's own id.
    fn stops_after_run(op: &BookingOp) -> bool {
        matches!(op, BookingOp::Create { .. })
    }

    fn run(
        ctx: Ctx,
        _id: OwnedBooking,
        booking: Option<Booking>,
        op: BookingOp,
    ) -> BoxFuture<'static, Done<Booking>> {
        match op {
            BookingOp::Create { req, show, seats } => Box::pin(book::run(ctx, req, show, seats)),
            BookingOp::Cancel { user, by } => Box::pin(cancel::run(ctx, booking, user, by)),
        }
    }
}

/// A show's creation, asked of the actor of the show's id.
#[derive(Clone)]
pub struct NewShowOp {
    pub req: KeyedRequest,
    pub new: create_show::NewShow,
}

/// Show creations: id = UUIDv5(admin, key), so a retried create reaches
/// the actor that knows the key (and a concurrent repeat gets 409).
pub struct NewShows;

impl Owner for NewShows {
    const KIND: &'static str = "show";
    type Id = ShowId;
    type Record = Show;
    type Op = NewShowOp;
    type Ctx = Ctx;

    fn record_id(show: &Show) -> ShowId {
        show.id
    }

    fn load(ctx: &Ctx, id: ShowId) -> StoreFuture<Option<Show>> {
        ctx.store.load_show(id)
    }

    fn request(op: &NewShowOp) -> Option<&KeyedRequest> {
        Some(&op.req)
    }

    fn run(
        ctx: Ctx,
        id: ShowId,
        show: Option<Show>,
        op: NewShowOp,
    ) -> BoxFuture<'static, Done<Show>> {
        Box::pin(create_show::run(ctx, id, show, op.req, op.new))
    }
}

/// A block of house seats, asked of the actor of its key.
#[derive(Clone)]
pub struct BlockOp {
    pub req: KeyedRequest,
    pub ask: block::BlockAsk,
}

/// The id of a block request's actor: UUIDv5(admin, key), so a retry
/// meets the request running, or its stored answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRequestId(pub uuid::Uuid);

impl From<BlockRequestId> for uuid::Uuid {
    fn from(id: BlockRequestId) -> uuid::Uuid {
        id.0
    }
}

/// Blocks of house seats: one-shot actors that own no record (the seats
/// are their show's; the key record is the whole of what a block leaves
/// besides them).
pub struct Blocks;

impl Owner for Blocks {
    const KIND: &'static str = "block";
    type Id = BlockRequestId;
    type Record = ();
    type Op = BlockOp;
    type Ctx = Ctx;

    fn record_id(_: &()) -> BlockRequestId {
        BlockRequestId(uuid::Uuid::nil())
    }

    fn load(_ctx: &Ctx, _id: BlockRequestId) -> StoreFuture<Option<()>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn request(op: &BlockOp) -> Option<&KeyedRequest> {
        Some(&op.req)
    }

    fn reads_record(_op: &BlockOp) -> bool {
        false
    }

    fn stops_after_run(_op: &BlockOp) -> bool {
        true
    }

    fn run(
        ctx: Ctx,
        _id: BlockRequestId,
        _: Option<()>,
        op: BlockOp,
    ) -> BoxFuture<'static, Done<()>> {
        Box::pin(block::run(ctx, op.req, op.ask))
    }
}
