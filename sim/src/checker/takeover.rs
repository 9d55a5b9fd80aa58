//! `takeover` (cluster runs): after a fault of the show's owner, another
//! node serves the show soon, the promise of docs/CLUSTER.md's fault
//! table. Judged on the fault records the injection kept (how long until
//! the show was served again), not on the history.

use super::verdict::Violation;
use crate::cluster::{FaultKind, FaultRecord};

/// docs/CLUSTER.md: after the owner is killed or paused, the show is served
/// again within 3 x `lease_ms`; after a database restart, at all (within
/// the probe's limit). Each fault that was not is a `takeover` violation.
pub fn late_takeovers(records: &[FaultRecord], lease_ms: u64) -> Vec<Violation> {
    records
        .iter()
        .filter(|r| match (r.kind, r.served_again_ms) {
            (_, None) => true,
            (
                FaultKind::Kill
                | FaultKind::Pause
                | FaultKind::PauseInCommit
                | FaultKind::Cut
                | FaultKind::LinkDown,
                Some(ms),
            ) => ms > 3 * lease_ms,
            // Judged against a bound of its own by its run
            // (scripts/failover.sh), from the promotion.
            (FaultKind::DbRestart | FaultKind::Failover, Some(_)) => false,
        })
        .map(|r| {
            Violation::new(
                "takeover",
                match r.served_again_ms {
                    Some(_) => format!(
                        "{}: not within 3 x lease_ms ({} ms)",
                        r.describe(),
                        3 * lease_ms
                    ),
                    None => format!("{} (probed for 10 x lease_ms)", r.describe()),
                },
                Vec::new(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Fault records with the show served again in time, late, and never,
    //! for owner faults and database faults.

    use super::*;

    const LEASE_MS: u64 = 1_000;

    fn record(kind: FaultKind, served_again_ms: Option<u64>) -> FaultRecord {
        FaultRecord {
            kind,
            node: Some("sim-node-1".into()),
            at_ms: 1_000,
            healed_ms: 3_000,
            served_again_ms,
            outage_ms: None,
        }
    }

    #[test]
    fn an_owner_fault_served_again_within_three_leases_passes() {
        let records: Vec<FaultRecord> = [
            FaultKind::Kill,
            FaultKind::Pause,
            FaultKind::PauseInCommit,
            FaultKind::Cut,
            FaultKind::LinkDown,
        ]
        .into_iter()
        .map(|kind| record(kind, Some(3 * LEASE_MS)))
        .collect();
        assert!(late_takeovers(&records, LEASE_MS).is_empty());
    }

    #[test]
    fn an_owner_fault_served_again_late_is_a_violation() {
        let records = [
            record(FaultKind::Kill, Some(3 * LEASE_MS + 1)),
            record(FaultKind::Pause, Some(LEASE_MS)),
        ];
        let violations = late_takeovers(&records, LEASE_MS);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].rule, "takeover");
        assert!(
            violations[0].detail.contains("kill -9")
                && violations[0]
                    .detail
                    .contains("not within 3 x lease_ms (3000 ms)"),
            "{}",
            violations[0].detail
        );
    }

    #[test]
    fn a_show_never_served_again_is_a_violation_for_any_fault() {
        let records = [
            record(FaultKind::Cut, None),
            record(FaultKind::DbRestart, None),
        ];
        let violations = late_takeovers(&records, LEASE_MS);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations
            .iter()
            .all(|v| v.rule == "takeover" && v.detail.contains("probed for 10 x lease_ms")));
    }

    #[test]
    fn database_faults_served_again_late_are_judged_elsewhere() {
        let records = [
            record(FaultKind::DbRestart, Some(100 * LEASE_MS)),
            record(FaultKind::Failover, Some(100 * LEASE_MS)),
        ];
        assert!(late_takeovers(&records, LEASE_MS).is_empty());
    }
}
