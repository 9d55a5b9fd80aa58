//! Activation and passivation of actors, and bounded mailboxes.
//!
//! An actor exists only while it is used: the first message for an id starts
//! it (its state loaded from the store), and it stops itself when idle. The
//! registry maps ids to live addresses; a message that reaches a stopping
//! actor is returned as `Closed` and the caller activates a fresh one.
//!
//! Mailboxes are bounded by our own counter, not actix's: actix lets every
//! `Addr` clone push one message past capacity, so its bound grows with the
//! number of callers. Here `depth` counts queued requests exactly and a full
//! mailbox refuses at once (answered 503 `overloaded`).

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};
use dashmap::DashMap;
use prometheus::IntGauge;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Times a request is sent again after reaching a stopping actor, before
/// the caller gives up (answered as overloaded).
const SEND_ATTEMPTS: usize = 8;

/// Why a message was not delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// The mailbox is full: shed load.
    Full,
    /// The actor is stopping; activate a new one and try again.
    Closed,
}

/// Why `Registry::ask` got no answer (nothing was done).
#[derive(Debug)]
pub enum AskFailure<E> {
    /// The mailbox is full, or the actor kept stopping: shed load.
    Full,
    /// The actor could not be started (its state did not load).
    Start(E),
}

/// A live actor's address with its queue counter.
pub struct Mailbox<A: Actor> {
    pub addr: Addr<A>,
    pub depth: Arc<AtomicUsize>,
    capacity: usize,
    /// Its kind's `boxoffice_mailbox_depth`, looked up once.
    depth_gauge: IntGauge,
}

impl<A: Actor> Clone for Mailbox<A> {
    fn clone(&self) -> Self {
        Mailbox {
            addr: self.addr.clone(),
            depth: self.depth.clone(),
            capacity: self.capacity,
            depth_gauge: self.depth_gauge.clone(),
        }
    }
}

/// The counter an actor holds to mark a request as taken off its queue.
#[derive(Clone)]
pub struct Depth {
    counter: Arc<AtomicUsize>,
    /// Its kind's `boxoffice_mailbox_depth`, looked up once (a look-up
    /// hashes the label and locks the metric's map: several a booking).
    gauge: IntGauge,
}

impl Depth {
    pub fn new(kind: &'static str) -> Self {
        Depth {
            counter: Arc::new(AtomicUsize::new(0)),
            gauge: crate::metrics::MAILBOX_DEPTH.with_label_values(&[kind]),
        }
    }

    /// Call once per bounded message, when its handler starts.
    pub fn taken(&self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

impl<A: Actor> Mailbox<A> {
    pub fn new(addr: Addr<A>, depth: &Depth, capacity: usize) -> Self {
        Mailbox {
            addr,
            depth: depth.counter.clone(),
            capacity,
            depth_gauge: depth.gauge.clone(),
        }
    }

    /// Queues a request if the mailbox has room. The handler must call
    /// `Depth::taken` exactly once.
    pub fn try_send<M>(&self, message: M) -> Result<(), (SendFailure, M)>
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        if self.depth.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.depth.fetch_sub(1, Ordering::AcqRel);
            crate::metrics::OVERLOADED.inc();
            return Err((SendFailure::Full, message));
        }
        match self.addr.try_send(message) {
            Ok(()) => {
                self.depth_gauge.inc();
                Ok(())
            }
            Err(error) => {
                self.depth.fetch_sub(1, Ordering::AcqRel);
                let message = match error {
                    actix::prelude::SendError::Full(m) | actix::prelude::SendError::Closed(m) => m,
                };
                Err((SendFailure::Closed, message))
            }
        }
    }
}

/// Live actors of one kind by id.
pub struct Registry<K, A: Actor> {
    live: DashMap<K, Mailbox<A>>,
    /// Its kind's `boxoffice_actors_active`, looked up once.
    active: IntGauge,
}

impl<K: Eq + Hash + Clone, A: Actor> Registry<K, A> {
    pub fn new(kind: &'static str) -> Self {
        Registry {
            live: DashMap::new(),
            active: crate::metrics::ACTORS_ACTIVE.with_label_values(&[kind]),
        }
    }

    /// The live actor for `id`, or one started by `start` (at most one per
    /// id: the map entry is held while starting).
    pub fn get_or_start<E>(
        &self,
        id: &K,
        start: impl FnOnce() -> Result<Mailbox<A>, E>,
    ) -> Result<Mailbox<A>, E> {
        if let Some(live) = self.live.get(id) {
            if live.addr.connected() {
                return Ok(live.clone());
            }
        }
        match self.live.entry(id.clone()) {
            dashmap::Entry::Occupied(mut entry) => {
                if entry.get().addr.connected() {
                    Ok(entry.get().clone())
                } else {
                    let mailbox = start()?;
                    entry.insert(mailbox.clone());
                    Ok(mailbox)
                }
            }
            dashmap::Entry::Vacant(entry) => {
                let mailbox = start()?;
                entry.insert(mailbox.clone());
                self.active.inc();
                Ok(mailbox)
            }
        }
    }

    /// Forgets `id` if it still maps to `addr` (called by a stopping actor).
    pub fn remove_if_same(&self, id: &K, addr: &Addr<A>) {
        if self
            .live
            .remove_if(id, |_, live| &live.addr == addr)
            .is_some()
        {
            self.active.dec();
        }
    }

    /// The live actor of `id`, if one is running.
    pub fn live(&self, id: &K) -> Option<Mailbox<A>> {
        self.live
            .get(id)
            .filter(|live| live.addr.connected())
            .map(|live| live.clone())
    }

    /// Sends a request made by `make` (around its reply channel) to the
    /// actor for `id` and waits for the answer. With no live actor, `load`
    /// reads its state (without holding the registry) and `launch` starts
    /// it (at most one per id; a state loaded by a loser of that race is
    /// dropped). A request that reached an actor as it stopped is dropped
    /// unhandled (its reply channel closes) and is sent again to a fresh
    /// actor; every request sent this way must be safe to send twice (the
    /// actors' requests are: keyed, or a release, or a seat claim that a
    /// stopping seat never took).
    pub async fn ask<M, R, E, T, Fut>(
        &self,
        id: &K,
        load: impl Fn() -> Fut,
        launch: impl Fn(T) -> Mailbox<A>,
        make: impl Fn(oneshot::Sender<R>) -> M,
    ) -> Result<R, AskFailure<E>>
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        for _ in 0..SEND_ATTEMPTS {
            let mailbox = match self.live(id) {
                Some(mailbox) => mailbox,
                None => {
                    let state = load().await.map_err(AskFailure::Start)?;
                    self.get_or_start(id, || Ok::<_, E>(launch(state)))
                        .map_err(AskFailure::Start)?
                }
            };
            let (reply, answer) = oneshot::channel();
            match mailbox.try_send(make(reply)) {
                Ok(()) => match answer.await {
                    Ok(answer) => return Ok(answer),
                    Err(_) => continue,
                },
                Err((SendFailure::Full, _)) => return Err(AskFailure::Full),
                Err((SendFailure::Closed, _)) => continue,
            }
        }
        Err(AskFailure::Full)
    }

    /// Takes every live actor out of the registry (to stop them as a group).
    pub fn drain(&self) -> Vec<Mailbox<A>> {
        let ids: Vec<K> = self.live.iter().map(|entry| entry.key().clone()).collect();
        ids.iter()
            .filter_map(|id| self.live.remove(id))
            .map(|(_, mailbox)| {
                self.active.dec();
                mailbox
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}
