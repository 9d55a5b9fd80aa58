//! Crash points: named steps of each operation where the crash tests abort
//! the process (`tests/`, "crash matrix").
//!
//! A point is `<op>.<step>` (`booking.written`). It aborts when the
//! `crash_point` setting names it, or, with the `failpoints` feature, when
//! the `fail` failpoint of that name is configured (`FAILPOINTS=...`).
//! Off, a point costs one comparison.

use std::sync::Arc;

/// An operation, as crash points and metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Booking,
    Checkout,
    Cancel,
    Hold,
    Release,
    Expiry,
    Cart,
    Show,
    Session,
    Seed,
    /// House seats kept back, and given back (v1.2).
    Block,
    Unblock,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Booking => "booking",
            Op::Checkout => "checkout",
            Op::Cancel => "cancel",
            Op::Hold => "hold",
            Op::Release => "release",
            Op::Expiry => "expiry",
            Op::Cart => "cart",
            Op::Show => "show",
            Op::Session => "session",
            Op::Seed => "seed",
            Op::Block => "block",
            Op::Unblock => "unblock",
        }
    }
}

/// A step of the multi-seat protocol (ARCHITECTURE.md has what each
/// leaves on disk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The first of several seats is reserved, the next not yet asked.
    BetweenSeats,
    /// Every seat is reserved; nothing is written.
    Prepared,
    /// The write set is applied, its flush not yet done.
    Written,
    /// The write is on disk; the seats are not yet told.
    Durable,
    /// The seats took the change; the reply is not yet sent.
    Resolved,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::BetweenSeats => "between-seats",
            Step::Prepared => "prepared",
            Step::Written => "written",
            Step::Durable => "durable",
            Step::Resolved => "resolved",
        }
    }
}

/// The configured crash point, if any. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct CrashPoints {
    configured: Option<Arc<str>>,
}

impl CrashPoints {
    /// Points named like `booking.written`; `None` turns them off.
    pub fn new(configured: Option<&str>) -> Self {
        CrashPoints {
            configured: configured.map(Arc::from),
        }
    }

    /// Aborts the process here if this point is the configured one.
    pub fn at(&self, op: Op, step: Step) {
        #[cfg(feature = "failpoints")]
        {
            let name = format!("{}.{}", op.as_str(), step.as_str());
            fail::fail_point!(&name, |_| {
                eprintln!("failpoint {name}: aborting");
                std::process::abort()
            });
        }
        if let Some(point) = &self.configured {
            if is_point(point, op, step) {
                eprintln!("crash point {point}: aborting");
                std::process::abort();
            }
        }
    }
}

fn is_point(point: &str, op: Op, step: Step) -> bool {
    point
        .strip_prefix(op.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        == Some(step.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_op_dot_step() {
        assert!(is_point("booking.written", Op::Booking, Step::Written));
        assert!(is_point(
            "checkout.between-seats",
            Op::Checkout,
            Step::BetweenSeats
        ));
        assert!(!is_point("booking.written", Op::Booking, Step::Durable));
        assert!(!is_point("bookingwritten", Op::Booking, Step::Written));
        assert!(!is_point("booking.written", Op::Cancel, Step::Written));
    }
}
