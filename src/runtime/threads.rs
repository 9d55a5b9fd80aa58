//! The threads actors run on, and how an actor is started on one.
//!
//! A fixed set of actix arbiters (`actor_threads`); an actor's thread is
//! picked from a hash of its id, so one seat or cart always lives on the
//! same thread. Every actor starts through `launch`, behind a mailbox
//! bounded by our own counter (see `registry`).

use super::registry::{Depth, Mailbox};
use actix::{Actor, Arbiter, ArbiterHandle};
use std::sync::Mutex;

pub struct ActorThreads {
    handles: Vec<ArbiterHandle>,
    /// The threads themselves, taken by `stop` to join them.
    threads: Mutex<Vec<Arbiter>>,
}

impl ActorThreads {
    /// Starts `count` (at least one) actor threads. Must run inside an
    /// actix `System`.
    pub fn start(count: usize) -> Self {
        let threads: Vec<Arbiter> = (0..count.max(1)).map(|_| Arbiter::new()).collect();
        ActorThreads {
            handles: threads.iter().map(Arbiter::handle).collect(),
            threads: Mutex::new(threads),
        }
    }

    fn for_shard(&self, shard: u64) -> &ArbiterHandle {
        &self.handles[(shard % self.handles.len() as u64) as usize]
    }

    /// Starts an actor on the thread `shard` picks, behind a mailbox
    /// bounded at `capacity` requests; `make` gets the counter the actor
    /// marks as it takes each request (`Depth::taken`). actix's own bound is
    /// set above ours, so ours always refuses first (see `registry`).
    pub fn launch<A, F>(
        &self,
        kind: &'static str,
        capacity: usize,
        shard: u64,
        make: F,
    ) -> Mailbox<A>
    where
        A: Actor<Context = actix::Context<A>> + Send,
        F: FnOnce(Depth) -> A + Send + 'static,
    {
        let depth = Depth::new(kind);
        let actor_depth = depth.clone();
        let addr = A::start_in_arbiter(self.for_shard(shard), move |ctx| {
            ctx.set_mailbox_capacity(capacity + 64);
            make(actor_depth)
        });
        Mailbox::new(addr, &depth, capacity)
    }

    /// Stops every actor thread and waits for it: actors and their
    /// in-memory state are dropped (what a crash does to them).
    pub fn stop(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().expect("not poisoned"));
        for arbiter in threads {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}
