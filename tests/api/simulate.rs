//! Short seeded simulations of each scenario, with faults and crashes:
//! the checker must find nothing.

use crate::helpers::{api_test, local_engines};
use boxoffice_sim::{self as sim, client::Faults, workload::Scenario, SimConfig};
use std::process::Command;
use std::time::Duration;

fn faults() -> Faults {
    Faults {
        lost_response: 0.1,
        duplicate: 0.1,
        concurrent_duplicate: 0.1,
        slow_client: 0.05,
    }
}

/// Runs against an engine in this process (a new sled directory).
async fn run_clean(config: SimConfig) -> sim::Outcome {
    let config = SimConfig {
        local_engine: Some(local_engines()),
        ..config
    };
    let outcome = sim::run(config).await.expect("simulation runs");
    for violation in &outcome.violations {
        eprintln!("{}", sim::checker::describe(&outcome.history, violation));
    }
    assert!(outcome.violations.is_empty(), "{}", outcome.summary.table());
    outcome
}

#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn premiere_with_faults_and_crashes_keeps_every_promise() {
    let outcome = run_clean(SimConfig {
        scenario: Scenario::Premiere,
        users: 300,
        seed: 7,
        rows: 8,
        seats_per_row: 16,
        duration: Duration::from_millis(1500),
        faults: faults(),
        crash_every: Some(Duration::from_millis(400)),
        hold_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let summary = &outcome.summary;
    assert!(summary.crashes >= 1, "{}", summary.table());
    assert!(summary.seats_sold > 0 && summary.seats_sold <= summary.capacity);
    assert!(summary.replays > 0, "faults must cause replays");
    assert!(summary.conflicts > 0, "a premiere has conflicts");
}

#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn steady_traffic_with_lapsing_holds_keeps_every_promise() {
    let outcome = run_clean(SimConfig {
        scenario: Scenario::Steady,
        users: 40,
        seed: 11,
        rows: 6,
        seats_per_row: 12,
        duration: Duration::from_secs(3),
        faults: Faults {
            slow_client: 0.2,
            ..faults()
        },
        crash_every: Some(Duration::from_millis(900)),
        hold_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    assert!(
        outcome.summary.requests > 100,
        "{}",
        outcome.summary.table()
    );
}

#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_seat_has_exactly_one_buyer() {
    let outcome = run_clean(SimConfig {
        scenario: Scenario::HotSeat,
        users: 300,
        seed: 3,
        rows: 2,
        seats_per_row: 10,
        duration: Duration::from_millis(200),
        faults: faults(),
        ..SimConfig::default()
    })
    .await;
    let confirmed: Vec<_> = outcome
        .final_state
        .bookings
        .iter()
        .filter(|b| b.confirmed)
        .collect();
    assert_eq!(confirmed.len(), 1, "{:?}", confirmed);
    assert_eq!(confirmed[0].seats, vec!["A5".to_string()]);
}

/// Staff block and unblock seats the crowd wants and cancel bookings on
/// customers' behalf, through crashes and faults: the checker's staff rules
/// (no blocked seat sold or held, the sales figures equal the bookings, who
/// cancelled) hold along with the others, and the staff really did all of
/// it, some of the crowd refused for a block.
#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn box_office_staff_amid_the_crowd_keep_every_promise() {
    let outcome = run_clean(SimConfig {
        scenario: Scenario::BoxOffice,
        users: 60,
        seed: 17,
        rows: 4,
        seats_per_row: 12,
        duration: Duration::from_millis(2500),
        faults: faults(),
        crash_every: Some(Duration::from_millis(1000)),
        hold_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let summary = &outcome.summary;
    let staff = summary
        .staff
        .clone()
        .expect("a box-office run counts its staff");
    assert!(
        staff.blocks > 0,
        "no block acknowledged\n{}",
        summary.table()
    );
    assert!(
        staff.unblocks > 0,
        "no unblock acknowledged\n{}",
        summary.table()
    );
    assert!(
        staff.cancels_on_behalf > 0,
        "no cancel on behalf acknowledged\n{}",
        summary.table()
    );
    assert!(
        staff.refused_for_block > 0,
        "no booking or hold refused for a block\n{}",
        summary.table()
    );
    let box_office = outcome
        .final_state
        .box_office
        .as_ref()
        .expect("staff read-back");
    let listed = box_office
        .bookings
        .as_ref()
        .expect("the staff list was read");
    // Read back 10 to a page: the cursors were followed (23 bookings were
    // the fewest seen, with two test runs at once on two cores).
    assert!(listed.len() > 10, "{}", listed.len());
    let cancelled_by = |who: &str| {
        listed
            .iter()
            .filter(|b| b.cancelled_by.as_deref() == Some(who))
            .count()
    };
    assert!(cancelled_by("box-office") > 0, "{listed:#?}");
    assert!(cancelled_by("customer") > 0, "{listed:#?}");
    // The show is priced, so the figures have money to get right.
    let sales = box_office
        .sales
        .as_ref()
        .expect("the sales figures were read");
    assert!(sales["revenue_cents"].as_i64() > Some(0), "{sales}");
}

/// The command line over HTTP against a real server it kills with -9 and
/// restarts, writing a report.
#[api_test]
fn simulate_command_drives_a_server_it_kill_dashes_nine() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = env!("CARGO_BIN_EXE_boxoffice");
    let data = dir.path().join("data");
    let server_cmd = format!(
        "{bin} serve --bind 127.0.0.1:{port} --no-demo --data-dir {}",
        data.display()
    );
    let report = dir.path().join("report");
    let output = Command::new(bin)
        .args(["simulate", "--quiet", "--users", "120", "--seed", "5"])
        .args([
            "--duration-secs",
            "1.5",
            "--crash-every",
            "0.5",
            "--lost-response",
            "0.1",
        ])
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .args(["--server-cmd", &server_cmd])
        .arg("--report")
        .arg(&report)
        .env("BOXOFFICE_ADMIN_TOKEN", "sim-admin")
        .env("BOXOFFICE_USER_RATE_LIMIT", "0")
        .env("RUST_LOG", "error")
        .current_dir(dir.path())
        .output()
        .expect("run boxoffice simulate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("checker: no violation"), "{stdout}");
    assert!(stdout.contains("| engine crashes |"), "{stdout}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("When each seat sold"));
}

/// The simulator does not link the engine; what it knows of it beyond the
/// HTTP contract must be the engine's own.
#[api_test]
fn the_simulators_facts_are_the_engines() {
    use boxoffice_sim::engine_facts;
    assert_eq!(engine_facts::FORWARDED, boxoffice::http::FORWARDED);
    assert_eq!(
        engine_facts::STOP_IN_COMMIT_WITHIN_MS,
        boxoffice::cluster::leases::STOP_IN_COMMIT_WITHIN_MS
    );
    assert_eq!(
        boxoffice_sim::target::SIM_ADMIN_TOKEN,
        boxoffice::in_process::IN_PROCESS_ADMIN_TOKEN
    );
}
