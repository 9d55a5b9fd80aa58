//! The box office's side of the facade (v1.2): house seats, a show's sales
//! figures and its bookings for staff. Reads of figures are answered by
//! the node serving the show (its unit keeps them); the bookings list is
//! read from the store, on any node.

use super::{Engine, BLOCK_NS};
use crate::domain::{Booking, BookingId, KeyedRequest, SeatLabel, ShowId};
use crate::idempotency::derived_id;
use crate::ops::block::BlockAsk;
use crate::ops::owners::{BlockOp, BlockRequestId};
use crate::replies::{self, not_found, EngineError};
use crate::wire::{self, Reply};

impl Engine {
    /// `POST /v1/shows/{id}/blocks`, in the actor of its key.
    pub async fn block(&self, req: KeyedRequest, ask: BlockAsk) -> Reply {
        let id = BlockRequestId(derived_id(BLOCK_NS, req.user, &req.key));
        self.inner.blocks.ask(id, BlockOp { req, ask }).await
    }

    /// `DELETE /v1/shows/{id}/blocks/{seat}`.
    pub async fn unblock(&self, show: Option<ShowId>, seat: SeatLabel) -> Reply {
        let Some(show) = show else {
            return not_found("show");
        };
        crate::ops::block::unblock(&self.inner.core, show, seat).await
    }

    /// `GET /v1/shows/{id}/sales`: the figures the serving unit keeps; on
    /// a node that does not serve the show, `not_owner` (the edge asks the
    /// node that does).
    pub async fn sales(&self, show: &str) -> Reply {
        let unit = match self.show_named(show).await {
            Ok(unit) => unit,
            Err(reply) => return reply,
        };
        if !unit.lease_is_current() {
            return replies::not_owner(unit.id());
        }
        let map = unit.map();
        let figures = wire::sales_out(unit.show(), |status| map.count(status), &unit.sales());
        Reply::json(200, &figures)
    }

    /// Up to `limit` bookings of `show` after `after`, oldest first; `Err`
    /// is the reply (an unknown show: 404).
    pub async fn show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> Result<Vec<Booking>, Reply> {
        if self.find_show(show).await?.is_none() {
            return Err(not_found("show"));
        }
        self.inner
            .core
            .store
            .list_show_bookings(show, after, limit)
            .await
            .map_err(|error| EngineError::from(error).reply())
    }
}
