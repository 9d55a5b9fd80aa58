//! Runs the browser tests (`tests/e2e/*.test.mjs`, node's test runner with
//! playwright-core driving Debian's headless Chromium) as part of
//! `cargo test`.
//!
//! Its own binary: it shells out to node, which starts the server and
//! Chromium, and it times a hold's countdown on screen, so it runs alone
//! (cargo runs test binaries one after another) rather than beside the
//! loaded servers of the other tests. It links nothing of the crate, so
//! the binary costs next to nothing to build.
//!
//! Where `node_modules` lacks playwright-core, the test installs the npm
//! packages itself (`npm ci`, from package-lock.json) before it runs them.
//! Where Chromium or node is missing, or npm to install the packages, the
//! test shows as ignored (its own harness, `harness = false`: ../harness,
//! asks when the tests run), except under CI=true: CI installs them
//! (`.ci/run`), so a missing browser there is a broken setup, and the test
//! runs and fails.

#[path = "harness/mod.rs"]
mod harness;

use libtest_mimic::Trial;
use std::path::{Path, PathBuf};
use std::process::Command;

const NAME: &str = "booking_page_in_headless_chromium";

fn main() {
    let harness = harness::Harness::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let chromium = chromium();
    let missing = missing(&root, &chromium);
    let ignored = !missing.is_empty() && !harness::ci();
    if !missing.is_empty() && !harness.lists() && harness.selects(NAME) {
        let what = if ignored {
            "ignored"
        } else {
            "run under CI=true, and fails"
        };
        eprintln!(
            "the browser test needs {}: it is {what}",
            missing.join(", ")
        );
    }
    let test = Trial::test(NAME, move || {
        booking_page_in_headless_chromium(&root, &chromium);
        Ok(())
    });
    harness.run(vec![test.with_ignored_flag(ignored)])
}

/// `$CHROMIUM_PATH`, else Debian's.
fn chromium() -> String {
    std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// What the browser tests need and is not there: Chromium, node, and
/// playwright-core or npm to install it.
fn missing(root: &Path, chromium: &str) -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(chromium).exists() {
        missing.push(format!(
            "Chromium at {chromium} (apt-get install -y chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_string());
    }
    if !root.join("node_modules/playwright-core").exists()
        && Command::new("npm").arg("--version").output().is_err()
    {
        missing.push("node_modules/playwright-core, or npm to install it (npm ci)".to_string());
    }
    missing
}

/// `npm ci` in `root` when playwright-core is not installed.
fn install_npm_packages(root: &Path) {
    if root.join("node_modules/playwright-core").exists() {
        return;
    }
    eprintln!("installing the browser tests' npm packages: npm ci");
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(root)
        .output()
        .expect("run npm ci (apt-get install -y npm)");
    assert!(
        output.status.success(),
        "npm ci failed (the browser tests need its packages; run `npm ci` in {}):\n{}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs tests/e2e with node's test runner; node's report is shown where
/// they fail.
fn booking_page_in_headless_chromium(root: &Path, chromium: &str) {
    let missing = missing(root, chromium);
    assert!(
        missing.is_empty(),
        "browser tests need: {}",
        missing.join(", ")
    );
    install_npm_packages(root);
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/e2e/"])
        .current_dir(root)
        .env("BOXOFFICE_BIN", env!("CARGO_BIN_EXE_boxoffice"))
        .env("CHROMIUM_PATH", chromium)
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "browser tests ran nothing or failed:\n{stdout}\n{stderr}"
    );
}
