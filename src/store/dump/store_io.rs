//! Dumps taken from and loaded into a store named on the command line: a
//! sled directory (no server may have it open) or a PostgreSQL database.

use super::format::DumpError;
use super::reader::{check_dump, read_dump, DumpSummary};
use super::record::{Record, RecordKind};
use super::writer::DumpWriter;
use crate::store::postgres::dump as pg;
use crate::store::{SledStore, StoreError, StoreResult};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a store is.
#[derive(Clone, Debug)]
pub enum StoreLocation {
    Sled(PathBuf),
    Postgres(String),
}

impl StoreLocation {
    fn source(&self) -> &'static str {
        match self {
            StoreLocation::Sled(_) => "sled",
            StoreLocation::Postgres(_) => "postgres",
        }
    }
}

/// Why a dump could not be taken or loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("writing the dump: {0}")]
    Write(#[from] std::io::Error),
}

/// Opens the sled store in `dir` for reading: it must exist, and no
/// server may have it open.
fn open_existing(dir: &Path) -> StoreResult<SledStore> {
    if !dir.join("db").exists() {
        return Err(StoreError::Io(format!(
            "no sled store in {}",
            dir.display()
        )));
    }
    SledStore::open(dir).map_err(|error| match error {
        StoreError::Io(why) if why.contains("could not acquire lock") => StoreError::Io(format!(
            "{} is open in a running server: export it with GET /v1/admin/export, \
             or stop the server first",
            dir.display()
        )),
        other => other,
    })
}

/// Hands every record of the store at `location` to `sink`, from one
/// snapshot.
pub fn each_record(
    location: &StoreLocation,
    mut sink: impl FnMut(Record) -> StoreResult<()>,
) -> StoreResult<()> {
    match location {
        StoreLocation::Sled(dir) => {
            let store = open_existing(dir)?;
            for record in store.records() {
                sink(record?)?;
            }
            Ok(())
        }
        StoreLocation::Postgres(url) => pg::blocking(async {
            let mut client = pg::connect(url).await?;
            pg::export(&mut client, sink).await
        }),
    }
}

/// Writes a dump of the store at `location` to `out`; returns the counts.
pub fn export(
    location: &StoreLocation,
    out: impl Write,
) -> Result<BTreeMap<RecordKind, u64>, DataError> {
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut writer = DumpWriter::start(out, location.source(), created_at)?;
    let mut failed = None;
    each_record(location, |record| {
        writer.write(&record).map_err(|e| {
            let why = e.to_string();
            failed = Some(e);
            StoreError::Io(why)
        })
    })
    .map_err(|error| match failed.take() {
        Some(io) => DataError::Write(io),
        None => DataError::Store(error),
    })?;
    Ok(writer.finish()?.1)
}

/// Checks the whole dump at `path`, then loads it into the empty store at
/// `location`, all or nothing. Returns what the dump held.
pub fn import(location: &StoreLocation, path: &Path) -> Result<DumpSummary, DataError> {
    let summary = check_dump(path)?;
    let records = read_dump(path)?;
    match location {
        StoreLocation::Sled(dir) => {
            SledStore::import(dir, records)?;
        }
        StoreLocation::Postgres(url) => {
            crate::store::postgres::migrate_only(url)?;
            pg::blocking(async {
                let mut client = pg::connect(url).await?;
                pg::import(&mut client, records).await
            })?;
        }
    }
    Ok(summary)
}
