//! `boxoffice simulate`: the command line of the simulator (the crate
//! `boxoffice-sim`), and the engine it drives when given no target: this
//! binary's own, in its process.

use boxoffice::in_process::InProcess;
use boxoffice_sim::target::{LocalEngine, LocalEngines, SIM_ADMIN_TOKEN};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// premiere, steady, hot-seat, churn or box-office (staff block seats
    /// and cancel on behalf while the crowd books).
    #[arg(long, value_enum, default_value = "premiere")]
    scenario: boxoffice_sim::workload::Scenario,
    /// Simulated users.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Seed of the workload and the fault schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rows and seats per row of the show under test.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    #[arg(long, default_value_t = 20)]
    seats_per_row: u32,
    /// Arrivals spread over this many seconds (steady: run this long).
    #[arg(long, default_value_t = 5.0)]
    duration_secs: f64,
    /// Fault rates (0-1): answers lost on the way back (the client retries
    /// its key), requests sent twice, sent twice at once, users too slow
    /// for their holds.
    #[arg(long, default_value_t = 0.0)]
    lost_response: f64,
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    #[arg(long, default_value_t = 0.0)]
    concurrent_duplicate: f64,
    #[arg(long, default_value_t = 0.0)]
    slow_client: f64,
    /// Crash and restart the engine every this many seconds (in-process,
    /// or with --server-cmd).
    #[arg(long)]
    crash_every: Option<f64>,
    /// Drive running servers over HTTP instead of an in-process engine:
    /// one URL, or the nodes of a cluster, comma-separated (each attempt
    /// goes to the next node).
    #[arg(long, alias = "targets", value_delimiter = ',')]
    target: Vec<String>,
    /// Start this many nodes on --database-url and inject --cluster-faults
    /// into the node owning the show (docs/CLUSTER.md's fault runs).
    #[arg(long)]
    cluster: Option<usize>,
    /// The database of --cluster.
    #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
    database_url: Option<String>,
    /// lease_ms of the cluster's nodes.
    #[arg(long, default_value_t = 2000)]
    lease_ms: u64,
    /// Faults injected in turn into a --cluster run: kill, pause,
    /// pause-in-commit, db-restart, cut (comma-separated; cut runs each
    /// node in a network namespace of its own, as root).
    #[arg(long, value_enum, value_delimiter = ',')]
    cluster_faults: Vec<boxoffice_sim::cluster::FaultKind>,
    /// Seconds between faults (default: three leases).
    #[arg(long)]
    fault_every_secs: Option<f64>,
    /// Shell command that stops the database as a crash would (for
    /// db-restart), e.g. "scripts/pg.sh down DIR".
    #[arg(long)]
    db_stop_cmd: Option<String>,
    /// Shell command that starts it again, e.g. "scripts/pg.sh up DIR".
    #[arg(long)]
    db_start_cmd: Option<String>,
    /// Shell command that promotes a standby to primary (for failover),
    /// e.g. "pg_ctl promote -D STANDBY".
    #[arg(long)]
    db_promote_cmd: Option<String>,
    /// Milliseconds from the primary's loss to the promotion (failover).
    #[arg(long, default_value_t = 1000)]
    promote_after_ms: u64,
    /// TEST ONLY: the nodes' commit rounds skip the epoch fence, so the
    /// run shows what the fence prevents (expect violations).
    #[arg(long)]
    unsafe_no_fence: bool,
    /// Admin token of the target (to create the show).
    #[arg(long, env = "BOXOFFICE_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Command that starts the target server; lets the simulator kill -9
    /// and restart it (with --crash-every).
    #[arg(long)]
    server_cmd: Option<String>,
    /// Hold TTL of the in-process engine, seconds (match the target's).
    #[arg(long, default_value_t = 600)]
    hold_ttl_secs: u64,
    /// Write an HTML report (charts, no server needed) into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The cluster a `--cluster N` run starts, if asked for.
fn cluster_plan(
    args: &SimulateArgs,
) -> Result<Option<boxoffice_sim::cluster::ClusterPlan>, String> {
    let Some(nodes) = args.cluster else {
        if !args.cluster_faults.is_empty() || args.unsafe_no_fence {
            return Err("--cluster-faults and --unsafe-no-fence need --cluster N".into());
        }
        return Ok(None);
    };
    if !args.target.is_empty() {
        return Err("--cluster starts its own nodes: no --target".into());
    }
    let database_url = args
        .database_url
        .clone()
        .ok_or("--cluster needs --database-url (or BOXOFFICE_DATABASE_URL)")?;
    let lease_ms = args.lease_ms.max(300);
    let fault_every = args
        .fault_every_secs
        .map(|s| std::time::Duration::from_secs_f64(s.max(0.1)))
        .unwrap_or(std::time::Duration::from_millis(lease_ms * 3));
    Ok(Some(boxoffice_sim::cluster::ClusterPlan {
        nodes: nodes.clamp(1, 16),
        database_url,
        lease_ms,
        faults: args.cluster_faults.clone(),
        fault_every,
        db_stop_cmd: args.db_stop_cmd.clone(),
        db_start_cmd: args.db_start_cmd.clone(),
        db_promote_cmd: args.db_promote_cmd.clone(),
        promote_after: std::time::Duration::from_millis(args.promote_after_ms),
        unsafe_no_fence: args.unsafe_no_fence,
    }))
}

pub fn simulate(args: SimulateArgs) -> std::process::ExitCode {
    use boxoffice_sim::{client::Faults, SimConfig};
    let rate = |r: f64| r.clamp(0.0, 1.0);
    let cluster = match cluster_plan(&args) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("boxoffice simulate: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = SimConfig {
        scenario: args.scenario,
        users: args.users.max(1),
        seed: args.seed,
        rows: args.rows.clamp(1, 26 * 27),
        seats_per_row: args.seats_per_row.clamp(1, 999),
        duration: std::time::Duration::from_secs_f64(args.duration_secs.max(0.0)),
        faults: Faults {
            lost_response: rate(args.lost_response),
            duplicate: rate(args.duplicate),
            concurrent_duplicate: rate(args.concurrent_duplicate),
            slow_client: rate(args.slow_client),
        },
        crash_every: args
            .crash_every
            .map(|s| std::time::Duration::from_secs_f64(s.max(0.05))),
        local_engine: Some(in_process_engines()),
        targets: args.target,
        cluster,
        admin_token: args.admin_token,
        server_cmd: args.server_cmd,
        hold_ttl_secs: args.hold_ttl_secs,
        report: args.report,
        progress: !args.quiet,
    };
    let seed = config.seed;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = match runtime.block_on(boxoffice_sim::run(config.clone())) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("boxoffice simulate: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    println!("{}", outcome.summary.table());
    if let Some(dir) = &config.report {
        println!("report: {}", dir.join("index.html").display());
    }
    if outcome.violations.is_empty() {
        println!(
            "checker: no violation in {} requests",
            outcome.history.events.len()
        );
        return std::process::ExitCode::SUCCESS;
    }
    println!(
        "checker: {} violation(s), seed {seed}",
        outcome.violations.len()
    );
    for violation in &outcome.violations {
        println!(
            "{}",
            boxoffice_sim::checker::describe(&outcome.history, violation)
        );
    }
    if let Some(logs) = &outcome.node_logs {
        println!("the nodes' last log lines:\n{logs}");
    }
    std::process::ExitCode::FAILURE
}

/// This binary's engine, in this process, as the simulator's local engine.
struct Engine(InProcess);

impl LocalEngine for Engine {
    fn base_url(&self) -> String {
        self.0.base.clone()
    }

    fn crash_and_restart(&mut self) -> std::io::Result<()> {
        self.0.crash_and_restart()
    }

    fn stop_and_check_store(&mut self) -> std::io::Result<Vec<String>> {
        self.0.stop_and_check_store()
    }
}

fn in_process_engines() -> LocalEngines {
    LocalEngines(Arc::new(|hold_ttl_secs| {
        // The simulator creates its show with its own admin token.
        let engine = InProcess::start_with(hold_ttl_secs, |settings| {
            settings.admin_token = Some(SIM_ADMIN_TOKEN.into());
        })?;
        Ok(Box::new(Engine(engine)) as Box<dyn LocalEngine>)
    }))
}
