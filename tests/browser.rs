//! Runs the browser tests (`tests/e2e/*.test.mjs`, node's test runner with
//! playwright-core driving Debian's headless Chromium) as part of
//! `cargo test`.
//!
//! Where Chromium, node or playwright-core is missing the test says so
//! loudly and passes, except under CI=true, where it fails: CI installs
//! them (`.ci/run`), so a missing browser there is a broken setup.

use std::path::Path;
use std::process::Command;

#[test]
fn booking_page_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut missing = Vec::new();
    if !Path::new(&chromium).exists() {
        missing.push(format!(
            "Chromium at {chromium} (apt-get install -y chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_string());
    }
    if !root.join("node_modules/playwright-core").exists() {
        missing.push("node_modules/playwright-core (npm ci)".to_string());
    }
    if !missing.is_empty() {
        let message = format!("browser tests need: {}", missing.join(", "));
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("\n**********\nSKIPPED the browser tests: {message}\n**********\n");
        return;
    }
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/e2e/"])
        .current_dir(root)
        .env("BOXOFFICE_BIN", env!("CARGO_BIN_EXE_boxoffice"))
        .env("CHROMIUM_PATH", &chromium)
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "browser tests failed:\n{stdout}");
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "browser tests ran nothing or failed:\n{stdout}"
    );
}
