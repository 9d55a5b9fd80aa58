//! Process control of the nodes: starting N `boxoffice serve` processes
//! (this same executable) on one database, and killing, restarting,
//! pausing, resuming and cutting them off when the fault injection asks,
//! and stopping them when the run ends. Network namespaces, for runs with
//! the network faults, are set up here too (through `crate::netns`), since
//! a node must be started inside its own.

use super::plan::{ClusterPlan, FaultKind};
use crate::netns::{self, Network};
use crate::target::{wait_healthy, SIM_ADMIN_TOKEN};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
