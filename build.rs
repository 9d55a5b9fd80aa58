//! Tells the browser test (`tests/browser.rs`) whether it can run: where
//! Chromium (`$CHROMIUM_PATH`, else /usr/bin/chromium), node (on `PATH`) or
//! `node_modules/playwright-core` is missing it sets `cfg(browser_missing)`,
//! which marks the test ignored, so that it shows as ignored in the test
//! summary instead of passing. Under CI=true it never does: CI installs
//! them, and a missing browser there must fail the test.
//!
//! Cargo reruns this script when a watched path changes. A watched path
//! that does not exist makes cargo rerun it on every build (and rebuild
//! the crate), and a watched directory is scanned whole; so it watches
//! only what exists: the file it found, or for a missing one the nearest
//! directory that gets a new entry when it is installed (never the package
//! root, which would scan `target/`).

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(browser_missing)");
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CI", "CHROMIUM_PATH", "PATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));

    let mut missing = Vec::new();
    let chromium = env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !found(&chromium, chromium.parent()) {
        missing.push(format!("Chromium at {}", chromium.display()));
    }
    if !node_on_path() {
        missing.push("node".to_string());
    }
    let playwright = root.join("node_modules/playwright-core/package.json");
    let node_modules = root.join("node_modules");
    // npm rewrites node_modules/.package-lock.json on every install; with
    // no node_modules at all, package-lock.json is what `npm ci` installs
    // from (cargo cannot watch for node_modules to appear without scanning
    // the package root).
    let hidden_lock = node_modules.join(".package-lock.json");
    let installs = if hidden_lock.exists() {
        hidden_lock
    } else if node_modules.is_dir() {
        node_modules
    } else {
        root.join("package-lock.json")
    };
    if !found(&playwright, Some(&installs)) {
        missing.push("node_modules/playwright-core (npm ci)".to_string());
    }

    let ci = env::var("CI").is_ok_and(|v| v == "true");
    if !missing.is_empty() && !ci {
        println!("cargo::rustc-cfg=browser_missing");
        println!(
            "cargo::warning=the browser test will show as ignored: missing {}",
            missing.join(", ")
        );
    }
}

/// Whether `path` exists; watches it if so, else `instead` (when that
/// exists), which changes when `path` is installed.
fn found(path: &Path, instead: Option<&Path>) -> bool {
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
        return true;
    }
    if let Some(instead) = instead.filter(|p| p.exists()) {
        println!("cargo::rerun-if-changed={}", instead.display());
    }
    false
}

/// Whether an executable `node` is on `PATH`; watches it, or where it is
/// not found, the (flat) directories of `PATH` that exist.
fn node_on_path() -> bool {
    let dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(node) = dirs.iter().map(|d| d.join("node")).find(|n| n.is_file()) {
        println!("cargo::rerun-if-changed={}", node.display());
        return true;
    }
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    false
}
