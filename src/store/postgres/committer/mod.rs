//! Group commit on PostgreSQL: the write sets waiting when a round starts
//! (up to `max_batch`) go into one transaction, in two round trips.
//!
//! 1. `BEGIN`; the round's marker row (`commit_rounds`); every key record
//!    of the round inserted with `ON CONFLICT DO NOTHING` in one statement,
//!    in a stable order (user, key), so that concurrent rounds, on this
//!    node or another, never wait on each other in a cycle. A write set
//!    whose key record it inserted is applied; one whose key was there
//!    already (or claimed by an earlier write set of this round) gets that
//!    record (`KeyTaken`, read back in one more round trip, only then) and
//!    writes nothing.
//! 2. The effects of the applied write sets, in bulk (`unnest`: one
//!    statement per kind of record), then `COMMIT`, pipelined.
//!
//! A COMMIT whose connection broke has an unknown outcome: the round
//! inserts its own marker again on a new connection. That insert waits for
//! the round's transaction if it is still running, then conflicts if it
//! committed, or succeeds if it did not (and the round can then never
//! commit: its marker is taken). A transaction id cannot serve here: after
//! a crash PostgreSQL may hand out again an id whose transaction never
//! reached the WAL. If the database cannot be asked before the deadline,
//! the round says `OutcomeUnknown` (the engine stops: fail-stop).
//!
//! Here the committers and the round; its parts in files of their own:
//! `fence` (the partitions and epochs a round writes under), `keys` (round
//! trip 1's key records), `writes` (round trip 2), `outcome` (a broken
//! COMMIT's look-up), and `common` (what they all name).

mod common;
mod fence;
mod keys;
mod outcome;
mod writes;

pub(super) use common::{Rounds, Submitted};

use crate::store::contract::{CommitOutcome, StoreError, StoreResult, Ticket};
use crate::store::postgres::errors::{db_error, pool_error};
use common::Taken;
use deadpool_postgres::Object;
use fence::Fence;
use keys::{claim_keys, read_taken_keys, KeyPlan};
use outcome::resolve;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use uuid::Uuid;
use writes::{write_and_commit, Effects};

/// One committer: takes what waits, commits it as one round, answers.
pub(super) async fn run(rounds: Arc<Rounds>, lane: usize) {
    loop {
        let batch = {
            let mut queue = rounds.queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < rounds.max_batch {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        crate::metrics::COMMIT_BATCH.observe(batch.len() as f64);
        let running = rounds.watchdog.running(lane);
        let outcome = round(&rounds, &batch).await;
        drop(running);
        match outcome {
            Ok(taken) => {
                let ticket = Ticket(rounds.tickets.fetch_add(1, Ordering::SeqCst) + 1);
                for (submitted, taken) in batch.into_iter().zip(taken) {
                    let answer = match taken {
                        None => Ok(CommitOutcome::Committed(ticket)),
                        Some(Ok(record)) => Ok(CommitOutcome::KeyTaken(record)),
                        Some(Err(error)) => Err(error),
                    };
                    let _ = submitted.reply.send(answer);
                }
            }
            Err(error) => {
                for submitted in batch {
                    let _ = submitted.reply.send(Err(clone_error(&error)));
                }
            }
        }
    }
}

fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Io(m) => StoreError::Io(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Busy => StoreError::Busy,
        StoreError::Stalled(what) => StoreError::Stalled(what),
        StoreError::OutcomeUnknown(m) => StoreError::OutcomeUnknown(m.clone()),
    }
}

async fn round(rounds: &Rounds, batch: &[Submitted]) -> StoreResult<Vec<Taken>> {
    let mut client = rounds.pool.get().await.map_err(pool_error)?;
    let mut fence = Fence::plan(batch, &rounds.leases);
    if fence.takes_seat_for_held && rounds.leases.take_stop_in_commit() {
        // The paused owner of docs/CLUSTER.md, at its worst moment: it has read
        // its epochs, and while it is stopped another node takes them over.
        tracing::warn!("stopping in a commit round, as asked by SIGUSR1 (a test setting)");
        // SAFETY: raise(3) only sends a signal to this process.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
    let keys = KeyPlan::of(batch, &fence);
    let marker = Uuid::new_v4();
    let claimed = match claim_keys(&client, marker, &keys, &fence, &rounds.leases.node).await {
        Ok(claimed) => claimed,
        Err(error) => {
            rollback(&mut client).await;
            return Err(db_error(error));
        }
    };
    let (confirmed, inserted) = claimed;
    fence.apply(&confirmed, &rounds.leases);
    let records = match read_taken_keys(&client, &keys, &fence, &inserted).await {
        Ok(records) => records,
        Err(error) => {
            rollback(&mut client).await;
            return Err(db_error(error));
        }
    };
    let taken = keys.taken(batch, &fence, &inserted, &records);
    let effects = Effects::of(batch, &taken);
    match write_and_commit(&client, &effects).await {
        Ok(()) => {
            rounds.history.acknowledged(marker, batch.len());
            Ok(taken)
        }
        // Whatever failed (a refused statement rolls the transaction back;
        // a broken connection leaves it unknown), the marker says which:
        // asked on a new connection, which after a failover is one to the
        // new primary (a multi-host URL), on the history it has.
        Err(error) => {
            drop(client);
            let looked_up = resolve(rounds, marker).await;
            let outcome = match looked_up {
                Some(true) => "committed",
                Some(false) => "not_committed",
                None => "unknown",
            };
            crate::metrics::ROUNDS_LOOKED_UP
                .with_label_values(&[outcome])
                .inc();
            tracing::warn!(%marker, %error, outcome, "a commit round's connection failed: its outcome looked up by its marker");
            match looked_up {
                Some(true) => {
                    rounds.history.acknowledged(marker, batch.len());
                    Ok(taken)
                }
                Some(false) => Err(db_error(error)),
                None => Err(StoreError::OutcomeUnknown(format!(
                    "commit round {marker}: {error}"
                ))),
            }
        }
    }
}

async fn rollback(client: &mut Object) {
    if let Err(error) = client.batch_execute("ROLLBACK").await {
        tracing::debug!(%error, "rollback after a failed round");
    }
}
