//! A full commit queue over HTTP: with the store's committer stalled (the
//! `store.committer-round` failpoint), the queue takes exactly its
//! capacity, and the next booking is answered 503 `overloaded` with
//! `Retry-After`, stores nothing and reserves nothing; its retry with the
//! same key books once the committer runs again.
//!
//! `cargo test --features failpoints --test commit_queue`. Failpoints are
//! global to the process, so this binary holds this one test only; built
//! without the feature it shows as ignored.

#[path = "api/helpers/mod.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;

use futures_util::future::select_all;
use helpers::*;
use std::collections::BTreeMap;
use std::time::Duration;

const CAPACITY: usize = 2;

/// The `fail` crate's configuration, where the feature brings it.
#[cfg(feature = "failpoints")]
use fail::{cfg as fail_cfg, remove as fail_remove};

/// Without the feature there are no failpoints to configure: the test is
/// ignored, and if run anyway (`--include-ignored`) it fails here.
#[cfg(not(feature = "failpoints"))]
fn fail_cfg(name: &str, _actions: &str) -> Result<(), String> {
    Err(format!("{name}: built without --features failpoints"))
}

#[cfg(not(feature = "failpoints"))]
fn fail_remove(_name: &str) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
async fn a_full_commit_queue_answers_503_and_writes_nothing() {
    let server = spawn_app_with(|s| s.commit_queue_capacity = CAPACITY);
    let client = server.client();
    let admin = client.admin();
    let show = admin.create_show("Queue", &[("A", 5)]).await;
    let guest = client.guest().await;

    // The committer is waiting for work now; once it has committed the
    // primer it comes back to the failpoint and stops there, before it
    // takes anything more from its queue.
    fail_cfg("store.committer-round", "pause").unwrap();
    let primer = guest.book(&new_key(), &show, &["A1"]).await;
    assert_eq!(primer.status, 201, "{}", primer.text);

    // One more booking than the queue holds, all at once.
    let seats = ["A2", "A3", "A4"];
    let keys: Vec<String> = seats.iter().map(|_| new_key()).collect();
    let sent: Vec<_> = seats
        .iter()
        .zip(&keys)
        .map(|(seat, key)| {
            let (guest, show, key, seat) = (guest.clone(), show.clone(), key.clone(), *seat);
            tokio::spawn(async move { guest.book(&key, &show, &[seat]).await })
        })
        .collect();

    // Exactly one finds the queue full, and is answered while the committer
    // is still stalled; the others wait for it.
    let first = tokio::time::timeout(Duration::from_secs(30), select_all(sent));
    let (answer, refused, pending) = first
        .await
        .expect("no booking was refused: the full queue took one more write set");
    let answer = answer.unwrap();
    answer.assert_problem(503, "overloaded");
    assert!(
        answer.header("retry-after").is_some(),
        "{:?}",
        answer.headers
    );
    assert!(
        pending.iter().all(|task| !task.is_finished()),
        "the queued bookings wait for the stalled committer"
    );

    // The refused seat is not held for it.
    let map: BTreeMap<String, String> = guest.seat_map(&show).await;
    assert_eq!(map[seats[refused]], "available", "{map:?}");

    fail_remove("store.committer-round");
    for task in pending {
        let booked = task.await.unwrap();
        assert_eq!(booked.status, 201, "{}", booked.text);
    }
    // Nothing was stored for the refused key: its retry runs and books.
    let retried = guest.book(&keys[refused], &show, &[seats[refused]]).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
    assert!(!retried.is_replay());
    let map = guest.seat_map(&show).await;
    for seat in ["A1", "A2", "A3", "A4"] {
        assert_eq!(map[seat], "booked", "{seat}: {map:?}");
    }
    assert_eq!(map["A5"], "available");
}
