//! The `boxoffice` command: thin. Parses the command line and starts things.

use boxoffice::config::Settings;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

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
    /// Run the HTTP server with the embedded sled store.
    Serve {
        /// Address to listen on (overrides config `bind`).
        #[arg(long)]
        bind: Option<String>,
        /// Data directory (overrides config `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Settings file (default: config/default.toml, if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Do not seed demo shows on an empty data directory.
        #[arg(long)]
        no_demo: bool,
    },
}

fn main() -> std::process::ExitCode {
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
    }
}

async fn serve(settings: Settings) -> std::io::Result<()> {
    let running = boxoffice::http::start(&settings).await?;
    // Tests and scripts read this line to learn the port (with --bind :0).
    println!("listening on http://{}", running.addr);
    std::io::stdout().flush()?;
    tracing::info!(addr = %running.addr, data_dir = %settings.data_dir.display(), "serving");
    let handle = running.server.handle();
    let shutdown = running.shutdown_sender();
    actix_web::rt::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        boxoffice::http::Running::stop(handle, &shutdown).await;
    });
    let store = running.store.clone();
    running.server.await?;
    boxoffice::store::Store::flush(&*store).map_err(std::io::Error::other)?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
