//! The figures of a run, as printed at its end and shown in its report.

use super::cluster::FaultRecord;

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
        if let Some(counters) = &self.node_counters {
            table.push_str(&format!("| {} |\n", counters.describe()));
        }
        table
    }
}
