//! The disk's rules, each on its own: what a sync makes durable, what a
//! power cut keeps.

use super::*;
use crate::helpers::api_test;
use std::sync::Arc;

fn meta() -> Meta {
    Meta::new(0o644, 0, 0)
}

fn name(text: &str) -> &OsStr {
    OsStr::new(text)
}

#[api_test]
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

#[api_test]
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

#[api_test]
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

#[api_test]
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

#[api_test]
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

#[api_test]
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

#[api_test]
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

#[api_test]
fn a_sync_covers_the_writes_made_before_it_arrived_and_no_later_ones() {
    let mut disk = Disk::new(0, 0);
    let file = disk.create(ROOT, name("log"), meta()).unwrap().ino;
    disk.sync(ROOT).unwrap();
    disk.write(file, 0, b"before").unwrap();
    let pending = disk.begin_sync(file).unwrap();
    disk.write(file, 0, b"AFTER!").unwrap();
    disk.finish_sync(pending).unwrap();
    let after = disk.power_on();
    let file = after.lookup(ROOT, name("log")).unwrap().ino;
    assert_eq!(after.read(file, 0, 6).unwrap(), b"before");
}

#[api_test]
fn an_older_sync_completing_late_does_not_undo_a_newer_one() {
    let mut disk = Disk::new(0, 0);
    let file = disk.create(ROOT, name("log"), meta()).unwrap().ino;
    disk.sync(ROOT).unwrap();
    disk.write(file, 0, b"one").unwrap();
    let older = disk.begin_sync(file).unwrap();
    disk.write(file, 0, b"two").unwrap();
    disk.sync(file).unwrap();
    disk.finish_sync(older).unwrap();
    let after = disk.power_on();
    let file = after.lookup(ROOT, name("log")).unwrap().ino;
    assert_eq!(after.read(file, 0, 3).unwrap(), b"two");
}

#[api_test]
fn a_sync_the_cut_overtakes_makes_nothing_durable() {
    let mut disk = Disk::new(0, 0);
    let file = disk.create(ROOT, name("log"), meta()).unwrap().ino;
    disk.sync(ROOT).unwrap();
    disk.write(file, 0, b"lost").unwrap();
    let pending = disk.begin_sync(file).unwrap();
    disk.cut();
    assert_eq!(disk.finish_sync(pending), Err(libc::EIO));
    let after = disk.power_on();
    let file = after.lookup(ROOT, name("log")).unwrap().ino;
    assert_eq!(after.read(file, 0, 4).unwrap(), b"");
}
