//! `boxoffice simulate`: a crowd of concurrent clients against an engine,
//! with faults, crashes and an invariant checker.
//!
//! Why it exists: "does this engine hold up when a premiere goes on sale?"
//! is answered by running one, with lost responses, duplicates, slow
//! clients and crashes, then checking the recorded history and the final
//! state against the promises (see `checker`). A seed fixes the workload
//! and the fault schedule; thread timing still varies between runs.

pub mod checker;
pub mod client;
pub mod cluster;
pub mod engine_facts;
pub mod history;
mod netns;
mod read_back;
pub mod report;
mod run_config;
mod staff;
mod summary;
pub mod target;
pub mod workload;

use client::{Client, Shared};
use history::{BookingObs, FinalState, History, Op};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{Plan, Scenario, Venue};

pub use run_config::SimConfig;
pub use summary::{StaffCounts, Summary};

/// What a run found.
pub struct Outcome {
    pub history: History,
    pub final_state: FinalState,
    pub violations: Vec<checker::Violation>,
    pub summary: Summary,
    /// Cluster runs with a violation: the last lines each node logged.
    pub node_logs: Option<String>,
}

/// The server the run drives, kept so it can be crashed.
enum Server {
    InProcess(Box<dyn target::LocalEngine>),
    External(target::External),
    Remote,
    /// Nodes on PostgreSQL; faults come from `cluster::inject`, not crashes.
    Cluster(Arc<std::sync::Mutex<cluster::Cluster>>),
}

impl Server {
    fn crash_and_restart(&mut self) -> std::io::Result<bool> {
        match self {
            Server::InProcess(s) => s.crash_and_restart().map(|_| true),
            Server::External(s) => s.crash_and_restart().map(|_| true),
            Server::Remote | Server::Cluster(_) => Ok(false),
        }
    }
}

fn row_label(index: usize) -> String {
    let mut label = String::new();
    let mut n = index + 1;
    while n > 0 {
        label.insert(0, (b'A' + ((n - 1) % 26) as u8) as char);
        n = (n - 1) / 26;
    }
    label
}

/// Runs a simulation. Must run inside a tokio runtime.
pub async fn run(config: SimConfig) -> std::io::Result<Outcome> {
    let (bases, admin, server) = start_server(&config).await?;
    let hold_ttl = Duration::from_secs(config.hold_ttl_secs);
    let shared = Shared::new(
        bases,
        config.faults,
        hold_ttl.as_millis() as u64,
        config.users,
    );
    let venue = create_venue(&shared, admin.as_deref(), &config).await?;
    let capacity = venue.rows.iter().map(|(_, n)| *n as u64).sum::<u64>();

    // Sessions first, so the crowd is released together.
    let clients = open_sessions(&shared, &config).await?;
    let tokens: Vec<String> = clients.iter().map(|c| c.token.clone()).collect();
    if config.scenario == Scenario::HotSeat {
        // Every user has the booking page open, seat map loaded, when the
        // seat goes on sale: each has its connection before the release.
        let path = format!("/v1/shows/{}", venue.show);
        futures_util::future::join_all(clients.iter().map(|c| c.get(&path))).await;
    }

    // The box office's staff work with the admin token the show was
    // created with.
    let staff_token = (config.scenario == Scenario::BoxOffice)
        .then(|| admin.clone())
        .flatten();
    let staff = staff_token.as_ref().map_or(0, |_| staff::STAFF);

    let started = Instant::now();
    let plan = plan_for(&config, started, hold_ttl);
    let progress = progress_bar(config.progress, (config.users + staff) as u64);
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        tasks.spawn(workload::run_user(client, venue.clone(), plan));
    }
    for member in 0..staff {
        let user = config.users + member;
        let client = Client {
            user,
            token: staff_token.clone().unwrap_or_default(),
            shared: shared.clone(),
            rng: StdRng::seed_from_u64(
                config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ user as u64,
            ),
        };
        tasks.spawn(staff::run_staff(client, venue.clone(), plan));
    }
    let faults = match (&server, &config.cluster) {
        (Server::Cluster(nodes), Some(cluster_plan)) => Some(tokio::spawn(cluster::inject(
            nodes.clone(),
            cluster_plan.clone(),
            venue.show.clone(),
            plan.until,
        ))),
        _ => None,
    };
    let server = Arc::new(std::sync::Mutex::new(server));
    let crashes = supervise(&mut tasks, &server, &shared, &progress, &config, started).await?;
    progress.finish_and_clear();
    let elapsed = started.elapsed();
    let node_counters = match &*server.lock().expect("server") {
        Server::Cluster(nodes) if config.cluster.is_some() => {
            Some(nodes.lock().expect("cluster").bases())
        }
        _ => None,
    };
    let (fault_records, fenced) = match faults {
        Some(task) => {
            let (records, fenced) = task.await.map_err(std::io::Error::other)??;
            (records, Some(fenced))
        }
        None => (Vec::new(), None),
    };

    // Holds lapse within the TTL; the map shows it within a second.
    let final_state =
        read_back::final_state(&shared, &venue, &tokens, staff_token.as_deref()).await;
    let history = shared.history.lock().expect("history").clone();
    let mut violations = checker::check(&history, &final_state);
    if let Some(plan) = &config.cluster {
        violations.extend(checker::late_takeovers(&fault_records, plan.lease_ms));
    }
    let (outage_violations, outage_answers) =
        checker::writes_during_outage(&fault_records, &history);
    violations.extend(outage_violations);
    // The store the engine left behind agrees with itself (`boxoffice
    // check`), where the run owns it.
    if let Server::InProcess(engine) = &mut *server.lock().expect("server") {
        for problem in engine.stop_and_check_store()? {
            violations.push(checker::Violation::new(
                "store_consistent",
                problem,
                Vec::new(),
            ));
        }
    }
    let mut summary = summarize(&shared, &history, &final_state, capacity, crashes, elapsed);
    if staff > 0 {
        summary.staff = Some(summary::StaffCounts::of(&history));
    }
    summary.faults = fault_records;
    summary.fenced = fenced;
    summary.outage_answers = outage_answers;
    if let Some(bases) = node_counters {
        summary.node_counters = Some(cluster::node_counters(&bases).await);
    }
    if let Some(dir) = &config.report {
        report::write(
            dir,
            &config,
            &history,
            &final_state,
            &venue,
            &summary,
            &violations,
        )?;
    }
    let node_logs = match &*server.lock().expect("server") {
        Server::Cluster(nodes) if !violations.is_empty() => {
            Some(nodes.lock().expect("cluster").logs_tail(15))
        }
        _ => None,
    };
    drop(server);
    Ok(Outcome {
        history,
        final_state,
        violations,
        summary,
        node_logs,
    })
}

/// The server the run drives: started here (in process, by the given
/// command, or a cluster of nodes), or servers already running. Returns
/// their base URLs, the admin token to create the show with, and the handle
/// to crash them by.
async fn start_server(
    config: &SimConfig,
) -> std::io::Result<(Vec<String>, Option<String>, Server)> {
    let ttl_secs = config.hold_ttl_secs;
    if let Some(plan) = config.cluster.clone() {
        let nodes = tokio::task::spawn_blocking(move || cluster::Cluster::start(&plan, ttl_secs))
            .await
            .map_err(std::io::Error::other)??;
        return Ok((
            nodes.bases(),
            Some(target::SIM_ADMIN_TOKEN.to_string()),
            Server::Cluster(Arc::new(std::sync::Mutex::new(nodes))),
        ));
    }
    Ok(match (config.targets.as_slice(), &config.server_cmd) {
        ([base], Some(cmd)) => {
            let server = target::External::start(cmd, base)?;
            (
                vec![base.clone()],
                config.admin_token.clone(),
                Server::External(server),
            )
        }
        ([_, _, ..], Some(_)) => {
            return Err(std::io::Error::other(
                "--server-cmd starts one server: give one --target",
            ))
        }
        ([_, ..], None) => (
            config.targets.clone(),
            config.admin_token.clone(),
            Server::Remote,
        ),
        ([], _) => {
            let Some(engines) = config.local_engine.clone() else {
                return Err(std::io::Error::other(
                    "no target: give --target, or run the simulator from a program that \
                     supplies an engine in its process",
                ));
            };
            let server = tokio::task::spawn_blocking(move || (engines.0)(ttl_secs))
                .await
                .map_err(std::io::Error::other)??;
            let base = server.base_url();
            (
                vec![base],
                Some(target::SIM_ADMIN_TOKEN.to_string()),
                Server::InProcess(server),
            )
        }
    })
}

/// One client per user, each with its own session and its own seeded rng.
async fn open_sessions(shared: &Arc<Shared>, config: &SimConfig) -> std::io::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(config.users);
    for user in 0..config.users {
        let token = new_session(shared).await?;
        clients.push(Client {
            user,
            token,
            shared: shared.clone(),
            rng: StdRng::seed_from_u64(
                config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ user as u64,
            ),
        });
    }
    Ok(clients)
}

/// What every user does, from `started` on.
fn plan_for(config: &SimConfig, started: Instant, hold_ttl: Duration) -> Plan {
    Plan {
        scenario: config.scenario,
        ramp: if matches!(
            config.scenario,
            Scenario::Steady | Scenario::Churn | Scenario::BoxOffice
        ) {
            Duration::from_millis(200)
        } else {
            config.duration
        },
        until: started + config.duration,
        hold_ttl,
    }
}

/// Waits for the crowd to finish, showing progress and crashing the server
/// on schedule meanwhile; users still running long after the run should
/// have ended are aborted. Returns how many times the server crashed.
async fn supervise(
    tasks: &mut tokio::task::JoinSet<()>,
    server: &Arc<std::sync::Mutex<Server>>,
    shared: &Shared,
    progress: &indicatif::ProgressBar,
    config: &SimConfig,
    started: Instant,
) -> std::io::Result<u64> {
    let mut crashes = 0u64;
    let mut next_crash = config.crash_every.map(|every| Instant::now() + every);
    let mut finished = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let limit = started + config.duration * 4 + Duration::from_secs(60);
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => {
                if let Some(Err(error)) = done {
                    return Err(std::io::Error::other(format!("a simulated user failed: {error}")));
                }
                finished += 1;
                progress.set_position(finished);
            }
            _ = tick.tick() => {
                show_rates(progress, shared, started);
                if next_crash.is_some_and(|at| Instant::now() >= at) {
                    if crash_and_restart(server).await? {
                        crashes += 1;
                    }
                    next_crash = config.crash_every.map(|every| Instant::now() + every);
                }
                if Instant::now() > limit {
                    tasks.abort_all();
                }
            }
        }
    }
    Ok(crashes)
}

/// The progress line: requests per second, conflicts and retries so far.
fn show_rates(progress: &indicatif::ProgressBar, shared: &Shared, started: Instant) {
    let elapsed = started.elapsed().as_secs_f64().max(0.001);
    let stats = &shared.stats;
    progress.set_message(format!(
        "{:.0} req/s, {} conflicts, {} retries",
        stats.requests.load(Ordering::Relaxed) as f64 / elapsed,
        stats.conflicts.load(Ordering::Relaxed),
        stats.retries.load(Ordering::Relaxed),
    ));
}

/// Crashes and restarts the server off the async threads; `false` if it
/// cannot be crashed (a remote target).
async fn crash_and_restart(server: &Arc<std::sync::Mutex<Server>>) -> std::io::Result<bool> {
    let server = server.clone();
    tokio::task::spawn_blocking(move || server.lock().expect("server").crash_and_restart())
        .await
        .map_err(std::io::Error::other)?
}

fn progress_bar(visible: bool, users: u64) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(users);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} users done  {msg}",
        )
        .expect("template"),
    );
    bar
}

async fn new_session(shared: &Shared) -> std::io::Result<String> {
    for _ in 0..20 {
        if let Ok(response) = shared
            .http
            .post(format!("{}/v1/sessions", shared.base()))
            .send()
            .await
        {
            if response.status().as_u16() == 201 {
                if let Ok(body) = response.json::<serde_json::Value>().await {
                    if let Some(token) = body["token"].as_str() {
                        return Ok(token.to_string());
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(std::io::Error::other("could not create a session"))
}

async fn create_venue(
    shared: &Shared,
    admin: Option<&str>,
    config: &SimConfig,
) -> std::io::Result<Venue> {
    let admin = admin.ok_or_else(|| {
        std::io::Error::other("--admin-token is needed to create the show on a remote target")
    })?;
    let rows: Vec<(String, u32)> = (0..config.rows)
        .map(|i| (row_label(i), config.seats_per_row))
        .collect();
    let mut body = json!({
        "title": format!("Simulated {:?} (seed {})", config.scenario, config.seed),
        "starts_at": "2030-01-01T20:00:00Z",
        "rows": rows.iter().map(|(l, n)| json!({"label": l, "seats": n})).collect::<Vec<_>>(),
    });
    if config.scenario == Scenario::BoxOffice {
        // Priced seats in two categories, so the sales figures have money
        // and categories to get right: the front half of the rows are
        // stalls, the rest circle.
        body["categories"] = json!([
            {"id": "stalls", "name": "Stalls", "price_cents": 4500},
            {"id": "circle", "name": "Circle", "price_cents": 2800},
        ]);
        for (i, row) in body["rows"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let front = i < rows.len().div_ceil(2);
            row["category"] = json!(if front { "stalls" } else { "circle" });
        }
    }
    let response = shared
        .http
        .post(format!("{}/v1/shows", shared.base()))
        .bearer_auth(admin)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(std::io::Error::other)?;
    if status.as_u16() != 201 {
        return Err(std::io::Error::other(format!(
            "creating the show: {status} {body}"
        )));
    }
    Ok(Venue {
        show: body["id"].as_str().unwrap_or_default().to_string(),
        rows,
    })
}

fn summarize(
    shared: &Shared,
    history: &History,
    final_state: &FinalState,
    capacity: u64,
    crashes: u64,
    elapsed: Duration,
) -> Summary {
    let stats = &shared.stats;
    let latency = shared.latency_us.lock().expect("histogram");
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let confirmed: Vec<&BookingObs> = final_state
        .bookings
        .iter()
        .filter(|b| b.confirmed)
        .collect();
    let seats_sold = confirmed.iter().map(|b| b.seats.len() as u64).sum::<u64>();
    let first = history.events.iter().map(|e| e.start_ms).min().unwrap_or(0);
    let sold_out_secs = (seats_sold == capacity && capacity > 0)
        .then(|| {
            history
                .events
                .iter()
                .filter(|e| e.ok() && matches!(e.op, Op::Book { .. } | Op::Checkout { .. }))
                .map(|e| e.end_ms)
                .max()
                .map(|last| (last.saturating_sub(first)) as f64 / 1000.0)
        })
        .flatten();
    Summary {
        requests: stats.requests.load(Ordering::Relaxed),
        bookings: confirmed.len() as u64,
        seats_sold,
        capacity,
        conflicts: stats.conflicts.load(Ordering::Relaxed),
        retries: stats.retries.load(Ordering::Relaxed),
        replays: stats.replays.load(Ordering::Relaxed),
        overloaded: stats.overloaded.load(Ordering::Relaxed),
        no_answer: stats.no_answer.load(Ordering::Relaxed),
        crashes,
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        max_ms: latency.max() as f64 / 1000.0,
        elapsed_secs: elapsed.as_secs_f64(),
        seats_per_sec: seats_sold as f64 / elapsed.as_secs_f64().max(0.001),
        sold_out_secs,
        faults: Vec::new(),
        fenced: None,
        node_counters: None,
        outage_answers: None,
        staff: None,
    }
}
