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
use std::sync::Arc;
use std::time::SystemTime;

/// Bytes are kept and made durable in pages of this size.
pub const PAGE: u64 = 4096;
type Page = Arc<[u8; PAGE as usize]>;

/// A disk writes whole sectors of this size, or none of them.
pub const SECTOR: u64 = 512;

/// What a power cut keeps of the writes not yet synced.
#[derive(Clone, Copy, Debug)]
pub enum Tear {
    /// Nothing.
    None,
    /// Each unsynced sector with even odds (from this seed).
    Sectors(u64),
}

/// An inode number; the root directory is 1.
pub type Ino = u64;
pub const ROOT: Ino = 1;

/// A failure, as the errno the caller sees.
pub type Errno = i32;
pub type DiskResult<T> = Result<T, Errno>;

/// A file's bytes: pages that share memory with other copies until
/// written (a durable copy costs a page only where the file changed).
#[derive(Clone, Default)]
pub struct Bytes {
    size: u64,
    pages: BTreeMap<u64, Page>,
}

impl Bytes {
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn read(&self, offset: u64, len: u64) -> Vec<u8> {
        let end = (offset.saturating_add(len)).min(self.size);
        if offset >= end {
            return Vec::new();
        }
        let mut out = vec![0u8; (end - offset) as usize];
        let mut at = offset;
        while at < end {
            let page = at / PAGE;
            let within = (at % PAGE) as usize;
            let take = ((PAGE - at % PAGE).min(end - at)) as usize;
            if let Some(bytes) = self.pages.get(&page) {
                let from = (at - offset) as usize;
                out[from..from + take].copy_from_slice(&bytes[within..within + take]);
            }
            at += take as u64;
        }
        out
    }

    /// Writes `data` at `offset`; the pages it touched go into `dirty`.
    fn write(&mut self, offset: u64, data: &[u8], dirty: &mut BTreeSet<u64>) {
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let page = at / PAGE;
            let within = (at % PAGE) as usize;
            let take = (PAGE as usize - within).min(rest.len());
            let bytes = self
                .pages
                .entry(page)
                .or_insert_with(|| Arc::new([0u8; PAGE as usize]));
            Arc::make_mut(bytes)[within..within + take].copy_from_slice(&rest[..take]);
            dirty.insert(page);
            rest = &rest[take..];
            at += take as u64;
        }
        self.size = self.size.max(offset + data.len() as u64);
    }

    /// Sets the size; bytes past it are gone (zeros if it grows again).
    fn truncate(&mut self, size: u64, dirty: &mut BTreeSet<u64>) {
        if size < self.size {
            let first_gone = size.div_ceil(PAGE);
            let gone: Vec<u64> = self.pages.range(first_gone..).map(|(p, _)| *p).collect();
            for page in gone {
                self.pages.remove(&page);
                dirty.insert(page);
            }
            let within = (size % PAGE) as usize;
            if within != 0 {
                if let Some(bytes) = self.pages.get_mut(&(size / PAGE)) {
                    Arc::make_mut(bytes)[within..].fill(0);
                    dirty.insert(size / PAGE);
                }
            }
        }
        self.size = size;
    }

    /// Copies the pages in `dirty` and the size from `now`.
    fn take_from(&mut self, now: &Bytes, dirty: &BTreeSet<u64>) {
        for page in dirty {
            match now.pages.get(page) {
                Some(bytes) => self.pages.insert(*page, bytes.clone()),
                None => self.pages.remove(page),
            };
        }
        self.size = now.size;
        // Pages past the size that no write marked (a file cut short and
        // then synced) must not reappear if it grows again.
        let first_gone = self.size.div_ceil(PAGE);
        self.pages.retain(|page, _| *page < first_gone);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.read(0, self.size)
    }
}

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
enum Body {
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
struct Node {
    kind: Kind,
    meta: Meta,
    /// Names that lead to it now (directories: 1 while linked).
    links: u32,
    body: Body,
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

/// A durable file tree, as it would be found after a power cut.
#[derive(Clone)]
pub enum Image {
    File(Bytes, Meta),
    Dir(BTreeMap<OsString, Image>, Meta),
    Symlink(OsString),
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
    nodes: HashMap<Ino, Node>,
    next_ino: Ino,
    dead: bool,
    names: Names,
    /// Directories whose entries changed since they were last durable.
    renamed: BTreeSet<Ino>,
    pub counts: Counts,
}

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

    /// A disk with the durable state alone: what a machine finds when the
    /// power comes back.
    pub fn power_on(&self) -> Disk {
        self.power_on_with(Tear::None)
    }

    /// A disk of what survives a cut that tears as `tear` says.
    pub fn power_on_with(&self, tear: Tear) -> Disk {
        let torn = self.torn(tear);
        let this = torn.as_ref().unwrap_or(self);
        let mut nodes = HashMap::new();
        let mut links: HashMap<Ino, u32> = HashMap::new();
        let mut queue = vec![(ROOT, ROOT)];
        while let Some((ino, parent)) = queue.pop() {
            *links.entry(ino).or_default() += 1;
            if nodes.contains_key(&ino) {
                continue;
            }
            let node = &this.nodes[&ino];
            let body = match &node.body {
                Body::File { durable, .. } => Body::File {
                    now: durable.clone(),
                    durable: durable.clone(),
                    dirty: BTreeSet::new(),
                },
                Body::Dir { durable, .. } => {
                    for child in durable.values() {
                        queue.push((*child, ino));
                    }
                    Body::Dir {
                        now: durable.clone(),
                        durable: durable.clone(),
                        parent,
                    }
                }
                other => other.clone(),
            };
            nodes.insert(
                ino,
                Node {
                    kind: node.kind,
                    meta: node.meta,
                    links: 0,
                    body,
                },
            );
        }
        for (ino, count) in links {
            if let Some(node) = nodes.get_mut(&ino) {
                node.links = if node.kind == Kind::Dir { 1 } else { count };
            }
        }
        Disk {
            nodes,
            next_ino: this.next_ino,
            dead: false,
            names: this.names,
            renamed: BTreeSet::new(),
            counts: Counts::default(),
        }
    }

    /// Makes the entries of directory `dir` durable.
    fn names_durable(&mut self, dir: Ino) {
        if let Some(Node {
            body: Body::Dir { now, durable, .. },
            ..
        }) = self.nodes.get_mut(&dir)
        {
            *durable = now.clone();
        }
        self.renamed.remove(&dir);
    }

    /// The durable tree under the root.
    pub fn durable_image(&self) -> Image {
        self.image_of(ROOT, 0)
    }

    /// The tree a cut that tears as `tear` says would leave.
    pub fn image_after(&self, tear: Tear) -> Image {
        match self.torn(tear) {
            Some(torn) => torn.image_of(ROOT, 0),
            None => self.image_of(ROOT, 0),
        }
    }

    /// A copy whose durable bytes hold, besides, the unsynced sectors the
    /// tear keeps (`None` when it keeps none).
    fn torn(&self, tear: Tear) -> Option<Disk> {
        use rand::{Rng, SeedableRng};
        let Tear::Sectors(seed) = tear else {
            return None;
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut copy = Disk {
            nodes: self.nodes.clone(),
            next_ino: self.next_ino,
            dead: self.dead,
            names: self.names,
            renamed: self.renamed.clone(),
            counts: self.counts,
        };
        let mut inos: Vec<Ino> = copy.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(Node {
                body:
                    Body::File {
                        now,
                        durable,
                        dirty,
                    },
                ..
            }) = copy.nodes.get_mut(&ino)
            else {
                continue;
            };
            for page in dirty.iter() {
                let start = page * PAGE;
                for sector in 0..PAGE / SECTOR {
                    if !rng.gen_bool(0.5) {
                        continue;
                    }
                    let at = start + sector * SECTOR;
                    if at >= now.len() {
                        continue;
                    }
                    let bytes = now.read(at, SECTOR);
                    let mut ignored = BTreeSet::new();
                    durable.write(at, &bytes, &mut ignored);
                }
            }
        }
        Some(copy)
    }

    fn image_of(&self, ino: Ino, depth: usize) -> Image {
        let node = &self.nodes[&ino];
        match &node.body {
            Body::File { durable, .. } => Image::File(durable.clone(), node.meta),
            Body::Dir { durable, .. } if depth < 64 => Image::Dir(
                durable
                    .iter()
                    .map(|(name, child)| (name.clone(), self.image_of(*child, depth + 1)))
                    .collect(),
                node.meta,
            ),
            Body::Dir { .. } => Image::Dir(BTreeMap::new(), node.meta),
            Body::Symlink(target) => Image::Symlink(target.clone()),
            Body::Special => Image::File(Bytes::default(), node.meta),
        }
    }

    fn alive(&self) -> DiskResult<()> {
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
        match &self.node(ino)?.body {
            Body::File { now, .. } => Ok(now.read(offset, len)),
            Body::Dir { .. } => Err(libc::EISDIR),
            _ => Err(libc::EINVAL),
        }
    }

    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> DiskResult<u32> {
        self.alive()?;
        let node = self.node_mut(ino)?;
        match &mut node.body {
            Body::File { now, dirty, .. } => now.write(offset, data, dirty),
            Body::Dir { .. } => return Err(libc::EISDIR),
            _ => return Err(libc::EINVAL),
        }
        let time = SystemTime::now();
        node.meta.mtime = time;
        node.meta.ctime = time;
        self.counts.writes += 1;
        Ok(data.len() as u32)
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

    /// `fsync`/`fdatasync` of a file, `fsync` of a directory: makes it
    /// durable as it is now.
    pub fn sync(&mut self, ino: Ino) -> DiskResult<()> {
        self.alive()?;
        let node = self.node_mut(ino)?;
        let dir = match &mut node.body {
            Body::File {
                now,
                durable,
                dirty,
            } => {
                durable.take_from(now, dirty);
                dirty.clear();
                false
            }
            Body::Dir { .. } => true,
            _ => false,
        };
        if dir {
            self.names_durable(ino);
        }
        if self.names == Names::Journaled {
            for changed in std::mem::take(&mut self.renamed) {
                self.names_durable(changed);
            }
        }
        if dir {
            self.counts.dir_syncs += 1;
        } else {
            self.counts.file_syncs += 1;
        }
        Ok(())
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
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta::new(0o644, 0, 0)
    }

    fn name(text: &str) -> &OsStr {
        OsStr::new(text)
    }

    #[test]
    fn unsynced_bytes_are_lost_and_synced_ones_kept() {
        let mut disk = Disk::new(0, 0);
        let file = disk.create(ROOT, name("log"), meta()).unwrap().ino;
        disk.sync(ROOT).unwrap();
        disk.write(file, 0, b"first").unwrap();
        disk.sync(file).unwrap();
        disk.write(file, 5, b" second").unwrap();
        disk.write(file, 0, b"FIRST").unwrap();
        disk.cut();
        assert_eq!(disk.write(file, 0, b"x"), Err(libc::EIO));
        let after = disk.power_on();
        let file = after.lookup(ROOT, name("log")).unwrap().ino;
        assert_eq!(after.read(file, 0, 100).unwrap(), b"first");
    }

    #[test]
    fn a_torn_cut_keeps_some_unsynced_sectors_and_no_other_bytes() {
        let mut disk = Disk::new(0, 0);
        let file = disk.create(ROOT, name("log"), meta()).unwrap().ino;
        disk.sync(ROOT).unwrap();
        disk.write(file, 0, &[1u8; 2 * PAGE as usize]).unwrap();
        disk.sync(file).unwrap();
        disk.write(file, 0, &[2u8; 2 * PAGE as usize]).unwrap();
        let mut kinds = BTreeSet::new();
        for seed in 0..8 {
            let after = disk.power_on_with(Tear::Sectors(seed));
            let file = after.lookup(ROOT, name("log")).unwrap().ino;
            let bytes = after.read(file, 0, 2 * PAGE).unwrap();
            for sector in bytes.chunks(SECTOR as usize) {
                assert!(sector.iter().all(|b| *b == sector[0]), "a sector is whole");
                kinds.insert(sector[0]);
            }
        }
        assert_eq!(
            kinds,
            BTreeSet::from([1, 2]),
            "old and new sectors both survive"
        );
    }

    #[test]
    fn a_new_name_needs_its_directory_synced() {
        let mut disk = Disk::new(0, 0);
        let file = disk.create(ROOT, name("db"), meta()).unwrap().ino;
        disk.write(file, 0, b"data").unwrap();
        disk.sync(file).unwrap();
        assert!(disk.power_on().lookup(ROOT, name("db")).is_err());
        disk.sync(ROOT).unwrap();
        let after = disk.power_on();
        let file = after.lookup(ROOT, name("db")).unwrap().ino;
        assert_eq!(after.read(file, 0, 10).unwrap(), b"data");
    }

    #[test]
    fn a_rename_and_a_removal_are_durable_with_their_directory() {
        let mut disk = Disk::new(0, 0);
        let old = disk.create(ROOT, name("snap.1"), meta()).unwrap().ino;
        disk.write(old, 0, b"old").unwrap();
        disk.sync(old).unwrap();
        disk.sync(ROOT).unwrap();
        let new = disk.create(ROOT, name("snap.2.tmp"), meta()).unwrap().ino;
        disk.write(new, 0, b"new").unwrap();
        disk.sync(new).unwrap();
        disk.rename(ROOT, name("snap.2.tmp"), ROOT, name("snap.2"), false)
            .unwrap();
        disk.unlink(ROOT, name("snap.1")).unwrap();
        let lost = disk.power_on();
        assert!(lost.lookup(ROOT, name("snap.1")).is_ok());
        assert!(lost.lookup(ROOT, name("snap.2")).is_err());
        disk.sync(ROOT).unwrap();
        let kept = disk.power_on();
        assert!(kept.lookup(ROOT, name("snap.1")).is_err());
        let new = kept.lookup(ROOT, name("snap.2")).unwrap().ino;
        assert_eq!(kept.read(new, 0, 10).unwrap(), b"new");
    }

    #[test]
    fn journaled_names_are_durable_with_any_sync() {
        let mut disk = Disk::with_names(0, 0, Names::Journaled);
        let dir = disk.mkdir(ROOT, name("base"), meta()).unwrap().ino;
        let file = disk.create(dir, name("PG_VERSION"), meta()).unwrap().ino;
        disk.write(file, 0, b"15").unwrap();
        assert!(disk.power_on().lookup(ROOT, name("base")).is_err());
        disk.sync(file).unwrap();
        let after = disk.power_on();
        let dir = after.lookup(ROOT, name("base")).unwrap().ino;
        let file = after.lookup(dir, name("PG_VERSION")).unwrap().ino;
        assert_eq!(after.read(file, 0, 10).unwrap(), b"15");
    }

    #[test]
    fn a_file_cut_short_and_grown_again_reads_zeros() {
        let mut disk = Disk::new(0, 0);
        let file = disk.create(ROOT, name("f"), meta()).unwrap().ino;
        disk.sync(ROOT).unwrap();
        disk.write(file, 0, &[7u8; 10_000]).unwrap();
        disk.sync(file).unwrap();
        disk.setattr(file, None, None, None, Some(100), None)
            .unwrap();
        disk.setattr(file, None, None, None, Some(10_000), None)
            .unwrap();
        assert_eq!(disk.read(file, 100, 10).unwrap(), vec![0u8; 10]);
        disk.sync(file).unwrap();
        let after = disk.power_on();
        let file = after.lookup(ROOT, name("f")).unwrap().ino;
        let bytes = after.read(file, 0, 10_000).unwrap();
        assert_eq!(bytes.len(), 10_000);
        assert!(bytes[..100].iter().all(|b| *b == 7));
        assert!(bytes[100..].iter().all(|b| *b == 0));
    }

    #[test]
    fn a_durable_copy_shares_pages_until_written() {
        let mut disk = Disk::new(0, 0);
        let file = disk.create(ROOT, name("f"), meta()).unwrap().ino;
        disk.write(file, 0, &[1u8; 3 * PAGE as usize]).unwrap();
        disk.sync(file).unwrap();
        disk.write(file, PAGE + 10, b"x").unwrap();
        if let Body::File { now, durable, .. } = &disk.nodes[&file].body {
            assert!(Arc::ptr_eq(&now.pages[&0], &durable.pages[&0]));
            assert!(!Arc::ptr_eq(&now.pages[&1], &durable.pages[&1]));
            assert_eq!(durable.read(PAGE + 10, 1), vec![1u8]);
        } else {
            panic!("not a file");
        }
    }
}
