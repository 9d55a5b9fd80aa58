//! The store format version (the contract's "Operating the data"): every
//! store records the version it was written in. A directory from before
//! versions were recorded (committed in `tests/fixtures/sled-format-0`) and
//! one of format 1 (`tests/fixtures/sled-format-1`, before the indexes of
//! bookings by show and by id) are upgraded at start and serve as they
//! did, every booking in the new indexes; a store of a newer version is
//! refused, both versions named, and nothing in it changes.

use crate::helpers::*;
use boxoffice::store::dump::Record;
use boxoffice::store::SledStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    found
}

fn copy_dir(from: &Path, to: &Path) {
    for (path, bytes) in files(from) {
        let target = to.join(path.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
    std::fs::create_dir_all(to.join("blobs")).unwrap();
}

/// `boxoffice serve` on `store` must exit 1 (within 30 s; a server that
/// starts instead is killed), its message holding each of `words`.
fn refuses_to_start(store: &[&str], words: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo"])
        .args(store)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run boxoffice");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
    assert_eq!(status.code(), Some(1), "serve: {said}");
    for word in words {
        assert!(said.contains(word), "{said:?} lacks {word:?}");
    }
}

#[api_test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_store_from_before_format_versions_is_upgraded_and_serves() {
    let (_parent, dir) = temp_data_dir();
    copy_dir(&fixture("sled-format-0").join("data"), &dir);
    assert!(!dir.join("boxoffice-format").exists());
    let server = BinaryServer::start(&dir, &[]);
    replay_fixture(&server, &fixture_requests("sled-format-0")).await;
    server.stop();
    assert_eq!(
        std::fs::read_to_string(dir.join("boxoffice-format")).unwrap(),
        "boxoffice store format 2\n"
    );
    assert_dir_consistent(&dir);
    assert_every_booking_indexed(&dir, 3);
    // And again, now of the current format.
    let server = BinaryServer::start(&dir, &[]);
    replay_fixture(&server, &fixture_requests("sled-format-0")).await;
    server.stop();
}

/// Every booking of the sled store in `dir` (`count` of them: with a
/// record of its own or inside the key record that made it) is in its
/// show's index once, in order, as it reads by its owner, and its owner is
/// found by its id; the shows' indexes hold nothing else.
fn assert_every_booking_indexed(dir: &Path, count: usize) {
    let store = SledStore::open(dir).expect("opens");
    let bookings: Vec<_> = store
        .records()
        .filter_map(|record| match record.expect("a record") {
            Record::Booking(booking) => Some(booking),
            _ => None,
        })
        .collect();
    assert_eq!(bookings.len(), count, "{bookings:?}");
    let mut listed = 0;
    for show in store.list_shows().unwrap() {
        let page = store.list_show_bookings(show.id, None, 1000).unwrap();
        assert!(
            page.windows(2)
                .all(|w| (w[0].created_at_ms, w[0].id) < (w[1].created_at_ms, w[1].id)),
            "not oldest first: {page:?}"
        );
        listed += page.len();
    }
    assert_eq!(listed, count, "the shows' indexes list other bookings");
    for booking in &bookings {
        assert_eq!(
            store.booking_owner(booking.id).unwrap(),
            Some(booking.owner)
        );
        let page = store.list_show_bookings(booking.show, None, 1000).unwrap();
        assert_eq!(
            page.iter().filter(|b| *b == booking).count(),
            1,
            "{booking:?}"
        );
        assert!(store
            .list_bookings(booking.owner)
            .unwrap()
            .contains(booking));
        assert_eq!(
            store
                .load_booking(booking.owner, booking.id)
                .unwrap()
                .as_ref(),
            Some(booking)
        );
    }
}

/// A store of format 1, made by the build before the indexes of bookings
/// (`tests/fixtures/sled-format-1`: two users' bookings on two shows, kept
/// in their key records, cancelled, checked out; a hold; a redo record
/// left by its server's stop), is upgraded at start: its format file says
/// 2, every booking is in its show's index and its owner's, every key
/// replays byte for byte, each user's bookings read as they did, and
/// `boxoffice check` finds seats, bookings, holds and keys in agreement.
/// Fails if the upgrade leaves the bookings kept in key records out.
#[api_test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_store_of_format_1_is_upgraded_with_every_booking_indexed() {
    let (_parent, dir) = temp_data_dir();
    copy_dir(&fixture("sled-format-1").join("data"), &dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("boxoffice-format")).unwrap(),
        "boxoffice store format 1\n"
    );
    let requests = fixture_requests("sled-format-1");
    let server = BinaryServer::start(&dir, &[]);
    replay_fixture(&server, &requests).await;
    let second = &requests["second_user"];
    let fan = server.as_user(second["token"].as_str().unwrap());
    assert_eq!(fan.bookings().await.len(), 4);
    let cancelled = fan.booking(second["cancelled"].as_str().unwrap()).await;
    assert_eq!(cancelled["status"], "cancelled");
    server.stop();
    assert_eq!(
        std::fs::read_to_string(dir.join("boxoffice-format")).unwrap(),
        "boxoffice store format 2\n"
    );
    assert_dir_consistent(&dir);
    assert_every_booking_indexed(&dir, 7);
    // And again, now of the current format.
    let server = BinaryServer::start(&dir, &[]);
    replay_fixture(&server, &requests).await;
    server.stop();
    assert_every_booking_indexed(&dir, 7);
}

#[api_test]
fn a_sled_store_of_a_newer_format_is_refused_and_left_as_it_is() {
    let (_parent, dir) = temp_data_dir();
    copy_dir(&fixture("sled-format-0").join("data"), &dir);
    std::fs::write(dir.join("boxoffice-format"), "boxoffice store format 3\n").unwrap();
    let before = files(&dir);
    refuses_to_start(
        &["--data-dir", dir.to_str().unwrap()],
        &["store format 3", "formats up to 2", "nothing was changed"],
    );
    assert!(
        files(&dir) == before,
        "the refused start changed the directory"
    );
}

#[api_test(needs = "postgres")]
fn a_database_of_a_newer_schema_is_refused_and_left_as_it_is() {
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().unwrap().to_string();
    boxoffice_ok(&["migrate"], &storage);
    postgres::execute(
        &url,
        "INSERT INTO schema_migrations (version, name) VALUES (99, 'from a newer build')",
    )
    .unwrap();
    let tables =
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
                  WHERE table_schema = 'public'";
    let before = postgres::query_text(&url, tables).unwrap();
    refuses_to_start(
        &["--database-url", &url],
        &["version 99", "versions up to 4", "nothing was changed"],
    );
    assert_eq!(postgres::query_text(&url, tables).unwrap(), before);
}
