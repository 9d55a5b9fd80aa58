//! Fault injection: the schedule that, every `fault_every`, finds the
//! node that owns the show under test at that moment and kills, pauses,
//! stops inside a commit round or cuts it off, or stops, restarts or fails
//! over the database, then heals it and records what happened. It drives
//! the nodes through `nodes::Cluster` and aims and times its faults
//! through `probes`.

use super::nodes::Cluster;
use super::plan::{ClusterPlan, FaultKind, FaultRecord};
use super::probes::{fenced_now, fenced_of, owner_of, served_again};
use std::process::Command;
use std::time::Duration;

/// Injects `plan.faults` in turn, one every `plan.fault_every`, into the
/// node that owns `show` at that moment, healing each before the next, and
/// none that could not heal before `until` (the crowd's end). Returns what
/// it did, and the write sets the nodes' fences refused (counted before a
/// node is killed, and at the end).
pub async fn inject(
    cluster: std::sync::Arc<std::sync::Mutex<Cluster>>,
    plan: ClusterPlan,
    show: String,
    until: std::time::Instant,
) -> std::io::Result<(Vec<FaultRecord>, u64)> {
    use std::time::Instant;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .map_err(std::io::Error::other)?;
    let bases = cluster.lock().expect("cluster").bases();
    let lease = Duration::from_millis(plan.lease_ms);
    let mut records = Vec::new();
    let mut fenced = 0;
    let mut kinds = plan.faults.iter().copied().cycle();
    if plan.faults.is_empty() {
        return Ok((records, fenced_now(&http, &bases).await));
    }
    loop {
        tokio::time::sleep(plan.fault_every).await;
        let kind = kinds.next().expect("cycle");
        let needs = match kind {
            FaultKind::Kill => lease * 4,
            FaultKind::Pause | FaultKind::Cut | FaultKind::LinkDown => lease * 3,
            FaultKind::PauseInCommit => lease * 3 + Duration::from_secs(1),
            FaultKind::DbRestart => lease * 2 + Duration::from_secs(5),
            FaultKind::Failover => plan.promote_after + Duration::from_secs(5),
        };
        if Instant::now() + needs > until {
            break;
        }
        if kind == FaultKind::Failover && records.iter().any(|r: &FaultRecord| r.kind == kind) {
            continue;
        }
        let victim = match kind {
            FaultKind::DbRestart | FaultKind::Failover => None,
            FaultKind::Kill
            | FaultKind::Pause
            | FaultKind::PauseInCommit
            | FaultKind::Cut
            | FaultKind::LinkDown => {
                let Some(owner) = owner_of(&http, &bases, &show).await else {
                    tracing::warn!("the show has no owner now; fault skipped");
                    continue;
                };
                let Some(index) = cluster.lock().expect("cluster").index_of(&owner) else {
                    continue;
                };
                Some(index)
            }
        };
        if kind == FaultKind::Kill {
            fenced += fenced_of(&http, &bases[victim.expect("a victim")]).await;
        }
        let victim = match (kind, victim) {
            // The fault starts when the owner has stopped itself.
            (FaultKind::PauseInCommit, Some(_)) => {
                Some(stopped_in_commit(&cluster, &http, &bases, &show).await?)
            }
            _ => victim,
        };
        let at_ms = crate::engine_facts::now_ms();
        let mut struck = Instant::now();
        let probe = |http: &reqwest::Client, struck: Instant| {
            tokio::spawn(served_again(
                http.clone(),
                bases.clone(),
                victim,
                show.clone(),
                struck,
                lease * 10,
            ))
        };
        // A node fault is probed from its start; the database's once the
        // restart command returned (until then it may not have stopped).
        let node_probe = victim.map(|_| probe(&http, struck));
        let mut outage_ms = None;
        match (kind, victim) {
            (FaultKind::DbRestart, _) => {
                let needed =
                    || std::io::Error::other("db-restart needs --db-stop-cmd and --db-start-cmd");
                let stop = plan.db_stop_cmd.clone().ok_or_else(needed)?;
                let start = plan.db_start_cmd.clone().ok_or_else(needed)?;
                blocking(move || shell(&stop)).await?;
                let down_ms = crate::engine_facts::now_ms();
                tokio::time::sleep(lease * 2).await;
                outage_ms = Some((down_ms, crate::engine_facts::now_ms()));
                blocking(move || shell(&start)).await?;
            }
            (FaultKind::Failover, _) => {
                let needed =
                    || std::io::Error::other("failover needs --db-stop-cmd and --db-promote-cmd");
                let stop = plan.db_stop_cmd.clone().ok_or_else(needed)?;
                let promote = plan.db_promote_cmd.clone().ok_or_else(needed)?;
                blocking(move || shell(&stop)).await?;
                let down_ms = crate::engine_facts::now_ms();
                // The time an orchestrator takes to notice and decide.
                tokio::time::sleep(plan.promote_after).await;
                outage_ms = Some((down_ms, crate::engine_facts::now_ms()));
                blocking(move || shell(&promote)).await?;
                // Served again is counted from the promotion.
                struck = Instant::now();
            }
            (FaultKind::Kill, Some(victim)) => {
                let handle = cluster.clone();
                blocking(move || handle.lock().expect("cluster").kill(victim)).await?;
                // Long enough for another node to take the show over.
                tokio::time::sleep(lease * 3).await;
                let handle = cluster.clone();
                blocking(move || handle.lock().expect("cluster").restart(victim)).await?;
            }
            (FaultKind::Pause, Some(victim)) => {
                cluster.lock().expect("cluster").pause(victim)?;
                tokio::time::sleep(lease * 2).await;
                cluster.lock().expect("cluster").resume(victim)?;
            }
            (FaultKind::PauseInCommit, Some(victim)) => {
                // Stopped already (above).
                tokio::time::sleep(lease * 2).await;
                cluster.lock().expect("cluster").resume(victim)?;
            }
            (FaultKind::Cut, Some(victim)) => {
                cluster.lock().expect("cluster").cut(victim)?;
                tokio::time::sleep(lease * 2).await;
                cluster.lock().expect("cluster").heal(victim)?;
            }
            (FaultKind::LinkDown, Some(victim)) => {
                cluster.lock().expect("cluster").link_down(victim)?;
                tokio::time::sleep(lease * 2).await;
                cluster.lock().expect("cluster").heal(victim)?;
            }
            _ => unreachable!("a node fault has a victim"),
        }
        let healed_ms = crate::engine_facts::now_ms();
        let served_again_ms = node_probe
            .unwrap_or_else(|| probe(&http, struck))
            .await
            .ok()
            .flatten();
        let node = victim.map(|i| cluster.lock().expect("cluster").node_id(i).to_string());
        tracing::info!(fault = kind.name(), node = ?node, ?served_again_ms, "fault injected and healed");
        records.push(FaultRecord {
            kind,
            node,
            at_ms,
            healed_ms,
            served_again_ms,
            outage_ms,
        });
    }
    Ok((records, fenced + fenced_now(&http, &bases).await))
}

/// Asks the show's owner to stop itself in its next commit round and
/// waits until it has; returns its index. An owner that does not stop
/// within the ask's life (it may have lost the show meanwhile: a round
/// stops only for a partition it holds) is asked again, as the owner is
/// then, a few times.
async fn stopped_in_commit(
    cluster: &std::sync::Arc<std::sync::Mutex<Cluster>>,
    http: &reqwest::Client,
    bases: &[String],
    show: &str,
) -> std::io::Result<usize> {
    use crate::engine_facts::STOP_IN_COMMIT_WITHIN_MS;
    // A little beyond the ask's life: a node seen running after it will
    // not stop later.
    let wait = Duration::from_millis(STOP_IN_COMMIT_WITHIN_MS + 500);
    for _ in 0..4 {
        let Some(owner) = owner_of(http, bases, show).await else {
            continue;
        };
        let Some(index) = cluster.lock().expect("cluster").index_of(&owner) else {
            continue;
        };
        let handle = cluster.clone();
        let stopped = tokio::task::spawn_blocking(move || {
            let cluster = handle.lock().expect("cluster");
            cluster.stop_in_commit(index)?;
            let asked = std::time::Instant::now();
            while asked.elapsed() < wait {
                if cluster.is_stopped(index) {
                    return Ok(true);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok::<_, std::io::Error>(false)
        })
        .await
        .map_err(std::io::Error::other)??;
        if stopped {
            return Ok(index);
        }
        tracing::warn!(node = %owner, "the owner did not stop in a commit round; asking the owner again");
    }
    Err(std::io::Error::other(
        "no owner of the show stopped in a commit round (four asks)",
    ))
}

fn shell(command: &str) -> std::io::Result<()> {
    let status = Command::new("sh").arg("-c").arg(command).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{command}: {status}")))
    }
}

async fn blocking(
    work: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}
