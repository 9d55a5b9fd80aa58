//! `POST /v1/shows` (admin): a new show, every seat available.
//!
//! Runs in the actor of the show's id (UUIDv5(admin, key)), so a retry
//! replays and a concurrent repeat gets 409 like any keyed request. Its
//! stored answer is a reference to the show (`StoredBody::CreatedShow`),
//! rebuilt from the show's record on replay: a 100,000-seat show's answer
//! is about 6 MB.

use super::Ctx;
use crate::actors::serial::Done;
use crate::domain::{KeyedRequest, OfferSpec, Row, Show, ShowId, StoredBody};
use crate::idempotency::Outcome;
use crate::replies;
use crate::runtime::Op;
use crate::store::Mutation;
use crate::wire;
use uuid::Uuid;

/// A new show as the admin asked for it (already parsed).
#[derive(Clone, Debug)]
pub struct NewShow {
    pub title: String,
    pub starts_at_ms: i64,
    pub rows: Vec<Row>,
    pub offer: OfferSpec,
    /// When online sales end (ms since the epoch); `None`: never.
    pub sales_end_at_ms: Option<i64>,
}

pub async fn run(
    core: Ctx,
    id: ShowId,
    existing: Option<Show>,
    req: KeyedRequest,
    new: NewShow,
) -> Done<Show> {
    // A show with this (user, key) id but no key record: the key expired
    // and is reused, so this is a new show.
    let id = if existing.is_some() {
        ShowId(Uuid::new_v4())
    } else {
        id
    };
    let show = match Show::with_offer(id, new.title, new.starts_at_ms, new.rows, new.offer) {
        Ok(show) => show.with_sales_end(new.sales_end_at_ms),
        Err(error) => return Done::answer(replies::invalid_request(&error.to_string())),
    };
    let outcome = Outcome::effect(
        wire::created_show(&show),
        vec![Mutation::Show(show.clone())],
    )
    .stored_as(StoredBody::CreatedShow(id));
    let settled = core.keys.commit(Op::Show, Some(&req), outcome).await;
    if settled.is_applied() {
        core.shows.add_new(show.clone());
    }
    Done {
        record: settled.is_applied().then_some(show),
        reply: settled.into_reply(),
    }
}
