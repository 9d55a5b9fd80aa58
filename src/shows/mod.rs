//! The shows in memory, each as one unit: its seat actors, public seat map,
//! event stream and hold counts (`ShowUnit`), and the multi-seat protocol
//! that changes its seats (`SeatTxn`).
//!
//! A unit is loaded from the store, listed and dropped as a whole: start-up
//! loads every show (`Shows::load_all`); a node that stops owning a show
//! drops it (`Shows::unload`), which stops its seat actors and ends its
//! event streams.

mod txn;
mod unit;

pub use txn::{Prepared, SeatTxn};
pub use unit::ShowUnit;

use crate::actors::seat::LapseHandler;
use crate::cluster::{Membership, ShowFence};
use crate::domain::{CartId, SeatState, Show, ShowId, UserId};
use crate::runtime::clock::now_ms;
use crate::runtime::hold_quota::Hold;
use crate::runtime::threads::ActorThreads;
use crate::runtime::{CrashPoints, EngineConfig};
use crate::store::{Storage, Store, StoreError, StoreResult};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;

/// Bookings read a page at a time when a unit counts its sales figures.
const SALES_PAGE: usize = 5_000;

/// Every show this engine serves, by id.
pub struct Shows {
    units: DashMap<ShowId, Arc<ShowUnit>>,
    store: Arc<dyn Store>,
    membership: Arc<dyn Membership>,
    threads: Arc<ActorThreads>,
    crash: CrashPoints,
    seat_mailbox_capacity: usize,
    actor_idle_ms: u64,
    on_lapse: LapseHandler,
}

impl Shows {
    pub fn new(
        store: Arc<dyn Store>,
        membership: Arc<dyn Membership>,
        threads: Arc<ActorThreads>,
        crash: CrashPoints,
        config: &EngineConfig,
        on_lapse: LapseHandler,
    ) -> Self {
        Shows {
            units: DashMap::new(),
            store,
            membership,
            threads,
            crash,
            seat_mailbox_capacity: config.seat_mailbox_capacity,
            actor_idle_ms: config.actor_idle_ms,
            on_lapse,
        }
    }

    pub fn get(&self, id: ShowId) -> Option<Arc<ShowUnit>> {
        self.units.get(&id).map(|unit| unit.clone())
    }

    /// The show, served from memory; on a store of many nodes, a show not
    /// in memory may have been created on another node a moment ago: it
    /// is looked up in the store and served before anyone is told it does
    /// not exist (an answer stored under a key, and replayed).
    pub async fn find(&self, id: ShowId) -> StoreResult<Option<Arc<ShowUnit>>> {
        if let Some(unit) = self.get(id) {
            return Ok(Some(unit));
        }
        if !self.membership.is_shared() {
            return Ok(None);
        }
        match self.store.load_show(id).await? {
            Some(show) => self.load(show).await.map(Some),
            None => Ok(None),
        }
    }

    /// Every show, by start time, then title.
    pub fn list(&self) -> Vec<Arc<ShowUnit>> {
        let mut units: Vec<_> = self.units.iter().map(|unit| unit.clone()).collect();
        units.sort_by(|a, b| {
            let (a, b) = (a.show(), b.show());
            (a.starts_at_ms, &a.title, a.id).cmp(&(b.starts_at_ms, &b.title, b.id))
        });
        units
    }

    fn new_unit(&self, show: Show) -> Arc<ShowUnit> {
        let fence = self.membership.fence_of(show.id);
        self.new_unit_at(show, fence)
    }

    fn new_unit_at(&self, show: Show, fence: ShowFence) -> Arc<ShowUnit> {
        Arc::new(
            ShowUnit::new(
                show,
                Storage {
                    store: self.store.clone(),
                    membership: self.membership.clone(),
                },
                self.threads.clone(),
                self.crash.clone(),
                self.seat_mailbox_capacity,
                self.actor_idle_ms,
                self.on_lapse.clone(),
            )
            .under(fence),
        )
    }

    /// Serves a show just written to the store: every seat available,
    /// nothing to load. The unit already served, if any, stays.
    pub fn add_new(&self, show: Show) -> Arc<ShowUnit> {
        let id = show.id;
        self.units
            .entry(id)
            .or_insert_with(|| self.new_unit(show))
            .clone()
    }

    /// Loads every show in the store (start-up). Nothing to repair: every
    /// multi-record change was one atomic write, and in-flight keys were
    /// never persisted.
    pub async fn load_all(&self) -> StoreResult<usize> {
        let shows = self.store.list_shows().await?;
        let count = shows.len();
        for show in shows {
            self.load(show).await?;
        }
        Ok(count)
    }

    /// Loads one show from the store and serves it: its seat map from the
    /// seat records (a lapsed hold reads as available), the live holds per
    /// user (each holding cart names its owner), and an actor for each held
    /// seat so its expiry timer runs.
    /// A unit already served (loaded meanwhile by another caller) stays,
    /// and is returned: never two units, and two sets of seat actors, for
    /// one show.
    pub async fn load(&self, show: Show) -> StoreResult<Arc<ShowUnit>> {
        let fence = self.membership.fence_of(show.id);
        self.load_at(show, fence, false).await
    }

    /// `load`, under the lease `fence`; with `replace`, the unit served
    /// before (if any) is stopped and replaced (a partition taken over:
    /// its state may be stale).
    pub async fn load_at(
        &self,
        show: Show,
        fence: ShowFence,
        replace: bool,
    ) -> StoreResult<Arc<ShowUnit>> {
        let now = now_ms();
        let unit = self.new_unit_at(show, fence);
        let mut held = Vec::new();
        for (index, state) in self.store.load_taken_seats(unit.id()).await? {
            if index >= unit.show().layout.capacity() {
                return Err(StoreError::Corrupt(format!(
                    "seat {index} outside show {}",
                    unit.id()
                )));
            }
            let state = state.at(now);
            unit.map().set(index, state.status());
            if let SeatState::Held { cart, until_ms } = state {
                held.push(Hold {
                    cart,
                    seat: index,
                    until_ms,
                });
            }
        }
        // The sales figures, counted once from every booking of the show.
        let mut after = None;
        loop {
            let page = self
                .store
                .list_show_bookings(unit.id(), after, SALES_PAGE)
                .await?;
            for booking in &page {
                unit.count_sale(booking);
            }
            match page.last() {
                Some(last) if page.len() == SALES_PAGE => {
                    after = Some((last.created_at_ms, last.id))
                }
                _ => break,
            }
        }
        let mut owners: HashMap<CartId, Option<UserId>> = HashMap::new();
        for hold in &held {
            let owner = match owners.get(&hold.cart) {
                Some(owner) => *owner,
                None => {
                    let cart = self.store.load_cart(hold.cart).await?;
                    *owners.entry(hold.cart).or_insert(cart.map(|c| c.owner))
                }
            };
            if let Some(user) = owner {
                unit.holds().try_reserve(user, *hold, now, usize::MAX);
            }
        }
        match self.units.entry(unit.id()) {
            dashmap::Entry::Occupied(mut served) => {
                if !replace {
                    return Ok(served.get().clone());
                }
                served.get().stop_seats();
                served.insert(unit.clone());
            }
            dashmap::Entry::Vacant(vacant) => {
                vacant.insert(unit.clone());
            }
        }
        for hold in &held {
            let state = SeatState::Held {
                cart: hold.cart,
                until_ms: hold.until_ms,
            };
            unit.activate_seat(hold.seat, state);
        }
        Ok(unit)
    }

    /// Stops serving a show: its seat actors stop, its event streams end
    /// once the last reader lets go of the map. Returns whether it was
    /// served.
    pub fn unload(&self, id: ShowId) -> bool {
        match self.units.remove(&id) {
            Some((_, unit)) => {
                unit.stop_seats();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
