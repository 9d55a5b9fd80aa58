//! The engine facade: the one entry point the HTTP edge calls.
//!
//! It starts the lower core (actor threads, key records, shows loaded from
//! the store) and the actor kinds, routes each request to the actor that
//! owns what it changes, and answers reads from the seat maps and the
//! store. It decides nothing itself: operations (`ops`) do, in their
//! actors.

mod box_office;
mod demo;
mod export;
mod partitions;
mod reads;
mod sweeper;

pub use crate::store::{Storage, StorageConfig};

pub use crate::ops::create_show::NewShow;
// What the HTTP edge hands the engine or reads back, named here so that
// the edge calls the facade only: the seats a booking or cart item asks
// for, a show's public seat map and its events, and the hash a bearer
// token is compared by.
pub use crate::ops::block::{BlockAsk, MAX_BLOCK_REASON_CHARS};
pub use crate::ops::book::{BestAsk, Choice};
pub use crate::ops::session::token_hash;
pub use crate::runtime::seat_map::{Resume, SeatEvent, SeatMap};

use crate::actors::seat::LapseHandler;
use crate::actors::serial::Kind;
use crate::cluster::Membership;
use crate::domain::{BookingId, Canceller, CartId, KeyedRequest, SeatLabel, ShowId, UserId};
use crate::idempotency::{derived_id, Keys};
use crate::ops::owners::{
    Blocks, BookingOp, Bookings, CartOp, Carts, NewShowOp, NewShows, OwnedBooking,
};
use crate::ops::session::Sessions;
use crate::ops::{Core, Ctx};
use crate::replies::{not_found, EngineError};
use crate::runtime::threads::ActorThreads;
use crate::runtime::{CrashPoints, EngineConfig, Op};
use crate::shows::{ShowUnit, Shows};
use crate::store::StoreError;
use crate::wire::Reply;
use std::sync::{Arc, Weak};
use uuid::Uuid;

/// Namespaces for ids derived from (user, key): a retry lands in the same
/// actor, which already knows the key.
const CART_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e01);
const BOOKING_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e02);
const SHOW_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e03);
const BLOCK_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e05);

/// Cheap to clone; every clone is the same engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Facade>,
}

struct Facade {
    core: Ctx,
    threads: Arc<ActorThreads>,
    carts: Arc<Kind<Carts>>,
    bookings: Arc<Kind<Bookings>>,
    new_shows: Arc<Kind<NewShows>>,
    blocks: Arc<Kind<Blocks>>,
    sessions: Arc<Sessions>,
}

impl Engine {
    /// Starts the actor threads and loads every show from the store
    /// (recovery: there is nothing half-done to repair). Must run inside an
    /// actix `System`.
    pub async fn start(config: EngineConfig, storage: Storage) -> Result<Engine, StoreError> {
        let Storage { store, membership } = storage;
        crate::metrics::init();
        let threads = Arc::new(ActorThreads::start(config.actor_threads));
        let crash = CrashPoints::new(config.crash_point.as_deref());
        let keys = Arc::new(Keys::new(
            store.clone(),
            crash.clone(),
            config.max_keys_per_user,
            config.idempotency_ttl_ms,
        ));
        let core = Arc::new_cyclic(|core: &Weak<Core>| Core {
            shows: Shows::new(
                store.clone(),
                membership.clone(),
                threads.clone(),
                crash,
                &config,
                expire_on_lapse(core.clone()),
            ),
            config: config.clone(),
            store: store.clone(),
            membership: membership.clone(),
            keys: keys.clone(),
        });
        let (capacity, idle_ms) = (config.mailbox_capacity, config.actor_idle_ms);
        // On a store of many nodes, carts and bookings may change on
        // another node: their actors read them with every request.
        let shared = membership.is_shared();
        let carts = Kind::new(
            core.clone(),
            keys.clone(),
            threads.clone(),
            capacity,
            idle_ms,
            shared,
        );
        let bookings = Kind::new(
            core.clone(),
            keys.clone(),
            threads.clone(),
            capacity,
            idle_ms,
            shared,
        );
        let new_shows = Kind::new(
            core.clone(),
            keys.clone(),
            threads.clone(),
            capacity,
            idle_ms,
            false,
        );
        let blocks = Kind::new(
            core.clone(),
            keys,
            threads.clone(),
            capacity,
            idle_ms,
            false,
        );
        let engine = Engine {
            inner: Arc::new(Facade {
                sessions: Arc::new(Sessions::new(store, config.session_ttl_ms)),
                core,
                threads,
                carts,
                bookings,
                new_shows,
                blocks,
            }),
        };
        // Listen to partition changes before loading, so that none is missed.
        let partition_events = engine.inner.core.membership.take_partition_events();
        engine.inner.core.shows.load_all().await?;
        sweeper::start(&engine.inner.core, &engine.inner.sessions);
        if let Some(events) = partition_events {
            partitions::start(&engine.inner.core, events);
        }
        Ok(engine)
    }

    /// Who serves which show: forwarding to the owner, the cluster view.
    pub fn membership(&self) -> &Arc<dyn Membership> {
        &self.inner.core.membership
    }

    /// The shows served, as units (seat maps, event streams, seat actors).
    pub fn shows(&self) -> &Shows {
        &self.inner.core.shows
    }

    pub fn show(&self, id: ShowId) -> Option<Arc<ShowUnit>> {
        self.inner.core.shows.get(id)
    }

    /// The show a path names (`find_show`), or the reply: 404 for an id
    /// that names no show, 5xx for a failed look-up.
    pub async fn show_named(&self, text: &str) -> Result<Arc<ShowUnit>, Reply> {
        let id = ShowId::parse(text).ok_or_else(|| not_found("show"))?;
        self.find_show(id).await?.ok_or_else(|| not_found("show"))
    }

    /// `show`, also looking in the store for a show created on another
    /// node (`Shows::find`); `Err` is the reply for a failed look-up.
    pub async fn find_show(&self, id: ShowId) -> Result<Option<Arc<ShowUnit>>, Reply> {
        self.inner
            .core
            .shows
            .find(id)
            .await
            .map_err(|error| EngineError::from(error).reply())
    }

    /// Stops every actor thread and waits for it: actors and their
    /// in-memory state are dropped (what a crash does to them). Used by
    /// the simulator's in-process crash-and-restart; the store is released
    /// once the caller drops its last engine handle.
    pub fn stop_actors(&self) {
        self.inner.threads.stop();
    }

    /// Makes everything written durable and lets go of what this node
    /// holds (PostgreSQL: its partitions, handed over at once): the last
    /// step of a clean stop, once no request runs.
    pub fn flush_store(&self) -> Result<(), StoreError> {
        self.inner.core.store.flush()
    }

    /// Seeds a few demo shows (first start on an empty store).
    pub async fn seed_demo(&self) -> Result<(), EngineError> {
        demo::seed(&self.inner.core).await
    }

    // ---- sessions ----

    pub async fn create_session(&self) -> Reply {
        self.inner.sessions.create(&self.inner.core.keys).await
    }

    /// The user a bearer token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<Option<UserId>, EngineError> {
        self.inner.sessions.authenticate(token).await
    }

    // ---- shows ----

    pub async fn create_show(&self, req: KeyedRequest, new: NewShow) -> Reply {
        let id = ShowId(derived_id(SHOW_NS, req.user, &req.key));
        self.inner.new_shows.ask(id, NewShowOp { req, new }).await
    }

    // ---- bookings ----

    pub async fn book(
        &self,
        req: KeyedRequest,
        show: Option<ShowId>,
        seats: Vec<SeatLabel>,
    ) -> Reply {
        self.book_choice(req, show, crate::ops::book::Choice::Listed(seats))
            .await
    }

    /// A booking of listed seats or of the best available ones.
    pub async fn book_choice(
        &self,
        req: KeyedRequest,
        show: Option<ShowId>,
        seats: crate::ops::book::Choice,
    ) -> Reply {
        let id = OwnedBooking {
            owner: req.user,
            id: BookingId(derived_id(BOOKING_NS, req.user, &req.key)),
        };
        let op = BookingOp::Create { req, show, seats };
        self.inner.bookings.ask(id, op).await
    }

    /// A cancel by the booking's owner, or, with the admin token, by the
    /// box office on behalf of whoever owns it (`cancelled_by`).
    pub async fn cancel_booking(&self, user: UserId, id: Option<BookingId>) -> Reply {
        let Some(id) = id else {
            return not_found("booking");
        };
        let (owner, by) = match self.booking_owner(user, id).await {
            Ok(Some(found)) => found,
            Ok(None) => return not_found("booking"),
            Err(reply) => return reply,
        };
        // Only the owner's cancel reaches, and activates, the actor (the
        // box office's found the booking's owner in the store already: one
        // read, not two, so a cancel on behalf costs what the owner's does).
        if user != UserId::ADMIN {
            match self.inner.core.store.load_booking(owner, id).await {
                Ok(Some(_)) => {}
                Ok(None) => return not_found("booking"),
                Err(error) => return EngineError::from(error).reply(),
            }
        }
        let id = OwnedBooking { owner, id };
        let op = BookingOp::Cancel { user: owner, by };
        self.inner.bookings.ask(id, op).await
    }

    /// Whose booking `id` is, as `user` may reach it, and who a cancel by
    /// `user` would be: the caller's own (customer), or, for the admin,
    /// anyone's (the box office; its own bookings, as their customer).
    async fn booking_owner(
        &self,
        user: UserId,
        id: BookingId,
    ) -> Result<Option<(UserId, Canceller)>, Reply> {
        if user != UserId::ADMIN {
            return Ok(Some((user, Canceller::Customer)));
        }
        let owner = self.inner.core.store.booking_owner(id).await;
        match owner.map_err(|error| EngineError::from(error).reply())? {
            Some(UserId::ADMIN) => Ok(Some((UserId::ADMIN, Canceller::Customer))),
            Some(owner) => Ok(Some((owner, Canceller::BoxOffice))),
            None => Ok(None),
        }
    }

    // ---- carts ----

    pub async fn create_cart(&self, req: KeyedRequest) -> Reply {
        let id = CartId(derived_id(CART_NS, req.user, &req.key));
        self.inner.carts.ask(id, CartOp::Create { req }).await
    }

    /// A hold in a cart. A malformed cart id names no cart that could
    /// exist, so no actor owns the request: its 404 is stored with the key
    /// directly (`Keys::answer_unowned`).
    /// Best available into a cart: a block of seats held at once.
    pub async fn add_best_items(
        &self,
        req: KeyedRequest,
        cart: Option<CartId>,
        show: Option<ShowId>,
        ask: crate::ops::book::BestAsk,
    ) -> Reply {
        match cart {
            Some(id) => {
                let op = CartOp::HoldBest { req, show, ask };
                self.inner.carts.ask(id, op).await
            }
            None => self.answer_unowned(Op::Hold, &req, "cart").await,
        }
    }

    pub async fn add_item(
        &self,
        req: KeyedRequest,
        cart: Option<CartId>,
        show: Option<ShowId>,
        seat: SeatLabel,
    ) -> Reply {
        match cart {
            Some(id) => {
                let op = CartOp::Hold { req, show, seat };
                self.inner.carts.ask(id, op).await
            }
            None => self.answer_unowned(Op::Hold, &req, "cart").await,
        }
    }

    pub async fn remove_item(
        &self,
        user: UserId,
        cart: Option<CartId>,
        show: Option<ShowId>,
        seat: Option<SeatLabel>,
    ) -> Reply {
        let Some(cart) = cart else {
            return not_found("cart");
        };
        let op = CartOp::Release { user, show, seat };
        self.inner.carts.ask(cart, op).await
    }

    /// A checkout; a malformed cart id as in `add_item`.
    pub async fn checkout(&self, req: KeyedRequest, cart: Option<CartId>) -> Reply {
        match cart {
            Some(id) => self.inner.carts.ask(id, CartOp::Checkout { req }).await,
            None => self.answer_unowned(Op::Checkout, &req, "cart").await,
        }
    }

    async fn answer_unowned(&self, op: Op, req: &KeyedRequest, what: &str) -> Reply {
        let keys = &self.inner.core.keys;
        keys.answer_unowned(op, req, not_found(what)).await
    }
}

/// A lapsed hold starts its expiry operation (on the seat actor's thread,
/// as a task of its own).
fn expire_on_lapse(core: Weak<Core>) -> LapseHandler {
    Arc::new(move |lapsed| {
        if let Some(core) = core.upgrade() {
            actix::spawn(crate::ops::expire::run(core, lapsed));
        }
    })
}
