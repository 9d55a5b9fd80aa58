//! Power cuts: every acknowledged write survives losing everything that
//! was not made durable by fsync or fdatasync.

use crate::helpers::power_cut::{self, PowerCutDisk};
use std::io::Write;

#[test]
fn the_power_cut_disk_keeps_synced_files_and_loses_the_rest() {
    assert!(power_cut::available());
    let mut disk = PowerCutDisk::mount_new();
    let dir = disk.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut synced = std::fs::File::create(dir.join("synced")).unwrap();
    synced.write_all(b"kept").unwrap();
    synced.sync_data().unwrap();
    std::fs::File::open(&dir).unwrap().sync_all().unwrap();
    std::fs::File::open(disk.path()).unwrap().sync_all().unwrap();
    synced.write_all(b" and lost").unwrap();
    std::fs::write(dir.join("unsynced"), b"lost").unwrap();
    drop(synced);
    disk.cut();
    assert!(std::fs::read(dir.join("synced")).is_err());
    disk.power_on();
    assert_eq!(std::fs::read(dir.join("synced")).unwrap(), b"kept");
    assert!(!dir.join("unsynced").exists());
}
