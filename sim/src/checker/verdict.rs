//! What a check reports, and how much lag and clock skew it forgives.

/// The map may show a change up to this long after it happened
/// ("within a second of expiry").
pub const MAP_LAG_MS: u64 = 1_000;
/// Clock slack between the server's timestamps and the client's.
pub const CLOCK_SLACK_MS: u64 = 250;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
    /// `seq` of the events that show it (the shortest excerpt we know).
    pub events: Vec<usize>,
}

impl Violation {
    pub(crate) fn new(rule: &'static str, detail: String, events: Vec<usize>) -> Self {
        Violation {
            rule,
            detail,
            events,
        }
    }
}
