//! The seat state machine's rules, claim by claim.
use super::*;
use uuid::Uuid;

fn txn() -> TxnId {
    TxnId(Uuid::new_v4())
}
fn cart() -> CartId {
    CartId(Uuid::new_v4())
}
fn booking() -> BookingId {
    BookingId(Uuid::new_v4())
}

#[test]
fn one_shot_booking_takes_an_available_seat_once() {
    let mut seat = Seat::new(SeatState::Available);
    let (t1, b1) = (txn(), booking());
    let claim = Claim::Book {
        booking: b1,
        via_cart: None,
    };
    assert_eq!(
        seat.prepare(t1, claim, 0),
        Decision::Reserved(SeatState::Booked { booking: b1 })
    );
    // While prepared, every other claim is refused.
    let other = Claim::Book {
        booking: booking(),
        via_cart: None,
    };
    assert_eq!(
        seat.prepare(txn(), other, 0),
        Decision::Refused(SeatRefusal::Unavailable)
    );
    assert_eq!(seat.commit(t1), Some(SeatState::Booked { booking: b1 }));
    assert_eq!(
        seat.prepare(txn(), other, 0),
        Decision::Refused(SeatRefusal::Unavailable)
    );
}

#[test]
fn abort_leaves_the_seat_as_it_was() {
    let mut seat = Seat::new(SeatState::Available);
    let t1 = txn();
    let hold = Claim::Hold {
        cart: cart(),
        until_ms: 100,
    };
    assert!(seat.prepare(t1, hold, 0).is_reserved());
    assert!(seat.abort(t1));
    assert_eq!(seat.state(), SeatState::Available);
    assert!(!seat.is_pending());
    assert_eq!(seat.commit(t1), None, "an aborted txn cannot commit");
}

#[test]
fn holds_lapse_at_their_deadline() {
    let c = cart();
    let mut seat = Seat::new(SeatState::Held {
        cart: c,
        until_ms: 100,
    });
    let hold = Claim::Hold {
        cart: cart(),
        until_ms: 200,
    };
    assert_eq!(
        seat.prepare(txn(), hold, 99),
        Decision::Refused(SeatRefusal::Unavailable)
    );
    let expire = Claim::Expire {
        cart: c,
        until_ms: 100,
    };
    assert_eq!(
        seat.prepare(txn(), expire, 99),
        Decision::Unchanged,
        "not lapsed yet"
    );
    // Checkout by the holder works before the deadline, not at it.
    let checkout = Claim::Book {
        booking: booking(),
        via_cart: Some(c),
    };
    let t = txn();
    assert!(seat.prepare(t, checkout, 99).is_reserved());
    seat.abort(t);
    assert_eq!(
        seat.prepare(txn(), checkout, 100),
        Decision::Refused(SeatRefusal::HoldExpired)
    );
    // A lapsed hold is available to others even before its expiry runs.
    let t2 = txn();
    assert!(seat.prepare(t2, hold, 100).is_reserved());
    seat.abort(t2);
    let t3 = txn();
    assert_eq!(
        seat.prepare(t3, expire, 100),
        Decision::Reserved(SeatState::Available)
    );
    assert_eq!(seat.commit(t3), Some(SeatState::Available));
    assert_eq!(seat.state(), SeatState::Available);
}

#[test]
fn checkout_by_another_cart_is_refused() {
    let mut seat = Seat::new(SeatState::Held {
        cart: cart(),
        until_ms: 100,
    });
    let claim = Claim::Book {
        booking: booking(),
        via_cart: Some(cart()),
    };
    assert_eq!(
        seat.prepare(txn(), claim, 0),
        Decision::Refused(SeatRefusal::HoldExpired)
    );
}

#[test]
fn release_only_by_the_holder() {
    let b = booking();
    let mut seat = Seat::new(SeatState::Booked { booking: b });
    let stranger = Claim::Release {
        holder: Holder::Booking(booking()),
    };
    assert_eq!(seat.prepare(txn(), stranger, 0), Decision::Unchanged);
    assert!(!seat.is_pending());
    let t = txn();
    let owner = Claim::Release {
        holder: Holder::Booking(b),
    };
    assert_eq!(
        seat.prepare(t, owner, 0),
        Decision::Reserved(SeatState::Available)
    );
    assert_eq!(seat.commit(t), Some(SeatState::Available));
}

#[test]
fn expire_waits_for_a_pending_change() {
    let c = cart();
    let mut seat = Seat::new(SeatState::Held {
        cart: c,
        until_ms: 100,
    });
    let t = txn();
    let release = Claim::Release {
        holder: Holder::Cart(c),
    };
    assert!(seat.prepare(t, release, 50).is_reserved());
    let expire = Claim::Expire {
        cart: c,
        until_ms: 100,
    };
    // The seat actor keeps such a claim waiting until the change resolves.
    assert_eq!(
        seat.prepare(txn(), expire, 150),
        Decision::Refused(SeatRefusal::Unavailable)
    );
    seat.commit(t);
    assert_eq!(seat.state(), SeatState::Available);
    // Released meanwhile: the expiry has nothing left to do.
    assert_eq!(seat.prepare(txn(), expire, 150), Decision::Unchanged);
}

#[test]
fn expire_leaves_a_hold_taken_again_alone() {
    let c = cart();
    let mut seat = Seat::new(SeatState::Held {
        cart: c,
        until_ms: 300,
    });
    // The expiry of an earlier hold of the same cart (until 100).
    let stale = Claim::Expire {
        cart: c,
        until_ms: 100,
    };
    assert_eq!(seat.prepare(txn(), stale, 150), Decision::Unchanged);
    assert_eq!(
        seat.state(),
        SeatState::Held {
            cart: c,
            until_ms: 300
        }
    );
}

mod model {
    //! Random sequences of claims, commits, aborts and expiries against
    //! a plain model of the rules: the seat and the model must agree on
    //! every answer and every state.
    use super::super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    #[derive(Clone, Debug)]
    enum Step {
        Hold { cart: u8, ttl: u8 },
        Book { booking: u8, via_cart: Option<u8> },
        ReleaseCart(u8),
        ReleaseBooking(u8),
        Commit,
        Abort,
        Tick(u8),
        Expire,
        Block,
        Unblock,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3u8, 1..20u8).prop_map(|(cart, ttl)| Step::Hold { cart, ttl }),
            (0..3u8, proptest::option::of(0..3u8))
                .prop_map(|(booking, via_cart)| Step::Book { booking, via_cart }),
            (0..3u8).prop_map(Step::ReleaseCart),
            (0..3u8).prop_map(Step::ReleaseBooking),
            Just(Step::Commit),
            Just(Step::Abort),
            (1..10u8).prop_map(Step::Tick),
            Just(Step::Expire),
            Just(Step::Block),
            Just(Step::Unblock),
        ]
    }

    fn cart(n: u8) -> CartId {
        CartId(Uuid::from_u128(100 + n as u128))
    }
    fn booking(n: u8) -> BookingId {
        BookingId(Uuid::from_u128(200 + n as u128))
    }

    /// What the rules say a claim gets, given the committed state,
    /// whether a change is prepared, and the time.
    fn expected(state: SeatState, pending: bool, claim: Claim, now: u64) -> Decision {
        // The model's own reading of a hold's lapse, not `SeatState::at`
        // (the code under test): a hold counts until `until_ms`, and
        // from then on the seat is free.
        let current = match state {
            SeatState::Held { until_ms, .. } if until_ms <= now => SeatState::Available,
            other => other,
        };
        match claim {
            Claim::Hold { cart, until_ms } => {
                if pending || current != SeatState::Available {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Held { cart, until_ms })
                }
            }
            Claim::Book {
                booking,
                via_cart: None,
            } => {
                if pending || current != SeatState::Available {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Booked { booking })
                }
            }
            Claim::Book {
                booking,
                via_cart: Some(c),
            } => match current {
                SeatState::Held { cart: holder, .. } if holder == c => {
                    if pending {
                        Decision::Refused(SeatRefusal::Unavailable)
                    } else {
                        Decision::Reserved(SeatState::Booked { booking })
                    }
                }
                _ => Decision::Refused(SeatRefusal::HoldExpired),
            },
            Claim::Release { holder } => {
                let holds = match (state, holder) {
                    (SeatState::Held { cart, .. }, Holder::Cart(c)) => cart == c,
                    (SeatState::Booked { booking }, Holder::Booking(b)) => booking == b,
                    _ => false,
                };
                if !holds {
                    Decision::Unchanged
                } else if pending {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Available)
                }
            }
            Claim::Expire { cart, until_ms } => {
                let lapsed = state == (SeatState::Held { cart, until_ms }) && now >= until_ms;
                if !lapsed {
                    Decision::Unchanged
                } else if pending {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Available)
                }
            }
            Claim::Block => {
                if !pending && current == SeatState::Blocked {
                    Decision::Unchanged
                } else if pending || current != SeatState::Available {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Blocked)
                }
            }
            Claim::Unblock => {
                if state != SeatState::Blocked {
                    Decision::Unchanged
                } else if pending {
                    Decision::Refused(SeatRefusal::Unavailable)
                } else {
                    Decision::Reserved(SeatState::Available)
                }
            }
        }
    }

    proptest! {
        #[test]
        fn seat_follows_the_rules(steps in proptest::collection::vec(step(), 1..60)) {
            let mut seat = Seat::new(SeatState::Available);
            // The model: committed state, and the prepared change.
            let mut state = SeatState::Available;
            let mut pending: Option<(TxnId, SeatState)> = None;
            let mut now = 0u64;
            for (i, step) in steps.into_iter().enumerate() {
                let txn = TxnId(Uuid::from_u128(i as u128 + 1));
                let claim = match step {
                    Step::Hold { cart: c, ttl } => Some(Claim::Hold { cart: cart(c), until_ms: now + ttl as u64 }),
                    Step::Book { booking: b, via_cart } => Some(Claim::Book { booking: booking(b), via_cart: via_cart.map(cart) }),
                    Step::ReleaseCart(c) => Some(Claim::Release { holder: Holder::Cart(cart(c)) }),
                    Step::ReleaseBooking(b) => Some(Claim::Release { holder: Holder::Booking(booking(b)) }),
                    Step::Block => Some(Claim::Block),
                    Step::Unblock => Some(Claim::Unblock),
                    Step::Commit => {
                        let expected = pending.take().map(|(t, next)| {
                            state = next;
                            (t, next)
                        });
                        if let Some((t, next)) = expected {
                            prop_assert_eq!(seat.commit(t), Some(next));
                        }
                        None
                    }
                    Step::Abort => {
                        if let Some((t, _)) = pending.take() {
                            prop_assert!(seat.abort(t));
                        }
                        None
                    }
                    Step::Tick(ms) => {
                        now += ms as u64;
                        None
                    }
                    Step::Expire => Some(match state {
                        SeatState::Held { cart, until_ms } => Claim::Expire { cart, until_ms },
                        _ => Claim::Expire { cart: cart(0), until_ms: 0 },
                    }),
                };
                if let Some(claim) = claim {
                    let expected = expected(state, pending.is_some(), claim, now);
                    prop_assert_eq!(seat.prepare(txn, claim, now), expected);
                    if let Decision::Reserved(next) = expected {
                        pending = Some((txn, next));
                    }
                }
                prop_assert_eq!(seat.state(), state);
                prop_assert_eq!(seat.is_pending(), pending.is_some());
                // Never two owners: a booked seat is only ever prepared
                // to be given back, never to be held or booked again.
                let booked = matches!(state, SeatState::Booked { .. });
                let retaken = matches!(pending, Some((_, SeatState::Held { .. } | SeatState::Booked { .. })));
                prop_assert!(!(booked && retaken), "booked seat prepared for another owner");
            }
        }
    }
}
