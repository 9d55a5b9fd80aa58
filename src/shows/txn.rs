//! The multi-seat protocol as a type.
//!
//! `ShowUnit::prepare` asks each seat, one at a time in seat order, to
//! reserve itself for one transaction; if every seat agrees it returns a
//! `SeatTxn`, which owns the transaction and its reserved seats. The only
//! way to write the change is `SeatTxn::commit`: one atomic write with the
//! seats' new states, the operation's own records and its key record, a
//! wait for durability, then every seat told the outcome. `abort` gives the
//! seats back. A `SeatTxn` dropped unresolved (a bug, or a coordinator cut
//! off mid-way) aborts its seats as it drops, so no seat stays reserved
//! for good.
//!
//! Why seat order: a claim waits at a seat reserved by another transaction,
//! and that transaction only ever waits at higher seats, so waits cannot
//! form a cycle (no deadlock).

use super::ShowUnit;
use crate::domain::{Claim, Decision, KeyedRequest, SeatLabel, SeatRefusal, SeatState, TxnId};
use crate::idempotency::{Keys, Outcome, Settled};
use crate::replies::EngineError;
use crate::runtime::{Op, Step};
use crate::store::Mutation;
use std::sync::Arc;
use uuid::Uuid;

/// What preparing a set of seats found.
pub enum Prepared {
    /// Every seat agreed: the transaction to commit or abort.
    Granted(SeatTxn),
    /// These seats refused (in the client's order); every seat that had
    /// agreed was given back.
    Refused(Vec<(SeatLabel, SeatRefusal)>),
}

/// Seats reserved for one transaction, with the state each takes if it
/// commits. Commit it or abort it; dropping it aborts it.
#[must_use = "a prepared transaction must be committed or aborted"]
pub struct SeatTxn {
    unit: Arc<ShowUnit>,
    op: Op,
    txn: TxnId,
    /// Reserved seats and their states after a commit. A claim that
    /// changes nothing (a release of a seat the holder no longer has)
    /// reserves nothing and is not listed.
    changes: Vec<(u32, SeatState)>,
    resolved: bool,
}

impl ShowUnit {
    /// Asks every seat of `seats` for `claim`, one at a time in seat order.
    /// Every seat is asked, so a refusal names all the unavailable ones.
    /// On any refusal or failure the seats that agreed are given back.
    pub async fn prepare(
        self: &Arc<Self>,
        op: Op,
        seats: &[(u32, SeatLabel)],
        claim: Claim,
    ) -> Result<Prepared, EngineError> {
        let mut ordered: Vec<&(u32, SeatLabel)> = seats.iter().collect();
        ordered.sort_by_key(|(index, _)| *index);
        let mut txn = SeatTxn {
            unit: self.clone(),
            op,
            txn: TxnId(Uuid::new_v4()),
            changes: Vec::with_capacity(seats.len()),
            resolved: false,
        };
        let mut refused = Vec::new();
        for (index, label) in ordered {
            match self.ask_seat(*index, txn.txn, claim).await {
                Ok(Decision::Reserved(state)) => {
                    txn.changes.push((*index, state));
                    if txn.changes.len() == 1 && seats.len() > 1 {
                        self.crash.at(op, Step::BetweenSeats);
                    }
                }
                Ok(Decision::Unchanged) => {}
                Ok(Decision::Refused(refusal)) => refused.push((label.clone(), refusal)),
                Err(error) => {
                    txn.abort().await;
                    return Err(error);
                }
            }
        }
        if refused.is_empty() {
            return Ok(Prepared::Granted(txn));
        }
        txn.abort().await;
        refused.sort_by_key(|(label, _)| seats.iter().position(|(_, l)| l == label));
        Ok(Prepared::Refused(refused))
    }
}

impl SeatTxn {
    /// The show unit whose seats this transaction reserved.
    pub fn unit(&self) -> &Arc<ShowUnit> {
        &self.unit
    }

    /// Writes the seats' new states with `outcome`'s records and, for a
    /// keyed request, its key record, in one atomic write; waits until it
    /// is durable; then tells every seat to commit (written) or abort (not
    /// written: the key was taken, or the store failed).
    pub async fn commit(
        mut self,
        keys: &Keys,
        req: Option<&KeyedRequest>,
        mut outcome: Outcome,
    ) -> Settled {
        let show = self.unit.id();
        let seats = self.changes.iter().map(|(index, state)| Mutation::Seat {
            show,
            index: *index,
            state: *state,
        });
        outcome.mutations.splice(0..0, seats);
        outcome.fence = self.unit.fence_token();
        let settled = keys.commit(self.op, req, outcome).await;
        self.resolve(settled.is_applied()).await;
        if settled.is_applied() {
            self.unit.crash.at(self.op, Step::Resolved);
        }
        settled
    }

    /// Gives every reserved seat back unchanged.
    pub async fn abort(mut self) {
        self.resolve(false).await;
    }

    async fn resolve(&mut self, commit: bool) {
        self.resolved = true;
        let resolves = self
            .changes
            .iter()
            .map(|(index, _)| self.unit.resolve_seat(*index, self.txn, commit));
        futures_util::future::join_all(resolves).await;
    }
}

impl Drop for SeatTxn {
    fn drop(&mut self) {
        if self.resolved || self.changes.is_empty() {
            return;
        }
        tracing::warn!(
            op = self.op.as_str(),
            seats = self.changes.len(),
            "a seat transaction was dropped unresolved; its seats are given back"
        );
        for (index, _) in &self.changes {
            self.unit.abort_seat_now(*index, self.txn);
        }
    }
}
