//! Best available under a race: every racer's block goes through the seat
//! actors like any booking, so no seat is sold twice, every block is side
//! by side in one row, and a 409 `no-seats-together` is honest.

use super::*;

store_test!(
    racers_for_the_best_seats_never_share_one,
    flavor = "multi_thread",
    worker_threads = 4
);
/// Thirty racers want the best two seats of a 4 x 10 hall at once (sixty
/// seats wanted, forty there): no seat in two bookings, each booking two
/// adjacent seats of one row, the map booked exactly where the bookings
/// are; a 409 only once no two adjacent seats were left (seats are only
/// ever taken here, so none is left at the end either); a 503 (every
/// choice lost to others) carries Retry-After.
async fn racers_for_the_best_seats_never_share_one(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client
        .create_show("Best race", &[("A", 10), ("B", 10), ("C", 10), ("D", 10)])
        .await;
    let racers = guests(&server.base, 30).await;
    let answers = {
        let show = show.clone();
        race(&racers, move |_, c| {
            let body = json!({"show_id": show, "best_available": {"count": 2}});
            async move { c.post("/v1/bookings", &new_key(), body).await }
        })
        .await
    };

    let mut sold: BTreeMap<String, usize> = BTreeMap::new();
    let (mut refused, mut unavailable) = (0, 0);
    for (i, answer) in answers.iter().enumerate() {
        match answer.status {
            201 => {
                let seats: Vec<String> = answer.json()["seats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(seats.len(), 2, "{}", answer.text);
                let (row, a) = seats[0].split_at(1);
                let (row_b, b) = seats[1].split_at(1);
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(row == row_b && b == a + 1, "not side by side: {seats:?}");
                for seat in seats {
                    if let Some(other) = sold.insert(seat.clone(), i) {
                        panic!("{seat} sold to racers {other} and {i}");
                    }
                }
            }
            409 => {
                answer.assert_problem(409, "no-seats-together");
                refused += 1;
            }
            503 => {
                assert!(answer.header("retry-after").is_some(), "{}", answer.text);
                unavailable += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    let map = client.seat_map(&show).await;
    let booked = seats_with(&map, "booked");
    assert_eq!(booked, sold.keys().cloned().collect::<BTreeSet<_>>());
    assert_no_holds(&map);
    if refused > 0 {
        let pair_left = ["A", "B", "C", "D"].iter().any(|row| {
            (1..10).any(|n| {
                map[&format!("{row}{n}")] == "available"
                    && map[&format!("{row}{}", n + 1)] == "available"
            })
        });
        assert!(
            !pair_left,
            "a 409 while two adjacent seats were free: {map:?}"
        );
    }
    // Sixty seats wanted, twenty pairs in the hall: unless a racer gave up
    // (503), every pair was sold.
    assert!(
        unavailable > 0 || sold.len() == 40,
        "{} seats sold, no racer gave up",
        sold.len()
    );
}

store_test!(
    racers_for_the_best_seats_into_carts_never_share_one,
    flavor = "multi_thread",
    worker_threads = 4
);
/// The same race into carts: twenty racers, each with a cart of its own,
/// hold the best three seats of a 3 x 9 hall at once (sixty wanted, 27
/// there): no seat held by two carts, each block side by side in one row,
/// the map held exactly where the carts hold; every 409 honest.
async fn racers_for_the_best_seats_into_carts_never_share_one(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client
        .create_show("Best carts", &[("A", 9), ("B", 9), ("C", 9)])
        .await;
    let racers = guests(&server.base, 20).await;
    let mut carts = Vec::new();
    for racer in &racers {
        carts.push(racer.new_cart().await);
    }
    let answers = {
        let (show, carts) = (show.clone(), carts.clone());
        race(&racers, move |i, c| {
            let path = format!("/v1/carts/{}/items", carts[i]);
            let body = json!({"show_id": show, "best_available": {"count": 3}});
            async move { c.post(&path, &new_key(), body).await }
        })
        .await
    };
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    let mut refused = 0;
    for (i, answer) in answers.iter().enumerate() {
        match answer.status {
            201 => {
                let seats: Vec<String> = answer.json()["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| item["seat_id"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(seats.len(), 3, "{}", answer.text);
                let numbers: Vec<u32> = seats.iter().map(|s| s[1..].parse().unwrap()).collect();
                assert!(
                    seats.iter().all(|s| s[..1] == seats[0][..1])
                        && numbers.windows(2).all(|w| w[1] == w[0] + 1),
                    "not side by side: {seats:?}"
                );
                for seat in seats {
                    if let Some(other) = held.insert(seat.clone(), i) {
                        panic!("{seat} held by carts {other} and {i}");
                    }
                }
            }
            409 => {
                answer.assert_problem(409, "no-seats-together");
                refused += 1;
            }
            503 => assert!(answer.header("retry-after").is_some(), "{}", answer.text),
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    let map = client.seat_map(&show).await;
    assert_eq!(
        seats_with(&map, "held"),
        held.keys().cloned().collect::<BTreeSet<_>>()
    );
    if refused > 0 {
        let three_left = ["A", "B", "C"].iter().any(|row| {
            (1..=7).any(|n| (n..n + 3).all(|k| map[&format!("{row}{k}")] == "available"))
        });
        assert!(
            !three_left,
            "a 409 while three adjacent seats were free: {map:?}"
        );
    }
}
