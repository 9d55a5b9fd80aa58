//! `database-outage` (cluster runs with a database fault): while the
//! database is down, no write is acknowledged that it did not commit
//! (docs/CLUSTER.md's database row). Judged on the history's events that
//! lie wholly inside an outage the fault records name; the tally of how
//! those writes were answered goes to the summary.

use super::verdict::Violation;
use crate::cluster::FaultRecord;
use crate::history::History;

/// What the writes sent while the database was down were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutageAnswers {
    pub writes: usize,
    pub unavailable: usize,
    pub replays: usize,
    pub unanswered: usize,
}

impl OutageAnswers {
    pub fn describe(&self) -> String {
        format!(
            "writes sent and answered while the database was down: {} ({} answered 503, {} replayed a stored answer, {} not answered in time)",
            self.writes, self.unavailable, self.replays, self.unanswered
        )
    }
}

/// docs/CLUSTER.md's database row: requests during the outage get 503, none a
/// 2xx for a write that was not committed. A write attempt sent and
/// answered while the database was certainly down (`outage_ms`) may get
/// 503, a replay of an answer stored before (its key committed earlier),
/// or no answer; anything else is a `database-outage` violation.
pub fn writes_during_outage(
    records: &[FaultRecord],
    history: &History,
) -> (Vec<Violation>, Option<OutageAnswers>) {
    let windows: Vec<(u64, u64)> = records.iter().filter_map(|r| r.outage_ms).collect();
    if windows.is_empty() {
        return (Vec::new(), None);
    }
    let mut tally = OutageAnswers::default();
    let mut violations = Vec::new();
    for event in &history.events {
        let inside = windows
            .iter()
            .any(|&(down, up)| event.start_ms >= down && event.end_ms <= up);
        if !inside {
            continue;
        }
        tally.writes += 1;
        match &event.answer {
            None => tally.unanswered += 1,
            Some(answer) if answer.status == 503 => tally.unavailable += 1,
            Some(answer) if answer.replayed && (200..300).contains(&answer.status) => {
                tally.replays += 1
            }
            Some(answer) => violations.push(Violation::new(
                "database-outage",
                format!(
                    "{} by user {} answered {} (not 503) while the database was down",
                    event.op.name(),
                    event.user,
                    answer.status
                ),
                vec![event.seq],
            )),
        }
    }
    (violations, Some(tally))
}

#[cfg(test)]
mod tests {
    //! Writes answered inside, across the edges of, and without a database
    //! outage, with one fresh 2xx planted inside it.

    use super::*;
    use crate::cluster::FaultKind;
    use crate::history::{Answer, Event, Op};

    fn record(outage: Option<(u64, u64)>) -> FaultRecord {
        FaultRecord {
            kind: FaultKind::DbRestart,
            node: None,
            at_ms: 900,
            healed_ms: 2_100,
            served_again_ms: Some(1_500),
            outage_ms: outage,
        }
    }

    fn event(seq: usize, start_ms: u64, end_ms: u64, answer: Option<(u16, bool)>) -> Event {
        Event {
            seq,
            user: seq,
            op: Op::CreateCart,
            key: Some(format!("k{seq}")),
            start_ms,
            end_ms,
            answer: answer.map(|(status, replayed)| Answer {
                status,
                body: String::new(),
                replayed,
            }),
        }
    }

    #[test]
    fn a_fresh_2xx_while_the_database_was_down_is_a_violation() {
        let history = History {
            events: vec![
                // Inside the outage: 503, a replay, no answer, a fresh 201.
                event(0, 1_100, 1_200, Some((503, false))),
                event(1, 1_100, 1_200, Some((201, true))),
                event(2, 1_100, 1_900, None),
                event(3, 1_300, 1_400, Some((201, false))),
                // Overlapping the outage's edges: not judged.
                event(4, 990, 1_100, Some((201, false))),
                event(5, 1_900, 2_050, Some((201, false))),
            ],
            hold_ttl_ms: 1_000,
        };
        let (violations, tally) = writes_during_outage(&[record(Some((1_000, 2_000)))], &history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].rule, "database-outage");
        assert_eq!(violations[0].events, vec![3]);
        assert_eq!(
            tally,
            Some(OutageAnswers {
                writes: 4,
                unavailable: 1,
                replays: 1,
                unanswered: 1
            })
        );
    }

    #[test]
    fn runs_without_a_database_outage_are_not_judged_here() {
        let history = History {
            events: vec![event(0, 1_100, 1_200, Some((201, false)))],
            hold_ttl_ms: 1_000,
        };
        assert_eq!(
            writes_during_outage(&[record(None)], &history),
            (Vec::new(), None)
        );
    }
}
