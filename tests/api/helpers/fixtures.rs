//! The committed stores of `tests/fixtures` (made by
//! `scripts/make-dump-fixture.py`): the requests that made each one, with
//! their answers, replayed against a server on it.

use super::{BinaryServer, ADMIN_TOKEN};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The requests a fixture was made by (`requests.json`).
pub fn fixture_requests(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name).join("requests.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every request that made the fixture replays its answer byte for byte
/// (the session token works, every key and its stored answer is there),
/// the cancelled booking reads cancelled, the checked-out cart reads so.
pub async fn replay_fixture(server: &BinaryServer, requests: &Value) {
    let admin_token = requests["admin_token"].as_str().unwrap();
    for replay in requests["replays"].as_array().unwrap() {
        let token = match replay["token"].as_str().unwrap() {
            t if t == admin_token => ADMIN_TOKEN,
            t => t,
        };
        let answer = server
            .as_user(token)
            .send(
                replay["method"].as_str().unwrap(),
                replay["path"].as_str().unwrap(),
                replay["key"].as_str(),
                replay["body"].as_str(),
            )
            .await;
        let name = replay["name"].as_str().unwrap();
        assert!(answer.is_replay(), "{name}: not replayed: {}", answer.text);
        assert_eq!(
            answer.status as u64,
            replay["status"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            answer.text,
            replay["answer"].as_str().unwrap(),
            "{name}: not byte for byte"
        );
    }
    let guest = server.as_user(requests["token"].as_str().unwrap());
    let cancelled = guest
        .booking(requests["bookings"]["booking-cancelled"].as_str().unwrap())
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        guest.bookings().await.len(),
        3,
        "the session's user owns every booking"
    );
    let paid = guest
        .cart(requests["carts"]["paid"].as_str().unwrap())
        .await;
    assert_eq!(paid["status"], "checked_out");
}
