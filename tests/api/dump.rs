//! The dump (the contract's "Operating the data"): `boxoffice export`,
//! `import` and `check` on real stores. A crowd books, holds and checks
//! out until the server is killed; the store is exported, checked, and
//! imported into an empty store of either kind, which checks clean and
//! serves everything as before: every booking, cart and hold, every
//! session token, and every key, replayed byte for byte. A dump that is
//! damaged, cut short, of a newer version, or aimed at a store that holds
//! something, is refused with its reason, and the target is unchanged.

use crate::helpers::crowd::{crowd_until, crowd_while, Ledger, Op};
use crate::helpers::*;
use std::path::Path;

const USERS: usize = 8;
const ANSWERS: usize = 100;

fn export(storage: &Storage, file: &Path) {
    boxoffice_ok(&["export", "--out", file.to_str().unwrap()], storage);
}

/// A store a crowd used until its server was killed, and what the crowd
/// was told.
async fn crowded(kind: StoreKind) -> (Storage, Ledger) {
    let storage = kind.storage();
    let mut ledger = Ledger::default();
    let server = BinaryServer::on(&storage, &[]);
    ledger.sign_up(&server, USERS).await;
    let (show, sent) = crowd_until(server, 0, &ledger.tokens, ANSWERS, BinaryServer::kill9).await;
    ledger.file_round(0, show, sent);
    (storage, ledger)
}

/// A dump of `from` imported into an empty store of `to`: both check
/// clean, and the new store serves what the crowd was told.
async fn moves(from: StoreKind, to: StoreKind) {
    let (source, mut ledger) = crowded(from).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.jsonl");
    export(&source, &file);
    assert_consistent(&source);
    let target = to.storage();
    boxoffice_ok(&["import", file.to_str().unwrap()], &target);
    assert_consistent(&target);
    // The imported store holds the same records: its own dump says so.
    let again = dir.path().join("again.jsonl");
    export(&target, &again);
    same_records(&file, &again);
    let server = BinaryServer::on(&target, &[]);
    ledger.verify(&server.base).await;
    server.stop();
}

/// Asserts two dumps hold the same records, naming those that differ.
fn same_records(a: &Path, b: &Path) {
    let (a, b) = (records_of(a), records_of(b));
    let only_a: Vec<&String> = a.iter().filter(|r| !b.contains(r)).collect();
    let only_b: Vec<&String> = b.iter().filter(|r| !a.contains(r)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "the dumps differ:\nonly in the first: {only_a:#?}\nonly in the second: {only_b:#?}"
    );
}

/// A dump's record lines, sorted (stores list them in their own order).
fn records_of(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut records: Vec<String> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.to_string())
        .collect();
    records.sort();
    records
}

#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sled_store_restores_from_its_dump() {
    moves(StoreKind::Sled, StoreKind::Sled).await;
}

#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn a_sled_store_moves_to_postgres() {
    moves(StoreKind::Sled, StoreKind::Postgres).await;
}

#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn a_postgres_store_moves_to_sled() {
    moves(StoreKind::Postgres, StoreKind::Sled).await;
}

#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn a_postgres_store_restores_from_its_dump() {
    moves(StoreKind::Postgres, StoreKind::Postgres).await;
}

/// What a store holds, as its dump's record lines (empty for an empty
/// store; a sled directory that does not exist is empty too).
fn holdings(storage: &Storage) -> Vec<String> {
    if storage.database_url().is_none() && !storage.data.exists() {
        return Vec::new();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("now.jsonl");
    export(storage, &file);
    records_of(&file)
}

/// `import` of `file` into `storage` fails, naming `why`, and leaves the
/// store as it was.
fn refused(storage: &Storage, file: &Path, why: &str) {
    let before = holdings(storage);
    let output = boxoffice(&["import", file.to_str().unwrap()], storage);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "import of a bad dump: {stderr}"
    );
    assert!(stderr.contains(why), "{stderr:?} lacks {why:?}");
    assert_eq!(
        holdings(storage),
        before,
        "a refused import changed the store"
    );
}

store_test!(
    a_bad_dump_or_a_store_in_use_is_refused_and_nothing_is_written,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn a_bad_dump_or_a_store_in_use_is_refused_and_nothing_is_written(store: StoreKind) {
    let (source, _) = crowded(store).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    export(&source, &good);
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let write = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        path
    };
    let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let target = store.storage();
    if target.database_url().is_some() {
        // The schema, so that the empty store exports (as empty).
        boxoffice_ok(&["migrate"], &target);
    }

    // A record changed (a booking's seat moved): the checksum says so.
    let mut changed = owned.clone();
    let at = changed
        .iter()
        .position(|l| l.contains(r#""kind":"booking""#))
        .expect("a booking in the dump");
    changed[at] = changed[at].replacen(r#""index":"#, r#""index":1"#, 1);
    refused(&target, &write("changed.jsonl", &changed), "checksum");
    // Cut short: the last line is gone.
    refused(
        &target,
        &write("short.jsonl", &owned[..owned.len() - 1]),
        "cut short",
    );
    // Cut mid-line.
    let path = dir.path().join("torn.jsonl");
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    refused(&target, &path, "cut short");
    // A version this build does not know.
    let mut newer = owned.clone();
    // (This build writes version 2 since v1.2: the test named 1 -> 2.)
    newer[0] = newer[0].replace(r#""version":2"#, r#""version":3"#);
    assert_ne!(newer[0], owned[0], "the first line names version 2");
    refused(&target, &write("newer.jsonl", &newer), "version 3");
    // A record that is not one (a seat held with no cart).
    let mut invalid = owned.clone();
    invalid.insert(
        1,
        r#"{"kind":"seat","show_id":"00000000-0000-0000-0000-000000000001","index":0,"state":"held"}"#
            .to_string(),
    );
    refused(&target, &write("invalid.jsonl", &invalid), "line 2");
    // The store in use: the crowd's own holds records.
    refused(&source, &good, "not empty");
    // And the good dump goes in.
    boxoffice_ok(&["import", good.to_str().unwrap()], &target);
    assert_eq!(holdings(&target), records_of(&good));
}

store_test!(
    the_committed_dump_of_version_1_still_imports_and_replays,
    flavor = "multi_thread",
    worker_threads = 2
);
/// The dump of version 1 committed in `tests/fixtures/dump-v1` (made by
/// `scripts/make-dump-fixture.py`: a record of every kind, every kind of
/// stored answer) imports into each store, checks clean, and every
/// request that made it replays its answer byte for byte: a later build
/// that cannot read it, or reads it differently, fails here.
async fn the_committed_dump_of_version_1_still_imports_and_replays(store: StoreKind) {
    let requests = fixture_requests("dump-v1");
    let target = store.storage();
    boxoffice_ok(
        &[
            "import",
            fixture("dump-v1").join("dump.jsonl").to_str().unwrap(),
        ],
        &target,
    );
    assert_consistent(&target);
    let server = BinaryServer::on(&target, &[]);
    replay_fixture(&server, &requests).await;
    server.stop();
}

store_test!(
    an_export_while_the_crowd_books_is_one_consistent_snapshot,
    flavor = "multi_thread",
    worker_threads = 4
);
/// `GET /v1/admin/export` while a crowd books, holds and checks out: the
/// dump it streams imports into an empty store that checks clean (nothing
/// in it is half of a write), and it holds every booking and key
/// acknowledged before the export began. The crowd goes on throughout.
async fn an_export_while_the_crowd_books_is_one_consistent_snapshot(store: StoreKind) {
    let storage = store.storage();
    let mut ledger = Ledger::default();
    let server = BinaryServer::on(&storage, &[]);
    ledger.sign_up(&server, USERS).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("online.jsonl");
    let admin = server.client().admin();
    let (_, sent, began) = crowd_while(server, 0, &ledger.tokens, ANSWERS, |server| {
        let file = file.clone();
        async move {
            let began = std::time::Instant::now();
            let answer = admin.get("/v1/admin/export").await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            std::fs::write(&file, &answer.text).unwrap();
            server.kill9();
            began
        }
    })
    .await;
    let target = store.storage();
    boxoffice_ok(&["import", file.to_str().unwrap()], &target);
    assert_consistent(&target);
    let dumped = std::fs::read_to_string(&file).unwrap();
    let mut checked = 0;
    for one in sent.iter().filter(|s| s.at < began) {
        let Some(answer) = &one.answer else { continue };
        if let (Op::Book(_) | Op::Checkout { .. }, 201) = (&one.op, answer.status) {
            assert!(
                dumped.contains(&answer.id()),
                "booking {} is not in the dump",
                answer.id()
            );
        }
        let key = one.request.key.as_deref().unwrap();
        assert!(
            dumped.contains(&format!(r#""key":"{key}""#)),
            "key {key} is not in the dump"
        );
        checked += 1;
    }
    assert!(checked > 0, "no answer came before the export began");
    assert!(
        sent.iter().any(|s| s.answer.is_some() && s.at > began),
        "the crowd was answered while the export ran"
    );
}
