//! The box office on many nodes: a block, an unblock, a cancel on behalf
//! and the sales figures asked of a node that does not serve the show are
//! answered by the one that does; a show's bookings are read on any node.

use crate::cluster::{two_nodes, TwoNodes};
use crate::helpers::*;
use serde_json::json;

#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn box_office_requests_sent_to_any_node_reach_the_shows_owner() {
    let storage = StoreKind::Postgres.storage();
    let TwoNodes { a, b, show, .. } = two_nodes(&storage, &[("A", 6)]).await;
    let admin_b = b.client().admin();
    let guest = b.client().guest().await;

    let key = new_key();
    let path = format!("/v1/shows/{show}/blocks");
    let body = json!({"seats": ["A1", "A2"], "reason": "press"});
    let blocked = admin_b.post(&path, &key, body.clone()).await;
    assert_eq!(blocked.status, 201, "{}", blocked.text);
    assert_replay(
        &blocked,
        &a.client().admin().post(&path, &key, body).await,
        "the block's retry via the owner",
    );
    // The owner's seat map has it, and refuses the seat to a booking.
    assert_eq!(a.client().seat_map(&show).await["A1"], "blocked");
    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");
    let booked = guest.book_new(&show, &["A3", "A4"]).await;
    let id = booked["id"].as_str().unwrap();

    // Figures asked of b are the owner's.
    let figures = assert_json(&admin_b.get(&format!("/v1/shows/{show}/sales")).await, 200);
    assert_eq!(
        (
            figures["booked"].clone(),
            figures["blocked"].clone(),
            figures["available"].clone()
        ),
        (json!(2), json!(2), json!(2)),
        "{figures}"
    );
    // A cancel on behalf and an unblock via b.
    assert_eq!(
        admin_b.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    assert_eq!(admin_b.delete(&format!("{path}/A1")).await.status, 204);
    let map = a.client().seat_map(&show).await;
    assert_eq!(
        (map["A1"].as_str(), map["A2"].as_str(), map["A3"].as_str()),
        ("available", "blocked", "available")
    );
    let figures = assert_json(&admin_b.get(&format!("/v1/shows/{show}/sales")).await, 200);
    assert_eq!(
        (
            figures["booked"].clone(),
            figures["cancelled_bookings"].clone()
        ),
        (json!(0), json!(1))
    );
    // The bookings list, read from the database on either node.
    for node in [&a, &b] {
        let page = assert_json(
            &node
                .client()
                .admin()
                .get(&format!("/v1/shows/{show}/bookings"))
                .await,
            200,
        );
        assert_eq!(page["bookings"][0]["cancelled_by"], "box-office", "{page}");
    }
    assert!(b.client().metric("boxoffice_cluster_forwarded_total").await >= 4.0);
    a.stop();
    b.stop();
}
