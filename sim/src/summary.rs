//! The figures of a run, as printed at its end and shown in its report.

use super::cluster::FaultRecord;
use super::history::{History, Op};

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub requests: u64,
    pub bookings: u64,
    pub seats_sold: u64,
    pub capacity: u64,
    pub conflicts: u64,
    pub retries: u64,
    pub replays: u64,
    pub overloaded: u64,
    pub no_answer: u64,
    pub crashes: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub elapsed_secs: f64,
    pub seats_per_sec: f64,
    /// Seconds from the first request until the last seat was sold.
    pub sold_out_secs: Option<f64>,
    /// Cluster runs: the faults injected, and the write sets the nodes'
    /// fences refused.
    pub faults: Vec<FaultRecord>,
    pub fenced: Option<u64>,
    /// Runs with a database restart: how the writes sent during it were
    /// answered.
    pub outage_answers: Option<super::checker::OutageAnswers>,
    /// Cluster runs: what the nodes counted about their database.
    pub node_counters: Option<super::cluster::NodeCounters>,
    /// Box-office runs: what the staff did.
    pub staff: Option<StaffCounts>,
}

/// What the box office's staff did in a run, and what it cost the crowd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffCounts {
    /// Blocks answered 201 (a key retried counts once).
    pub blocks: u64,
    /// Blocks refused 409 (a held or booked seat among them).
    pub blocks_refused: u64,
    /// Unblocks answered 204.
    pub unblocks: u64,
    /// Cancels on behalf answered 204.
    pub cancels_on_behalf: u64,
    /// The crowd's bookings and holds refused because of a block (the seat
    /// certainly blocked all the while).
    pub refused_for_block: u64,
}

impl StaffCounts {
    pub fn of(history: &History) -> StaffCounts {
        let mut counts = StaffCounts {
            refused_for_block: super::checker::refused_for_block(history) as u64,
            ..StaffCounts::default()
        };
        let mut keys = std::collections::BTreeSet::new();
        for event in &history.events {
            let status = match &event.answer {
                Some(a) if a.code().as_deref() == Some("request-in-progress") => 0,
                Some(a) => a.status,
                None => 0,
            };
            match &event.op {
                Op::Block { .. } if keys.insert((event.user, event.key.clone(), status)) => {
                    match status {
                        201 => counts.blocks += 1,
                        409 => counts.blocks_refused += 1,
                        _ => {}
                    }
                }
                Op::Unblock { .. } if status == 204 => counts.unblocks += 1,
                Op::Cancel { by_staff: true, .. } if status == 204 => counts.cancels_on_behalf += 1,
                _ => {}
            }
        }
        counts
    }
}

impl Summary {
    pub fn table(&self) -> String {
        let sold_out = self
            .sold_out_secs
            .map_or("not sold out".to_string(), |s| format!("{s:.2} s"));
        let mut table = format!(
            "\
| metric | value |
| --- | --- |
| requests (attempts) | {} |
| bookings | {} |
| seats sold | {} of {} |
| conflicts (409) | {} |
| retries | {} |
| replays | {} |
| shed (503/429) | {} |
| no answer | {} |
| engine crashes | {} |
| latency p50 / p95 / p99 / max | {:.1} / {:.1} / {:.1} / {:.1} ms |
| seats sold per second | {:.1} |
| time to sell out | {} |
| elapsed | {:.2} s |
",
            self.requests,
            self.bookings,
            self.seats_sold,
            self.capacity,
            self.conflicts,
            self.retries,
            self.replays,
            self.overloaded,
            self.no_answer,
            self.crashes,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.seats_per_sec,
            sold_out,
            self.elapsed_secs
        );
        if let Some(fenced) = self.fenced {
            table.push_str(&format!("| writes refused by the fence | {fenced} |\n"));
        }
        for fault in &self.faults {
            table.push_str(&format!("| {} |\n", fault.describe()));
        }
        if let Some(answers) = &self.outage_answers {
            table.push_str(&format!("| {} |\n", answers.describe()));
        }
        if let Some(staff) = &self.staff {
            table.push_str(&format!(
                "| staff: blocks / refused / unblocks / cancels on behalf | {} / {} / {} / {} |\n\
                 | bookings and holds refused for a block | {} |\n",
                staff.blocks,
                staff.blocks_refused,
                staff.unblocks,
                staff.cancels_on_behalf,
                staff.refused_for_block
            ));
        }
        if let Some(counters) = &self.node_counters {
            table.push_str(&format!("| {} |\n", counters.describe()));
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::StaffCounts;
    use crate::checker::box_office_fixtures::*;

    #[test]
    fn staff_counts_count_each_request_once_by_its_outcome() {
        let (mut h, _) = clean_box_office();
        // The first block's key again: a replay, and an attempt told "in
        // progress" (a concurrent duplicate); neither is another block.
        let first = replay(
            201,
            json!({"show_id": SHOW, "seats": ["A5", "A6"]}).to_string(),
        );
        h.block(STAFF, "sim-9-1", &["A5", "A6"], (T + 11, T + 12), first);
        let busy = answer(409, problem("request-in-progress", 409, &[]));
        h.block(STAFF, "sim-9-1", &["A5", "A6"], (T + 11, T + 12), busy);
        let counts = StaffCounts::of(&h.into_history(TTL));
        assert_eq!(
            counts,
            StaffCounts {
                blocks: 1,
                blocks_refused: 1,
                unblocks: 1,
                cancels_on_behalf: 1,
                refused_for_block: 1,
            }
        );
    }
}
