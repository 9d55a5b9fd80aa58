//! The integration tests, one binary (a module per feature, one `helpers`
//! module): every rule of docs/API.md over HTTP against servers on port 0 with
//! storage of their own, in this process or as the real binary. Every test
//! that concerns the store is written once and runs on each store
//! (`store_test!`: `<test>::sled` and `<test>::postgres`, on a PostgreSQL
//! the tests start themselves); `postgres` holds what only PostgreSQL
//! meets (an outage, the connection pool, migrations).
//!
//! Two tests live in binaries of their own: `commit_queue` configures
//! `fail` failpoints, which are global to a process, and `browser` drives
//! Chromium through node and runs alone, timing a hold's countdown on
//! screen.
//!
//! Its own harness (`harness = false`, libtest-mimic: ../harness): each
//! test registers itself with `#[api_test]` (tests/macros) in
//! `helpers::registry::API_TESTS`, with what it needs of the machine
//! (`helpers::environment::Need`). Before anything runs, `main` asks the
//! machine once what it lacks, and marks each test that needs it ignored,
//! saying so once at the start; so a test that cannot run here shows as
//! ignored in the summary, never as passed. Under CI=true nothing the
//! machine lacks marks a test ignored: the test runs and fails. Names and
//! command line are libtest's (`cargo test --test api -- crash_
//! hung_store:: --skip sled --exact --include-ignored --list
//! --test-threads 4`). A `#[test]` or `#[tokio::test]` here would compile
//! and never run: the binary refuses to run while there is one.

#[path = "../harness/mod.rs"]
mod harness;
mod helpers;

mod abuse;
mod actors;
mod best_available;
mod bookings;
mod box_office;
mod carts;
mod client_limits;
mod cluster;
mod cluster_box_office;
mod crash_matrix;
mod dump;
mod durability;
mod effect_with_key;
mod event_resume;
mod holds_and_limits;
mod http_hygiene;
mod hung_store;
mod idempotency;
mod identity;
mod key_expiry;
mod key_lookup;
mod kill9;
mod lapsed_hold;
mod model;
mod node_restart;
mod offer;
mod operations;
mod postgres;
mod power_cut;
mod power_cut_sled;
mod races;
mod reply_after_durable;
mod requests;
mod show_bookings;
mod shows;
mod simulate;
mod smoke;
mod store_format;

use helpers::environment::Need;
use helpers::registry::API_TESTS;
use libtest_mimic::Trial;

fn main() {
    let stray = unregistered_tests();
    if !stray.is_empty() {
        eprintln!(
            "a #[test] or #[tokio::test] in tests/api compiles and never runs (this binary \
             runs what #[api_test] registers): use #[api_test] at\n  {}",
            stray.join("\n  ")
        );
        std::process::exit(101);
    }
    let harness = harness::Harness::from_args();
    let ci = harness::ci();
    // What the machine (or the build) lacks, asked once: each need's
    // reason, and how many of the selected tests it keeps from running.
    let mut missing: Vec<(Need, String, usize)> = Need::ALL
        .into_iter()
        .filter_map(|need| Some((need, need.missing()?, 0)))
        .collect();
    let mut trials = Vec::new();
    for test in API_TESTS.iter() {
        let name = test.full_name();
        let mut ignored = test.ignore.is_some();
        for (need, _, count) in missing.iter_mut().filter(|(n, ..)| test.needs.contains(n)) {
            if harness.selects(&name) {
                *count += 1;
            }
            ignored |= !(ci && need.of_the_machine());
        }
        let run = test.run;
        trials.push(
            Trial::test(name, move || {
                run();
                Ok(())
            })
            .with_ignored_flag(ignored),
        );
    }
    if !harness.lists() {
        for (need, reason, count) in missing.iter().filter(|(.., count)| *count > 0) {
            if ci && need.of_the_machine() {
                eprintln!("{reason}: under CI=true its {count} tests run, and fail");
            } else if harness.runs_ignored() {
                eprintln!("{reason}: {count} tests ignored, run all the same");
            } else {
                eprintln!("{reason}: {count} tests ignored");
            }
        }
    }
    harness.run(trials)
}

/// Where tests/api has a `#[test]` or `#[tokio::test]`: each would compile
/// and never run, this binary's harness running only what `#[api_test]`
/// registers. Read from the source, when it is there.
fn unregistered_tests() -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api")];
    while let Some(dir) = dirs.pop() {
        for path in std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for (number, line) in text.lines().enumerate() {
                    let line = line.trim_start();
                    if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
                        found.push(format!("{}:{}", path.display(), number + 1));
                    }
                }
            }
        }
    }
    found.sort();
    found
}
