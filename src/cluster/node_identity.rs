//! A node's identity on PostgreSQL, when none is set: an id kept with the
//! node's data (`<data_dir>/node-id`), the same on every start of that
//! node, so a node restarted after `kill -9` takes its partitions back at
//! once (its claim raises their epochs, fencing anything still running
//! from before). One process at a time: a lock on the file is held for the
//! process's life, and a second process on the same directory refuses to
//! start. (A copy of the directory on another machine would share the id;
//! the raised epochs still fence whichever claimed last.)

use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::Path;

const FILE: &str = "node-id";

/// This node's id, and the lock that keeps it this process's.
pub struct NodeIdentity {
    pub id: String,
    _lock: std::fs::File,
}

/// The id kept in `data_dir` (made, durably, on the first start), locked
/// for this process.
pub fn claim(data_dir: &Path) -> std::io::Result<NodeIdentity> {
    let failed = |e: std::io::Error| {
        std::io::Error::other(format!("{}: {e}", data_dir.join(FILE).display()))
    };
    std::fs::create_dir_all(data_dir).map_err(failed)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(format!("{FILE}.lock")))
        .map_err(failed)?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::other(format!(
            "another boxoffice process runs as the node whose id is kept in {}: \
             one process per node (give this one its own --data-dir, or --node-id)",
            data_dir.display()
        )));
    }
    let id = match std::fs::read_to_string(data_dir.join(FILE)) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        Ok(_) | Err(_) => {
            let id = uuid::Uuid::new_v4().to_string();
            let partial = data_dir.join(format!("{FILE}.partial"));
            let mut file = std::fs::File::create(&partial).map_err(failed)?;
            writeln!(file, "{id}").map_err(failed)?;
            file.sync_all().map_err(failed)?;
            std::fs::rename(&partial, data_dir.join(FILE)).map_err(failed)?;
            std::fs::File::open(data_dir)
                .and_then(|d| d.sync_all())
                .map_err(failed)?;
            id
        }
    };
    Ok(NodeIdentity { id, _lock: lock })
}
