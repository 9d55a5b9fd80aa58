//! `boxoffice simulate --cluster N`: the crowd against N nodes on one
//! PostgreSQL while the owner of the show is killed, paused or cut off and
//! the database restarts (the fault table of docs/CLUSTER.md).
//!
//! Why the simulator runs the nodes itself: a fault must hit the node that
//! owns the show under test at that moment, and only the process that
//! started the nodes can `kill -9`, `SIGSTOP` and restart them. The checker
//! then judges the merged history of every node's answers and the final
//! state read back through any node, as in a one-node run.

use super::checker::Violation;
use super::netns::{self, Network};
use super::target::{wait_healthy, SIM_ADMIN_TOKEN};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A fault the simulator injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// `kill -9` of the show's owner; restarted (same node id) three
    /// leases later, by when another node serves the show.
    Kill,
    /// `SIGSTOP` of the show's owner for two leases, then `SIGCONT`.
    Pause,
    /// The same, but the owner stops itself inside a commit round, after
    /// reading its epochs and before the database sees them (SIGUSR1 to a
    /// node run with `test_sigusr1_stops_in_commit`): the moment docs/CLUSTER.md
    /// warns of, every time, where a plain SIGSTOP finds it now and then.
    PauseInCommit,
    /// The database stopped (`--db-stop-cmd`, e.g. `pg_ctl -m immediate
    /// stop`) for two leases, then started again (`--db-start-cmd`).
    DbRestart,
    /// The show's owner cut off the database and the other nodes for two
    /// leases, its clients still reaching it (`sim::netns`), then healed.
    /// Every node then runs in a network namespace of its own (root only).
    Cut,
    /// The show's owner's only link down for two leases (nobody reaches it,
    /// it reaches nobody), then up; namespaces as for `Cut`.
    LinkDown,
    /// The primary database lost (`--db-stop-cmd`, e.g. `pg_ctl -m
    /// immediate stop`) and a standby promoted `--promote-after-ms` later
    /// (`--db-promote-cmd`), as an orchestrator would; the nodes reach
    /// whichever accepts writes through a multi-host `--database-url`
    /// (`target_session_attrs=read-write`). Once per run: the promoted
    /// standby has no standby of its own.
    Failover,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill -9",
            FaultKind::Pause => "pause",
            FaultKind::PauseInCommit => "pause in a commit round",
            FaultKind::DbRestart => "database restart",
            FaultKind::Cut => "network cut",
            FaultKind::LinkDown => "link down",
            FaultKind::Failover => "database failover",
        }
    }
}

/// What a cluster run is asked to do.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    pub nodes: usize,
    pub database_url: String,
    pub lease_ms: u64,
    /// Injected in turn, one every `fault_every`.
    pub faults: Vec<FaultKind>,
    pub fault_every: Duration,
    /// Shell commands that stop the database (as a crash) and start it
    /// again (for `db-restart`).
    pub db_stop_cmd: Option<String>,
    pub db_start_cmd: Option<String>,
    /// Shell command that promotes a standby (for `failover`), and how
    /// long after the primary's loss it is run (an orchestrator's time to
    /// notice and decide).
    pub db_promote_cmd: Option<String>,
    pub promote_after: Duration,
    /// Nodes run with `unsafe_no_fence` (the runs that must find a
    /// violation).
    pub unsafe_no_fence: bool,
}

/// One injected fault, as the report and the summary show it.
#[derive(Clone, Debug)]
pub struct FaultRecord {
    pub kind: FaultKind,
    /// The node it hit (the show's owner then; none for the database).
    pub node: Option<String>,
    /// When it began and when it was healed (wall clock, ms).
    pub at_ms: u64,
    pub healed_ms: u64,
    /// From the fault's start until a node other than the one it hit
    /// serves the show (for a database restart: until writes work again).
    pub served_again_ms: Option<u64>,
    /// A database fault: from when the stop command returned until the
    /// start command was run (wall clock, ms): the database was down.
    pub outage_ms: Option<(u64, u64)>,
}

impl FaultRecord {
    /// One line: what, where, how long, when the show was served again.
    pub fn describe(&self) -> String {
        let served = self
            .served_again_ms
            .map_or("not served again".to_string(), |ms| {
                format!("served again after {:.2} s", ms as f64 / 1000.0)
            });
        format!(
            "fault: {}{} | lasted {:.2} s, {served}",
            self.kind.name(),
            self.node
                .as_ref()
                .map_or(String::new(), |n| format!(" of {n}")),
            self.healed_ms.saturating_sub(self.at_ms) as f64 / 1000.0,
        )
    }
}

struct Node {
    id: String,
    bind: String,
    child: Option<Child>,
    log: PathBuf,
}

/// N `boxoffice serve` processes on one database, on loopback.
pub struct Cluster {
    nodes: Vec<Node>,
    exe: PathBuf,
    env: Vec<(String, String)>,
    database_url: String,
    /// For runs with the cut fault: every node in a namespace of its own.
    /// Dropped after the nodes are stopped (field order).
    network: Option<Network>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the nodes (this same executable) and waits until each answers.
    pub fn start(plan: &ClusterPlan, hold_ttl_secs: u64) -> std::io::Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let exe = std::env::current_exe()?;
        let mut env = vec![
            ("BOXOFFICE_ADMIN_TOKEN", SIM_ADMIN_TOKEN.to_string()),
            ("BOXOFFICE_LEASE_MS", plan.lease_ms.to_string()),
            ("BOXOFFICE_HOLD_TTL_SECS", hold_ttl_secs.to_string()),
            ("BOXOFFICE_USER_RATE_LIMIT", "0".to_string()),
            ("BOXOFFICE_DEMO", "false".to_string()),
        ];
        if plan.unsafe_no_fence {
            env.push(("BOXOFFICE_UNSAFE_NO_FENCE", "true".to_string()));
        }
        if plan.faults.contains(&FaultKind::PauseInCommit) {
            env.push(("BOXOFFICE_TEST_SIGUSR1_STOPS_IN_COMMIT", "true".to_string()));
        }
        let namespaces = plan
            .faults
            .iter()
            .any(|f| matches!(f, FaultKind::Cut | FaultKind::LinkDown));
        let (network, database_url) = if namespaces {
            let network = Network::create(plan.nodes.max(1))?;
            let bad_url = || std::io::Error::other("--database-url is not a postgres:// URL");
            let upstream = netns::host_port(&plan.database_url).ok_or_else(bad_url)?;
            let relay = netns::relay_database(&network.database_addr(), upstream)?;
            let url = netns::with_host(
                &plan.database_url,
                &format!("{}:{relay}", network.database_addr()),
            )
            .ok_or_else(bad_url)?;
            (Some(network), url)
        } else {
            (None, plan.database_url.clone())
        };
        let mut cluster = Cluster {
            nodes: Vec::new(),
            exe,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            database_url,
            network,
            _dir: dir,
        };
        for i in 0..plan.nodes.max(1) {
            let bind = match &cluster.network {
                // Its own namespace: any port is free there.
                Some(network) => format!("{}:8080", network.node_addr(i)),
                None => format!("127.0.0.1:{}", free_port()?),
            };
            cluster.nodes.push(Node {
                id: format!("sim-node-{}", i + 1),
                bind,
                child: None,
                log: cluster._dir.path().join(format!("node-{}.log", i + 1)),
            });
            cluster.launch(i)?;
        }
        Ok(cluster)
    }

    /// Each node's base URL, in node order.
    pub fn bases(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("http://{}", n.bind))
            .collect()
    }

    pub fn node_id(&self, index: usize) -> &str {
        &self.nodes[index].id
    }

    /// The index of the node called `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    fn launch(&mut self, index: usize) -> std::io::Result<()> {
        let node = &self.nodes[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let mut command = match &self.network {
            Some(network) => {
                let mut command = Command::new("ip");
                command
                    .args(["netns", "exec", &network.namespace(index)])
                    .arg(&self.exe);
                command
            }
            None => Command::new(&self.exe),
        };
        let child = command
            .args(["serve", "--database-url", &self.database_url])
            .args(["--node-id", &node.id, "--bind", &node.bind, "--no-demo"])
            .args(["--data-dir"])
            .arg(self._dir.path().join(&node.id))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let base = format!("http://{}", node.bind);
        self.nodes[index].child = Some(child);
        wait_healthy(&base, Duration::from_secs(60))
    }

    fn signal(&self, index: usize, signal: &str) -> std::io::Result<()> {
        let Some(child) = &self.nodes[index].child else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("kill {signal} failed")))
        }
    }

    /// `kill -9` of node `index`.
    pub fn kill(&mut self, index: usize) -> std::io::Result<()> {
        if let Some(mut child) = self.nodes[index].child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts node `index` again, with its id and address.
    pub fn restart(&mut self, index: usize) -> std::io::Result<()> {
        self.kill(index)?;
        self.launch(index)
    }

    pub fn pause(&self, index: usize) -> std::io::Result<()> {
        self.signal(index, "-STOP")
    }

    pub fn resume(&self, index: usize) -> std::io::Result<()> {
        self.signal(index, "-CONT")
    }

    /// Asks node `index` to stop itself in its next commit round that
    /// writes for a partition (`FaultKind::PauseInCommit`).
    pub fn stop_in_commit(&self, index: usize) -> std::io::Result<()> {
        self.signal(index, "-USR1")
    }

    /// Whether node `index` is stopped (state `T` in /proc/PID/stat).
    pub fn is_stopped(&self, index: usize) -> bool {
        let Some(child) = &self.nodes[index].child else {
            return false;
        };
        std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .ok()
            .and_then(|stat| {
                // pid (comm) state ...: comm may hold spaces; the state
                // follows the last ')'.
                let (_, rest) = stat.rsplit_once(')')?;
                rest.split_whitespace().next().map(|state| state == "T")
            })
            .unwrap_or(false)
    }

    /// Cuts node `index` off the network (runs with the cut fault only).
    pub fn cut(&self, index: usize) -> std::io::Result<()> {
        match &self.network {
            Some(network) => network.cut(index),
            None => Err(std::io::Error::other("no network namespaces in this run")),
        }
    }

    pub fn heal(&self, index: usize) -> std::io::Result<()> {
        match &self.network {
            Some(network) => {
                network.heal(index)?;
                network.link_up(index)
            }
            None => Ok(()),
        }
    }

    /// Takes node `index`'s link down (runs with the link-down fault only).
    pub fn link_down(&self, index: usize) -> std::io::Result<()> {
        match &self.network {
            Some(network) => network.link_down(index),
            None => Err(std::io::Error::other("no network namespaces in this run")),
        }
    }

    /// The last lines each node logged (for a failed run).
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(lines).collect();
            out.push_str(&format!("--- {} ({})\n", node.id, node.log.display()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            // A paused node would ignore the TERM until resumed, a cut one
            // could not hand its partitions over.
            let _ = self.resume(index);
            let _ = self.heal(index);
            if let Some(mut child) = self.nodes[index].child.take() {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let _ = child.wait();
            }
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

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

/// Milliseconds from `struck` until the show is served again: a node
/// other than `victim` answers its seat map itself (asked with
/// `Boxoffice-Forwarded`, so a node that does not hold its lease answers
/// 503 instead of asking the owner) and, for a database fault, a session
/// can be created (a write). `None` if not within `limit`.
async fn served_again(
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

/// The node that owns `show` now, as any node that answers tells.
async fn owner_of(http: &reqwest::Client, bases: &[String], show: &str) -> Option<String> {
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
async fn fenced_of(http: &reqwest::Client, base: &str) -> u64 {
    match http.get(format!("{base}/metrics")).send().await {
        Ok(answer) => counter(
            &answer.text().await.unwrap_or_default(),
            "boxoffice_cluster_fenced_total",
        ),
        Err(_) => 0,
    }
}

async fn fenced_now(http: &reqwest::Client, bases: &[String]) -> u64 {
    let mut total = 0;
    for base in bases {
        total += fenced_of(http, base).await;
    }
    total
}

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
    history: &super::history::History,
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
    use super::*;
    use crate::history::{Answer, Event, History, Op};

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
