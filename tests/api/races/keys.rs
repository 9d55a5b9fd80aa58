//! One user, one key, many requests at once: one effect.

use super::*;

/// 3. One user, one key, sixteen identical concurrent requests: one effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_same_request_has_one_effect() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("One key", &[("A", 5)]).await;
    let user = client.guest().await;
    let key = new_key();
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();

    let answers = {
        let show = show.clone();
        let key = key.clone();
        race(&same_user, move |_, c| {
            let show = show.clone();
            let key = key.clone();
            async move { c.book(&key, &show, &["A1", "A2"]).await }
        })
        .await
    };

    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty(), "no 201 at all");
    let mut in_progress = 0;
    for answer in &answers {
        if answer.status != 201 {
            assert_in_progress(answer);
            in_progress += 1;
        }
    }
    // The first request is still waiting for its fsync when the others
    // arrive: they are told so at once rather than queued.
    assert!(in_progress > 0, "no repeat saw 409 request-in-progress");
    let first = &created[0].text;
    for answer in &created {
        assert_eq!(&answer.text, first, "201 bodies differ");
    }
    let fresh = created.iter().filter(|a| !a.is_replay()).count();
    assert_eq!(fresh, 1, "more than one 201 without Idempotent-Replayed");
    let body = assert_booking(created[0], &show, &["A1".into(), "A2".into()].into());

    let mine = user.bookings().await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0], body);
    let map = client.seat_map(&show).await;
    assert_eq!(
        seats_with(&map, "booked"),
        ["A1".to_string(), "A2".to_string()].into()
    );

    let again = user.book(&key, &show, &["A1", "A2"]).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(again.is_replay(), "{:?}", again.headers);
    assert_eq!(&again.text, first);
    assert_eq!(user.bookings().await.len(), 1);
}

/// 4. One user, one key, two different bodies at once: at most one effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_different_bodies_has_one_effect() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Key reuse", &[("A", 5)]).await;
    let user = client.guest().await;
    let key = new_key();
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();
    let seat_of = |i: usize| if i.is_multiple_of(2) { "A1" } else { "A2" };

    let answers = {
        let show = show.clone();
        let key = key.clone();
        race(&same_user, move |i, c| {
            let show = show.clone();
            let key = key.clone();
            async move { c.book(&key, &show, &[seat_of(i)]).await }
        })
        .await
    };

    let created: Vec<(usize, &Answer)> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.status == 201)
        .collect();
    assert!(!created.is_empty(), "no 201 at all");
    let winning_seat = seat_of(created[0].0);
    let first = &created[0].1.text;
    for (i, answer) in &created {
        assert_eq!(seat_of(*i), winning_seat, "both bodies got a 201");
        assert_eq!(&answer.text, first, "201 bodies differ");
    }
    assert_eq!(
        created.iter().filter(|(_, a)| !a.is_replay()).count(),
        1,
        "more than one 201 without Idempotent-Replayed"
    );
    for (i, answer) in answers.iter().enumerate() {
        if answer.status == 201 {
            continue;
        }
        if seat_of(i) == winning_seat {
            assert_in_progress(answer);
        } else if answer.status == 422 {
            answer.assert_problem(422, "idempotency-key-reused");
        } else {
            assert_in_progress(answer);
        }
    }
    let body = assert_booking(created[0].1, &show, &[winning_seat.to_string()].into());

    let mine = user.bookings().await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0], body);
    let map = client.seat_map(&show).await;
    assert_eq!(
        seats_with(&map, "booked"),
        [winning_seat.to_string()].into()
    );

    // Afterwards: the winner's body replays, the other is refused.
    let losing_seat = if winning_seat == "A1" { "A2" } else { "A1" };
    let replay = user.book(&key, &show, &[winning_seat]).await;
    assert!(
        replay.is_replay() && replay.status == 201,
        "{}",
        replay.text
    );
    assert_eq!(&replay.text, first);
    user.book(&key, &show, &[losing_seat])
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(user.bookings().await.len(), 1);
}

/// 4b. One user, one key, two routes at once (a booking and a cart): the key
/// is taken by exactly one route; the other never has an effect. The two
/// routes run in different actors, so only the store's insert-if-absent of
/// the key record separates them; several rounds widen the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_across_routes_has_one_effect() {
    const ROUNDS: usize = 10;
    let server = spawn_app();
    let client = server.client();
    let show = client
        .create_show("Two routes", &[("A", ROUNDS as u32)])
        .await;
    let user = client.guest().await;
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();
    let is_booking = |i: usize| i.is_multiple_of(2);
    let mut bookings_made = 0;

    for round in 0..ROUNDS {
        let key = new_key();
        let seat = format!("A{}", round + 1);
        let answers = {
            let show = show.clone();
            let key = key.clone();
            let seat = seat.clone();
            race(&same_user, move |i, c| {
                let show = show.clone();
                let key = key.clone();
                let seat = seat.clone();
                async move {
                    if is_booking(i) {
                        c.book(&key, &show, &[&seat]).await
                    } else {
                        c.post("/v1/carts", &key, json!({})).await
                    }
                }
            })
            .await
        };

        let created: Vec<usize> = (0..16).filter(|&i| answers[i].status == 201).collect();
        assert!(!created.is_empty(), "round {round}: no 201 at all");
        let booking_won = is_booking(created[0]);
        let first = &answers[created[0]].text;
        for &i in &created {
            assert_eq!(
                is_booking(i),
                booking_won,
                "round {round}: both routes got a 201"
            );
            assert_eq!(&answers[i].text, first, "round {round}: 201 bodies differ");
        }
        assert_eq!(
            created.iter().filter(|&&i| !answers[i].is_replay()).count(),
            1,
            "round {round}: more than one 201 without Idempotent-Replayed"
        );
        for (i, answer) in answers.iter().enumerate() {
            if answer.status == 201 {
                continue;
            }
            if is_booking(i) != booking_won && answer.status == 422 {
                answer.assert_problem(422, "idempotency-key-reused");
            } else {
                assert_in_progress(answer);
            }
        }

        let map = client.seat_map(&show).await;
        if booking_won {
            bookings_made += 1;
            assert_eq!(map[&seat], "booked", "round {round}");
            user.post("/v1/carts", &key, json!({}))
                .await
                .assert_problem(422, "idempotency-key-reused");
        } else {
            assert_eq!(
                map[&seat], "available",
                "round {round}: cart won, seat booked"
            );
            let cart = answers[created[0]].json();
            assert_eq!(cart["status"], "open");
            let id = cart["id"].as_str().unwrap();
            assert_eq!(user.get(&format!("/v1/carts/{id}")).await.status, 200);
            user.book(&key, &show, &[&seat])
                .await
                .assert_problem(422, "idempotency-key-reused");
        }
        let mine = user.bookings().await;
        assert_eq!(mine.len(), bookings_made, "round {round}: {mine:?}");
    }
}
