//! A write is answered only once it is durable (issue 17), told apart from
//! an early reply every time, not by a crash that may come too late.
//!
//! The real binary runs with the `store.flush` failpoint armed on a file:
//! while the file exists, the flusher is paused (nothing becomes durable).
//! For each kind of write (a booking, a hold, a release, a checkout, a
//! cancel), the test pauses the flusher, sends the write and checks that
//! no answer comes for a while (500 ms: a bound on waiting for a wrong
//! answer, not a measure of speed), that a repeat of its key and a read of
//! the seat map show nothing of it, then resumes the flusher and checks
//! that the answer arrives and the map changes. A build that replies
//! before the flush answers inside the 500 ms, every run.
//!
//! Needs the `failpoints` feature (`.ci/run` runs it); without it the test
//! shows as ignored. sled only: PostgreSQL has no flusher of ours (its
//! COMMIT returns once the commit is on disk).

use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a paused write must stay unanswered.
const UNANSWERED_FOR: Duration = Duration::from_millis(500);
/// How long a repeat made during the pause may take before the test
/// takes it as waiting (which reveals nothing either).
const REPEAT_WAIT: Duration = Duration::from_millis(300);
/// A failure detector for answers that must come.
const ARRIVES_WITHIN: Duration = Duration::from_secs(20);

/// The flusher's pause switch: a file the failpoint waits on.
struct Pause(PathBuf);

impl Pause {
    fn on(&self) {
        std::fs::write(&self.0, b"").expect("pause the flusher");
    }

    fn off(&self) {
        std::fs::remove_file(&self.0).expect("resume the flusher");
    }
}

/// A write in flight while the flusher is paused.
type Pending = tokio::task::JoinHandle<Option<Answer>>;

/// Sends `request` from a task (it is not answered while paused).
fn send_in_background(client: &Client, request: Request) -> Pending {
    let client = client.clone();
    tokio::spawn(async move { client.try_request(&request).await })
}

/// Checks that `pending` stays unanswered for `UNANSWERED_FOR`.
async fn assert_unanswered(pending: &mut Pending, what: &str) {
    if let Ok(answer) = tokio::time::timeout(UNANSWERED_FOR, &mut *pending).await {
        panic!("{what} was answered before its write was durable: {answer:?}");
    }
}

/// Waits for the answer of `pending` once the flusher runs again.
async fn answer_of(pending: Pending, what: &str) -> Answer {
    tokio::time::timeout(ARRIVES_WITHIN, pending)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer after the flush resumed"))
        .expect("the request task")
        .unwrap_or_else(|| panic!("{what}: the connection failed"))
}

/// Asserts the seat map (served from memory: it answers while the flusher
/// is paused) shows `seat` as `status`.
async fn assert_seat_while_paused(client: &Client, show: &str, seat: &str, status: &str) {
    let map = tokio::time::timeout(ARRIVES_WITHIN, client.seat_map(show))
        .await
        .expect("the seat map answers while the flusher is paused");
    assert_eq!(
        map.get(seat).map(String::as_str),
        Some(status),
        "the seat map showed a write that was not durable"
    );
}

/// A repeat of a paused keyed request: 409 `request-in-progress`, or a
/// wait (docs/API.md §4); never the answer of the write that is not durable.
async fn assert_repeat_reveals_nothing(client: &Client, request: &Request) {
    if let Ok(answer) = tokio::time::timeout(REPEAT_WAIT, client.request(request)).await {
        answer.assert_problem(409, "request-in-progress");
    }
}

/// One write, paused: unanswered, invisible, then answered with `status`
/// and visible once the flusher resumes. Returns its answer.
async fn paused_write(
    pause: &Pause,
    client: &Client,
    request: Request,
    (show, seat, before, after): (&str, &str, &str, &str),
    status: u16,
) -> Answer {
    let what = format!("{} {}", request.method, request.path);
    pause.on();
    let mut pending = send_in_background(client, clone_request(&request));
    assert_unanswered(&mut pending, &what).await;
    assert_seat_while_paused(client, show, seat, before).await;
    if request.key.is_some() {
        assert_repeat_reveals_nothing(client, &request).await;
    }
    pause.off();
    let answer = answer_of(pending, &what).await;
    assert_eq!(answer.status, status, "{what}: {}", answer.text);
    assert_not_replay(&answer);
    let map = client.seat_map(show).await;
    assert_eq!(map.get(seat).map(String::as_str), Some(after), "{what}");
    if request.key.is_some() {
        let again = client.request(&request).await;
        assert_replay(&answer, &again, &what);
    }
    answer
}

fn clone_request(request: &Request) -> Request {
    Request {
        method: request.method,
        path: request.path.clone(),
        key: request.key.clone(),
        body: request.body.clone(),
    }
}

fn start_paused_capable(parent: &Path, data: &Path) -> (BinaryServer, Pause) {
    let pause = Pause(parent.join("pause-the-flusher"));
    let failpoint = format!("store.flush=return({})", pause.0.display());
    // Stall detection far beyond the pause: the writes must wait, not shed.
    let env = [
        ("FAILPOINTS", failpoint.as_str()),
        ("BOXOFFICE_STORE_STALL_MS", "60000"),
        ("BOXOFFICE_STORE_DEADLINE_MS", "120000"),
    ];
    (BinaryServer::start(data, &env), pause)
}

#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "failpoints")]
async fn no_write_is_answered_or_seen_before_it_is_durable() {
    let (parent, data) = temp_data_dir();
    let (server, pause) = start_paused_capable(parent.path(), &data);
    let client = server.client();
    let show = client.create_show("Paused", &[("A", 4)]).await;
    let guest = client.guest().await;
    let cart = guest.new_cart().await;

    // A one-shot booking.
    let booking = paused_write(
        &pause,
        &guest,
        Request::post("/v1/bookings", &booking_body(&show, &["A1"])),
        (&show, "A1", "available", "booked"),
        201,
    )
    .await;
    // A hold, then its release.
    let hold = Request::post(
        format!("/v1/carts/{cart}/items"),
        &serde_json::json!({"show_id": show, "seat_id": "A2"}),
    );
    paused_write(
        &pause,
        &guest,
        hold,
        (&show, "A2", "available", "held"),
        201,
    )
    .await;
    let release = Request::delete(format!("/v1/carts/{cart}/items/{show}/A2"));
    paused_write(
        &pause,
        &guest,
        release,
        (&show, "A2", "held", "available"),
        204,
    )
    .await;
    // A checkout of a cart that holds A3.
    guest.hold_new(&cart, &show, "A3").await;
    let checkout = Request::post(format!("/v1/carts/{cart}/checkout"), &serde_json::json!({}));
    paused_write(
        &pause,
        &guest,
        checkout,
        (&show, "A3", "held", "booked"),
        201,
    )
    .await;
    // A cancel of the first booking.
    let cancel = Request::delete(format!("/v1/bookings/{}", booking.id()));
    paused_write(
        &pause,
        &guest,
        cancel,
        (&show, "A1", "booked", "available"),
        204,
    )
    .await;
    server.stop();
}
