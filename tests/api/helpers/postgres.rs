//! PostgreSQL servers of the tests' own, and a fresh database per test.
//!
//! One server is shared by the whole test process (`PgServer::shared`),
//! started by the first test that needs it; a test that stops and starts
//! PostgreSQL under load has a private one (`PgServer::start`). Each is
//! `initdb --no-sync` (fsync off: the tests kill processes, never the
//! machine) in a temporary directory, on a free port on 127.0.0.1, with its
//! socket in that directory, run as the `postgres` user when the tests run
//! as root (initdb and pg_ctl refuse root). Debian's own cluster on port
//! 5432, if any, is neither used nor disturbed.
//!
//! A server cannot outlive the test process: it is started by a guard
//! shell (in a process group of its own, so a Ctrl-C meant for the tests
//! does not end the guard and leave the server behind) that then reads
//! its stdin, a pipe whose write end only this process holds. However the
//! process ends (a panic, exit, `kill -9`), the pipe closes, the guard
//! reads end-of-file, stops the server (`pg_ctl -m immediate`) and removes
//! its directory. A private server does the same when dropped.

use super::environment::pg_bin;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio_postgres::NoTls;

/// Whether this process runs as root (then the server runs as `postgres`).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The server's settings: fast and disposable (no fsync: the tests kill
/// processes, not the machine), room for every test's pool at once. A
/// durable server (the power-cut tests') syncs as a production one does.
fn server_options(port: u16, dir: &Path, durable: bool) -> String {
    let syncs = if durable {
        "-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
    } else {
        "-c fsync=off -c full_page_writes=off"
    };
    format!(
        "-p {port} -k {dir} -c listen_addresses=127.0.0.1 {syncs} \
         -c max_connections=400 -c shared_buffers=64MB",
        dir = dir.display()
    )
}

/// The guard: initdb, start, say `ready`, then wait for end-of-file on
/// stdin; stop the server and remove its directory. `$1` the directory,
/// `$2` the bin directory, `$3` the server options, `$4` `root` to run
/// initdb and pg_ctl as `postgres`, `$5` the data directory, `$6`
/// `--no-sync` for an initdb that syncs nothing, or empty for one that
/// syncs what it made. Anything but `ready` on stdout
/// is why it could not start.
const GUARD: &str = r#"
trap '' INT HUP
dir=$1 bin=$2 options=$3 data=$5 nosync=$6
if [ "$4" = root ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
cleanup() {
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$dir"
}
if ! as_pg "$bin/initdb" -D "$data" -A trust $nosync -U postgres --no-locale -E UTF8 \
        >"$dir/initdb.log" 2>&1; then
    echo "initdb failed:"; cat "$dir/initdb.log"; rm -rf "$dir"; exit 1
fi
if ! as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 -o "$options" start \
        >/dev/null 2>&1; then
    echo "pg_ctl start failed:"; cat "$dir/server.log"; cleanup; exit 1
fi
echo ready
exec >/dev/null
read _
cleanup
"#;

/// A PostgreSQL server of the tests' own.
pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    /// The data directory: `dir/data`, or elsewhere (a power-cut disk).
    data: PathBuf,
    /// Syncs as a production server does (fsync on).
    durable: bool,
    bin: PathBuf,
    root: bool,
    /// The guard shell and the write end of its stdin.
    guard: Mutex<Option<(Child, ChildStdin)>>,
}

static SHARED: OnceLock<PgServer> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl PgServer {
    /// The server every test of this process shares (started on first use).
    pub fn shared() -> &'static PgServer {
        SHARED.get_or_init(PgServer::start)
    }

    /// A server of its own (stopped, and its directory removed, on drop).
    pub fn start() -> PgServer {
        PgServer::start_with(None)
    }

    /// A server of its own whose data directory is `data` (which must not
    /// exist yet), and that syncs as a production server does: initdb
    /// syncs what it made, fsync and full page writes are on.
    pub fn start_durable_in(data: &Path) -> PgServer {
        // Its postmaster, orphaned when pg_ctl exits, and its backends,
        // orphaned by `kill_all`, become this process's children, for
        // `kill_all` to reap: a killed postmaster that stays a zombie
        // keeps its pid in the lock files, and another will not start.
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        PgServer::start_with(Some(data))
    }

    fn start_with(data: Option<&Path>) -> PgServer {
        let Some(bin) = pg_bin() else {
            panic!(
                "PostgreSQL is not installed (no initdb and pg_ctl in $PG_BIN, \
                 /usr/lib/postgresql/*/bin or PATH): apt-get install postgresql"
            );
        };
        let mut failures = Vec::new();
        // A free port may be taken by someone else before the server binds
        // it: try another.
        for _ in 0..3 {
            match PgServer::try_start(&bin, data) {
                Ok(server) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!("could not start PostgreSQL:\n{}", failures.join("\n"));
    }

    fn try_start(bin: &Path, durable_data: Option<&Path>) -> Result<PgServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("boxoffice-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let root = running_as_root();
        if root {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown postgres: {}: {status}", dir.display()));
            }
        }
        let port = free_port();
        let durable = durable_data.is_some();
        let data = durable_data.map_or_else(|| dir.join("data"), Path::to_path_buf);
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("pg-guard")
            .arg(&dir)
            .arg(bin)
            .arg(server_options(port, &dir, durable))
            .arg(if root { "root" } else { "user" })
            .arg(&data)
            .arg(if durable { "" } else { "--no-sync" })
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("sh: {e}"))?;
        let stdin = guard.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(guard.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        if line.trim() != "ready" {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            drop(stdin);
            let _ = guard.wait();
            return Err(format!("port {port}: {line}{rest}"));
        }
        Ok(PgServer {
            port,
            dir,
            data,
            durable,
            bin: bin.to_path_buf(),
            root,
            guard: Mutex::new(Some((guard, stdin))),
        })
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new empty database, dropped with the value.
    pub fn create_database(&self) -> Database {
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        let admin = self.url("postgres");
        execute(&admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        Database {
            url: self.url(&name),
            name,
            admin,
        }
    }

    /// `pg_ctl` as the server's user.
    fn pg_ctl(&self) -> Command {
        let mut command = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        command
            .arg("-D")
            .arg(&self.data)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// `pg_ctl -m immediate stop`: every backend is gone at once (their
    /// connections break), as if the server had crashed.
    pub fn stop_immediately(&self) {
        let status = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .status()
            .expect("pg_ctl stop");
        assert!(status.success(), "pg_ctl stop: {status}");
    }

    /// `kill -9` of the postmaster and every process it started (the
    /// machine lost power): nothing runs a shutdown step. The postmaster
    /// is stopped first so that it starts no one meanwhile; each backend
    /// is a process group of its own, so they are found by parent.
    pub fn kill_all(&self, postmaster: i32) {
        // SAFETY: kill(2) on process ids; no memory is touched.
        unsafe { libc::kill(postmaster, libc::SIGSTOP) };
        let children = children_of(postmaster);
        for child in &children {
            unsafe { libc::kill(*child, libc::SIGKILL) };
        }
        unsafe { libc::kill(postmaster, libc::SIGKILL) };
        let started = std::time::Instant::now();
        while std::iter::once(&postmaster).chain(&children).any(|pid| {
            // Ours to reap when this process is their subreaper
            // (`start_durable_in`); someone else's (ECHILD) otherwise.
            // SAFETY: waitpid on one pid, status not read.
            unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) };
            alive(*pid)
        }) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "PostgreSQL's processes outlived SIGKILL"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The postmaster's process id (from `postmaster.pid`).
    pub fn postmaster(&self) -> i32 {
        let pid =
            std::fs::read_to_string(self.data.join("postmaster.pid")).expect("postmaster.pid");
        pid.lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .expect("a pid on the first line of postmaster.pid")
    }

    /// Starts the server again after `stop_immediately` (crash recovery).
    pub fn start_again(&self) {
        let log = self.dir.join("server.log");
        let output = self
            .pg_ctl()
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(server_options(self.port, &self.dir, self.durable))
            .arg("start")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("pg_ctl start");
        assert!(
            output.status.success(),
            "pg_ctl start: {}: {}{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let guard = self.guard.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((mut child, stdin)) = guard.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The fields of /proc/PID/stat after the command name (state, ppid, ...).
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses.
    let (_, after) = stat.rsplit_once(')')?;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// The processes whose parent is `parent`.
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat_fields(&pid.to_string()).is_some_and(|f| f.get(1) == Some(&parent.to_string()))
        })
        .collect()
}

/// Whether process `pid` exists, as a zombie too: PostgreSQL takes a
/// zombie's pid in its lock files for a live server, so the killed
/// postmaster must be reaped (by init: its parent pg_ctl has exited)
/// before another may start.
fn alive(pid: i32) -> bool {
    stat_fields(&pid.to_string()).is_some()
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// A database of a test's own, dropped (`WITH (FORCE)`: a killed server's
/// connections may linger) when the value is.
///
/// Dropping it also checks that a server did use it (its schema is
/// there), so that a test meant for PostgreSQL cannot pass on sled by a
/// setting that did not reach the server.
pub struct Database {
    pub url: String,
    pub name: String,
    /// The server's `postgres` database, to drop this one from.
    admin: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        const MIGRATED: &str = "SELECT to_regclass('schema_migrations') IS NOT NULL";
        let used = query_bool(&self.url, MIGRATED);
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = execute(&self.admin, &sql) {
            // A private server may be stopped already; its directory goes.
            eprintln!("{sql}: {error}");
        }
        if used == Ok(false) && !std::thread::panicking() {
            panic!(
                "database {} was never migrated: no server used it",
                self.name
            );
        }
    }
}

/// Runs `sql` on `url` on a thread of its own (so it works inside a test's
/// runtime and outside any).
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    let sql = sql.to_string();
    on_own_thread(url, |client| async move {
        client.batch_execute(&sql).await.map_err(|e| e.to_string())
    })
}

/// The one text `sql` selects (empty for NULL), on a thread of its own.
pub fn query_text(url: &str, sql: &'static str) -> Result<String, String> {
    on_own_thread(url, move |client| async move {
        let row = client
            .query_one(sql, &[])
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.get::<_, Option<String>>(0).unwrap_or_default())
    })
}

/// The one boolean `sql` selects, on a thread of its own.
fn query_bool(url: &str, sql: &'static str) -> Result<bool, String> {
    on_own_thread(url, move |client| async move {
        let row = client
            .query_one(sql, &[])
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.get(0))
    })
}

/// Connects to `url` on a new thread with a runtime of its own and runs
/// `work` with the connection.
fn on_own_thread<T, F, Fut>(url: &str, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let url = url.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async { work(connect(&url).await?).await })
    })
    .join()
    .expect("the SQL thread")
}

/// A connection to `url`, driven on the current runtime.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connect to {url}: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
