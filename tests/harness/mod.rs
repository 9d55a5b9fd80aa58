//! The harness of the `api` and `browser` test binaries (both
//! `harness = false`; each includes this file as its module `harness`):
//! libtest's command line and output through libtest-mimic, whose tests,
//! unlike libtest's, can be marked ignored when the tests run: where the
//! machine lacks what a test needs, the test shows as ignored in the
//! summary instead of passing, or failing for want of a tool.
//!
//! It adds to libtest-mimic what the project's commands use of libtest:
//! several filters (`cargo test --test api -- crash_ hung_store::`; a test
//! runs if its name contains any of them, or equals one with `--exact`),
//! and `RUST_TEST_THREADS` where `--test-threads` is not given. A test that
//! panics fails (libtest-mimic catches the panic).

// Each binary uses its own part of it.
#![allow(dead_code)]

use libtest_mimic::{Arguments, Trial};

/// Whether this is a CI run (`CI=true`): there nothing the machine lacks
/// marks a test ignored; the test runs and fails.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// libtest-mimic's options that take a value (the next argument when not
/// written `--name=value`): whatever else does not start with `-` is a
/// filter.
const TAKES_VALUE: &[&str] = &[
    "--test-threads",
    "--logfile",
    "--skip",
    "--color",
    "--format",
    "-Z",
];

/// The name of a stand-in for each test that the filters leave out:
/// libtest-mimic takes one filter only, so this harness selects the tests
/// itself and has libtest-mimic skip the stand-ins, which it counts as
/// "filtered out" in its summary as libtest does. No test's name holds it.
const LEFT_OUT: &str = "\u{0}left out";

/// The command line: libtest-mimic's, and the filters.
pub struct Harness {
    args: Arguments,
    filters: Vec<String>,
    skips: Vec<String>,
}

impl Harness {
    /// Reads the command line (libtest's options; exits on a bad one, or
    /// after `--help`).
    pub fn from_args() -> Harness {
        let mut rest = Vec::new();
        let mut filters = Vec::new();
        let mut args = std::env::args();
        rest.extend(args.next());
        while let Some(arg) = args.next() {
            if arg == "--" {
                filters.extend(args.by_ref());
            } else if TAKES_VALUE.contains(&arg.as_str()) {
                rest.push(arg);
                rest.extend(args.next());
            } else if arg.starts_with('-') && arg != "-" {
                rest.push(arg);
            } else {
                filters.push(arg);
            }
        }
        let mut args = Arguments::from_iter(rest);
        if args.test_threads.is_none() {
            args.test_threads = std::env::var("RUST_TEST_THREADS")
                .ok()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0);
        }
        let skips = std::mem::take(&mut args.skip);
        Harness {
            args,
            filters,
            skips,
        }
    }

    /// Whether the filters and `--skip` select the test `name` (libtest's
    /// rule: any filter, none of the skips; by substring, or whole with
    /// `--exact`).
    pub fn selects(&self, name: &str) -> bool {
        let matches = |pattern: &String| {
            if self.args.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }

    /// Whether this run only lists the tests (`--list`).
    pub fn lists(&self) -> bool {
        self.args.list
    }

    /// Whether ignored tests run too (`--ignored`, `--include-ignored`).
    pub fn runs_ignored(&self) -> bool {
        self.args.ignored || self.args.include_ignored
    }

    /// Runs (or lists) the selected `trials`, in name order as libtest
    /// does, prints the summary, and exits: 101 if a test failed.
    pub fn run(mut self, trials: Vec<Trial>) -> ! {
        let filtering = !self.filters.is_empty() || !self.skips.is_empty();
        let mut trials: Vec<Trial> = trials
            .into_iter()
            .map(|trial| {
                if !filtering || self.selects(trial.name()) {
                    trial
                } else {
                    Trial::test(LEFT_OUT, || Ok(()))
                }
            })
            .collect();
        trials.sort_by(|a, b| a.name().cmp(b.name()));
        if filtering {
            self.args.skip = vec![LEFT_OUT.to_string()];
        }
        libtest_mimic::run(&self.args, trials).exit()
    }
}
