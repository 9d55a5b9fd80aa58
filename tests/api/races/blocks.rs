//! The box office and the crowd at the same seats: a block racing
//! bookings and holds of a seat has exactly one winner, decided by the
//! seat's actor, and a multi-seat block is all or none under the race.

use super::*;

store_test!(
    a_block_racing_a_crowd_for_a_seat_has_one_winner,
    flavor = "multi_thread",
    worker_threads = 4
);
/// Five rounds, each at a seat of its own: twenty clients book it, five
/// hold it in their carts, and the admin blocks it, all released together.
/// Exactly one of the 26 gets it; the seat map says who; every loser's
/// refusal is 409 `seat-unavailable` naming the seat.
async fn a_block_racing_a_crowd_for_a_seat_has_one_winner(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Contested", &[("A", 5)]).await;
    let racers = guests(&server.base, 25).await;
    let mut carts = Vec::new();
    for racer in &racers[20..] {
        carts.push(racer.new_cart().await);
    }
    let admin = Client::new(&server.base).admin();
    let mut block_wins = 0;
    for round in 1..=5 {
        let seat = format!("A{round}");
        let mut racing: Vec<BoxFuture<'static, Answer>> = Vec::new();
        for (i, racer) in racers.iter().enumerate() {
            let (racer, show, seat) = (racer.clone(), show.clone(), seat.clone());
            let cart = (i >= 20).then(|| carts[i - 20].clone());
            racing.push(
                async move {
                    match cart {
                        Some(cart) => racer.hold(&cart, &new_key(), &show, &seat).await,
                        None => racer.book(&new_key(), &show, &[&seat]).await,
                    }
                }
                .boxed(),
            );
        }
        let (admin, path, seat_id) = (
            admin.clone(),
            format!("/v1/shows/{show}/blocks"),
            seat.clone(),
        );
        racing.push(
            async move {
                admin
                    .post(&path, &new_key(), json!({"seats": [seat_id]}))
                    .await
            }
            .boxed(),
        );
        let answers = race_all(racing).await;
        let winners: Vec<usize> = (0..answers.len())
            .filter(|&i| answers[i].status == 201)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:#?}");
        for (i, answer) in answers.iter().enumerate() {
            if i != winners[0] {
                answer.assert_problem(409, "seat-unavailable");
                assert_eq!(answer.json()["seats"], json!([seat]), "{}", answer.text);
            }
        }
        let status = client.seat_map(&show).await[&seat].clone();
        let expected = match winners[0] {
            25 => {
                block_wins += 1;
                "blocked"
            }
            i if i >= 20 => "held",
            _ => "booked",
        };
        assert_eq!(status, expected, "round {round}: winner {}", winners[0]);
    }
    println!("the block won {block_wins} of 5 rounds");
}

store_test!(
    a_multi_seat_block_racing_bookings_is_all_or_none,
    flavor = "multi_thread",
    worker_threads = 4
);
/// A block of a whole row races twenty one-seat bookings of that row:
/// either the block gets every seat and no booking succeeds, or it gets
/// none, blocks nothing, and names only seats that were booked.
async fn a_multi_seat_block_racing_bookings_is_all_or_none(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Row", &[("A", 20)]).await;
    let racers = guests(&server.base, 20).await;
    let admin = Client::new(&server.base).admin();
    let row: Vec<String> = (1..=20).map(|n| format!("A{n}")).collect();
    let mut racing: Vec<BoxFuture<'static, Answer>> = Vec::new();
    for (i, racer) in racers.iter().enumerate() {
        let (racer, show) = (racer.clone(), show.clone());
        racing.push(
            async move {
                racer
                    .book(&new_key(), &show, &[&format!("A{}", i + 1)])
                    .await
            }
            .boxed(),
        );
    }
    let (path, seats) = (format!("/v1/shows/{show}/blocks"), row.clone());
    racing.push(
        async move {
            admin
                .post(&path, &new_key(), json!({ "seats": seats }))
                .await
        }
        .boxed(),
    );
    let answers = race_all(racing).await;
    let block = &answers[20];
    let booked: BTreeSet<String> = (0..20)
        .filter(|&i| answers[i].status == 201)
        .map(|i| format!("A{}", i + 1))
        .collect();
    let map = client.seat_map(&show).await;
    if block.status == 201 {
        assert!(
            booked.is_empty(),
            "the block won, yet {booked:?} were booked"
        );
        assert_eq!(seats_with(&map, "blocked").len(), 20, "{map:?}");
    } else {
        block.assert_problem(409, "seat-unavailable");
        assert!(!booked.is_empty());
        assert!(
            seats_with(&map, "blocked").is_empty(),
            "a lost block blocked seats: {map:?}"
        );
        assert_eq!(seats_with(&map, "booked"), booked);
        let named: BTreeSet<String> = block.json()["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        // It names seats that were booked when it asked them; a seat it had
        // reserved and gave back on refusal may be booked after it.
        assert!(
            !named.is_empty() && named.is_subset(&booked),
            "{named:?} vs {booked:?}"
        );
    }
}
