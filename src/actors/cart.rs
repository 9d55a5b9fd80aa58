//! The cart actor: holds seats for one user and checks them out.
//!
//! Its id comes from (user, key) of the create request, so a retried create
//! reaches the same actor. Each request runs to its end before the next
//! starts (later ones queue), so the cart never sees two of its own changes
//! interleave; a repeat of the running key is answered 409 at once.
//!
//! Checkout protocol (see ARCHITECTURE.md): the cart checks every hold is
//! live -> prepares every seat with `Book { via_cart }` -> one atomic write
//! (booking, seats booked, cart checked out, key record) -> group flush ->
//! commit the seats -> reply. Any refusal aborts every prepared seat.

use super::serial::{self, Done, SerialActor};
use crate::domain::{
    AddPlan, Booking, BookingStatus, Cart, CartError, CartId, CartItem, CartStatus, Claim, Holder,
    SeatLabel, SeatRefusal, SeatState, ShowId, TxnId, UserId,
};
use crate::engine::{not_found, now_ms, Engine, EngineError, Request};
use crate::store::Mutation;
use crate::wire::{self, Code, Reply};
use futures_util::future::BoxFuture;
use uuid::Uuid;

#[derive(Clone)]
pub enum CartOp {
    Create {
        req: Request,
    },
    AddItem {
        req: Request,
        show: Option<ShowId>,
        seat: SeatLabel,
    },
    RemoveItem {
        user: UserId,
        show: Option<ShowId>,
        seat: Option<SeatLabel>,
    },
    Checkout {
        req: Request,
    },
}

/// The cart actor: a serial actor owning one cart.
pub type CartActor = SerialActor<Carts>;
pub type CartMsg = serial::OpMsg<CartOp>;

pub struct Carts;

impl serial::Owner for Carts {
    const KIND: &'static str = "cart";
    type Id = CartId;
    type Record = Cart;
    type Op = CartOp;

    fn record_id(cart: &Cart) -> CartId {
        cart.id
    }

    fn request(op: &CartOp) -> Option<&Request> {
        match op {
            CartOp::Create { req } | CartOp::AddItem { req, .. } | CartOp::Checkout { req } => {
                Some(req)
            }
            CartOp::RemoveItem { .. } => None,
        }
    }

    fn run(
        engine: Engine,
        id: CartId,
        cart: Option<Cart>,
        op: CartOp,
    ) -> BoxFuture<'static, Done<Cart>> {
        match op {
            CartOp::Create { req } => Box::pin(create(engine, id, cart, req)),
            CartOp::AddItem { req, show, seat } => {
                Box::pin(add_item(engine, cart, req, show, seat))
            }
            CartOp::RemoveItem { user, show, seat } => {
                Box::pin(remove_item(engine, cart, user, show, seat))
            }
            CartOp::Checkout { req } => Box::pin(checkout(engine, cart, req)),
        }
    }

    fn registry(engine: &Engine) -> &crate::actors::registry::Registry<CartId, CartActor> {
        &engine.carts
    }
}

fn owned(cart: Option<Cart>, user: UserId) -> Option<Cart> {
    cart.filter(|c| c.owner == user)
}

fn cart_reply(status: u16, cart: &Cart) -> Reply {
    Reply::json(status, &wire::cart_out(cart, now_ms()))
}

fn cart_error(error: CartError) -> Reply {
    match error {
        CartError::Closed => wire::problem(Code::CartClosed, "the cart is already checked out"),
        CartError::OtherShow => wire::problem(
            Code::InvalidRequest,
            "a cart holds seats of one show; this seat is of another",
        ),
        CartError::Empty => wire::problem(Code::InvalidRequest, "the cart is empty"),
        CartError::HoldExpired => wire::problem(
            Code::HoldExpired,
            "a hold in this cart has lapsed; nothing was booked",
        ),
        CartError::NoSuchItem => not_found("cart item"),
    }
}

async fn create(engine: Engine, id: CartId, existing: Option<Cart>, req: Request) -> Done<Cart> {
    // The id comes from (user, key). If a cart already has it while the
    // key has no record, the key expired and is being reused: this is a new
    // request and gets a new cart. Its retries still reach this actor and
    // replay from the key record.
    let id = if existing.is_some() {
        CartId(Uuid::new_v4())
    } else {
        id
    };
    let cart = Cart::new(id, req.user, now_ms());
    let reply = cart_reply(201, &cart);
    let (applied, reply) = engine
        .settle(
            "cart",
            Some(&req),
            reply,
            vec![Mutation::Cart(cart.clone())],
        )
        .await;
    Done {
        record: applied.then_some(cart),
        settle: Some(req),
        reply,
    }
}

async fn add_item(
    engine: Engine,
    cart: Option<Cart>,
    req: Request,
    show: Option<ShowId>,
    seat: SeatLabel,
) -> Done<Cart> {
    let finish = |cart, reply| Done {
        record: cart,
        settle: Some(req.clone()),
        reply,
    };
    // Outcomes decided without touching a seat: stored with the key (or,
    // for a 400, not stored) and nothing else changes.
    let answer = |reply: Reply| async { engine.settle("hold", Some(&req), reply, vec![]).await.1 };
    let Some(mut cart) = owned(cart, req.user) else {
        return finish(None, answer(not_found("cart")).await);
    };
    let Some(view) = show.and_then(|s| engine.view(s)) else {
        return finish(None, answer(not_found("show")).await);
    };
    let Some(index) = view.show.layout.index_of(&seat) else {
        return finish(None, answer(not_found(&format!("seat {seat}"))).await);
    };
    let show = view.show.id;
    let now = now_ms();
    let until_ms = match cart.plan_add(show, &seat, now, engine.config.hold_ttl_ms) {
        Ok(AddPlan::AlreadyHeld) => {
            return finish(None, answer(cart_reply(201, &cart)).await);
        }
        Ok(AddPlan::Hold { until_ms }) => until_ms,
        Err(error) => return finish(None, answer(cart_error(error)).await),
    };
    let hold = crate::engine::quota::Hold {
        cart: cart.id,
        seat: index,
        until_ms,
    };
    let quota_ok =
        engine
            .holds
            .try_reserve(req.user, show, hold, now, engine.config.max_holds_per_user);
    if !quota_ok {
        crate::metrics::CONFLICTS
            .with_label_values(&["too-many-holds"])
            .inc();
        let reply = wire::problem(
            Code::TooManyHolds,
            &format!(
                "you already hold {} seats of this show",
                engine.config.max_holds_per_user
            ),
        );
        return finish(None, answer(reply).await);
    }
    let txn = TxnId(Uuid::new_v4());
    let claim = Claim::Hold {
        cart: cart.id,
        until_ms,
    };
    let decision = engine.seat_prepare(show, index, txn, claim).await;
    match decision {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => {
            engine.holds.release(req.user, show, cart.id, index);
            crate::metrics::CONFLICTS
                .with_label_values(&["seat-unavailable"])
                .inc();
            let reply = wire::seat_unavailable(&[seat.to_string()]);
            return finish(None, answer(reply).await);
        }
        Err(error) => {
            engine.holds.release(req.user, show, cart.id, index);
            return finish(None, error.reply());
        }
    }
    cart.add(CartItem {
        show,
        seat,
        seat_index: index,
        until_ms,
    });
    let mutations = vec![
        Mutation::Seat {
            show,
            index,
            state: SeatState::Held {
                cart: cart.id,
                until_ms,
            },
        },
        Mutation::Cart(cart.clone()),
    ];
    let reply = cart_reply(201, &cart);
    let (applied, reply) = engine.settle("hold", Some(&req), reply, mutations).await;
    engine.seat_resolve(show, index, txn, applied).await;
    if !applied {
        engine.holds.release(req.user, show, cart.id, index);
    }
    finish(applied.then_some(cart), reply)
}

async fn remove_item(
    engine: Engine,
    cart: Option<Cart>,
    user: UserId,
    show: Option<ShowId>,
    seat: Option<SeatLabel>,
) -> Done<Cart> {
    let done = |cart, reply| Done {
        record: cart,
        settle: None,
        reply,
    };
    let Some(mut cart) = owned(cart, user) else {
        return done(None, not_found("cart"));
    };
    let Some(view) = show.and_then(|s| engine.view(s)) else {
        return done(None, not_found("show"));
    };
    let Some((seat, index)) = seat.and_then(|s| view.show.layout.index_of(&s).map(|i| (s, i)))
    else {
        return done(None, not_found("seat"));
    };
    let show = view.show.id;
    match cart.plan_remove(show, &seat) {
        Ok(_) => {}
        // Already gone (a repeated DELETE): nothing to do, same answer.
        Err(CartError::NoSuchItem) => return done(None, Reply::empty(204)),
        Err(error) => return done(None, cart_error(error)),
    }
    let txn = TxnId(Uuid::new_v4());
    let claim = Claim::Release {
        holder: Holder::Cart(cart.id),
    };
    let seat_changes = match engine.seat_prepare(show, index, txn, claim).await {
        Ok(Ok(Some(_))) => true,
        Ok(Ok(None)) => false,
        Ok(Err(SeatRefusal::Unavailable | SeatRefusal::HoldExpired)) | Err(_) => {
            return done(None, EngineError::Overloaded.reply());
        }
    };
    cart.remove(show, &seat);
    let mut mutations = vec![Mutation::Cart(cart.clone())];
    if seat_changes {
        mutations.push(Mutation::Seat {
            show,
            index,
            state: SeatState::Available,
        });
    }
    let (applied, reply) = engine
        .settle("release", None, Reply::empty(204), mutations)
        .await;
    if seat_changes {
        engine.seat_resolve(show, index, txn, applied).await;
    }
    if applied {
        engine.holds.release(user, show, cart.id, index);
    }
    done(applied.then_some(cart), reply)
}

async fn checkout(engine: Engine, cart: Option<Cart>, req: Request) -> Done<Cart> {
    let finish = |cart, reply| Done {
        record: cart,
        settle: Some(req.clone()),
        reply,
    };
    let answer =
        |reply: Reply| async { engine.settle("checkout", Some(&req), reply, vec![]).await.1 };
    let Some(mut cart) = owned(cart, req.user) else {
        return finish(None, answer(not_found("cart")).await);
    };
    let now = now_ms();
    let items = match cart.plan_checkout(now) {
        Ok(items) => items.to_vec(),
        Err(error) => {
            if error == CartError::HoldExpired {
                crate::metrics::CONFLICTS
                    .with_label_values(&["hold-expired"])
                    .inc();
            }
            return finish(None, answer(cart_error(error)).await);
        }
    };
    let show = items[0].show;
    let booking_id = Engine::checkout_booking_id(cart.id);
    let seats: Vec<(u32, SeatLabel)> = items
        .iter()
        .map(|item| (item.seat_index, item.seat.clone()))
        .collect();
    let txn = TxnId(Uuid::new_v4());
    let claim = Claim::Book {
        booking: booking_id,
        via_cart: Some(cart.id),
    };
    match engine
        .prepare_all("checkout", show, &seats, txn, claim)
        .await
    {
        Ok(prepared) if prepared.refused.is_empty() => {}
        Ok(_) => {
            crate::metrics::CONFLICTS
                .with_label_values(&["hold-expired"])
                .inc();
            return finish(None, answer(cart_error(CartError::HoldExpired)).await);
        }
        Err(error) => return finish(None, error.reply()),
    }
    let booking = Booking {
        id: booking_id,
        owner: req.user,
        show,
        seats,
        status: BookingStatus::Confirmed,
        created_at_ms: now,
        cart: Some(cart.id),
    };
    cart.check_out(booking_id);
    let mut mutations: Vec<Mutation> = booking
        .seats
        .iter()
        .map(|(index, _)| Mutation::Seat {
            show,
            index: *index,
            state: SeatState::Booked {
                booking: booking_id,
            },
        })
        .collect();
    mutations.push(Mutation::Booking(booking.clone()));
    mutations.push(Mutation::Cart(cart.clone()));
    let reply = Reply::json(201, &wire::booking_out(&booking));
    let (applied, reply) = engine
        .settle("checkout", Some(&req), reply, mutations)
        .await;
    engine.resolve_all(show, &booking.seats, txn, applied).await;
    if applied {
        engine.crash_at("checkout", "resolved");
    }
    if applied {
        debug_assert!(matches!(cart.status, CartStatus::CheckedOut { .. }));
        engine.holds.release_cart(req.user, show, cart.id);
        crate::metrics::BOOKINGS.inc();
        crate::metrics::SEATS_BOOKED.inc_by(booking.seats.len() as u64);
    }
    finish(applied.then_some(cart), reply)
}
