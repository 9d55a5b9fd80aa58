//! Carts and cancels racing bookings.

use super::*;

/// Twenty users, one cart each, hold A1 at once: one wins, the others'
/// carts stay empty. Returns the winner.
async fn race_for_a_hold(client: &Client, users: &[Client], carts: &[String], show: &str) -> usize {
    let holds = {
        let (show, carts) = (show.to_string(), carts.to_vec());
        race(users, move |i, c| {
            let (cart, show) = (carts[i].clone(), show.clone());
            async move { c.hold(&cart, &new_key(), &show, "A1").await }
        })
        .await
    };
    let winner = one_winner(&holds, "A1");
    let cart = holds[winner].json();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "{cart}");
    assert_eq!(cart["items"][0]["seat_id"], "A1");
    assert_eq!(cart["items"][0]["status"], "held");
    assert_eq!(client.seat_map(show).await["A1"], "held");
    for (i, user) in users.iter().enumerate() {
        if i != winner {
            let other = user.get(&format!("/v1/carts/{}", carts[i])).await;
            assert_eq!(other.json()["items"], json!([]), "{}", other.text);
        }
    }
    winner
}

store_test!(
    carts_race_for_a_hold_then_checkout_races_bookings,
    flavor = "multi_thread",
    worker_threads = 4
);
/// 5. Twenty carts hold one seat at once; then the winner's checkout races
///    twenty one-shot bookings of it.
async fn carts_race_for_a_hold_then_checkout_races_bookings(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Carts", &[("A", 5)]).await;
    let users = guests(&server.base, 20).await;
    let carts: Vec<String> = join_all(users.iter().map(|u| u.new_cart())).await;
    let winner = race_for_a_hold(&client, &users, &carts, &show).await;

    // The winner's checkout against twenty one-shot bookings of A1.
    let bookers = guests(&server.base, 20).await;
    let mut racers: Vec<BoxFuture<'static, Answer>> = Vec::new();
    {
        let owner = users[winner].clone();
        let cart = carts[winner].clone();
        racers.push(async move { owner.checkout(&cart, &new_key()).await }.boxed());
    }
    for booker in &bookers {
        let booker = booker.clone();
        let show = show.clone();
        racers.push(async move { booker.book(&new_key(), &show, &["A1"]).await }.boxed());
    }
    let answers = race_all(racers).await;

    let a1 = set(&["A1"]);
    let body = assert_booking(&answers[0], &show, &a1);
    for answer in &answers[1..] {
        // The seat is held (then booked) by the cart the whole time.
        assert_seat_unavailable(answer, &a1);
    }
    let map = client.seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), a1);
    assert_no_holds(&map);
    let mine = users[winner].bookings().await;
    assert_eq!(mine, vec![body]);
    for booker in &bookers {
        assert!(booker.bookings().await.is_empty());
    }
    let closed = users[winner]
        .get(&format!("/v1/carts/{}", carts[winner]))
        .await;
    assert_eq!(closed.json()["status"], "checked_out", "{}", closed.text);
}

/// What the contenders book: each pattern in turn.
const PATTERNS: [&[&str]; 6] = [
    &["A1"],
    &["A2", "A3"],
    &["A3", "A4"],
    &["A4"],
    &["A1", "A2", "A3", "A4"],
    &["A4", "A5"],
];

/// Three DELETEs of `path` and twenty contenders booking `PATTERNS`, each
/// retrying at once with a fresh key until it wins or gives up; released
/// together. The cancels' answers come first.
async fn race_cancel(owner: &Client, path: &str, contenders: &[Client], show: &str) -> Vec<Tries> {
    const ATTEMPTS: usize = 40;
    let mut racers: Vec<BoxFuture<'static, Tries>> = Vec::new();
    for _ in 0..3 {
        let (owner, path) = (owner.clone(), path.to_string());
        racers.push(async move { vec![(Vec::new(), owner.delete(&path).await)] }.boxed());
    }
    for (i, contender) in contenders.iter().enumerate() {
        let (contender, show) = (contender.clone(), show.to_string());
        let seats: Vec<String> = PATTERNS[i % PATTERNS.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        racers.push(
            async move {
                let mut tries = Vec::new();
                for _ in 0..ATTEMPTS {
                    let answer = contender.book(&new_key(), &show, &strings(&seats)).await;
                    let done = answer.status == 201;
                    tries.push((seats.clone(), answer));
                    if done {
                        break;
                    }
                }
                tries
            }
            .boxed(),
        );
    }
    race_all(racers).await
}

store_test!(
    cancel_races_bookings_of_its_seats,
    flavor = "multi_thread",
    worker_threads = 4
);
/// 6. A booking is cancelled (three DELETEs at once) while twenty clients
///    keep trying to book its seats.
async fn cancel_races_bookings_of_its_seats(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Cancel", &[("A", 8)]).await;
    let owner = client.guest().await;
    let first = owner
        .book(&new_key(), &show, &["A1", "A2", "A3", "A4"])
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let path = format!("/v1/bookings/{}", first.id());
    // A5 stays booked by someone else throughout.
    let bystander = client.guest().await;
    let fixed = bystander.book(&new_key(), &show, &["A5"]).await;
    assert_eq!(fixed.status, 201, "{}", fixed.text);

    let contenders = guests(&server.base, 20).await;
    let results = race_cancel(&owner, &path, &contenders, &show).await;
    for cancel in &results[..3] {
        let answer = &cancel[0].1;
        assert_eq!(answer.status, 204, "{}", answer.text);
    }
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    let mut won = 0;
    for (seats, answer) in results[3..].iter().flatten() {
        let asked: BTreeSet<String> = seats.iter().cloned().collect();
        if answer.status == 201 {
            let body = assert_booking(answer, &show, &asked);
            claim(&mut owner_of, &asked, body["id"].as_str().unwrap());
            won += 1;
        } else {
            assert_seat_unavailable(answer, &asked);
        }
    }
    assert!(!owner_of.contains_key("A5"), "A5 was booked twice");

    let original = owner.get(&path).await;
    assert_eq!(original.status, 200, "{}", original.text);
    assert_eq!(original.json()["status"], "cancelled");
    let again = owner.delete(&path).await;
    assert_eq!(again.status, 204, "{}", again.text);

    let map = client.seat_map(&show).await;
    assert_no_holds(&map);
    let mut expected: BTreeSet<String> = owner_of.keys().cloned().collect();
    expected.insert("A5".into());
    assert_eq!(
        seats_with(&map, "booked"),
        expected,
        "map disagrees with confirmed bookings"
    );
    assert_winners_hold_their_seats(&contenders, &owner_of, won).await;
    assert_available_seats_bookable(&client.guest().await, &show).await;
}

/// Every winner still holds a confirmed booking of its seats, and only
/// the `won` bookings are listed.
async fn assert_winners_hold_their_seats(
    contenders: &[Client],
    owner_of: &BTreeMap<String, String>,
    won: usize,
) {
    let mut listed = 0;
    for contender in contenders {
        for booking in contender.bookings().await {
            assert_eq!(booking["status"], "confirmed", "{booking}");
            for seat in seat_set(&booking["seats"]) {
                assert_eq!(owner_of[&seat], booking["id"].as_str().unwrap());
            }
            listed += 1;
        }
    }
    assert_eq!(listed, won);
}
