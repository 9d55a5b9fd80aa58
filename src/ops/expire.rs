//! Hold expiry: a hold that reached its end is released with no request.
//!
//! The seat actor's timer reports the lapse (`actors::seat::Lapsed`); this
//! operation then releases the seat like any other change: prepare
//! (`Claim::Expire`, a no-op if the hold was released, checked out or
//! taken again meanwhile), one write, durable, commit. Nobody waits for
//! the answer; the seat actor reports the lapse again a second later if
//! the seat is still held (the expiry failed, e.g. under overload).

use super::Ctx;
use crate::actors::seat::Lapsed;
use crate::domain::Claim;
use crate::idempotency::Outcome;
use crate::runtime::Op;
use crate::shows::Prepared;
use crate::wire::Reply;

pub async fn run(core: Ctx, lapsed: Lapsed) {
    let Some(unit) = core.shows.get(lapsed.show) else {
        return;
    };
    let label = unit.show().layout.label_of(lapsed.index);
    let claim = Claim::Expire {
        cart: lapsed.cart,
        until_ms: lapsed.until_ms,
    };
    match unit
        .prepare(Op::Expiry, &[(lapsed.index, label)], claim)
        .await
    {
        Ok(Prepared::Granted(txn)) => {
            let outcome = Outcome::effect(Reply::empty(204), Vec::new());
            if let crate::idempotency::Settled::NotApplied(reply) =
                txn.commit(&core.keys, None, outcome).await
            {
                tracing::warn!(status = reply.status, "a hold expiry was not written");
            }
        }
        // An expiry is never refused: it waits out a reservation.
        Ok(Prepared::Refused(_)) => {}
        Err(error) => tracing::warn!(%error, "a hold expiry could not run"),
    }
}
