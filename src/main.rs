//! The `boxoffice` command: thin. Parses the command line and starts things.

mod cli;

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
    #[cfg(feature = "simulate")]
    Simulate(Box<cli::simulate::SimulateArgs>),
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
        // A log line that cannot be written (stderr a closed pipe) is
        // dropped. By default the subscriber reports that with eprintln!,
        // which panics on the same closed stderr: inside the task that
        // stops the server on SIGTERM, the stop was lost and the process
        // ran on.
        .log_internal_errors(false)
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
        #[cfg(feature = "simulate")]
        Command::Simulate(args) => cli::simulate::simulate(*args),
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
    let engine = running.engine.clone();
    running.server.await?;
    engine.flush_store().map_err(std::io::Error::other)?;
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
