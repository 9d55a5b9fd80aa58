//! The store format version of a sled data directory, in a small file of
//! its own beside sled's (`boxoffice-format`), read before sled opens the
//! directory: a build that finds a version newer than it knows refuses,
//! naming both, before anything is written. A directory without the file
//! was written before versions were recorded (format 0, the layout every
//! build since still reads); opening it upgrades it to the current one.
//!
//! Format 1 is format 0 with the file. Format 2 (v1.2) adds the indexes
//! of bookings by show and by id (`KIND_SHOW_BOOKING`,
//! `KIND_BOOKING_OWNER`) and blocked seats (seat code 3): a build of
//! format 1 would not keep the indexes as it writes, so it must refuse the
//! directory (and it does: it opens formats up to 1). A store of format 0
//! or 1 is upgraded at open (`sled_store::indexes::index_every_booking`)
//! before the file says 2. A change to what the store writes that an older
//! build would misread raises the version, with its upgrade here.

use crate::store::{StoreError, StoreResult};
use std::io::Write;
use std::path::Path;

/// The format this build writes, and the newest it opens.
pub const FORMAT: u32 = 2;

const FILE: &str = "boxoffice-format";
const PREFIX: &str = "boxoffice store format ";

/// The version recorded in `dir`: `None` for a directory without a store
/// (new), `Some(0)` for a store from before versions were recorded.
pub fn read(dir: &Path) -> StoreResult<Option<u32>> {
    match std::fs::read_to_string(dir.join(FILE)) {
        Ok(text) => text
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{}: not a format version: {text:?}",
                    dir.join(FILE).display()
                ))
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(dir.join("db").exists().then_some(0))
        }
        Err(error) => Err(StoreError::Io(format!(
            "{}: {error}",
            dir.join(FILE).display()
        ))),
    }
}

/// Refuses a version newer than this build's, naming both.
pub fn refuse_newer(dir: &Path, found: Option<u32>) -> StoreResult<()> {
    match found {
        Some(found) if found > FORMAT => Err(StoreError::Io(format!(
            "the data directory {} was written in store format {found}, by a newer build; \
             this build opens formats up to {FORMAT}: run a build at least as new \
             (nothing was changed)",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Records the current version in `dir`, durably: written beside, synced,
/// renamed over, the directory synced.
pub fn write(dir: &Path) -> StoreResult<()> {
    let failed = |e: std::io::Error| StoreError::Io(format!("{}: {e}", dir.join(FILE).display()));
    let partial = dir.join(format!("{FILE}.partial"));
    let mut file = std::fs::File::create(&partial).map_err(failed)?;
    writeln!(file, "{PREFIX}{FORMAT}").map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&partial, dir.join(FILE)).map_err(failed)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed)
}
