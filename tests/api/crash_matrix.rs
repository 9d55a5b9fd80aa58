//! The crash matrix (docs/API.md §5): the real binary aborts at each
//! named step of each operation (`BOXOFFICE_CRASH_POINT=<op>.<step>`, or
//! with `--features failpoints` the `fail` failpoint of that name), and
//! after a restart the operation is all there or not there at all, its
//! retry finishes it exactly once, and that survives another restart.
//!
//! Each operation is one `Op` of the table below (what its setup makes,
//! the request that crashes, how to see its effect, what done looks like);
//! each of its steps is a row, and `run_row` runs every row the same way.
//! CI runs the matrix again through the `fail` crate:
//! `cargo test --features failpoints --test api crash_`. Every row runs on
//! each store (`store_test!`): a restart finds the same data directory, or
//! the same database.

use crate::helpers::*;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;

/// The steps of `Keys::commit` (the write of every operation) a crash
/// point can name.
const STEPS: &[&str] = &["prepared", "written", "durable"];
/// Multi-seat operations also crash after their first seat is reserved and
/// before the next is asked, and after the seats have taken the change,
/// just before the reply.
const MULTI_SEAT_STEPS: &[&str] = &[
    "between-seats",
    "prepared",
    "written",
    "durable",
    "resolved",
];

/// The seats of the multi-seat operations.
const SEATS: [&str; 3] = ["A3", "A4", "A5"];

const SIGABRT: i32 = 6;

// ------------------------------------------------------------ the table

/// One operation of the matrix.
struct Op {
    name: &'static str,
    /// The steps it can crash at: one row each.
    steps: &'static [&'static str],
    /// Settings of every run of this operation.
    env: &'static [(&'static str, &'static str)],
    /// On the first run (no crash point): makes what the request acts on.
    setup: for<'a> fn(&'a Client, &'a mut Case) -> BoxFuture<'a, ()>,
    /// The request the crash-point run is sent.
    request: fn(&Case) -> Request,
    /// `None`: the server dies before it answers the request. `Some(status)`:
    /// it answers so and dies later (a hold that lapses).
    answered: Option<u16>,
    /// After the restart: asserts the state is wholly before or wholly after
    /// the operation, and says which.
    observe: for<'a> fn(&'a Client, &'a Case) -> BoxFuture<'a, Observed>,
    /// Which state a crash at a step must leave: `Some(false)` before,
    /// `Some(true)` after, `None` either.
    required: fn(&str) -> Option<bool>,
    /// How the operation is finished after the crash.
    finish: Finish,
    /// Asserts the finished state (`retry`: the keyed retry's answer);
    /// checked once finished and again after another restart.
    done: for<'a> fn(&'a Client, &'a Case, Option<&'a Answer>) -> BoxFuture<'a, ()>,
}

/// The state one row works on.
struct Case {
    /// `<op>.<step>`.
    point: String,
    show: String,
    /// The cart the request works on.
    cart: String,
    /// The booking the request works on, with the key and first answer of
    /// its creation.
    booking: Option<(String, Answer)>,
    /// Tokens of the users (the first sends the request).
    users: Vec<String>,
}

/// What `observe` saw after the restart.
struct Observed {
    /// The effect is there.
    present: bool,
    /// What a replayed retry must answer, where the effect is there.
    replay_of: Option<Value>,
}

enum Finish {
    /// Retry the request with its key: 201, a replay exactly when the
    /// effect was present; once more, a replay of that.
    Retry,
    /// Repeat the (unkeyed) request twice: 204 each time.
    Repeat,
    /// Nothing to finish (a lapsed hold is no request); `done` is checked
    /// once, without another restart.
    Nothing,
}

const HOLD_TTL_1S: &[(&str, &str)] = &[("BOXOFFICE_HOLD_TTL_SECS", "1")];

const BOOKING: Op = Op {
    name: "booking",
    steps: MULTI_SEAT_STEPS,
    env: &[],
    setup: |_, _| async {}.boxed(),
    request: |case| Request::post("/v1/bookings", &booking_body(&case.show, &SEATS)),
    answered: None,
    observe: |client, case| observe_booking(client, case).boxed(),
    required,
    finish: Finish::Retry,
    done: |client, case, retry| booked_once(client, case, retry.unwrap()).boxed(),
};

const CHECKOUT: Op = Op {
    name: "checkout",
    steps: MULTI_SEAT_STEPS,
    env: &[],
    setup: |guest, case| hold_seats(guest, case).boxed(),
    request: |case| Request::post(format!("/v1/carts/{}/checkout", case.cart), &json!({})),
    answered: None,
    observe: |client, case| observe_checkout(client, case).boxed(),
    required,
    finish: Finish::Retry,
    done: |client, case, retry| checked_out(client, case, retry.unwrap()).boxed(),
};

const CANCEL: Op = Op {
    name: "cancel",
    steps: MULTI_SEAT_STEPS,
    env: &[],
    setup: |guest, case| book_seats(guest, case).boxed(),
    request: |case| Request::delete(format!("/v1/bookings/{}", booking_id(case))),
    answered: None,
    observe: |client, case| observe_cancel(client, case).boxed(),
    required,
    finish: Finish::Repeat,
    done: |client, case, _| cancelled(client, case).boxed(),
};

const HOLD: Op = Op {
    name: "hold",
    steps: STEPS,
    env: &[],
    setup: |guest, case| new_cart(guest, case).boxed(),
    request: hold_a3,
    answered: None,
    observe: |client, case| observe_hold(client, case).boxed(),
    required,
    finish: Finish::Retry,
    done: |client, case, retry| held_once(client, case, retry.unwrap()).boxed(),
};

const RELEASE: Op = Op {
    name: "release",
    steps: STEPS,
    env: &[],
    setup: |guest, case| hold_a3_first(guest, case).boxed(),
    request: |case| Request::delete(format!("/v1/carts/{}/items/{}/A3", case.cart, case.show)),
    answered: None,
    observe: |client, case| observe_release(client, case).boxed(),
    required,
    finish: Finish::Repeat,
    done: |client, case, _| released(client, case).boxed(),
};

/// The process dies while a lapsed hold is being released (before and
/// after the release is written, and after its flush): after a restart the
/// seat is available, the item reads `expired`, and another user can hold
/// it.
const EXPIRY: Op = Op {
    name: "expiry",
    steps: STEPS,
    env: HOLD_TTL_1S,
    setup: |guest, case| new_cart(guest, case).boxed(),
    request: |case| {
        let body = json!({"show_id": case.show, "seat_id": "A2"});
        Request::post(format!("/v1/carts/{}/items", case.cart), &body)
    },
    answered: Some(201),
    observe: |client, case| observe_expiry(client, case).boxed(),
    // Whichever step it died at, the restart finds the hold lapsed.
    required: |_| Some(true),
    finish: Finish::Nothing,
    done: |client, case, _| another_user_holds_a2(client, case).boxed(),
};

// ------------------------------------------------------------ the tests

store_test!(crash_at_each_step_of_a_booking_is_all_or_nothing);
async fn crash_at_each_step_of_a_booking_is_all_or_nothing(store: StoreKind) {
    run_rows(store, &BOOKING).await;
}

store_test!(crash_at_each_step_of_a_checkout_is_all_or_nothing);
async fn crash_at_each_step_of_a_checkout_is_all_or_nothing(store: StoreKind) {
    run_rows(store, &CHECKOUT).await;
}

store_test!(crash_at_each_step_of_a_cancel_is_all_or_nothing);
async fn crash_at_each_step_of_a_cancel_is_all_or_nothing(store: StoreKind) {
    run_rows(store, &CANCEL).await;
}

store_test!(crash_at_each_step_of_a_hold_is_all_or_nothing);
async fn crash_at_each_step_of_a_hold_is_all_or_nothing(store: StoreKind) {
    run_rows(store, &HOLD).await;
}

store_test!(crash_at_each_step_of_a_release_is_all_or_nothing);
async fn crash_at_each_step_of_a_release_is_all_or_nothing(store: StoreKind) {
    run_rows(store, &RELEASE).await;
}

store_test!(crash_during_a_hold_expiry_leaves_the_seat_free);
async fn crash_during_a_hold_expiry_leaves_the_seat_free(store: StoreKind) {
    run_rows(store, &EXPIRY).await;
}

// ------------------------------------------------------------ the runner

async fn run_rows(store: StoreKind, op: &Op) {
    for step in op.steps {
        run_row(store, op, step).await;
    }
}

/// One crash point: a first run makes the setup; a run with the crash
/// point is sent the request and must abort; a restart must show the
/// operation all there or not at all (`required`); finishing it works
/// once; another restart keeps it.
async fn run_row(store: StoreKind, op: &Op, step: &str) {
    let point = format!("{}.{step}", op.name);
    let storage = store.storage();
    let case = first_run(&storage, op, point.clone()).await;
    let request = (op.request)(&case);

    let (crash_var, crash_value) = crash_env(&point);
    let mut env: Vec<(&str, &str)> = op.env.to_vec();
    env.push((crash_var, &crash_value));
    let server = BinaryServer::on(&storage, &env);
    let answer = server.as_user(&case.users[0]).try_request(&request).await;
    let answer = match op.answered {
        None => answer,
        Some(status) => {
            let answer = answer.unwrap_or_else(|| panic!("{point}: no answer"));
            assert_eq!(answer.status, status, "{point}: {}", answer.text);
            None
        }
    };
    expect_abort(server, answer, &point);

    let server = BinaryServer::on(&storage, op.env);
    let client = server.as_user(&case.users[0]);
    let observed = (op.observe)(&client, &case).await;
    check_step(&point, (op.required)(step), observed.present);
    let retry = finish(op, &client, &case, &request, &observed).await;
    server.stop();
    if matches!(op.finish, Finish::Nothing) {
        assert_consistent(&storage);
        return;
    }
    let server = BinaryServer::on(&storage, op.env);
    let client = server.as_user(&case.users[0]);
    (op.done)(&client, &case, retry.as_ref()).await;
    if let Some(retry) = &retry {
        assert_replay(retry, &client.request(&request).await, &point);
    }
    server.stop();
    assert_consistent(&storage);
}

/// A first run without a crash point: a show with row A of 10 seats, two
/// guests, and the operation's setup.
async fn first_run(storage: &Storage, op: &Op, point: String) -> Case {
    let server = BinaryServer::on(storage, op.env);
    let show = server.client().create_show("Crash", &[("A", 10)]).await;
    let guest = server.client().guest().await;
    let other = server.client().guest().await;
    let mut case = Case {
        point,
        show,
        cart: String::new(),
        booking: None,
        users: vec![guest.token(), other.token()],
    };
    (op.setup)(&guest, &mut case).await;
    server.stop();
    case
}

/// Finishes the operation after the crash and checks the done state;
/// returns the retry's answer (keyed requests).
async fn finish(
    op: &Op,
    client: &Client,
    case: &Case,
    request: &Request,
    observed: &Observed,
) -> Option<Answer> {
    let point = &case.point;
    match op.finish {
        Finish::Retry => {
            let retry = client.request(request).await;
            assert_eq!(retry.status, 201, "{point}: retry: {}", retry.text);
            if observed.present {
                assert!(retry.is_replay(), "{point}: present, but the key ran again");
                let replay_of = observed.replay_of.as_ref().expect("what it replays");
                assert_eq!(&retry.json(), replay_of, "{point}");
            } else {
                assert!(!retry.is_replay(), "{point}: replay of an absent effect");
            }
            (op.done)(client, case, Some(&retry)).await;
            assert_replay(&retry, &client.request(request).await, point);
            Some(retry)
        }
        Finish::Repeat => {
            // Repeating finishes it (or changes nothing).
            for _ in 0..2 {
                let again = client.request(request).await;
                assert_eq!(again.status, 204, "{point}: {}", again.text);
                (op.done)(client, case, None).await;
            }
            None
        }
        Finish::Nothing => {
            (op.done)(client, case, None).await;
            None
        }
    }
}

/// The environment that makes the server abort at `point`. Built with the
/// `failpoints` feature it is a `fail` failpoint (`FAILPOINTS=<point>=return`),
/// otherwise the `BOXOFFICE_CRASH_POINT` setting; both fire in
/// `runtime::crash::CrashPoints::at`.
fn crash_env(point: &str) -> (&'static str, String) {
    if cfg!(feature = "failpoints") {
        ("FAILPOINTS", format!("{point}=return"))
    } else {
        ("BOXOFFICE_CRASH_POINT", point.to_string())
    }
}

/// Asserts the server died of its crash point: no answer, SIGABRT.
fn expect_abort(server: BinaryServer, answer: Option<Answer>, point: &str) {
    if let Some(answer) = answer {
        panic!(
            "{point}: the server answered {} {} instead of aborting",
            answer.status, answer.text
        );
    }
    let status = server.wait();
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "{point}: the server ended with {status:?}, not by abort()"
    );
}

/// What a crash at `step` of a request must have left: `Some(false)`
/// nothing, `Some(true)` everything, `None` either (but never a part).
fn required(step: &str) -> Option<bool> {
    match step {
        "between-seats" | "prepared" => Some(false),
        "durable" | "resolved" => Some(true),
        _ => None,
    }
}

fn check_step(point: &str, required: Option<bool>, present: bool) {
    if let Some(want) = required {
        assert_eq!(
            present, want,
            "{point}: after the crash the effect is present={present}, expected present={want}"
        );
    }
    eprintln!("{point}: effect present after restart: {present}");
}

// ------------------------------------------------------------ setups

async fn new_cart(guest: &Client, case: &mut Case) {
    case.cart = guest.new_cart().await;
}

/// A cart holding the three seats.
async fn hold_seats(guest: &Client, case: &mut Case) {
    new_cart(guest, case).await;
    for seat in SEATS {
        guest.hold_new(&case.cart, &case.show, seat).await;
    }
}

/// A cart holding A3.
async fn hold_a3_first(guest: &Client, case: &mut Case) {
    new_cart(guest, case).await;
    guest.hold_new(&case.cart, &case.show, "A3").await;
}

/// A booking of the three seats.
async fn book_seats(guest: &Client, case: &mut Case) {
    let key = new_key();
    let booked = guest.book(&key, &case.show, &SEATS).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    case.booking = Some((key, booked));
}

fn booking_id(case: &Case) -> String {
    case.booking.as_ref().expect("a booking").1.id()
}

fn hold_a3(case: &Case) -> Request {
    let body = json!({"show_id": case.show, "seat_id": "A3"});
    Request::post(format!("/v1/carts/{}/items", case.cart), &body)
}

// ------------------------------------------------------------ observations

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

async fn observe_booking(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    let listed = client.bookings().await;
    let present = !listed.is_empty();
    let booked = if present { set(&SEATS) } else { none() };
    assert_map(client, &case.show, &none(), &booked, point).await;
    if present {
        assert_eq!(listed.len(), 1, "{point}: {listed:?}");
        assert_eq!(listed[0]["status"], "confirmed");
        assert_eq!(seat_set(&listed[0]["seats"]), set(&SEATS), "{point}");
    }
    Observed {
        present,
        replay_of: listed.first().cloned(),
    }
}

async fn observe_checkout(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    let state = client.cart(&case.cart).await;
    let listed = client.bookings().await;
    let map = client.seat_map(&case.show).await;
    let present = state["status"] == "checked_out";
    if present {
        assert_eq!(listed.len(), 1, "{point}: {listed:?}");
        assert_eq!(listed[0]["status"], "confirmed");
        assert_eq!(seat_set(&listed[0]["seats"]), set(&SEATS), "{point}");
        assert_eq!(seats_with(&map, "booked"), set(&SEATS), "{point}");
        assert!(seats_with(&map, "held").is_empty(), "{point}");
    } else {
        assert_eq!(state["status"], "open", "{point}: {state}");
        let items = state["items"].as_array().unwrap();
        let held: BTreeSet<String> = items
            .iter()
            .filter(|i| i["status"] == "held")
            .map(|i| i["seat_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(items.len(), 3, "{point}: {state}");
        assert_eq!(held, set(&SEATS), "{point}: {state}");
        assert!(listed.is_empty(), "{point}: {listed:?}");
        assert_eq!(seats_with(&map, "held"), set(&SEATS), "{point}");
        assert!(seats_with(&map, "booked").is_empty(), "{point}");
    }
    Observed {
        present,
        replay_of: listed.first().cloned(),
    }
}

async fn observe_cancel(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    let state = client.booking(&booking_id(case)).await;
    let present = state["status"] == "cancelled";
    if present {
        assert_map(client, &case.show, &none(), &none(), point).await;
    } else {
        assert_eq!(state["status"], "confirmed", "{point}: {state}");
        assert_map(client, &case.show, &none(), &set(&SEATS), point).await;
    }
    assert_eq!(seat_set(&state["seats"]), set(&SEATS), "{point}");
    Observed {
        present,
        replay_of: None,
    }
}

async fn observe_hold(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    let state = client.cart(&case.cart).await;
    let items = state["items"].as_array().unwrap().clone();
    let present = !items.is_empty();
    if present {
        assert_eq!(items.len(), 1, "{point}: {state}");
        assert_eq!(items[0]["seat_id"], "A3", "{point}: {state}");
        assert_eq!(items[0]["status"], "held", "{point}: {state}");
        assert_map(client, &case.show, &set(&["A3"]), &none(), point).await;
    } else {
        assert_map(client, &case.show, &none(), &none(), point).await;
    }
    Observed {
        present,
        replay_of: Some(state),
    }
}

async fn observe_release(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    let state = client.cart(&case.cart).await;
    let present = state["items"].as_array().unwrap().is_empty();
    if present {
        assert_map(client, &case.show, &none(), &none(), point).await;
    } else {
        assert_eq!(state["items"][0]["seat_id"], "A3", "{point}: {state}");
        assert_eq!(state["items"][0]["status"], "held", "{point}: {state}");
        assert_map(client, &case.show, &set(&["A3"]), &none(), point).await;
    }
    Observed {
        present,
        replay_of: None,
    }
}

/// A lapsed hold is released whichever step the crash hit.
async fn observe_expiry(client: &Client, case: &Case) -> Observed {
    let point = &case.point;
    assert_eq!(
        client.seat_map(&case.show).await["A2"],
        "available",
        "{point}"
    );
    let state = client.cart(&case.cart).await;
    assert_eq!(state["items"][0]["status"], "expired", "{point}: {state}");
    Observed {
        present: true,
        replay_of: None,
    }
}

// ------------------------------------------------------------ done states

/// One booking of the three seats: the retry's; the seat map shows it.
async fn booked_once(client: &Client, case: &Case, retry: &Answer) {
    let point = &case.point;
    assert_map(client, &case.show, &none(), &set(&SEATS), point).await;
    let listed = client.bookings().await;
    assert_eq!(listed.len(), 1, "{point}: {listed:?}");
    assert_eq!(listed[0], retry.json(), "{point}");
}

/// The cart checked out into one booking of its seats: the retry's.
async fn checked_out(client: &Client, case: &Case, retry: &Answer) {
    let state = client.cart(&case.cart).await;
    assert_eq!(state["status"], "checked_out", "{}: {state}", case.point);
    booked_once(client, case, retry).await;
}

/// The booking is cancelled and its seats free; its own key still
/// replays its creation.
async fn cancelled(client: &Client, case: &Case) {
    let point = &case.point;
    let (key, booked) = case.booking.as_ref().expect("a booking");
    assert_eq!(client.booking(&booked.id()).await["status"], "cancelled");
    assert_map(client, &case.show, &none(), &none(), point).await;
    let replay = client.book(key, &case.show, &SEATS).await;
    assert_replay(booked, &replay, point);
}

/// The cart holds A3 once: the retry's answer is the cart.
async fn held_once(client: &Client, case: &Case, retry: &Answer) {
    let point = &case.point;
    let state = client.cart(&case.cart).await;
    assert_eq!(state, retry.json(), "{point}");
    assert_eq!(state["items"].as_array().unwrap().len(), 1, "{point}");
    assert_map(client, &case.show, &set(&["A3"]), &none(), point).await;
}

/// The cart is empty and A3 free.
async fn released(client: &Client, case: &Case) {
    let state = client.cart(&case.cart).await;
    assert!(state["items"].as_array().unwrap().is_empty(), "{state}");
    assert_map(client, &case.show, &none(), &none(), &case.point).await;
}

/// The second user holds the lapsed seat in a cart of their own.
async fn another_user_holds_a2(client: &Client, case: &Case) {
    let bob = Client::on(&client.base, &case.users[1]);
    let cart = bob.new_cart().await;
    bob.hold_new(&cart, &case.show, "A2").await;
}
