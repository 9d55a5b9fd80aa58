//! One show in memory: its layout, public seat map and event stream, the
//! actors of its seats in use, and its live holds per user.

use crate::actors::seat::{LapseHandler, Prepare, Resolve, SeatActor, SeatHome, Stop};
use crate::cluster::{Membership, ShowFence};
use crate::domain::{Booking, Claim, Decision, Sales, SeatState, SeatStatus, Show, ShowId, TxnId};
use crate::replies::EngineError;
use crate::runtime::clock::now_ms;
use crate::runtime::hold_quota::HoldQuota;
use crate::runtime::registry::{AskFailure, Mailbox, Registry};
use crate::runtime::seat_map::SeatMap;
use crate::runtime::threads::ActorThreads;
use crate::runtime::CrashPoints;
use crate::store::{Storage, Store, StoreFuture};
use std::sync::{Arc, Mutex};

pub struct ShowUnit {
    /// The seat map, the seat actors' registry, and what they share.
    home: Arc<SeatHome>,
    holds: HoldQuota,
    store: Arc<dyn Store>,
    membership: Arc<dyn Membership>,
    threads: Arc<ActorThreads>,
    pub(super) crash: CrashPoints,
    /// The lease this unit's state was loaded under: its writes carry it,
    /// and are refused once it is not current (a node that lost and
    /// regained the partition reloads the show into a new unit first).
    fence: ShowFence,
    /// The bookings side of the sales figures: counted from the store once
    /// as the unit loads, then kept up to date by every booking and cancel
    /// this unit writes. The lock guards these figures only (never a
    /// seat's state) and is held for an update or a copy.
    sales: Mutex<Sales>,
}

impl ShowUnit {
    pub(super) fn new(
        show: Show,
        storage: Storage,
        threads: Arc<ActorThreads>,
        crash: CrashPoints,
        seat_mailbox_capacity: usize,
        actor_idle_ms: u64,
        on_lapse: LapseHandler,
    ) -> Self {
        let show_for_sales = show.clone();
        let home = SeatHome {
            show: show.id,
            // Event ids go on from the time in microseconds: past any id
            // an earlier map of this show gave (`SeatMap`).
            map: Arc::new(SeatMap::new(show, now_ms().saturating_mul(1000))),
            registry: Registry::new("seat"),
            mailbox_capacity: seat_mailbox_capacity,
            idle_ms: actor_idle_ms,
            on_lapse,
        };
        ShowUnit {
            home: Arc::new(home),
            holds: HoldQuota::default(),
            store: storage.store,
            membership: storage.membership,
            threads,
            crash,
            fence: ShowFence::Alone,
            sales: Mutex::new(Sales::new(&show_for_sales)),
        }
    }

    /// This unit, serving under the lease `fence`.
    pub(super) fn under(mut self, fence: ShowFence) -> Self {
        self.fence = fence;
        self
    }

    /// The lease this unit's state was loaded under.
    pub fn fence(&self) -> ShowFence {
        self.fence
    }

    /// What a write decided on this unit's state is fenced with: the show
    /// and the epoch of its lease (`None` on a store of one node).
    pub fn fence_token(&self) -> Option<(ShowId, i64)> {
        self.fence.token().map(|epoch| (self.id(), epoch))
    }

    /// Whether this node may write for the show with this unit: its lease
    /// is the one held now (always, on a store of one node). Else another
    /// node serves the show (or this one is about to, from a new unit).
    pub fn lease_is_current(&self) -> bool {
        self.fence != ShowFence::NotHeld && self.membership.fence_of(self.id()) == self.fence
    }

    pub fn id(&self) -> ShowId {
        self.home.show
    }

    pub fn show(&self) -> &Show {
        &self.home.map.show
    }

    /// The public seat map (and its event stream).
    pub fn map(&self) -> &Arc<SeatMap> {
        &self.home.map
    }

    /// The bookings side of the sales figures as they stand.
    pub fn sales(&self) -> Sales {
        self.sales.lock().expect("sales figures").clone()
    }

    /// Counts a booking the store holds (while the unit loads).
    pub(super) fn count_sale(&self, booking: &Booking) {
        let mut sales = self.sales.lock().expect("sales figures");
        sales.count(self.show(), booking);
    }

    /// A booking this unit has just written, confirmed.
    pub fn sold(&self, booking: &Booking) {
        let mut sales = self.sales.lock().expect("sales figures");
        sales.confirmed(self.show(), booking);
    }

    /// A confirmed booking this unit has just written, cancelled.
    pub fn refunded(&self, booking: &Booking) {
        let mut sales = self.sales.lock().expect("sales figures");
        sales.cancelled(self.show(), booking);
    }

    /// Live holds per user in this show (`max_holds_per_user`).
    pub fn holds(&self) -> &HoldQuota {
        &self.holds
    }

    /// Seat actors live now.
    pub fn live_seats(&self) -> usize {
        self.home.registry.len()
    }

    fn launch_seat(&self, index: u32, state: SeatState) -> Mailbox<SeatActor> {
        SeatActor::launch(&self.threads, self.home.clone(), index, state)
    }

    /// Starts the actor of a seat if none is live (a held seat at load).
    pub(super) fn activate_seat(&self, index: u32, state: SeatState) {
        let started = self
            .home
            .registry
            .get_or_start(&index, || Ok::<_, ()>(self.launch_seat(index, state)));
        debug_assert!(started.is_ok(), "launching cannot fail");
    }

    /// The state a seat's actor starts in. A seat the public map shows
    /// available has no live record (or a lapsed hold, which reads as
    /// available anyway): every change of a seat's record is published to
    /// the map by the actor that made it, once durable, and the map was
    /// loaded from the records. Only a held or booked seat needs its record
    /// (whose cart or booking the map does not keep).
    fn seat_state(&self, index: u32) -> StoreFuture<SeatState> {
        if self.map().status(index) == SeatStatus::Available {
            return Box::pin(std::future::ready(Ok(SeatState::Available)));
        }
        self.store.load_seat(self.id(), index)
    }

    /// Asks seat `index` to reserve itself for `txn`.
    pub(super) async fn ask_seat(
        &self,
        index: u32,
        txn: TxnId,
        claim: Claim,
    ) -> Result<Decision, EngineError> {
        let load = || self.seat_state(index);
        let launch = |state| self.launch_seat(index, state);
        let make = |reply| Prepare {
            txn,
            claim,
            now_ms: now_ms(),
            reply,
        };
        self.home
            .registry
            .ask(&index, load, launch, make)
            .await
            .map_err(|failure| match failure {
                AskFailure::Full => EngineError::Overloaded,
                AskFailure::Start(error) => EngineError::from(error),
            })
    }

    /// Tells a prepared seat the outcome and waits until it has applied it
    /// (so the public seat map shows a change before the client hears of
    /// it). Never refused for capacity: a prepared seat waits for exactly
    /// one of these, and cannot passivate meanwhile.
    pub(super) async fn resolve_seat(&self, index: u32, txn: TxnId, commit: bool) {
        let Some(mailbox) = self.home.registry.live(&index) else {
            tracing::error!(show = %self.id(), index, "a prepared seat is not live");
            return;
        };
        if mailbox.addr.send(Resolve { txn, commit }).await.is_err() {
            tracing::error!(show = %self.id(), index, "seat stopped before its resolve");
        }
    }

    /// Aborts a prepared seat without waiting (a transaction dropped
    /// unresolved).
    pub(super) fn abort_seat_now(&self, index: u32, txn: TxnId) {
        if let Some(mailbox) = self.home.registry.live(&index) {
            mailbox.addr.do_send(Resolve { txn, commit: false });
        }
    }

    /// Stops every seat actor of the show.
    pub(super) fn stop_seats(&self) {
        for mailbox in self.home.registry.drain() {
            mailbox.addr.do_send(Stop);
        }
    }
}
