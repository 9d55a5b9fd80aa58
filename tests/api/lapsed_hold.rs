//! A hold past its end is no hold, whether or not its expiry has run yet
//! (issue 17). The expiry timer is late in real life (a loaded machine, a
//! long timer tick); here the `seat.lapse` failpoint keeps it from running
//! at all, so the test sees only the seat's own rule: `until_ms` passed
//! means free. A build whose seat still counts a lapsed hold as held
//! refuses the second buyer (409) every run.
//!
//! Needs the `failpoints` feature (`.ci/run` runs it); without it the test
//! shows as ignored.

use crate::helpers::*;
use chrono::Utc;
use std::time::Duration;

#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "failpoints")]
async fn a_lapsed_hold_frees_its_seat_before_its_expiry_runs() {
    let (_parent, data) = temp_data_dir();
    let env = [
        ("FAILPOINTS", "seat.lapse=return"),
        ("BOXOFFICE_HOLD_TTL_SECS", "1"),
    ];
    let server = BinaryServer::start(&data, &env);
    let client = server.client();
    let show = client.create_show("Lapse", &[("A", 3)]).await;
    let first = client.guest().await;
    let cart = first.new_cart().await;
    let held = first.hold_new(&cart, &show, "A1").await;
    let expires_at = utc(held["expires_at"].as_str().expect("a hold's end"));

    // Let the hold's end pass (the subject of the test, not a race: no
    // expiry can run while the failpoint is on).
    let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    assert!(Utc::now() > expires_at);

    // Another buyer gets the seat; the first cart's checkout is refused.
    let second = client.guest().await;
    let booked = second.book(&new_key(), &show, &["A1"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    first
        .checkout(&cart, &new_key())
        .await
        .assert_problem(409, "hold-expired");
    // A hold on it by a third cart is refused: it is booked now.
    let third = client.guest().await;
    let other_cart = third.new_cart().await;
    third
        .hold(&other_cart, &new_key(), &show, "A1")
        .await
        .assert_problem(409, "seat-unavailable");
    let map = client.seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), set(&["A1"]));
    server.stop();
}
