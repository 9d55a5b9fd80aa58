//! What the tests need of the machine, found out here only, when the tests
//! run: the harness (main.rs) asks before it runs anything, and marks a
//! test whose need is missing ignored; the helpers ask the same functions
//! when they start a PostgreSQL (`pg_bin`) or mount a power-cut disk
//! (`fuse_usable`).

use std::path::{Path, PathBuf};

/// What a test cannot run without (`#[api_test(needs = "...")]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// `initdb` and `pg_ctl`, to start the tests' own PostgreSQL.
    Postgres,
    /// `/dev/fuse` and root, to mount a power-cut disk.
    Fuse,
    /// The `failpoints` feature (`cargo test --features failpoints`).
    Failpoints,
}

impl Need {
    pub const ALL: [Need; 3] = [Need::Postgres, Need::Fuse, Need::Failpoints];

    /// Why this machine or build cannot meet it, or `None` where it can.
    pub fn missing(self) -> Option<String> {
        match self {
            Need::Postgres => match (pg_bin(), std::env::var_os("PG_BIN")) {
                (Some(_), _) => None,
                (None, Some(dir)) => Some(format!(
                    "PG_BIN={} holds no initdb and pg_ctl",
                    Path::new(&dir).display()
                )),
                (None, None) => Some(
                    "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
                        .to_string(),
                ),
            },
            Need::Fuse => (!fuse_usable())
                .then(|| "no /dev/fuse, or not root: FUSE cannot be mounted".to_string()),
            Need::Failpoints => {
                (!cfg!(feature = "failpoints")).then(|| "needs --features failpoints".to_string())
            }
        }
    }

    /// Whether the machine supplies it (`Postgres`, `Fuse`): under CI=true
    /// a missing one does not mark its tests ignored, they run and fail.
    /// `Failpoints` is a choice of the build, not of the machine.
    pub fn of_the_machine(self) -> bool {
        self != Need::Failpoints
    }
}

/// Where `initdb` and `pg_ctl` are: `$PG_BIN` (and nowhere else, when it
/// is set), else the newest /usr/lib/postgresql/<version>/bin (Debian),
/// else a directory of `PATH`.
pub fn pg_bin() -> Option<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|dir| usable(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(on_path)
        .find(|dir| usable(dir))
}

/// Whether this process can mount a power-cut disk: `/dev/fuse` exists
/// and it runs as root (it mounts with mount(2) directly, no fusermount).
pub fn fuse_usable() -> bool {
    // SAFETY: geteuid cannot fail.
    Path::new("/dev/fuse").exists() && unsafe { libc::geteuid() } == 0
}
