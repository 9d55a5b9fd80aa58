//! Overload, seen from outside: full mailboxes answer 503 `overloaded`
//! instead of queueing.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_mailboxes_answer_overloaded_and_change_nothing() {
    // One queued request per seat: a crowd at one seat must overflow it.
    let server = spawn_app_with(|s| s.seat_mailbox_capacity = 1);
    let client = server.client();
    let show = client.create_show("Flood", &[("A", 4)]).await;
    let mut guests = Vec::new();
    for _ in 0..64 {
        guests.push(client.guest().await);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(guests.len()));
    let mut tasks = Vec::new();
    for guest in guests {
        let (barrier, show) = (barrier.clone(), show.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            guest.book(&new_key(), &show, &["A1"]).await
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            201 => {}
            409 => answer.assert_problem(409, "seat-unavailable"),
            503 => {
                answer.assert_problem(503, "overloaded");
                assert!(answer.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
        *counts.entry(answer.status).or_insert(0) += 1;
    }
    assert!(counts.get(&201).copied().unwrap_or(0) <= 1, "{counts:?}");
    assert!(counts.contains_key(&503), "no request was shed: {counts:?}");
    // Whatever was shed changed nothing: at most one booking of A1.
    let map = client.seat_map(&show).await;
    let booked = map.values().filter(|s| *s == "booked").count();
    assert_eq!(booked, counts.get(&201).copied().unwrap_or(0));
}
