//! A store that hangs (issue 12): every wait on it has a bound.
//!
//! The real binary runs with the `store.flush` failpoint armed on a file:
//! once the test creates the file, every flush hangs. Needs the
//! `failpoints` feature (`.ci/run` runs it); without it the test shows as
//! ignored.

use crate::helpers::*;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const SIGABRT: i32 = 6;

/// Waits (up to `limit`, a failure detector) until the server's
/// `boxoffice_store_stalled` gauge reads 1.
async fn until_stalled(client: &Client, limit: Duration) {
    let started = Instant::now();
    while client.metric("boxoffice_store_stalled").await != 1.0 {
        assert!(started.elapsed() < limit, "the store never showed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A flush that hangs: the request waiting on it is never told yes or no
/// (no 5xx: its write may still take effect); once the flush has hung past
/// `store_stall_ms`, new writes and reads that would wait for a flush are
/// answered 503 at once; at `store_deadline_ms` the process stops itself
/// (fail-stop), and after a restart nothing acknowledged is lost and every
/// key finishes exactly once.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "failpoints")]
async fn a_hung_flush_ends_in_fail_stop_and_loses_nothing_acknowledged() {
    let (parent, data) = temp_data_dir();
    let hang = parent.path().join("hang-the-flush");
    let failpoint = format!("store.flush=return({})", hang.display());
    let limits = [
        ("BOXOFFICE_STORE_STALL_MS", "300"),
        ("BOXOFFICE_STORE_DEADLINE_MS", "3000"),
    ];
    let mut env = limits.to_vec();
    env.push(("FAILPOINTS", &failpoint));
    let mut server = BinaryServer::start(&data, &env);
    let client = server.client();
    let show = client.create_show("Hung", &[("A", 5)]).await;
    let guest = client.guest().await;
    let token = guest.token();
    let acknowledged = guest.book_new(&show, &["A1"]).await;

    std::fs::write(&hang, b"").expect("arm the hang");
    // A booking whose write waits on the hung flush.
    let waiting_key = new_key();
    let waiting = {
        let (guest, key, show) = (guest.clone(), waiting_key.clone(), show.clone());
        tokio::spawn(async move {
            let body = booking_body(&show, &["A2"]).to_string();
            guest
                .try_send("POST", "/v1/bookings", Some(&key), Some(&body))
                .await
        })
    };
    until_stalled(&client, Duration::from_secs(10)).await;
    let shed_key = new_key();
    let shed = guest.book(&shed_key, &show, &["A3"]).await;
    shed.assert_problem(503, "overloaded");
    assert!(shed.header("retry-after").is_some());
    guest
        .get("/v1/bookings")
        .await
        .assert_problem(503, "overloaded");

    let status = server
        .wait_for(Duration::from_secs(30))
        .await
        .expect("the process stops itself at the deadline");
    assert_eq!(status.signal(), Some(SIGABRT), "{status:?}");
    let answer = waiting.await.unwrap();
    assert!(
        answer.is_none(),
        "the request on the hung flush was answered: {answer:?}"
    );

    std::fs::remove_file(&hang).unwrap();
    let server = BinaryServer::start(&data, &limits);
    let guest = server.as_user(&token);
    // Acknowledged: still there.
    let bookings = guest.bookings().await;
    assert!(bookings.contains(&acknowledged), "{bookings:?}");
    // The unanswered booking finishes exactly once with its key.
    let retried = guest.book(&waiting_key, &show, &["A2"]).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
    // The shed booking had no effect: its key runs afresh.
    let again = guest.book(&shed_key, &show, &["A3"]).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_not_replay(&again);
    let map = server.client().seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), set(&["A1", "A2", "A3"]));
    assert_eq!(guest.bookings().await.len(), 3);
    server.stop();
}
