//! Hold expiry, hold quotas and rate limits.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Polls the seat map until `seat`, held until `expires`, is available
/// (at most 3 s after `expires`); when it saw that.
async fn wait_until_available(
    client: &Client,
    show: &str,
    seat: &str,
    expires: DateTime<Utc>,
) -> DateTime<Utc> {
    let deadline = expires + chrono::Duration::seconds(3);
    loop {
        let map = client.seat_map(show).await;
        let now = Utc::now();
        match map[seat].as_str() {
            "available" => return now,
            "held" => {}
            other => panic!("{seat} is {other} while its hold lapses"),
        }
        assert!(
            now < deadline,
            "{seat} still held 3 s after its hold expired at {expires}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

store_test!(a_lapsed_hold_is_released_by_itself);
async fn a_lapsed_hold_is_released_by_itself(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.hold_ttl_secs = 1);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let added = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_eq!(added["items"][0]["status"], "held");
    let expires = utc(added["items"][0]["expires_at"].as_str().unwrap());
    expect_map(&client, &show, &[("A1", "held")]).await;

    // Poll the public map: no request touches the cart or seat meanwhile.
    let freed_at = wait_until_available(&client, &show, "A1", expires).await;
    assert!(
        freed_at >= expires,
        "released at {freed_at}, before its expiry {expires}"
    );
    expect_map(&client, &show, &[]).await;

    let lapsed = guest.cart(&cart_id).await;
    assert_eq!(lapsed["status"], "open");
    assert_eq!(lapsed["items"].as_array().unwrap().len(), 1);
    assert_eq!(lapsed["items"][0]["seat_id"], "A1");
    assert_eq!(lapsed["items"][0]["status"], "expired");
    assert_eq!(lapsed["expires_at"], Value::Null);

    let key = new_key();
    let refused = guest.checkout(&cart_id, &key).await;
    refused.assert_problem(409, "hold-expired");
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
    // Stored: a retry replays it.
    assert_replay(&refused, &guest.checkout(&cart_id, &key).await, "checkout");

    // One lapsed hold among live ones: still nothing is booked.
    let added = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let items = added["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let a2 = items.iter().find(|i| i["seat_id"] == "A2").unwrap();
    assert_eq!(a2["status"], "held");
    assert_eq!(added["expires_at"], a2["expires_at"], "earliest live hold");
    guest
        .checkout(&cart_id, &new_key())
        .await
        .assert_problem(409, "hold-expired");
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[("A2", "held")]).await;

    // The lapsed item stays until removed; then the rest checks out.
    assert_eq!(guest.release(&cart_id, &show, "A1").await.status, 204);
    let done = assert_json(&guest.checkout(&cart_id, &new_key()).await, 201);
    assert_eq!(done["seats"], json!(["A2"]));
    expect_map(&client, &show, &[("A2", "booked")]).await;

    // The lapsed seat is anyone's again.
    let other = client.guest().await;
    other.book_new(&show, &["A1"]).await;
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

store_test!(holds_are_limited_per_user_and_show);
async fn holds_are_limited_per_user_and_show(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.max_holds_per_user = 2);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let first_cart = guest.new_cart().await;
    let second_cart = guest.new_cart().await;
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A1").await, 201);
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A2").await, 201);

    let key = new_key();
    let refused = guest.hold(&second_cart, &key, &show, "A3").await;
    refused.assert_problem(409, "too-many-holds");
    assert_eq!(guest.cart(&second_cart).await["items"], json!([]));
    expect_map(&client, &show, &[("A1", "held"), ("A2", "held")]).await;

    // Re-adding a seat already held is no new hold.
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A1").await, 201);
    // The limit is per show and per user.
    let third_cart = guest.new_cart().await;
    assert_json(
        &guest.hold(&third_cart, &new_key(), &other_show, "A1").await,
        201,
    );
    let other = client.guest().await;
    let other_cart = other.new_cart().await;
    assert_json(&other.hold(&other_cart, &new_key(), &show, "A3").await, 201);

    // Releasing a hold makes room; the stored 409 still replays.
    assert_eq!(guest.release(&first_cart, &show, "A1").await.status, 204);
    assert_replay(
        &refused,
        &guest.hold(&second_cart, &key, &show, "A3").await,
        "hold",
    );
    assert_json(
        &guest.hold(&second_cart, &new_key(), &show, "A4").await,
        201,
    );
    guest
        .hold(&second_cart, &new_key(), &show, "A5")
        .await
        .assert_problem(409, "too-many-holds");
    expect_map(
        &client,
        &show,
        &[("A2", "held"), ("A3", "held"), ("A4", "held")],
    )
    .await;
}

store_test!(a_burst_beyond_the_rate_limit_is_429_for_that_user_only);
async fn a_burst_beyond_the_rate_limit_is_429_for_that_user_only(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.user_rate_limit = 2);
    let client = server.client();
    let busy = client.guest().await;
    let calm = client.guest().await;

    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(busy.get("/v1/bookings").await);
    }
    let elapsed = started.elapsed().as_secs_f64();
    for answer in &answers[..4] {
        assert_eq!(answer.status, 200, "a burst of twice the rate is allowed");
    }
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    let passed = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(limited.len() + passed, answers.len());
    assert!(
        !limited.is_empty(),
        "10 quick requests at 2/s were all served"
    );
    assert!(
        passed as f64 <= 4.0 + 2.0 * elapsed + 1.0,
        "{passed} requests served in {elapsed:.2} s at 2/s"
    );
    for answer in limited {
        answer.assert_problem(429, "rate-limited");
        let retry: u64 = answer
            .header("retry-after")
            .expect("429 carries Retry-After")
            .parse()
            .expect("Retry-After in seconds");
        assert!(retry >= 1);
    }
    // Another user is not affected.
    assert_eq!(calm.get("/v1/bookings").await.status, 200);
}

store_test!(a_rate_limited_request_is_not_stored);
async fn a_rate_limited_request_is_not_stored(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.user_rate_limit = 1);
    let client = server.client();
    let show = client.create_show("Limited", &[("A", 20)]).await;
    let guest = client.guest().await;

    // Empty the bucket, then send a keyed booking that is refused. (Should
    // the bucket refill in between, that booking runs: try the next seat.)
    let mut booked: Vec<String> = Vec::new();
    let mut refused = None;
    for n in 1..=20 {
        let mut emptied = false;
        for _ in 0..20 {
            if guest.get("/v1/bookings").await.status == 429 {
                emptied = true;
                break;
            }
        }
        assert!(emptied, "20 quick requests at 1/s were all served");
        let (key, seat) = (new_key(), format!("A{n}"));
        let answer = guest.book(&key, &show, &[seat.as_str()]).await;
        if answer.status == 429 {
            answer.assert_problem(429, "rate-limited");
            refused = Some((key, seat));
            break;
        }
        assert_json(&answer, 201);
        booked.push(seat);
    }
    let (key, seat) = refused.expect("no booking was rate-limited");
    let mut expected: Vec<(&str, &str)> = booked.iter().map(|s| (s.as_str(), "booked")).collect();
    expect_map(&client, &show, &expected).await;

    // Retry the same key until the bucket refills: it runs for real.
    let deadline = Instant::now() + Duration::from_secs(5);
    let answer = loop {
        let answer = guest.book(&key, &show, &[seat.as_str()]).await;
        if answer.status != 429 {
            break answer;
        }
        assert!(Instant::now() < deadline, "still rate-limited after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_json(&answer, 201);
    assert_not_replay(&answer);
    expected.push((seat.as_str(), "booked"));
    expect_map(&client, &show, &expected).await;
}
