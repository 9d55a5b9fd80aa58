//! Sessions, tokens and who may do what (docs/API.md §2 and §8.1).

use crate::helpers::*;
use serde_json::{json, Value};

store_test!(sessions_are_created_with_a_token_and_user_id);
async fn sessions_are_created_with_a_token_and_user_id(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let first = client.send("POST", "/v1/sessions", None, None).await;
    let body = assert_json(&first, 201);
    let token = body["token"].as_str().expect("token is a string");
    assert!(
        token.len() >= 16,
        "token {token:?} is too short to be unguessable"
    );
    assert_uuid(&body["user_id"]);

    let second = assert_json(&client.send("POST", "/v1/sessions", None, None).await, 201);
    assert_ne!(second["token"], body["token"]);
    assert_ne!(second["user_id"], body["user_id"]);

    // The token signs the user in.
    let guest = client.with_token(token);
    assert!(guest.bookings().await.is_empty());
}

/// Every endpoint that needs a session, as (method, path, body), on a
/// booking and a cart of the owner's.
fn authenticated_requests(
    show: &str,
    booking: &str,
    cart: &str,
) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/v1/bookings".into(), None),
        (
            "POST",
            "/v1/bookings".into(),
            Some(booking_body(show, &["A3"])),
        ),
        ("GET", format!("/v1/bookings/{booking}"), None),
        ("DELETE", format!("/v1/bookings/{booking}"), None),
        ("POST", "/v1/carts".into(), Some(json!({}))),
        ("GET", format!("/v1/carts/{cart}"), None),
        (
            "POST",
            format!("/v1/carts/{cart}/items"),
            Some(json!({"show_id": show, "seat_id": "A4"})),
        ),
        ("DELETE", format!("/v1/carts/{cart}/items/{show}/A2"), None),
        (
            "POST",
            format!("/v1/carts/{cart}/checkout"),
            Some(json!({})),
        ),
    ]
}

store_test!(endpoints_needing_auth_answer_401_without_or_with_unknown_token);
async fn endpoints_needing_auth_answer_401_without_or_with_unknown_token(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let booked = guest.book(&new_key(), &show, &["A1"]).await;
    let booking_id = assert_json(&booked, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let cart_before = guest.cart(&cart_id).await;

    let nobody = client.anonymous();
    let stranger = client.with_token("no-such-token-0123456789abcdef");
    // Another scheme than Bearer is no token either.
    let basic = client.with_basic_auth("user", "pass");
    for (method, path, body) in authenticated_requests(&show, &booking_id, &cart_id) {
        let body = body.map(|b| b.to_string());
        let key = (method == "POST").then(new_key);
        for who in [&nobody, &stranger, &basic] {
            let answer = who
                .send(method, &path, key.as_deref(), body.as_deref())
                .await;
            answer.assert_problem(401, "unauthorized");
        }
    }

    // Nothing changed.
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "held")]).await;
    assert_eq!(guest.cart(&cart_id).await, cart_before);
    let mine = guest.bookings().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "confirmed");
}

store_test!(public_reads_need_no_token);
async fn public_reads_need_no_token(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Public", &[("A", 2)]).await;
    let nobody = client.anonymous();
    assert_json(&nobody.get("/v1/shows").await, 200);
    assert_json(&nobody.get(&format!("/v1/shows/{show}")).await, 200);
    let events = nobody.open_events(&show).await;
    assert_eq!(events.status().as_u16(), 200);
    drop(events);
    // A session needs neither token nor key.
    assert_json(&nobody.send("POST", "/v1/sessions", None, None).await, 201);
}

store_test!(creating_a_show_needs_the_admin_token);
async fn creating_a_show_needs_the_admin_token(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    let body = show_body(&[("A", 3)]);

    guest
        .post("/v1/shows", &new_key(), body.clone())
        .await
        .assert_problem(403, "forbidden");
    client
        .anonymous()
        .post("/v1/shows", &new_key(), body.clone())
        .await
        .assert_problem(401, "unauthorized");
    // Near misses of the admin token are no token at all: a prefix, the
    // token with one more byte, another case.
    let longer = format!("{ADMIN_TOKEN}x");
    let upper = ADMIN_TOKEN.to_uppercase();
    let prefix = &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1];
    for wrong in ["not-the-admin-token", prefix, &longer, &upper] {
        client
            .with_token(wrong)
            .post("/v1/shows", &new_key(), body.clone())
            .await
            .assert_problem(401, "unauthorized");
    }
    assert!(
        client.shows().await.is_empty(),
        "a refused create made a show"
    );

    let key = new_key();
    let created = client.admin().post("/v1/shows", &key, body.clone()).await;
    let show = assert_json(&created, 201);
    assert_uuid(&show["id"]);
    assert_eq!(client.shows().await.len(), 1);

    // Show creation is keyed like every POST: a retry replays, another
    // body with the same key is refused.
    assert_replay(
        &created,
        &client.admin().post("/v1/shows", &key, body).await,
        "show creation",
    );
    client
        .admin()
        .post("/v1/shows", &key, show_body(&[("B", 4)]))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(client.shows().await.len(), 1);
}

store_test!(without_an_admin_token_admin_endpoints_answer_403_to_everyone);
async fn without_an_admin_token_admin_endpoints_answer_403_to_everyone(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.admin_token = None);
    let client = server.client();
    let guest = client.guest().await;
    let body = show_body(&[("A", 3)]);
    for who in [client.admin(), guest, client.anonymous()] {
        who.post("/v1/shows", &new_key(), body.clone())
            .await
            .assert_problem(403, "forbidden");
        // Even without a key: auth comes first.
        who.send("POST", "/v1/shows", None, Some(&body.to_string()))
            .await
            .assert_problem(403, "forbidden");
    }
    assert!(client.shows().await.is_empty());
}
