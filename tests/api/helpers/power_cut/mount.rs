//! The `Disk` mounted as a FUSE file system in this process, so that a
//! real server (and PostgreSQL) can keep its data on it.
//!
//! FUSE hands the file system every write as it is made (there is no
//! write-back cache unless it asks for one, and it does not), every
//! `fsync`, `fdatasync` and directory `fsync`; `sync_file_range` never
//! reaches it, so it makes nothing durable here, as on a power cut it may
//! not. Entries and attributes are not cached by the kernel (zero TTLs):
//! the disk answers every look-up.

use super::disk::{Attr, Disk, DiskResult, Ino, Kind, Meta, PAGE};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

const NO_CACHE: Duration = Duration::ZERO;

/// The FUSE face of a shared `Disk`.
pub struct PowerCutFs {
    pub disk: Arc<Mutex<Disk>>,
    /// How long every sync takes before it makes anything durable (a slow
    /// disk, so that a reply sent before its sync is caught before it).
    pub sync_delay_ms: Arc<AtomicU64>,
}

fn error(code: i32) -> Errno {
    Errno::from_i32(code)
}

fn file_type(kind: Kind) -> FileType {
    match kind {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
        Kind::Special(t) if t == libc::S_IFIFO => FileType::NamedPipe,
        Kind::Special(t) if t == libc::S_IFSOCK => FileType::Socket,
        Kind::Special(t) if t == libc::S_IFCHR => FileType::CharDevice,
        Kind::Special(_) => FileType::BlockDevice,
    }
}

fn file_attr(attr: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(attr.ino),
        size: attr.size,
        blocks: attr.size.div_ceil(512),
        atime: attr.meta.atime,
        mtime: attr.meta.mtime,
        ctime: attr.meta.ctime,
        crtime: attr.meta.ctime,
        kind: file_type(attr.kind),
        perm: attr.meta.perm,
        nlink: attr.links,
        uid: attr.meta.uid,
        gid: attr.meta.gid,
        rdev: attr.meta.rdev,
        blksize: PAGE as u32,
        flags: 0,
    }
}

fn time_of(time: Option<TimeOrNow>) -> Option<SystemTime> {
    time.map(|t| match t {
        TimeOrNow::SpecificTime(at) => at,
        TimeOrNow::Now => SystemTime::now(),
    })
}

impl PowerCutFs {
    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.disk
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn entry(&self, result: DiskResult<Attr>, reply: ReplyEntry) {
        match result {
            Ok(attr) => reply.entry(&NO_CACHE, &file_attr(&attr), Generation(0)),
            Err(code) => reply.error(error(code)),
        }
    }

    fn meta(req: &Request, mode: u32, umask: u32) -> Meta {
        Meta::new(((mode & !umask) & 0o7777) as u16, req.uid(), req.gid())
    }
}

impl Filesystem for PowerCutFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let result = self.disk().lookup(parent.0, name);
        self.entry(result, reply);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.disk().getattr(ino.0) {
            Ok(attr) => reply.attr(&NO_CACHE, &file_attr(&attr)),
            Err(code) => reply.error(error(code)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self
            .disk()
            .setattr(ino.0, mode, uid, gid, size, time_of(mtime));
        match result {
            Ok(attr) => reply.attr(&NO_CACHE, &file_attr(&attr)),
            Err(code) => reply.error(error(code)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.disk().readlink(ino.0) {
            Ok(target) => reply.data(target.as_encoded_bytes()),
            Err(code) => reply.error(error(code)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let mut meta = Self::meta(req, mode, umask);
        meta.rdev = rdev;
        let result = self.disk().mknod(parent.0, name, mode & libc::S_IFMT, meta);
        self.entry(result, reply);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self
            .disk()
            .mkdir(parent.0, name, Self::meta(req, mode, umask));
        self.entry(result, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.disk().unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.disk().rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let meta = Meta::new(0o777, req.uid(), req.gid());
        let result = self
            .disk()
            .symlink(parent.0, link_name, target.as_os_str(), meta);
        self.entry(result, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        match self
            .disk()
            .rename(parent.0, name, newparent.0, newname, no_replace)
        {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let result = self.disk().link(ino.0, newparent.0, newname);
        self.entry(result, reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.disk().getattr(ino.0) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(code) => reply.error(error(code)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.disk().read(ino.0, offset, u64::from(size)) {
            Ok(bytes) => reply.data(&bytes),
            Err(code) => reply.error(error(code)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.disk().write(ino.0, offset, data) {
            Ok(written) => reply.written(written),
            Err(code) => reply.error(error(code)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.slow_sync(ino.0, reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let (parent, entries) = match self.disk().list(ino.0) {
            Ok(listed) => listed,
            Err(code) => return reply.error(error(code)),
        };
        let all = [
            (OsStr::new(".").to_os_string(), ino.0, Kind::Dir),
            (OsStr::new("..").to_os_string(), parent, Kind::Dir),
        ]
        .into_iter()
        .chain(entries);
        for (index, (name, child, kind)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), index as u64 + 1, file_type(kind), &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.slow_sync(ino.0, reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let used = self.disk().used_bytes() / PAGE;
        let total: u64 = 4 << 20; // 16 GiB of pages
        reply.statfs(
            total,
            total.saturating_sub(used),
            total.saturating_sub(used),
            1 << 20,
            1 << 19,
            PAGE as u32,
            255,
            PAGE as u32,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        match self.disk().getattr(ino.0) {
            Ok(_) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self
            .disk()
            .create(parent.0, name, Self::meta(req, mode, umask));
        match result {
            Ok(attr) => reply.created(
                &NO_CACHE,
                &file_attr(&attr),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(code) => reply.error(error(code)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode != 0 {
            return reply.error(Errno::EOPNOTSUPP);
        }
        match self.disk().allocate(ino.0, offset, length) {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }
}

impl PowerCutFs {
    /// A sync: takes what it covers when it arrives, waits out the delay
    /// (without holding the disk), then makes that durable, unless the
    /// power was cut meanwhile.
    fn slow_sync(&self, ino: Ino, reply: ReplyEmpty) {
        let pending = match self.disk().begin_sync(ino) {
            Ok(pending) => pending,
            Err(code) => return reply.error(error(code)),
        };
        let delay = self.sync_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        match self.disk().finish_sync(pending) {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(error(code)),
        }
    }
}
