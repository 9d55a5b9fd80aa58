//! The data directory around sled: made with its name durable
//! (`create_dir_durably`), refused when damaged, with the file and offset
//! named (`open_error`, `verify_every_record`), and, at close, waited for
//! until sled lets go of its lock (`Released`). Its own file: what opening
//! and closing a directory takes besides the store itself.

use crate::store::contract::{StoreError, StoreResult};
use std::path::Path;

/// Waits, when dropped, until the data directory's lock is free: sled
/// closes its file through garbage it collects later (crossbeam-epoch), so
/// a store opened again at once, in the same process, could find the
/// directory still locked. Bounded: after 10 s it stops waiting.
pub(super) struct Released {
    pub(super) log: std::path::PathBuf,
}

impl Drop for Released {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let Ok(file) = std::fs::File::open(&self.log) else {
                return;
            };
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return; // closing `file` releases it again
            }
            // Lets sled's deferred drops run.
            sled::crossbeam_pin().flush();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        tracing::warn!(
            log = %self.log.display(),
            "sled still holds the data directory's lock 10 s after the store closed"
        );
    }
}

/// Makes `dir` and any missing parent, and syncs the directory holding
/// each one made (or holding `dir`, if it existed): a new directory's
/// name is durable only then, and a power cut could otherwise take the
/// whole store with it.
pub(super) fn create_dir_durably(dir: &Path) -> StoreResult<()> {
    let failed = |error: std::io::Error| {
        StoreError::Io(format!(
            "making the data directory {}: {error}",
            dir.display()
        ))
    };
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    std::fs::create_dir_all(dir).map_err(failed)?;
    // The directory itself too, made now or by someone else whose `mkdir`
    // was never synced: its name must be durable before what it holds.
    if missing.is_empty() {
        missing.push(dir);
    }
    for made in missing.iter().rev() {
        let parent = match made.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::File::open(parent)
            .and_then(|parent| parent.sync_all())
            .map_err(failed)?;
    }
    Ok(())
}

/// Why a data directory did not open, in words an operator can act on.
/// Damage found at open (the vendored sled refuses to recover past it,
/// VENDORED.md change 6) names the file and the byte offset.
pub(super) fn open_error(dir: &Path, error: sled::Error) -> StoreError {
    const REFUSED: &str = "boxoffice does not open a damaged store (it could serve a \
        wrong state): restore the directory from a backup";
    match error {
        sled::Error::Corruption { at, .. } => {
            let log = dir.join("db");
            let place = match at {
                Some(sled::DiskPtr::Inline(offset)) => format!(
                    "the log file {} is damaged at byte offset {offset}",
                    log.display(),
                ),
                Some(sled::DiskPtr::Blob(offset, blob)) => format!(
                    "the blob file {} (pointed to from byte offset {offset} of {}) is damaged",
                    dir.join("blobs").join(blob.to_string()).display(),
                    log.display()
                ),
                None => format!(
                    "the log file {} is damaged (its recovery failed a consistency check)",
                    log.display()
                ),
            };
            StoreError::Corrupt(format!("{place}; {REFUSED}"))
        }
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            StoreError::Corrupt(format!("{io}; {REFUSED}"))
        }
        other => other.into(),
    }
}

/// Reads every record once, before anything is served or written: a
/// damaged one (its page fails sled's checksum) stops the open here,
/// named, rather than surfacing as errors once the server runs. sled's
/// recovery only reads the log written since its last snapshot; this reads
/// what every live page holds. Takes time in proportion to the store
/// (docs/PERFORMANCE.md).
pub(super) fn verify_every_record(dir: &Path, db: &sled::Db) -> StoreResult<()> {
    let started = std::time::Instant::now();
    let mut records = 0u64;
    for entry in db.iter() {
        entry.map_err(|error| open_error(dir, error))?;
        records += 1;
    }
    tracing::info!(
        records,
        ms = started.elapsed().as_millis() as u64,
        "read every record of the store once: none is damaged"
    );
    Ok(())
}
