//! The `boxoffice` command's data tools (`export`, `import`, `check`,
//! `migrate`) run on a test's storage.

use super::Storage;
use std::process::{Command, Output};

/// `boxoffice ARGS --data-dir DIR` (or `--database-url URL`).
pub fn boxoffice(args: &[&str], storage: &Storage) -> Output {
    match storage.database_url() {
        Some(url) => run(args, &["--database-url", url]),
        None => run(
            args,
            &["--data-dir", storage.data.to_str().expect("a UTF-8 path")],
        ),
    }
}

fn run(args: &[&str], store: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(args)
        .args(store)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run boxoffice")
}

/// `boxoffice`, asserting exit 0.
pub fn boxoffice_ok(args: &[&str], storage: &Storage) -> Output {
    let output = boxoffice(args, storage);
    assert!(
        output.status.success(),
        "boxoffice {args:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `boxoffice check` finds the store's records consistent (no server may
/// have a sled store open).
pub fn assert_consistent(storage: &Storage) {
    let output = boxoffice_ok(&["check"], storage);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.starts_with("consistent"), "{said}");
}

/// `assert_consistent` of the sled store in `dir`.
pub fn assert_dir_consistent(dir: &std::path::Path) {
    let output = run(
        &["check"],
        &["--data-dir", dir.to_str().expect("a UTF-8 path")],
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && said.starts_with("consistent"),
        "boxoffice check: {said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
