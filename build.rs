//! Tells the browser test (`tests/browser.rs`) whether it can run: where
//! Chromium (`$CHROMIUM_PATH`, else /usr/bin/chromium) or node (on `PATH`)
//! is missing, or `node_modules/playwright-core` is and no `npm` could
//! install it (the test runs `npm ci` itself when npm is there), it sets
//! `cfg(browser_missing)`, which marks the test ignored, so that it shows
//! as ignored in the test summary instead of passing. Under CI=true it
//! never does: CI installs them, and a missing browser there must fail the
//! test.
//!
//! Likewise for the PostgreSQL tests (the `postgres` variant of every test
//! that runs on both stores, and `tests/api/postgres.rs`): where no
//! `initdb` and `pg_ctl` are found (`$PG_BIN`, else the newest
//! /usr/lib/postgresql/*/bin, else `PATH`; the same search as
//! `tests/api/helpers/postgres.rs`) it sets `cfg(postgres_missing)`, never
//! under CI=true.
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
    println!("cargo::rustc-check-cfg=cfg(postgres_missing)");
    println!("cargo::rustc-check-cfg=cfg(fuse_missing)");
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CI", "CHROMIUM_PATH", "PATH", "PG_BIN"] {
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
    if !on_path("node") {
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
    if !found(&playwright, Some(&installs)) && !on_path("npm") {
        missing.push("node_modules/playwright-core, and npm to install it".to_string());
    }

    let ci = env::var("CI").is_ok_and(|v| v == "true");
    if !missing.is_empty() && !ci {
        println!("cargo::rustc-cfg=browser_missing");
        println!(
            "cargo::warning=the browser test will show as ignored: missing {}",
            missing.join(", ")
        );
    }
    if !fuse_usable() && !ci {
        println!("cargo::rustc-cfg=fuse_missing");
        println!(
            "cargo::warning=the power-cut tests will show as ignored: they mount a FUSE file \
             system, which needs /dev/fuse and root"
        );
    }
    if !postgres_found() && !ci {
        println!("cargo::rustc-cfg=postgres_missing");
        println!(
            "cargo::warning=the PostgreSQL tests will show as ignored: no initdb and pg_ctl \
             (apt-get install postgresql, or set PG_BIN)"
        );
    }
}

/// Whether the power-cut tests can mount their FUSE file system
/// (`tests/api/helpers/power_cut`): `/dev/fuse` exists and the build runs
/// as root (the tests mount with mount(2) directly). Watches /dev (a
/// device node appears there).
fn fuse_usable() -> bool {
    use std::os::unix::fs::MetadataExt;
    println!("cargo::rerun-if-changed=/dev/fuse");
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    Path::new("/dev/fuse").exists() && root
}

/// Whether `initdb` and `pg_ctl` are installed: in `$PG_BIN`, else the
/// newest /usr/lib/postgresql/<version>/bin (Debian's layout), else on
/// `PATH`. Watches the `initdb` found; where none is, /usr/lib/postgresql
/// (small) if it exists, and the (flat) directories of `PATH`, where the
/// Debian package adds its commands.
fn postgres_found() -> bool {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = env::var_os("PG_BIN") {
        candidates.push(PathBuf::from(dir));
    } else {
        let debian = Path::new("/usr/lib/postgresql");
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, bin)| bin));
        if let Some(path) = env::var_os("PATH") {
            candidates.extend(env::split_paths(&path));
        }
    }
    if let Some(dir) = candidates.iter().find(|dir| usable(dir)) {
        println!("cargo::rerun-if-changed={}", dir.join("initdb").display());
        return true;
    }
    let debian = Path::new("/usr/lib/postgresql");
    if debian.is_dir() {
        println!("cargo::rerun-if-changed={}", debian.display());
    }
    for dir in env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter(|d| d.is_dir())
    {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    false
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

/// Whether an executable `command` is on `PATH`; watches it, or where it
/// is not found, the (flat) directories of `PATH` that exist.
fn on_path(command: &str) -> bool {
    let dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(node) = dirs.iter().map(|d| d.join(command)).find(|n| n.is_file()) {
        println!("cargo::rerun-if-changed={}", node.display());
        return true;
    }
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    false
}
