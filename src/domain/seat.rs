//! One seat's state machine.
//!
//! A seat is available, held by one cart until an instant, booked by one
//! booking, or blocked by the box office (a house seat: never sold or held
//! until unblocked). Changes that other records depend on go through two phases so a
//! multi-seat operation can be all-or-nothing: `prepare` reserves the seat for
//! one transaction (every other claim is refused meanwhile), then the
//! coordinator writes everything in one atomic store write and calls
//! `commit`, or calls `abort` if any seat refused.

use super::ids::{BookingId, CartId, TxnId};

/// Durable state of a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatState {
    Available,
    /// Held for a cart until `until_ms` (exclusive): at `now_ms >= until_ms`
    /// the hold has lapsed and the seat counts as available.
    Held {
        cart: CartId,
        until_ms: u64,
    },
    Booked {
        booking: BookingId,
    },
    /// Kept back by the box office (press, a broken seat): refused to every
    /// hold and booking until unblocked.
    Blocked,
}

/// What the public seat map shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SeatStatus {
    Available = 0,
    Held = 1,
    Booked = 2,
    Blocked = 3,
}

impl SeatStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [SeatStatus; 4] = [
        SeatStatus::Available,
        SeatStatus::Held,
        SeatStatus::Booked,
        SeatStatus::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SeatStatus::Available => "available",
            SeatStatus::Held => "held",
            SeatStatus::Booked => "booked",
            SeatStatus::Blocked => "blocked",
        }
    }

    pub fn from_u8(value: u8) -> SeatStatus {
        match value {
            1 => SeatStatus::Held,
            2 => SeatStatus::Booked,
            3 => SeatStatus::Blocked,
            _ => SeatStatus::Available,
        }
    }
}

impl SeatState {
    /// The state as it stands at `now_ms`: a lapsed hold is availability.
    pub fn at(self, now_ms: u64) -> SeatState {
        match self {
            SeatState::Held { until_ms, .. } if now_ms >= until_ms => SeatState::Available,
            other => other,
        }
    }

    pub fn status(self) -> SeatStatus {
        match self {
            SeatState::Available => SeatStatus::Available,
            SeatState::Held { .. } => SeatStatus::Held,
            SeatState::Booked { .. } => SeatStatus::Booked,
            SeatState::Blocked => SeatStatus::Blocked,
        }
    }
}

/// Who gives a seat back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Cart(CartId),
    Booking(BookingId),
}

/// A requested change of a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Hold an available seat for a cart.
    Hold { cart: CartId, until_ms: u64 },
    /// Book a seat: an available one (`via_cart: None`, one-shot booking) or
    /// one held by `via_cart` whose hold has not lapsed (checkout).
    Book {
        booking: BookingId,
        via_cart: Option<CartId>,
    },
    /// Give the seat back; a no-op if `holder` no longer has it.
    Release { holder: Holder },
    /// Give back a hold that has lapsed: a no-op unless the seat is still
    /// held by `cart` until `until_ms` and that instant has passed (a hold
    /// released, checked out or taken again meanwhile is left alone).
    Expire { cart: CartId, until_ms: u64 },
    /// Keep the seat back (box office): an available seat (a lapsed hold
    /// counts) becomes blocked; a blocked one is left as it is; a held or
    /// booked one refuses.
    Block,
    /// Give a blocked seat back to sale; a no-op for any other seat.
    Unblock,
}

/// A seat's answer to a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Granted: the seat is reserved for the transaction and will take
    /// this state if it commits.
    Reserved(SeatState),
    /// The claim changes nothing (a release or expiry of a seat the holder
    /// no longer has); the seat is not reserved.
    Unchanged,
    /// Refused; the seat is not reserved.
    Refused(SeatRefusal),
}

impl Decision {
    pub fn is_reserved(&self) -> bool {
        matches!(self, Decision::Reserved(_))
    }
}

/// Why a seat refused a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatRefusal {
    /// Held, booked or blocked, or in the middle of another change.
    Unavailable,
    /// Checkout of a hold that has lapsed (or was never this cart's).
    HoldExpired,
}

/// A seat with its durable state and at most one prepared change.
#[derive(Clone, Debug)]
pub struct Seat {
    state: SeatState,
    pending: Option<(TxnId, SeatState)>,
}

impl Seat {
    pub fn new(state: SeatState) -> Self {
        Seat {
            state,
            pending: None,
        }
    }

    /// The committed state (a lapsed hold still shows as held until `expire`).
    pub fn state(&self) -> SeatState {
        self.state
    }

    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Decides a claim. If granted, the seat is reserved for `txn` and the
    /// state to persist is returned (`Reserved`).
    pub fn prepare(&mut self, txn: TxnId, claim: Claim, now_ms: u64) -> Decision {
        let current = self.state.at(now_ms);
        let next = match claim {
            Claim::Hold { cart, until_ms } => {
                if self.pending.is_some() || current != SeatState::Available {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Held { cart, until_ms }
            }
            Claim::Book {
                booking,
                via_cart: None,
            } => {
                if self.pending.is_some() || current != SeatState::Available {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Booked { booking }
            }
            Claim::Book {
                booking,
                via_cart: Some(cart),
            } => match current {
                SeatState::Held { cart: holder, .. } if holder == cart => {
                    if self.pending.is_some() {
                        return Decision::Refused(SeatRefusal::Unavailable);
                    }
                    SeatState::Booked { booking }
                }
                _ => return Decision::Refused(SeatRefusal::HoldExpired),
            },
            Claim::Release { holder } => {
                let held_by_holder = match (self.state, holder) {
                    (SeatState::Held { cart, .. }, Holder::Cart(c)) => cart == c,
                    (SeatState::Booked { booking }, Holder::Booking(b)) => booking == b,
                    _ => false,
                };
                if !held_by_holder {
                    return Decision::Unchanged;
                }
                if self.pending.is_some() {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Available
            }
            Claim::Expire { cart, until_ms } => {
                let lapsed =
                    self.state == (SeatState::Held { cart, until_ms }) && now_ms >= until_ms;
                if !lapsed {
                    return Decision::Unchanged;
                }
                if self.pending.is_some() {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Available
            }
            Claim::Block => {
                if self.pending.is_none() && current == SeatState::Blocked {
                    return Decision::Unchanged;
                }
                if self.pending.is_some() || current != SeatState::Available {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Blocked
            }
            Claim::Unblock => {
                if self.state != SeatState::Blocked {
                    return Decision::Unchanged;
                }
                if self.pending.is_some() {
                    return Decision::Refused(SeatRefusal::Unavailable);
                }
                SeatState::Available
            }
        };
        self.pending = Some((txn, next));
        Decision::Reserved(next)
    }

    /// Makes the prepared change of `txn` the seat's state (after the store
    /// write is durable). Returns the new state, or `None` for an unknown txn.
    pub fn commit(&mut self, txn: TxnId) -> Option<SeatState> {
        match self.pending {
            Some((pending_txn, next)) if pending_txn == txn => {
                self.pending = None;
                self.state = next;
                Some(next)
            }
            _ => None,
        }
    }

    /// Drops the prepared change of `txn`; the seat keeps its state.
    pub fn abort(&mut self, txn: TxnId) -> bool {
        match self.pending {
            Some((pending_txn, _)) if pending_txn == txn => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "seat_tests.rs"]
mod tests;
