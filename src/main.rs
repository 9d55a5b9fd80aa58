//! The `boxoffice` command: thin. Parses the command line and starts things.

use boxoffice::config::Settings;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// jemalloc serves the server's many small, short-lived allocations with
/// about half the CPU glibc's malloc took (Cargo.toml says where from).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "boxoffice",
    version,
    about = "Seat reservation engine for movie-ticket booking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server: with the embedded sled store in --data-dir, or
    /// on PostgreSQL with --database-url.
    Serve {
        /// Address to listen on (overrides config `bind`).
        #[arg(long)]
        bind: Option<String>,
        /// Data directory of the sled store (overrides config `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Keep everything in this PostgreSQL database instead of sled
        /// (`postgres://USER@HOST:PORT/DB`; env BOXOFFICE_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// This node's id in a cluster on PostgreSQL (default: random per
        /// start; env BOXOFFICE_NODE_ID).
        #[arg(long)]
        node_id: Option<String>,
        /// The URL other nodes reach this one at (default: http:// + the
        /// bound address; env BOXOFFICE_ADVERTISE).
        #[arg(long)]
        advertise: Option<String>,
        /// Settings file (default: config/default.toml, if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Do not seed demo shows on an empty data directory.
        #[arg(long)]
        no_demo: bool,
    },
    /// Apply the PostgreSQL schema's migrations the database lacks, and
    /// nothing else.
    Migrate {
        /// The database (env BOXOFFICE_DATABASE_URL).
        #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
        database_url: String,
    },
    /// Print the OpenAPI document of the HTTP API (as served at
    /// `/openapi.json`) and exit.
    Openapi,
    /// Write a dump of a store (docs/DUMP.md): a sled directory no server
    /// has open, or a PostgreSQL database (also while nodes serve).
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Where to write it (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load a dump into an empty store: the whole dump is checked first
    /// (format, version, every record, counts, checksum), then written all
    /// or nothing. Exit 1, with the reason, and the store unchanged,
    /// otherwise.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The dump.
        file: PathBuf,
    },
    /// Check that a store's records agree with each other (seats with
    /// bookings and live holds, keys with their bookings): exit 0 when they
    /// do, 1 with every inconsistency listed.
    Check {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Simulate a crowd booking concurrently, with faults, and check the
    /// engine's promises on what happened (exit 1 on any violation).
    Simulate(Box<SimulateArgs>),
}

/// A store named on the command line: one of the two.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct StoreArgs {
    /// A sled data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://USER@HOST:PORT/DB`).
    #[arg(long)]
    database_url: Option<String>,
}

impl StoreArgs {
    fn location(self) -> boxoffice::store::dump::StoreLocation {
        use boxoffice::store::dump::StoreLocation;
        match (self.data_dir, self.database_url) {
            (Some(dir), _) => StoreLocation::Sled(dir),
            (None, Some(url)) => StoreLocation::Postgres(url),
            (None, None) => unreachable!("clap requires one"),
        }
    }
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// premiere, steady, hot-seat or churn.
    #[arg(long, value_enum, default_value = "premiere")]
    scenario: boxoffice::sim::workload::Scenario,
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
    cluster_faults: Vec<boxoffice::sim::cluster::FaultKind>,
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

fn main() -> std::process::ExitCode {
    // Failpoints from FAILPOINTS (only with the `failpoints` feature).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "boxoffice=info,actix_web=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            bind,
            data_dir,
            database_url,
            node_id,
            advertise,
            config,
            no_demo,
        } => {
            let mut settings = match Settings::load(config.as_deref()) {
                Ok(settings) => settings,
                Err(error) => {
                    eprintln!("boxoffice: bad configuration: {error}");
                    return std::process::ExitCode::from(2);
                }
            };
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            if let Some(dir) = data_dir {
                settings.data_dir = dir;
            }
            if database_url.is_some() {
                settings.database_url = database_url;
            }
            if node_id.is_some() {
                settings.node_id = node_id;
            }
            if advertise.is_some() {
                settings.advertise = advertise;
            }
            if no_demo {
                settings.demo = false;
            }
            match actix_web::rt::System::new().block_on(serve(settings)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("boxoffice: {error}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Migrate { database_url } => {
            match boxoffice::store::postgres::migrate_only(&database_url) {
                Ok(applied) => {
                    println!("migrations applied: {applied}");
                    std::process::ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("boxoffice: {error}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Simulate(args) => simulate(*args),
        Command::Openapi => {
            println!("{}", boxoffice::http::openapi::document_json());
            std::process::ExitCode::SUCCESS
        }
        Command::Export { store, out } => export(store.location(), out),
        Command::Import { store, file } => {
            match boxoffice::store::dump::import(&store.location(), &file) {
                Ok(summary) => {
                    let counts: Vec<String> = summary
                        .counts
                        .iter()
                        .map(|(kind, n)| format!("{n} {}", kind.as_str()))
                        .collect();
                    eprintln!(
                        "imported a dump of version {} taken from {} at {}: {}",
                        summary.version,
                        summary.source,
                        summary.created_at,
                        counts.join(", ")
                    );
                    std::process::ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("boxoffice import: {error}; nothing was written");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Check { store } => check(store.location()),
    }
}

/// `boxoffice export`: the dump to a file (written beside it, then
/// renamed, so a failed export never leaves half a dump under that name)
/// or to standard output.
fn export(
    location: boxoffice::store::dump::StoreLocation,
    out: Option<PathBuf>,
) -> std::process::ExitCode {
    let result = match &out {
        Some(path) => {
            let partial = path.with_extension("partial");
            std::fs::File::create(&partial)
                .map_err(|e| e.to_string())
                .and_then(|file| {
                    let counts =
                        boxoffice::store::dump::export(&location, std::io::BufWriter::new(&file))
                            .map_err(|e| e.to_string())?;
                    file.sync_all().map_err(|e| e.to_string())?;
                    std::fs::rename(&partial, path).map_err(|e| e.to_string())?;
                    Ok(counts)
                })
        }
        None => boxoffice::store::dump::export(
            &location,
            std::io::BufWriter::new(std::io::stdout().lock()),
        )
        .map_err(|e| e.to_string()),
    };
    match result {
        Ok(counts) => {
            let counts: Vec<String> = counts
                .iter()
                .map(|(kind, n)| format!("{n} {}", kind.as_str()))
                .collect();
            eprintln!("exported {}", counts.join(", "));
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("boxoffice export: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `boxoffice check`.
fn check(location: boxoffice::store::dump::StoreLocation) -> std::process::ExitCode {
    let mut checker = boxoffice::store::check::Checker::default();
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let read = boxoffice::store::dump::each_record(&location, |record| {
        checker.add(record);
        Ok(())
    });
    let report = read.map(|()| checker.finish(now_ms));
    match report {
        Ok(report) if report.problems.is_empty() => {
            let counts: Vec<String> = report
                .counts
                .iter()
                .map(|(kind, n)| format!("{n} {}", kind.as_str()))
                .collect();
            println!("consistent: {}", counts.join(", "));
            std::process::ExitCode::SUCCESS
        }
        Ok(report) => {
            for problem in &report.problems {
                println!("{problem}");
            }
            eprintln!("boxoffice check: {} inconsistencies", report.problems.len());
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("boxoffice check: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The cluster a `--cluster N` run starts, if asked for.
fn cluster_plan(
    args: &SimulateArgs,
) -> Result<Option<boxoffice::sim::cluster::ClusterPlan>, String> {
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
    Ok(Some(boxoffice::sim::cluster::ClusterPlan {
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

fn simulate(args: SimulateArgs) -> std::process::ExitCode {
    use boxoffice::sim::{self, client::Faults, SimConfig};
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
    let outcome = match runtime.block_on(sim::run(config.clone())) {
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
        println!("{}", sim::checker::describe(&outcome.history, violation));
    }
    if let Some(logs) = &outcome.node_logs {
        println!("the nodes' last log lines:\n{logs}");
    }
    std::process::ExitCode::FAILURE
}

async fn serve(settings: Settings) -> std::io::Result<()> {
    let running = boxoffice::http::start(&settings).await?;
    let stop_signal = stop_signals()?;
    // Tests and scripts read this line to learn the port (with --bind :0).
    println!("listening on http://{}", running.addr);
    std::io::stdout().flush()?;
    match &settings.database_url {
        Some(_) => tracing::info!(addr = %running.addr, "serving, on PostgreSQL"),
        None => {
            tracing::info!(addr = %running.addr, data_dir = %settings.data_dir.display(), "serving")
        }
    }
    let handle = running.server.handle();
    let shutdown = running.shutdown_sender();
    actix_web::rt::spawn(async move {
        stop_signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        boxoffice::http::Running::stop(handle, &shutdown).await;
    });
    let store = running.store.clone();
    running.server.await?;
    boxoffice::store::Store::flush(&*store).map_err(std::io::Error::other)?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The signals that stop the server, listened to from the moment this
/// returns (before the server says it listens: a SIGTERM right after that
/// line must stop it gracefully, not kill it).
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
