//! A sync in two steps, as on a disk: what it covers is taken when it
//! arrives (every write made before it), and made durable when it
//! completes, after the disk's delay (`PowerCutDisk::set_sync_delay`).
//! Writes that arrive meanwhile wait for a later sync; a cut before it
//! completes makes nothing of it durable.

use super::disk::{Body, Bytes, Disk, DiskResult, Ino, Names, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::sync::Arc;

/// A sync that has arrived and not completed.
pub struct PendingSync {
    generation: u64,
    /// A file's bytes and the pages written since its last sync.
    file: Option<(Ino, Bytes, BTreeSet<u64>)>,
    /// Directories' entries it makes durable: the one synced, and on a
    /// journaling disk every directory whose entries changed.
    names: Vec<(Ino, BTreeMap<OsString, Ino>)>,
}

impl Disk {
    /// `fsync`/`fdatasync` of a file, or `fsync` of a directory, arrives.
    pub fn begin_sync(&mut self, ino: Ino) -> DiskResult<PendingSync> {
        self.alive()?;
        self.syncs_begun += 1;
        let node = self.nodes.get(&ino).ok_or(libc::ENOENT)?;
        let mut dirs = Vec::new();
        let file = match &node.body {
            Body::File { now, dirty, .. } => {
                self.counts.file_syncs += 1;
                Some((ino, now.clone(), dirty.clone()))
            }
            Body::Dir { .. } => {
                self.counts.dir_syncs += 1;
                dirs.push(ino);
                None
            }
            _ => None,
        };
        if self.names == Names::Journaled {
            dirs.extend(self.renamed.iter().copied());
        }
        let names = dirs
            .into_iter()
            .filter_map(|dir| match &self.nodes.get(&dir)?.body {
                Body::Dir { now, .. } => Some((dir, now.clone())),
                _ => None,
            })
            .collect();
        Ok(PendingSync {
            generation: self.syncs_begun,
            file,
            names,
        })
    }

    /// The sync completes: what it took on arrival is durable, unless a
    /// later sync of the same node made a newer state durable first. Fails
    /// with EIO, making nothing durable, after a cut.
    pub fn finish_sync(&mut self, pending: PendingSync) -> DiskResult<()> {
        self.alive()?;
        let generation = pending.generation;
        if let Some((ino, taken, written)) = pending.file {
            if self.newest(ino, generation) {
                if let Some(Node {
                    body:
                        Body::File {
                            now,
                            durable,
                            dirty,
                        },
                    ..
                }) = self.nodes.get_mut(&ino)
                {
                    durable.take_from(&taken, &written);
                    // Pages written again since the sync arrived stay dirty.
                    dirty.retain(|page| !same_page(now, &taken, *page));
                }
            }
        }
        for (dir, entries) in pending.names {
            if !self.newest(dir, generation) {
                continue;
            }
            if let Some(Node {
                body: Body::Dir { now, durable, .. },
                ..
            }) = self.nodes.get_mut(&dir)
            {
                if *now == entries {
                    self.renamed.remove(&dir);
                }
                *durable = entries;
            }
        }
        Ok(())
    }

    /// A sync that completes at once.
    pub fn sync(&mut self, ino: Ino) -> DiskResult<()> {
        let pending = self.begin_sync(ino)?;
        self.finish_sync(pending)
    }

    /// Records `generation` as `ino`'s newest durable sync, unless a
    /// newer one completed before it.
    fn newest(&mut self, ino: Ino, generation: u64) -> bool {
        let synced = self.synced.entry(ino).or_default();
        if *synced > generation {
            return false;
        }
        *synced = generation;
        true
    }
}

/// Whether page `page` is the same in both (shared, or absent from both).
fn same_page(a: &Bytes, b: &Bytes, page: u64) -> bool {
    match (a.pages.get(&page), b.pages.get(&page)) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}
