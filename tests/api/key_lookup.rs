//! docs/API.md §8.5, "what became of a key": `GET /v1/idempotency-keys/{key}` tells a
//! client that lost an answer what became of its request, without sending
//! it again: in flight, or completed with its status and time; 404 for a
//! key it never sent, one that expired, or another user's.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The look-up of `key` (URL-encoded here, as a client must).
async fn look_up(client: &Client, key: &str) -> Answer {
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    client.get(&format!("/v1/idempotency-keys/{encoded}")).await
}

fn completed_at_ms(found: &Value) -> i64 {
    let at = found["completed_at"].as_str().expect("completed_at");
    chrono::DateTime::parse_from_rfc3339(at)
        .unwrap_or_else(|e| panic!("completed_at {at:?}: {e}"))
        .timestamp_millis()
}

store_test!(a_completed_key_tells_its_request_and_answer);
async fn a_completed_key_tells_its_request_and_answer(store: StoreKind) {
    let server = store.spawn_app();
    let (_client, show, guest) = show_and_guest(&server, 3).await;
    let before = chrono::Utc::now().timestamp_millis();

    // A booking: 201.
    let key = new_key();
    assert_eq!(guest.book(&key, &show, &["A1"]).await.status, 201);
    let found = assert_json(&look_up(&guest, &key).await, 200);
    assert_eq!(found["key"], key.as_str());
    assert_eq!(found["state"], "completed");
    assert_eq!(found["method"], "POST");
    assert_eq!(found["path"], "/v1/bookings");
    assert_eq!(found["status"], 201);
    let at = completed_at_ms(&found);
    let after = chrono::Utc::now().timestamp_millis();
    assert!(before <= at && at <= after, "{at} not in {before}..{after}");

    // A refused booking is stored too: its 409.
    let refused = new_key();
    guest
        .book(&refused, &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");
    let found = assert_json(&look_up(&guest, &refused).await, 200);
    assert_eq!(
        (&found["state"], &found["status"]),
        (&json!("completed"), &json!(409))
    );

    // Another path: a cart, then a hold in it (its path names the cart).
    let cart_key = new_key();
    let cart = assert_json(&guest.post("/v1/carts", &cart_key, json!({})).await, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(look_up(&guest, &cart_key).await.json()["path"], "/v1/carts");
    let hold_key = new_key();
    assert_eq!(guest.hold(&cart, &hold_key, &show, "A2").await.status, 201);
    assert_eq!(
        look_up(&guest, &hold_key).await.json()["path"],
        format!("/v1/carts/{cart}/items").as_str()
    );

    // Any printable key, URL-encoded.
    let odd = format!("order 7/{}%+?", new_key());
    assert_eq!(guest.book(&odd, &show, &["A3"]).await.status, 201);
    let found = assert_json(&look_up(&guest, &odd).await, 200);
    assert_eq!(
        (&found["key"], &found["status"]),
        (&json!(odd), &json!(201))
    );
}

store_test!(unknown_and_other_users_keys_are_not_found);
async fn unknown_and_other_users_keys_are_not_found(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 2).await;
    let key = new_key();
    assert_eq!(guest.book(&key, &show, &["A1"]).await.status, 201);

    look_up(&guest, &new_key())
        .await
        .assert_problem(404, "not-found");
    let other = client.guest().await;
    look_up(&other, &key).await.assert_problem(404, "not-found");
    // A key no request could carry (a control character) is unknown too.
    look_up(&guest, "bad\u{1}key")
        .await
        .assert_problem(404, "not-found");
    // Who asks must say who they are.
    client
        .get(&format!("/v1/idempotency-keys/{key}"))
        .await
        .assert_problem(401, "unauthorized");
}

store_test!(an_expired_key_is_not_found);
async fn an_expired_key_is_not_found(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.idempotency_ttl_secs = 1);
    let (_client, show, guest) = show_and_guest(&server, 2).await;
    let key = new_key();
    assert_eq!(guest.book(&key, &show, &["A1"]).await.status, 201);
    assert_eq!(look_up(&guest, &key).await.status, 200);
    // The TTL is one second: the record is forgotten after it (waiting for
    // time to pass, bounded; a failure detector, not a race).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = look_up(&guest, &key).await;
        if answer.status == 404 {
            answer.assert_problem(404, "not-found");
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(Instant::now() < deadline, "the key never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request whose write waits on a hung flush is in flight: the look-up
/// says so (with its method and path, no status yet); once the flush goes
/// on, the same look-up says completed. The real binary, with the
/// `store.flush` failpoint armed on a file (as in `hung_store`).
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "failpoints")]
async fn a_running_key_is_in_flight_until_it_answers() {
    let (parent, data) = temp_data_dir();
    let hang = parent.path().join("hang-the-flush");
    let failpoint = format!("store.flush=return({})", hang.display());
    let env = [
        ("BOXOFFICE_STORE_STALL_MS", "60000"),
        ("BOXOFFICE_STORE_DEADLINE_MS", "120000"),
        ("FAILPOINTS", failpoint.as_str()),
    ];
    let server = BinaryServer::start(&data, &env);
    let client = server.client();
    let show = client.create_show("Running", &[("A", 3)]).await;
    let guest = client.guest().await;

    std::fs::write(&hang, b"").expect("arm the hang");
    let key = new_key();
    let running = {
        let (guest, key, show) = (guest.clone(), key.clone(), show.clone());
        tokio::spawn(async move { guest.book(&key, &show, &["A1"]).await })
    };
    // In flight once its actor runs it (a failure detector bounds the wait).
    let started = Instant::now();
    let found = loop {
        let answer = look_up(&guest, &key).await;
        if answer.status == 200 {
            break answer.json();
        }
        answer.assert_problem(404, "not-found");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the key never showed in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(found["state"], "in-flight", "{found}");
    assert_eq!(
        (&found["method"], &found["path"]),
        (&json!("POST"), &json!("/v1/bookings"))
    );
    assert_eq!(
        (&found["status"], &found["completed_at"]),
        (&Value::Null, &Value::Null)
    );

    std::fs::remove_file(&hang).expect("release the flush");
    let booked = running.await.unwrap();
    assert_eq!(booked.status, 201, "{}", booked.text);
    let found = assert_json(&look_up(&guest, &key).await, 200);
    assert_eq!(
        (&found["state"], &found["status"]),
        (&json!("completed"), &json!(201))
    );
}
