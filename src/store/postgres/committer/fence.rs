//! The fence of a commit round: which partition each write set writes
//! under and at which epoch (`Fence::plan`), and the write sets refused
//! once the database has said which epochs this node still holds
//! (`Fence::apply`). Its own file: the rule that keeps a node that lost a
//! partition from writing for it, apart from the round that checks it.

use super::common::Submitted;
use crate::cluster::leases::Leases;
use crate::cluster::partitions::{partition_of, partition_of_shows, SpansPartitions};
use crate::domain::SeatState;
use crate::store::contract::{Mutation, WriteSet};
use std::collections::{BTreeMap, HashSet};

/// The fence of a round: the partition each write set writes under and
/// the epoch this node holds it at, checked in the round's transaction.
pub(super) struct Fence {
    /// Write set index -> (partition, epoch), for sets that write a show's
    /// records.
    pub(super) of: Vec<Option<(i32, i64)>>,
    /// Write set index -> refused (this node does not hold the epoch).
    pub(super) refused: Vec<bool>,
    /// The distinct (partition, epoch) pairs to check.
    pub(super) partitions: Vec<i32>,
    pub(super) epochs: Vec<i64>,
    /// Some write set takes a seat (holds or books it) in a partition this
    /// node holds (with the fence off too): a round whose late write would
    /// sell a seat twice.
    pub(super) takes_seat_for_held: bool,
}

impl Fence {
    pub(super) fn plan(batch: &[Submitted], leases: &Leases) -> Fence {
        let mut fence = Fence {
            of: Vec::with_capacity(batch.len()),
            refused: Vec::with_capacity(batch.len()),
            partitions: Vec::new(),
            epochs: Vec::new(),
            takes_seat_for_held: false,
        };
        let mut pairs = BTreeMap::new();
        for submitted in batch {
            // The partition its records name, else that of the show the
            // writer decided for (a release that empties a cart writes a
            // record of no show, on that show's seat state).
            let partition = match partition_of_writes(&submitted.writes) {
                Ok(None) => Ok(submitted.writes.fence.map(|(show, _)| partition_of(show))),
                other => other,
            };
            let loaded = submitted.writes.fence.map(|(_, epoch)| epoch);
            let (of, refused) = match partition {
                Ok(None) => (None, false),
                // The epoch the writer's state was loaded at, if it says,
                // else the one held now; either must be current.
                Ok(Some(partition)) => match (leases.epoch_of(partition), loaded) {
                    (Some(epoch), None) => {
                        pairs.insert(partition, epoch);
                        (Some((partition, epoch)), false)
                    }
                    (Some(epoch), Some(loaded)) if loaded == epoch => {
                        pairs.insert(partition, epoch);
                        (Some((partition, epoch)), false)
                    }
                    _ => (None, true),
                },
                Err(SpansPartitions) => (None, true),
            };
            fence.takes_seat_for_held |= of.is_some()
                && submitted.writes.mutations.iter().any(
                    |m| matches!(m, Mutation::Seat { state, .. } if *state != SeatState::Available),
                );
            // Unfenced (a test setting): the node's own belief decides,
            // and the database is not asked.
            let of = if leases.fenced_writes() { of } else { None };
            fence.of.push(of);
            fence.refused.push(refused);
        }
        if !leases.fenced_writes() {
            pairs.clear();
        }
        (fence.partitions, fence.epochs) = pairs.into_iter().unzip();
        fence
    }

    /// Refuses the write sets of partitions the database did not confirm,
    /// and forgets those partitions.
    pub(super) fn apply(&mut self, confirmed: &HashSet<i32>, leases: &Leases) {
        let lost: Vec<i32> = self
            .partitions
            .iter()
            .filter(|p| !confirmed.contains(p))
            .copied()
            .collect();
        if !lost.is_empty() {
            leases.drop_partitions(&lost);
        }
        for (of, refused) in self.of.iter().zip(self.refused.iter_mut()) {
            if matches!(of, Some((partition, _)) if !confirmed.contains(partition)) {
                *refused = true;
            }
        }
        let fenced = self.refused.iter().filter(|r| **r).count() as u64;
        if fenced > 0 {
            leases
                .fenced
                .fetch_add(fenced, std::sync::atomic::Ordering::Relaxed);
            crate::metrics::FENCED.inc_by(fenced);
        }
    }
}

/// The partition a write set writes under: that of the show whose records
/// it changes (`None`: no show's, e.g. a session or a new show).
fn partition_of_writes(writes: &WriteSet) -> Result<Option<i32>, SpansPartitions> {
    partition_of_shows(
        writes
            .mutations
            .iter()
            .filter_map(|mutation| match mutation {
                Mutation::Seat { show, .. } => Some(*show),
                Mutation::Booking(booking) => Some(booking.show),
                Mutation::Cart(cart) => cart.items.first().map(|item| item.show),
                Mutation::Show(_) | Mutation::Session { .. } => None,
            }),
    )
}
