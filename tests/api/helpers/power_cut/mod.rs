//! A file system that loses, at a power cut, everything not yet made
//! durable by `fsync` or `fdatasync`: the tests' stand-in for pulling the
//! plug (`disk` says what is durable and when, `mount` serves it through
//! FUSE). A server keeps its data directory on it (PostgreSQL its data
//! directory); the test cuts the power while bookings run, kills the
//! processes, powers on (a fresh mount of the durable state alone) and
//! checks that every acknowledged write is there.
//!
//! Needs `/dev/fuse` and root (the mount is made with mount(2) directly,
//! so no `fusermount3` is needed): `environment::fuse_usable`. Where either
//! is missing, the tests that use it (`needs = "fuse"`) show as ignored
//! (never under CI=true).

mod bytes;
pub mod disk;
mod mount;
mod power_on;
mod sync;

pub use disk::{Counts, Image, Tear};
use disk::{Disk, Names};
use fuser::{BackgroundSession, Config, MountOption, SessionACL};
use mount::PowerCutFs;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A mounted power-cut file system, in a temporary directory.
pub struct PowerCutDisk {
    disk: Arc<Mutex<Disk>>,
    sync_delay_ms: Arc<AtomicU64>,
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
    _parent: tempfile::TempDir,
}

impl PowerCutDisk {
    /// An empty disk, mounted, on which a name is durable once its
    /// directory is synced (`Names::Posix`).
    pub fn mount_new() -> PowerCutDisk {
        PowerCutDisk::mount_with(Names::Posix)
    }

    /// An empty disk on which names are durable with the next sync of
    /// anything, as on a journaling file system (`Names::Journaled`).
    pub fn mount_journaled() -> PowerCutDisk {
        PowerCutDisk::mount_with(Names::Journaled)
    }

    /// An empty disk, mounted; its root belongs to this process's user.
    fn mount_with(names: Names) -> PowerCutDisk {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let parent = tempfile::Builder::new()
            .prefix("boxoffice-power-cut-")
            .tempdir()
            .expect("temp dir");
        let mountpoint = parent.path().join("disk");
        std::fs::create_dir(&mountpoint).expect("mount point");
        let mut disk = PowerCutDisk {
            disk: Arc::new(Mutex::new(Disk::with_names(uid, gid, names))),
            sync_delay_ms: Arc::new(AtomicU64::new(0)),
            session: None,
            mountpoint,
            _parent: parent,
        };
        disk.mount();
        disk
    }

    fn mount(&mut self) {
        let fs = PowerCutFs {
            disk: self.disk.clone(),
            sync_delay_ms: self.sync_delay_ms.clone(),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("boxoffice-power-cut".into()),
            MountOption::NoAtime,
        ];
        // PostgreSQL runs as its own user.
        config.acl = SessionACL::All;
        config.n_threads = Some(2);
        let session = fuser::spawn_mount(fs, &self.mountpoint, &config)
            .unwrap_or_else(|e| panic!("mount FUSE at {}: {e}", self.mountpoint.display()));
        self.session = Some(session);
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// The power cut: nothing more becomes durable; every call on the file
    /// system fails from now on (the caller kills what runs on it next).
    pub fn cut(&self) {
        self.disk.lock().expect("disk").cut();
    }

    /// Power back on, after a `cut` and once no process uses the file
    /// system: unmounts it and mounts a disk of the durable state alone at
    /// the same place.
    pub fn power_on(&mut self) {
        self.power_on_with(Tear::None);
    }

    /// `power_on` after a cut that tore as `tear` says.
    pub fn power_on_with(&mut self, tear: Tear) {
        assert!(
            self.disk.lock().expect("disk").is_cut(),
            "power_on without a cut"
        );
        self.unmount();
        let fresh = self.disk.lock().expect("disk").power_on_with(tear);
        self.disk = Arc::new(Mutex::new(fresh));
        self.mount();
    }

    fn unmount(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let connection = std::fs::metadata(&self.mountpoint)
            .ok()
            .map(|m| libc::minor(std::os::unix::fs::MetadataExt::dev(&m)));
        let path = CString::new(self.mountpoint.as_os_str().as_bytes()).expect("no NUL");
        // Lazily: a killed process's last file may still be closing.
        // SAFETY: a valid, NUL-terminated path.
        unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        // The session ends once the kernel lets go of the connection; a
        // process left holding a file (a test that failed before its
        // kill) would keep it forever, so the connection is aborted.
        if let Some(connection) = connection {
            abort_connection(connection);
        }
        let _ = session.join();
    }

    /// The power goes right after the first write `trigger` accepts (its
    /// offset, and its file's size before it).
    pub fn cut_after_write(&self, trigger: disk::CutTrigger) {
        self.disk.lock().expect("disk").cut_after_write(trigger);
    }

    /// Reads `bad` accepts (offset, length) fail with EIO, as from a bad
    /// sector; `None` heals the disk. Reads the kernel has cached do not
    /// reach the disk: remount first (`cut`, `power_on`) to be sure.
    pub fn fail_reads(&self, bad: Option<disk::ReadTrigger>) {
        self.disk.lock().expect("disk").fail_reads(bad);
    }

    /// Whether the power is off.
    pub fn is_cut(&self) -> bool {
        self.disk.lock().expect("disk").is_cut()
    }

    /// Every sync waits this long before it makes anything durable.
    pub fn set_sync_delay(&self, delay: Duration) {
        self.sync_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// What would survive a power cut now.
    pub fn durable_image(&self) -> Image {
        self.disk.lock().expect("disk").durable_image()
    }

    /// What a cut now that tears as `tear` says would leave.
    pub fn image_after(&self, tear: Tear) -> Image {
        self.disk.lock().expect("disk").image_after(tear)
    }

    /// Writes and syncs seen since the last power-on.
    pub fn counts(&self) -> Counts {
        self.disk.lock().expect("disk").counts
    }
}

impl Drop for PowerCutDisk {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// Writes `image` as real files and directories at `at` (which must not
/// exist): a copy of what a power cut would leave, to open on its own.
pub fn materialize(image: &Image, at: &Path) {
    match image {
        Image::File(bytes, meta) => {
            std::fs::write(at, bytes.to_vec()).expect("write a file of the image");
            std::fs::set_permissions(at, std::fs::Permissions::from_mode(meta.perm.into()))
                .expect("chmod");
        }
        Image::Dir(entries, meta) => {
            std::fs::create_dir(at).expect("make a directory of the image");
            for (name, child) in entries {
                materialize(child, &at.join(name));
            }
            std::fs::set_permissions(at, std::fs::Permissions::from_mode(meta.perm.into()))
                .expect("chmod");
        }
        Image::Symlink(target) => symlink(target, at).expect("symlink"),
    }
}

/// Aborts FUSE connection `id` through the fusectl file system (mounted
/// at /sys/fs/fuse/connections if it is not): every request still open on
/// it fails, and its session ends. Best effort.
fn abort_connection(id: u32) {
    let connections = Path::new("/sys/fs/fuse/connections");
    if !connections.join(id.to_string()).exists() {
        let (source, target, kind) = (
            CString::new("fusectl").expect("no NUL"),
            CString::new("/sys/fs/fuse/connections").expect("no NUL"),
            CString::new("fusectl").expect("no NUL"),
        );
        // SAFETY: valid, NUL-terminated strings; no data argument.
        unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                kind.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
    }
    let _ = std::fs::write(connections.join(id.to_string()).join("abort"), b"1");
}
