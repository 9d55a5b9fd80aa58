//! The disk behind the power-cut file system, in memory: every file and
//! directory as the running programs see it ("now"), and as it would be
//! found after a power cut ("durable").
//!
//! What becomes durable, and when (stricter than most real file systems,
//! never looser than POSIX promises):
//! - a file's bytes and size, on `fsync` or `fdatasync` of that file;
//! - a directory's entries (files created, renamed, removed in it), on
//!   `fsync` of that directory (`Names::Posix`); or, as a journaling file
//!   system such as ext4 or XFS does, every name made or removed anywhere
//!   before any sync (`Names::Journaled`: PostgreSQL relies on this, as it
//!   syncs a new database's directory but not the directory holding it);
//! - nothing else: `sync_file_range`, `close`, a rename or a write do not
//!   reach the file system as syncs, so they make nothing durable.
//!
//! Owners, modes and times are kept as set, durable at once (the tests
//! never depend on them surviving or not). `cut` is the power cut: from
//! then on every call fails with EIO, and `power_on` makes a new disk of
//! the durable state alone. A torn cut (`Tear::Sectors`) keeps, besides,
//! a random part of what was written and not synced, 512-byte sector by
//! sector in no order, as a disk that lost power mid-write may: records
//! cut in the middle, later sectors of a write kept and earlier ones not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

pub use super::bytes::{Bytes, PAGE, SECTOR};
pub use super::power_on::{Image, Tear};

/// An inode number; the root directory is 1.
pub type Ino = u64;
pub const ROOT: Ino = 1;

/// A failure, as the errno the caller sees.
pub type Errno = i32;
pub type DiskResult<T> = Result<T, Errno>;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device node (PostgreSQL makes none; kept for
    /// `mknod`'s sake, with no contents).
    Special(u32),
}

/// Owner, mode and times.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
}

impl Meta {
    pub fn new(perm: u16, uid: u32, gid: u32) -> Meta {
        let now = SystemTime::now();
        Meta {
            perm,
            uid,
            gid,
            rdev: 0,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }
}

#[derive(Clone)]
pub(super) enum Body {
    File {
        now: Bytes,
        durable: Bytes,
        /// Pages written or cut since the last sync.
        dirty: BTreeSet<u64>,
    },
    Dir {
        now: BTreeMap<OsString, Ino>,
        durable: BTreeMap<OsString, Ino>,
        parent: Ino,
    },
    Symlink(OsString),
    Special,
}

#[derive(Clone)]
pub(super) struct Node {
    pub(super) kind: Kind,
    pub(super) meta: Meta,
    /// Names that lead to it now (directories: 1 while linked).
    pub(super) links: u32,
    pub(super) body: Body,
}

/// A directory entry: its name, its node and what that is.
pub type Entry = (OsString, Ino, Kind);

/// What `stat` shows of a node.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    pub links: u32,
    pub meta: Meta,
}

/// Counts of what the programs asked for (the tests report them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub writes: u64,
    pub file_syncs: u64,
    pub dir_syncs: u64,
}

/// When a new, renamed or removed name becomes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// When its directory is synced (all POSIX promises).
    Posix,
    /// With the next sync of anything (a journal of names, as on ext4).
    Journaled,
}

pub struct Disk {
    pub(super) nodes: HashMap<Ino, Node>,
    pub(super) next_ino: Ino,
    pub(super) dead: bool,
    pub(super) names: Names,
    /// Directories whose entries changed since they were last durable.
    pub(super) renamed: BTreeSet<Ino>,
    /// The newest sync made durable, by node (`sync.rs`), and the last
    /// one begun.
    pub(super) synced: HashMap<Ino, u64>,
    pub(super) syncs_begun: u64,
    /// Cuts the power right after the first write this accepts (its
    /// offset, and its file's size before it).
    pub(super) cut_after: Option<CutTrigger>,
    /// Reads this accepts (offset, length) fail with EIO: a bad sector.
    pub(super) bad_reads: Option<ReadTrigger>,
    pub counts: Counts,
}

/// Which write the power goes after (`Disk::cut_after_write`).
pub type CutTrigger = Box<dyn Fn(u64, u64) -> bool + Send>;

/// Which reads fail (`Disk::fail_reads`).
pub type ReadTrigger = Box<dyn Fn(u64, u64) -> bool + Send>;

impl Disk {
    /// An empty disk whose root directory belongs to `uid`:`gid`.
    pub fn new(uid: u32, gid: u32) -> Disk {
        Disk::with_names(uid, gid, Names::Posix)
    }

    /// `new`, with names made durable as `names` says.
    pub fn with_names(uid: u32, gid: u32, names: Names) -> Disk {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                kind: Kind::Dir,
                meta: Meta::new(0o755, uid, gid),
                links: 1,
                body: Body::Dir {
                    now: BTreeMap::new(),
                    durable: BTreeMap::new(),
                    parent: ROOT,
                },
            },
        );
        Disk {
            nodes,
            next_ino: ROOT + 1,
            dead: false,
            names,
            renamed: BTreeSet::new(),
            synced: HashMap::new(),
            syncs_begun: 0,
            cut_after: None,
            bad_reads: None,
            counts: Counts::default(),
        }
    }

    /// The power cut: every later call fails with EIO.
    pub fn cut(&mut self) {
        self.dead = true;
    }

    pub fn is_cut(&self) -> bool {
        self.dead
    }

    pub(super) fn alive(&self) -> DiskResult<()> {
        if self.dead {
            Err(libc::EIO)
        } else {
            Ok(())
        }
    }

    fn node(&self, ino: Ino) -> DiskResult<&Node> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: Ino) -> DiskResult<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn entries(&self, dir: Ino) -> DiskResult<&BTreeMap<OsString, Ino>> {
        match &self.node(dir)?.body {
            Body::Dir { now, .. } => Ok(now),
            _ => Err(libc::ENOTDIR),
        }
    }

    /// A directory's entries, to change (it is marked as changed).
    fn entries_mut(&mut self, dir: Ino) -> DiskResult<&mut BTreeMap<OsString, Ino>> {
        self.renamed.insert(dir);
        match &mut self.node_mut(dir)?.body {
            Body::Dir { now, .. } => Ok(now),
            _ => Err(libc::ENOTDIR),
        }
    }

    fn attr_of(&self, ino: Ino) -> DiskResult<Attr> {
        let node = self.node(ino)?;
        let size = match &node.body {
            Body::File { now, .. } => now.len(),
            Body::Dir { .. } => PAGE,
            Body::Symlink(target) => target.len() as u64,
            Body::Special => 0,
        };
        let links = match &node.body {
            Body::Dir { now, .. } => {
                2 + now
                    .values()
                    .filter(|c| self.nodes.get(c).is_some_and(|n| n.kind == Kind::Dir))
                    .count() as u32
            }
            _ => node.links,
        };
        Ok(Attr {
            ino,
            kind: node.kind,
            size,
            links,
            meta: node.meta,
        })
    }

    pub fn getattr(&self, ino: Ino) -> DiskResult<Attr> {
        self.alive()?;
        self.attr_of(ino)
    }

    pub fn lookup(&self, parent: Ino, name: &OsStr) -> DiskResult<Attr> {
        self.alive()?;
        let ino = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        self.attr_of(ino)
    }

    /// chmod, chown, truncate and times; `None` leaves a value as it is.
    pub fn setattr(
        &mut self,
        ino: Ino,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        mtime: Option<SystemTime>,
    ) -> DiskResult<Attr> {
        self.alive()?;
        let node = self.node_mut(ino)?;
        if let Some(mode) = mode {
            node.meta.perm = (mode & 0o7777) as u16;
        }
        if let Some(uid) = uid {
            node.meta.uid = uid;
        }
        if let Some(gid) = gid {
            node.meta.gid = gid;
        }
        if let Some(size) = size {
            match &mut node.body {
                Body::File { now, dirty, .. } => now.truncate(size, dirty),
                Body::Dir { .. } => return Err(libc::EISDIR),
                _ => return Err(libc::EINVAL),
            }
            node.meta.mtime = SystemTime::now();
        }
        if let Some(mtime) = mtime {
            node.meta.mtime = mtime;
        }
        node.meta.ctime = SystemTime::now();
        self.attr_of(ino)
    }

    /// Makes a node named `name` in `parent`.
    fn make(&mut self, parent: Ino, name: &OsStr, kind: Kind, meta: Meta) -> DiskResult<Attr> {
        self.alive()?;
        if self.entries(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let body = match kind {
            Kind::File => Body::File {
                now: Bytes::default(),
                durable: Bytes::default(),
                dirty: BTreeSet::new(),
            },
            Kind::Dir => Body::Dir {
                now: BTreeMap::new(),
                durable: BTreeMap::new(),
                parent,
            },
            Kind::Symlink => unreachable!("symlinks are made by `symlink`"),
            Kind::Special(_) => Body::Special,
        };
        self.nodes.insert(
            ino,
            Node {
                kind,
                meta,
                links: 1,
                body,
            },
        );
        self.entries_mut(parent)?.insert(name.to_os_string(), ino);
        self.touch(parent);
        self.attr_of(ino)
    }

    fn touch(&mut self, dir: Ino) {
        if let Some(node) = self.nodes.get_mut(&dir) {
            let now = SystemTime::now();
            node.meta.mtime = now;
            node.meta.ctime = now;
        }
    }

    pub fn create(&mut self, parent: Ino, name: &OsStr, meta: Meta) -> DiskResult<Attr> {
        self.make(parent, name, Kind::File, meta)
    }

    pub fn mknod(
        &mut self,
        parent: Ino,
        name: &OsStr,
        file_type: u32,
        meta: Meta,
    ) -> DiskResult<Attr> {
        let kind = if file_type == libc::S_IFREG {
            Kind::File
        } else {
            Kind::Special(file_type)
        };
        self.make(parent, name, kind, meta)
    }

    pub fn mkdir(&mut self, parent: Ino, name: &OsStr, meta: Meta) -> DiskResult<Attr> {
        self.make(parent, name, Kind::Dir, meta)
    }

    pub fn symlink(
        &mut self,
        parent: Ino,
        name: &OsStr,
        target: &OsStr,
        meta: Meta,
    ) -> DiskResult<Attr> {
        self.alive()?;
        if self.entries(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                kind: Kind::Symlink,
                meta,
                links: 1,
                body: Body::Symlink(target.to_os_string()),
            },
        );
        self.entries_mut(parent)?.insert(name.to_os_string(), ino);
        self.touch(parent);
        self.attr_of(ino)
    }

    pub fn readlink(&self, ino: Ino) -> DiskResult<OsString> {
        self.alive()?;
        match &self.node(ino)?.body {
            Body::Symlink(target) => Ok(target.clone()),
            _ => Err(libc::EINVAL),
        }
    }

    pub fn link(&mut self, ino: Ino, parent: Ino, name: &OsStr) -> DiskResult<Attr> {
        self.alive()?;
        if self.node(ino)?.kind == Kind::Dir {
            return Err(libc::EPERM);
        }
        if self.entries(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        self.entries_mut(parent)?.insert(name.to_os_string(), ino);
        self.node_mut(ino)?.links += 1;
        self.touch(parent);
        self.attr_of(ino)
    }

    fn is_empty_dir(&self, ino: Ino) -> bool {
        matches!(&self.nodes[&ino].body, Body::Dir { now, .. } if now.is_empty())
    }

    /// Drops one name of `ino` (its node stays while open; durable state
    /// keeps it until the directory is synced).
    fn unlinked(&mut self, ino: Ino) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.links = node.links.saturating_sub(1);
            node.meta.ctime = SystemTime::now();
        }
    }

    pub fn unlink(&mut self, parent: Ino, name: &OsStr) -> DiskResult<()> {
        self.alive()?;
        let ino = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        if self.node(ino)?.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.entries_mut(parent)?.remove(name);
        self.unlinked(ino);
        self.touch(parent);
        Ok(())
    }

    pub fn rmdir(&mut self, parent: Ino, name: &OsStr) -> DiskResult<()> {
        self.alive()?;
        let ino = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        if self.node(ino)?.kind != Kind::Dir {
            return Err(libc::ENOTDIR);
        }
        if !self.is_empty_dir(ino) {
            return Err(libc::ENOTEMPTY);
        }
        self.entries_mut(parent)?.remove(name);
        self.unlinked(ino);
        self.touch(parent);
        Ok(())
    }

    /// `rename(2)` (with RENAME_NOREPLACE; RENAME_EXCHANGE is refused).
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
        no_replace: bool,
    ) -> DiskResult<()> {
        self.alive()?;
        let ino = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        let moving_dir = self.node(ino)?.kind == Kind::Dir;
        if let Some(&target) = self.entries(new_parent)?.get(new_name) {
            if target == ino {
                return Ok(());
            }
            if no_replace {
                return Err(libc::EEXIST);
            }
            let target_dir = self.node(target)?.kind == Kind::Dir;
            match (moving_dir, target_dir) {
                (false, true) => return Err(libc::EISDIR),
                (true, false) => return Err(libc::ENOTDIR),
                (true, true) if !self.is_empty_dir(target) => return Err(libc::ENOTEMPTY),
                _ => {}
            }
            self.entries_mut(new_parent)?.remove(new_name);
            self.unlinked(target);
        }
        self.entries_mut(parent)?.remove(name);
        self.entries_mut(new_parent)?
            .insert(new_name.to_os_string(), ino);
        if moving_dir {
            if let Body::Dir { parent: up, .. } = &mut self.node_mut(ino)?.body {
                *up = new_parent;
            }
        }
        self.touch(parent);
        self.touch(new_parent);
        Ok(())
    }

    pub fn read(&self, ino: Ino, offset: u64, len: u64) -> DiskResult<Vec<u8>> {
        self.alive()?;
        if self.bad_reads.as_ref().is_some_and(|bad| bad(offset, len)) {
            return Err(libc::EIO);
        }
        match &self.node(ino)?.body {
            Body::File { now, .. } => Ok(now.read(offset, len)),
            Body::Dir { .. } => Err(libc::EISDIR),
            _ => Err(libc::EINVAL),
        }
    }

    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> DiskResult<u32> {
        self.alive()?;
        let node = self.node_mut(ino)?;
        let size_before = match &mut node.body {
            Body::File { now, dirty, .. } => {
                let size = now.len();
                now.write(offset, data, dirty);
                size
            }
            Body::Dir { .. } => return Err(libc::EISDIR),
            _ => return Err(libc::EINVAL),
        };
        let time = SystemTime::now();
        node.meta.mtime = time;
        node.meta.ctime = time;
        self.counts.writes += 1;
        if self
            .cut_after
            .as_ref()
            .is_some_and(|cut| cut(offset, size_before))
        {
            self.cut_after = None;
            self.dead = true;
        }
        Ok(data.len() as u32)
    }

    /// Reads `bad` accepts (offset, length) fail with EIO from now on;
    /// `None` heals the disk.
    pub fn fail_reads(&mut self, bad: Option<ReadTrigger>) {
        self.bad_reads = bad;
    }

    /// The power goes right after the first write `trigger` accepts
    /// (given its offset and its file's size before it): that write is
    /// made, unsynced, and nothing after it.
    pub fn cut_after_write(&mut self, trigger: CutTrigger) {
        self.cut_after = Some(trigger);
    }

    /// `fallocate` mode 0: the file is at least `offset + len` long.
    pub fn allocate(&mut self, ino: Ino, offset: u64, len: u64) -> DiskResult<()> {
        self.alive()?;
        match &mut self.node_mut(ino)?.body {
            Body::File { now, dirty, .. } => {
                let end = offset + len;
                if end > now.len() {
                    now.truncate(end, dirty);
                }
                Ok(())
            }
            _ => Err(libc::ENODEV),
        }
    }

    /// A directory's entries now: (name, inode, kind), without `.`/`..`,
    /// and its parent.
    pub fn list(&self, dir: Ino) -> DiskResult<(Ino, Vec<Entry>)> {
        self.alive()?;
        let parent = match &self.node(dir)?.body {
            Body::Dir { parent, .. } => *parent,
            _ => return Err(libc::ENOTDIR),
        };
        let entries = self
            .entries(dir)?
            .iter()
            .map(|(name, ino)| (name.clone(), *ino, self.nodes[ino].kind))
            .collect();
        Ok((parent, entries))
    }

    /// Bytes held now in files (for statfs).
    pub fn used_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|node| match &node.body {
                Body::File { now, .. } => now.len(),
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
