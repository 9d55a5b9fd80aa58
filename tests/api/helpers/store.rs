//! Tests written once, run on each store: `StoreKind` says which one a
//! test's servers use, `Storage` is where they keep their state across
//! restarts, and `store_test!` runs a test on both.

use super::{postgres::Database, PgServer};
use boxoffice::config::Settings;
use std::path::PathBuf;

/// The store a test's servers keep their state in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded sled store, in a temporary data directory.
    Sled,
    /// A fresh database of its own on the tests' PostgreSQL server.
    Postgres,
}

/// Where a test's servers keep their state: the same `Storage` for a
/// restart is the same data directory (sled) or database (PostgreSQL).
/// Dropping it removes the directory and drops the database.
pub struct Storage {
    /// The data directory (sled's; it does not exist until a server makes
    /// it). On PostgreSQL unused, but given all the same.
    pub data: PathBuf,
    pub database: Option<Database>,
    /// The cluster node id of this storage's servers (PostgreSQL).
    pub node_id: String,
    _parent: tempfile::TempDir,
}

impl Storage {
    /// New, empty storage of `kind` (on PostgreSQL, a new database on the
    /// shared server).
    pub fn new(kind: StoreKind) -> Storage {
        match kind {
            StoreKind::Sled => Storage::with(None),
            StoreKind::Postgres => Storage::with(Some(PgServer::shared().create_database())),
        }
    }

    /// A new database on `server` (a private one).
    pub fn on(server: &PgServer) -> Storage {
        Storage::with(Some(server.create_database()))
    }

    fn with(database: Option<Database>) -> Storage {
        let parent = tempfile::tempdir().expect("temp dir");
        Storage {
            data: parent.path().join("data"),
            database,
            node_id: format!("test-node-{}", uuid::Uuid::new_v4()),
            _parent: parent,
        }
    }

    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// Points `settings` here.
    pub fn apply(&self, settings: &mut Settings) {
        settings.data_dir = self.data.clone();
        settings.database_url = self.database_url().map(str::to_string);
        settings.node_id = Some(self.node_id.clone());
    }
}

impl StoreKind {
    /// New, empty storage of this kind.
    pub fn storage(self) -> Storage {
        Storage::new(self)
    }

    /// An in-process server with test settings on new storage of this kind.
    pub fn spawn_app(self) -> super::TestServer {
        self.spawn_app_with(|_| {})
    }

    /// `spawn_app`, with settings adjusted.
    pub fn spawn_app_with(self, adjust: impl FnOnce(&mut Settings)) -> super::TestServer {
        super::spawn_app_on(self.storage(), adjust)
    }
}

/// Runs the async test function `$name(store: StoreKind)` on each store:
/// as the tests `$name::sled` and `$name::postgres`, the latter ignored
/// (visibly, in the summary) where PostgreSQL is not installed
/// (`needs = "postgres"`: found out when the tests run, never under
/// CI=true). Anything after the name is the `flavor` and `worker_threads`
/// of `#[api_test(...)]`, as of `#[tokio::test(...)]`.
///
/// ```ignore
/// store_test!(a_booking_is_all_or_nothing);
/// async fn a_booking_is_all_or_nothing(store: StoreKind) {
///     let server = store.spawn_app();
///     ...
/// }
/// ```
macro_rules! store_test {
    ($name:ident $(, $($flavor:tt)+)?) => {
        mod $name {
            #[$crate::helpers::api_test$(($($flavor)+))?]
            async fn sled() {
                super::$name($crate::helpers::StoreKind::Sled).await
            }

            #[$crate::helpers::api_test($($($flavor)+,)? needs = "postgres")]
            async fn postgres() {
                super::$name($crate::helpers::StoreKind::Postgres).await
            }
        }
    };
}
pub(crate) use store_test;
