//! Many clients at the same seats: one seat, one buyer; all or nothing.

use super::*;

store_test!(
    fifty_clients_one_seat_one_winner,
    flavor = "multi_thread",
    worker_threads = 4
);
/// 1. Fifty clients, one seat: one 201, forty-nine 409 `seat-unavailable`.
async fn fifty_clients_one_seat_one_winner(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("One seat", &[("A", 5)]).await;
    let racers = guests(&server.base, 50).await;
    let keys: Vec<String> = (0..50).map(|_| new_key()).collect();

    let answers = {
        let show = show.clone();
        let keys = keys.clone();
        race(&racers, move |i, c| {
            let show = show.clone();
            let key = keys[i].clone();
            async move { c.book(&key, &show, &["A1"]).await }
        })
        .await
    };

    let winner = one_winner(&answers, "A1");
    let body = assert_booking(&answers[winner], &show, &set(&["A1"]));
    assert!(!answers[winner].is_replay());

    let map = client.seat_map(&show).await;
    assert_eq!(map["A1"], "booked");
    assert_eq!(seats_with(&map, "booked").len(), 1, "{map:?}");
    assert_no_holds(&map);

    let mine = racers[winner].bookings().await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["id"], body["id"]);
    assert_eq!(mine[0]["status"], "confirmed");
    assert_eq!(mine[0]["seats"], json!(["A1"]));
    let one = racers[winner]
        .get(&format!("/v1/bookings/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), body);

    // Losers own nothing, and their stored 409 replays byte for byte.
    let loser = (winner + 1) % 50;
    for (i, racer) in racers.iter().enumerate() {
        if i != winner {
            assert!(racer.bookings().await.is_empty());
        }
    }
    let replay = racers[loser].book(&keys[loser], &show, &["A1"]).await;
    assert!(replay.is_replay(), "{:?}", replay.headers);
    assert_eq!(replay.status, 409);
    assert_eq!(replay.text, answers[loser].text);
}

/// Forty windows of 2-4 adjacent seats in rows A and B of `row` seats
/// (fixed pseudo-random).
fn windows(row: u64) -> Vec<Vec<String>> {
    let mut rng = Lcg(0x5eed_b0c5);
    (0..40)
        .map(|_| {
            let label = if rng.next(2) == 0 { "A" } else { "B" };
            let len = 2 + rng.next(3);
            let start = 1 + rng.next(row - len + 1);
            (start..start + len)
                .map(|n| format!("{label}{n}"))
                .collect()
        })
        .collect()
}

/// Judges the answers to `windows`: every 201 books exactly its window
/// and no seat is in two bookings; every refusal names seats someone else
/// asked for too; a window nobody overlaps is booked. Returns the seats
/// booked (seat -> booking id) and the winners' bookings.
fn judge_windows(
    answers: &[Answer],
    windows: &[Vec<String>],
    show: &str,
) -> (BTreeMap<String, String>, Vec<(usize, Value)>) {
    // How many requests asked for each seat.
    let mut demand: BTreeMap<String, usize> = BTreeMap::new();
    for seat in windows.iter().flatten() {
        *demand.entry(seat.clone()).or_default() += 1;
    }
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut won: Vec<(usize, Value)> = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        let asked: BTreeSet<String> = windows[i].iter().cloned().collect();
        if answer.status == 201 {
            let body = assert_booking(answer, show, &asked);
            claim(&mut owner, &asked, body["id"].as_str().unwrap());
            won.push((i, body));
            continue;
        }
        let named = assert_seat_unavailable(answer, &asked);
        // A seat can only be refused if someone else wanted it.
        for seat in named {
            assert!(
                demand[&seat] > 1,
                "{seat} refused to request {i} though nobody else asked for it"
            );
        }
    }
    // A window that overlaps no other window has no reason to lose.
    for (i, window) in windows.iter().enumerate() {
        if window.iter().all(|s| demand[s] == 1) {
            assert_eq!(answers[i].status, 201, "{}", answers[i].text);
        }
    }
    (owner, won)
}

store_test!(
    overlapping_multi_seat_requests_are_all_or_nothing,
    flavor = "multi_thread",
    worker_threads = 4
);
/// 2. Forty overlapping windows of 2-4 adjacent seats in a 2-row show.
async fn overlapping_multi_seat_requests_are_all_or_nothing(store: StoreKind) {
    const ROW: u64 = 12;
    let server = store.spawn_app();
    let client = server.client();
    let show = client
        .create_show("Windows", &[("A", ROW as u32), ("B", ROW as u32)])
        .await;
    let racers = guests(&server.base, 40).await;
    let windows = windows(ROW);

    let answers = {
        let show = show.clone();
        let windows = windows.clone();
        race(&racers, move |i, c| {
            let show = show.clone();
            let seats = windows[i].clone();
            async move { c.book(&new_key(), &show, &strings(&seats)).await }
        })
        .await
    };
    let (owner, won) = judge_windows(&answers, &windows, &show);

    let map = client.seat_map(&show).await;
    assert_eq!(map.len(), 2 * ROW as usize);
    assert_no_holds(&map);
    let union: BTreeSet<String> = owner.keys().cloned().collect();
    assert_eq!(
        seats_with(&map, "booked"),
        union,
        "booked seats differ from the union of the 201 bookings"
    );

    for (i, body) in &won {
        let mine = racers[*i].bookings().await;
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(&mine[0], body);
    }
    for (i, racer) in racers.iter().enumerate() {
        if answers[i].status != 201 {
            assert!(racer.bookings().await.is_empty());
        }
    }

    assert_available_seats_bookable(&client.guest().await, &show).await;
}

store_test!(
    many_shows_many_seats_in_parallel,
    flavor = "multi_thread",
    worker_threads = 4
);
/// 7. Fifty clients book 200 distinct seats across four shows at once.
async fn many_shows_many_seats_in_parallel(store: StoreKind) {
    const CLIENTS: usize = 50;
    const PER_ROW: u32 = 30;
    let server = store.spawn_app();
    let client = server.client();
    let mut shows = Vec::new();
    for s in 0..4 {
        shows.push(
            client
                .create_show(&format!("Show {s}"), &[("A", PER_ROW), ("B", PER_ROW)])
                .await,
        );
    }
    // Client c books seat number c of every show (A1..A25, then B1..B25).
    let seat_of = |c: usize| {
        if c < 25 {
            format!("A{}", c + 1)
        } else {
            format!("B{}", c - 24)
        }
    };
    let racers = guests(&server.base, CLIENTS).await;

    let answers = {
        let shows = shows.clone();
        race(&racers, move |c, client| {
            let shows = shows.clone();
            let seat = seat_of(c);
            async move {
                join_all(shows.iter().map(|show| {
                    let client = client.clone();
                    let seat = seat.clone();
                    async move { (show.clone(), client.book(&new_key(), show, &[&seat]).await) }
                }))
                .await
            }
        })
        .await
    };

    for (c, per_client) in answers.iter().enumerate() {
        let seat: BTreeSet<String> = [seat_of(c)].into();
        for (show, answer) in per_client {
            assert_booking(answer, show, &seat);
        }
        let mine = racers[c].bookings().await;
        assert_eq!(mine.len(), 4, "{mine:?}");
        assert!(mine.iter().all(|b| b["status"] == "confirmed"));
    }

    let expected: BTreeSet<String> = (0..CLIENTS).map(seat_of).collect();
    for show in &shows {
        let map = client.seat_map(show).await;
        assert_eq!(map.len(), 2 * PER_ROW as usize);
        assert_no_holds(&map);
        assert_eq!(seats_with(&map, "booked"), expected, "show {show}");
    }
    let list = client.get("/v1/shows").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let listed = list.json()["shows"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4, "{listed:?}");
    for summary in listed {
        assert!(shows.iter().any(|s| summary["id"] == *s), "{summary}");
        assert_eq!(summary["capacity"], 2 * PER_ROW, "{summary}");
        assert_eq!(
            summary["available"],
            2 * PER_ROW - CLIENTS as u32,
            "{summary}"
        );
    }
}
