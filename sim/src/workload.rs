//! The scenarios: what each simulated user wants and does.

use super::client::{Call, Client};
use super::history::{Answer, Op};
use rand::Rng;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A crowd arrives within seconds; most want the same central seats,
    /// in groups of 1-6 together.
    Premiere,
    /// Browse, hold, then abandon or check out, at realistic rates.
    Steady,
    /// Everyone wants one seat.
    HotSeat,
    /// The best seats wanted again and again until the run ends: book a
    /// block near the centre (at once or through a cart), often cancel it,
    /// come back. Contention that lasts, for runs with faults in the middle.
    Churn,
    /// Churn's crowd, who take a moment over the seat map before booking,
    /// while the box office's staff (`staff`) block and unblock house seats
    /// and cancel bookings on customers' behalf with the admin token.
    BoxOffice,
}

/// The show under test, as the workload needs it.
#[derive(Clone, Debug)]
pub struct Venue {
    pub show: String,
    /// (row label, seats in the row), front row first.
    pub rows: Vec<(String, u32)>,
}

impl Venue {
    pub fn seat_id(&self, row: usize, number: u32) -> String {
        format!("{}{}", self.rows[row].0, number)
    }
}

/// Knobs of one user's behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub scenario: Scenario,
    /// Users arrive spread over this long.
    pub ramp: Duration,
    /// Steady users keep going until then.
    pub until: Instant,
    pub hold_ttl: Duration,
}

/// Runs one user to the end of its plan.
pub async fn run_user(mut client: Client, venue: Venue, plan: Plan) {
    let delay = client.rng.gen_range(0..=plan.ramp.as_millis() as u64);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    match plan.scenario {
        Scenario::HotSeat => {
            let seat = venue.seat_id(0, venue.rows[0].1.div_ceil(2));
            book(&mut client, &venue, vec![seat]).await;
        }
        Scenario::Premiere => premiere(&mut client, &venue, plan).await,
        Scenario::Steady | Scenario::Churn | Scenario::BoxOffice => {
            let mut holding = None;
            while Instant::now() < plan.until {
                match plan.scenario {
                    Scenario::Churn => churn_visit(&mut client, &venue, &mut holding, CHURN).await,
                    Scenario::BoxOffice => {
                        churn_visit(&mut client, &venue, &mut holding, BOX_OFFICE).await
                    }
                    _ => steady_visit(&mut client, &venue, plan).await,
                }
                let think = client.rng.gen_range(50..300);
                tokio::time::sleep(Duration::from_millis(think)).await;
            }
        }
    }
}

pub(crate) fn status_of(answer: &Option<Answer>) -> u16 {
    answer.as_ref().map_or(0, |a| a.status)
}

pub(crate) async fn seat_map(client: &Client, venue: &Venue) -> Vec<Vec<bool>> {
    let mut free: Vec<Vec<bool>> = venue
        .rows
        .iter()
        .map(|(_, n)| vec![false; *n as usize])
        .collect();
    if let Some(show) = client.get(&format!("/v1/shows/{}", venue.show)).await {
        for seat in show["seats"].as_array().into_iter().flatten() {
            let row = venue
                .rows
                .iter()
                .position(|(label, _)| seat["row"] == label.as_str());
            if let (Some(row), Some(n)) = (row, seat["number"].as_u64()) {
                free[row][n as usize - 1] = seat["status"] == "available";
            }
        }
    }
    free
}

/// A block of `size` free adjacent seats near the centre, a little random.
pub(crate) fn pick_block(
    client: &mut Client,
    venue: &Venue,
    free: &[Vec<bool>],
    size: usize,
) -> Option<Vec<String>> {
    let best_row = venue.rows.len() as f64 * 0.4;
    let mut candidates = Vec::new();
    for (row, seats) in free.iter().enumerate() {
        let centre = seats.len() as f64 / 2.0;
        for start in 0..seats.len().saturating_sub(size - 1) {
            if seats[start..start + size].iter().all(|f| *f) {
                let mid = start as f64 + size as f64 / 2.0;
                let score = (row as f64 - best_row).abs() * 2.0 + (mid - centre).abs();
                candidates.push((score, row, start));
            }
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    candidates.truncate(4);
    if candidates.is_empty() {
        return None;
    }
    let (_, row, start) = candidates[client.rng.gen_range(0..candidates.len())];
    Some(
        (start..start + size)
            .map(|i| venue.seat_id(row, i as u32 + 1))
            .collect(),
    )
}

async fn book(client: &mut Client, venue: &Venue, seats: Vec<String>) -> Option<Answer> {
    let op = Op::Book {
        show: venue.show.clone(),
        seats: seats.clone(),
    };
    let call = Call {
        method: reqwest::Method::POST,
        path: "/v1/bookings".into(),
        body: Some(json!({"show_id": venue.show, "seats": seats})),
    };
    client.run(op, call).await
}

async fn create_cart(client: &mut Client) -> Option<String> {
    let call = Call {
        method: reqwest::Method::POST,
        path: "/v1/carts".into(),
        body: Some(json!({})),
    };
    let answer = client.run(Op::CreateCart, call).await?;
    answer.json()?["id"].as_str().map(String::from)
}

async fn hold(client: &mut Client, venue: &Venue, cart: &str, seat: &str) -> Option<Answer> {
    let op = Op::Hold {
        cart: cart.into(),
        show: venue.show.clone(),
        seat: seat.into(),
    };
    let call = Call {
        method: reqwest::Method::POST,
        path: format!("/v1/carts/{cart}/items"),
        body: Some(json!({"show_id": venue.show, "seat_id": seat})),
    };
    client.run(op, call).await
}

async fn release(client: &mut Client, venue: &Venue, cart: &str, seat: &str) -> Option<Answer> {
    let op = Op::Release {
        cart: cart.into(),
        show: venue.show.clone(),
        seat: seat.into(),
    };
    let call = Call {
        method: reqwest::Method::DELETE,
        path: format!("/v1/carts/{cart}/items/{}/{seat}", venue.show),
        body: None,
    };
    client.run(op, call).await
}

async fn checkout(
    client: &mut Client,
    venue: &Venue,
    cart: &str,
    seats: &[String],
) -> Option<Answer> {
    let op = Op::Checkout {
        cart: cart.into(),
        show: venue.show.clone(),
        seats: seats.to_vec(),
    };
    let call = Call {
        method: reqwest::Method::POST,
        path: format!("/v1/carts/{cart}/checkout"),
        body: Some(json!({})),
    };
    client.run(op, call).await
}

async fn cancel(
    client: &mut Client,
    venue: &Venue,
    booking: &str,
    seats: &[String],
) -> Option<Answer> {
    let op = Op::Cancel {
        booking: booking.into(),
        show: venue.show.clone(),
        seats: seats.to_vec(),
        by_staff: false,
    };
    let call = Call {
        method: reqwest::Method::DELETE,
        path: format!("/v1/bookings/{booking}"),
        body: None,
    };
    client.run(op, call).await
}

/// Holds `seats` in a new cart; returns the cart and the seats it got.
async fn hold_all(
    client: &mut Client,
    venue: &Venue,
    seats: &[String],
) -> Option<(String, Vec<String>)> {
    let cart = create_cart(client).await?;
    let mut held = Vec::new();
    for seat in seats {
        if status_of(&hold(client, venue, &cart, seat).await) == 201 {
            held.push(seat.clone());
        } else {
            break; // someone was faster: this group will not sit together
        }
    }
    Some((cart, held))
}

async fn premiere(client: &mut Client, venue: &Venue, plan: Plan) {
    let size = *[1, 2, 2, 2, 3, 4, 4, 5, 6]
        .get(client.rng.gen_range(0..9))
        .expect("in range");
    for _ in 0..3 {
        let free = seat_map(client, venue).await;
        let Some(seats) = pick_block(client, venue, &free, size) else {
            return; // sold out for a group this size
        };
        if client.rng.gen_bool(0.5) {
            if status_of(&book(client, venue, seats).await) == 201 {
                return;
            }
            continue;
        }
        let Some((cart, held)) = hold_all(client, venue, &seats).await else {
            return;
        };
        if held.len() < seats.len() {
            for seat in &held {
                release(client, venue, &cart, seat).await;
            }
            continue;
        }
        if client.rng.gen_bool(client.shared.faults.slow_client) {
            tokio::time::sleep(plan.hold_ttl + Duration::from_millis(300)).await;
        }
        if status_of(&checkout(client, venue, &cart, &held).await) == 201 {
            return;
        }
    }
}

async fn steady_visit(client: &mut Client, venue: &Venue, plan: Plan) {
    let free = seat_map(client, venue).await;
    let open: Vec<(usize, usize)> = free
        .iter()
        .enumerate()
        .flat_map(|(r, seats)| {
            seats
                .iter()
                .enumerate()
                .filter(|(_, f)| **f)
                .map(move |(n, _)| (r, n))
        })
        .collect();
    if open.is_empty() {
        return;
    }
    let want = client.rng.gen_range(1..=4usize).min(open.len());
    let mut seats = Vec::new();
    for _ in 0..want {
        let (row, n) = open[client.rng.gen_range(0..open.len())];
        let seat = venue.seat_id(row, n as u32 + 1);
        if !seats.contains(&seat) {
            seats.push(seat);
        }
    }
    let Some((cart, mut held)) = hold_all(client, venue, &seats).await else {
        return;
    };
    let choice: f64 = client.rng.gen();
    if choice < 0.3 || held.is_empty() {
        return; // abandon: the holds lapse by themselves
    }
    if choice < 0.4 && held.len() > 1 {
        let seat = held.pop().expect("non-empty");
        release(client, venue, &cart, &seat).await;
    }
    if client.rng.gen_bool(client.shared.faults.slow_client) {
        tokio::time::sleep(plan.hold_ttl + Duration::from_millis(300)).await;
    }
    let answer = checkout(client, venue, &cart, &held).await;
    if status_of(&answer) == 201 && client.rng.gen_bool(0.1) {
        let booking = answer
            .as_ref()
            .and_then(|a| a.json())
            .and_then(|b| b["id"].as_str().map(String::from));
        if let Some(booking) = booking {
            cancel(client, venue, &booking, &held).await;
        }
    }
}

/// A churn user's booking: its id, its seats, and when the user gives it
/// back.
type Kept = (String, Vec<String>, Instant);

/// How a churn user goes: how long it keeps a booking (ms, a range), and
/// up to how long it looks at the seat map before it books (ms, 0: not at
/// all).
#[derive(Clone, Copy)]
struct Pace {
    keep_ms: (u64, u64),
    browse_ms: u64,
}

const CHURN: Pace = Pace {
    keep_ms: (2_000, 6_000),
    browse_ms: 0,
};

/// The box office's crowd: bookings given back sooner, and seats chosen
/// over a moment in which staff may block them.
const BOX_OFFICE: Pace = Pace {
    keep_ms: (500, 2_000),
    browse_ms: 250,
};

/// One visit of a churn user: while it keeps a booking (as long as its
/// `pace` says: churn two to six seconds), it only looks at the map; then it
/// cancels it and wants a block near the centre again, booked at once or
/// through a cart (after looking the map over, at the box office). Each user holds
/// at most one booking, so the show never sells out for good and the
/// contention lasts; bookings live long enough that a second buyer of the
/// same seat would overlap the first (`checker::double_booking`).
async fn churn_visit(client: &mut Client, venue: &Venue, holding: &mut Option<Kept>, pace: Pace) {
    match holding.take() {
        Some(kept) if Instant::now() < kept.2 => {
            seat_map(client, venue).await;
            *holding = Some(kept);
            return;
        }
        Some((booking, seats, _)) => {
            cancel(client, venue, &booking, &seats).await;
        }
        None => {}
    }
    let size = client.rng.gen_range(1..=3usize);
    let free = seat_map(client, venue).await;
    let Some(seats) = pick_block(client, venue, &free, size) else {
        return;
    };
    if pace.browse_ms > 0 {
        let browse = client.rng.gen_range(0..pace.browse_ms);
        tokio::time::sleep(Duration::from_millis(browse)).await;
    }
    let answer = if client.rng.gen_bool(0.5) {
        book(client, venue, seats.clone()).await
    } else {
        let Some((cart, held)) = hold_all(client, venue, &seats).await else {
            return;
        };
        if held.len() < seats.len() {
            for seat in &held {
                release(client, venue, &cart, seat).await;
            }
            return;
        }
        checkout(client, venue, &cart, &held).await
    };
    if status_of(&answer) == 201 {
        let booking = answer
            .as_ref()
            .and_then(|a| a.json())
            .and_then(|b| b["id"].as_str().map(String::from));
        let keep = Duration::from_millis(client.rng.gen_range(pace.keep_ms.0..pace.keep_ms.1));
        *holding = booking.map(|id| (id, seats, Instant::now() + keep));
    }
}
