//! What the simulator asks the running nodes over HTTP, apart from the
//! crowd's own requests: which node owns the show now, how soon the show
//! is served again after a fault, and what the nodes counted in their
//! Prometheus pages (fenced write sets, database history changes, commit
//! rounds looked up). The fault injection uses the first ones to aim and
//! time its faults; the run reads the counters at its end.

use crate::target::SIM_ADMIN_TOKEN;
use std::time::Duration;

/// The value of a counter in a Prometheus text page (0 if absent).
pub fn counter(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (metric, value) = line.rsplit_once(' ')?;
            (metric == name || metric.starts_with(&format!("{name}{{")))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum::<f64>() as u64
}

/// Milliseconds from `struck` until the show is served again: a node
/// other than `victim` answers its seat map itself (asked with
/// `Boxoffice-Forwarded`, so a node that does not hold its lease answers
/// 503 instead of asking the owner) and, for a database fault, a session
/// can be created (a write). `None` if not within `limit`.
pub(super) async fn served_again(
    http: reqwest::Client,
    bases: Vec<String>,
    victim: Option<usize>,
    show: String,
    struck: std::time::Instant,
    limit: Duration,
) -> Option<u64> {
    let started = struck;
    while started.elapsed() < limit {
        for (index, base) in bases.iter().enumerate() {
            if Some(index) == victim {
                continue;
            }
            let map = http
                .get(format!("{base}/v1/shows/{show}"))
                .header(crate::engine_facts::FORWARDED, "1")
                .send()
                .await;
            let serves = matches!(&map, Ok(answer) if answer.status().is_success());
            let writes = victim.is_some()
                || matches!(
                    http.post(format!("{base}/v1/sessions")).send().await,
                    Ok(answer) if answer.status().as_u16() == 201
                );
            if serves && writes {
                return Some(started.elapsed().as_millis() as u64);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The node that owns `show` now, as any node that answers tells.
pub(super) async fn owner_of(
    http: &reqwest::Client,
    bases: &[String],
    show: &str,
) -> Option<String> {
    for _ in 0..20 {
        for base in bases {
            let answer = http
                .get(format!("{base}/v1/cluster?show_id={show}"))
                .bearer_auth(SIM_ADMIN_TOKEN)
                .send()
                .await;
            let Ok(answer) = answer else { continue };
            let Ok(body) = answer.json::<serde_json::Value>().await else {
                continue;
            };
            if let Some(owner) = body["owner"].as_str() {
                return Some(owner.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// What the nodes counted about their database, summed over the nodes
/// that answer at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// `boxoffice_store_history_changes_total`.
    pub history_changes: u64,
    /// `boxoffice_store_lost_acknowledged_writes_total`.
    pub lost_acknowledged_writes: u64,
    /// `boxoffice_store_rounds_looked_up_total` by outcome: committed, not
    /// committed, unknown.
    pub rounds_looked_up: [u64; 3],
}

impl NodeCounters {
    pub fn describe(&self) -> String {
        let [committed, not, unknown] = self.rounds_looked_up;
        format!(
            "database histories changed under a node: {} | acknowledged writes the database \
             lost (nodes' count): {} | commit rounds looked up after a broken connection: \
             {committed} committed, {not} not, {unknown} unknown",
            self.history_changes, self.lost_acknowledged_writes
        )
    }
}

/// `NodeCounters` of every node that answers.
pub async fn node_counters(bases: &[String]) -> NodeCounters {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let mut counters = NodeCounters::default();
    for base in bases {
        let Ok(answer) = http.get(format!("{base}/metrics")).send().await else {
            continue;
        };
        let page = answer.text().await.unwrap_or_default();
        counters.history_changes += counter(&page, "boxoffice_store_history_changes_total");
        counters.lost_acknowledged_writes +=
            counter(&page, "boxoffice_store_lost_acknowledged_writes_total");
        for (slot, outcome) in ["committed", "not_committed", "unknown"].iter().enumerate() {
            counters.rounds_looked_up[slot] += counter(
                &page,
                &format!("boxoffice_store_rounds_looked_up_total{{outcome=\"{outcome}\"}}"),
            );
        }
    }
    counters
}

/// `boxoffice_cluster_fenced_total` of one node (0 if it does not answer).
pub(super) async fn fenced_of(http: &reqwest::Client, base: &str) -> u64 {
    match http.get(format!("{base}/metrics")).send().await {
        Ok(answer) => counter(
            &answer.text().await.unwrap_or_default(),
            "boxoffice_cluster_fenced_total",
        ),
        Err(_) => 0,
    }
}

pub(super) async fn fenced_now(http: &reqwest::Client, bases: &[String]) -> u64 {
    let mut total = 0;
    for base in bases {
        total += fenced_of(http, base).await;
    }
    total
}
