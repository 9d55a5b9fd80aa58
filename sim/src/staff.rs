//! The box office's staff in the box-office scenario: with the admin token,
//! while the crowd books, they take house seats off sale and put them back
//! (`POST /v1/shows/{id}/blocks`, keyed; `DELETE
//! /v1/shows/{id}/blocks/{seat}`) and cancel bookings on customers' behalf
//! (`DELETE /v1/bookings/{id}`), found in the staff list of the show's
//! bookings. Every request goes through `Client::run`, so it is recorded,
//! retried with its key and faulted like the crowd's.

use super::client::{Call, Client};
use super::history::Op;
use super::workload::{pick_block, Plan, Venue};
use rand::Rng;
use serde_json::json;
use std::time::{Duration, Instant};

/// How many staff members work the box office in a run.
pub const STAFF: usize = 2;

/// Staff keep at most this share of the seats blocked (one in `N`).
const MOST_BLOCKED: usize = 6;

/// Reasons a block is given (or none).
const REASONS: [Option<&str>; 4] = [Some("press"), Some("house seats"), Some("sound desk"), None];

/// One seat of the map as the staff read it.
struct SeatView {
    id: String,
    row: usize,
    number: u32,
    status: String,
}

/// Works the box office until the run ends: block, unblock or cancel on
/// behalf, a short pause between each.
pub async fn run_staff(mut client: Client, venue: Venue, plan: Plan) {
    let capacity: u32 = venue.rows.iter().map(|(_, n)| n).sum();
    while Instant::now() < plan.until {
        let map = seats(&client, &venue).await;
        let blocked: Vec<&SeatView> = map.iter().filter(|s| s.status == "blocked").collect();
        let many = blocked.len() * MOST_BLOCKED >= capacity as usize;
        let choice: f64 = client.rng.gen();
        if choice < 0.45 && !many {
            block(&mut client, &venue, &map).await;
        } else if choice < 0.75 || many {
            let seat = if blocked.is_empty() || client.rng.gen_bool(0.05) {
                // Unblocking a seat that is not blocked changes nothing (204).
                map.get(client.rng.gen_range(0..map.len().max(1)))
            } else {
                Some(blocked[client.rng.gen_range(0..blocked.len())])
            };
            if let Some(seat) = seat {
                let seat = seat.id.clone();
                unblock(&mut client, &venue, &seat).await;
            }
        } else {
            cancel_on_behalf(&mut client, &venue).await;
        }
        let pause = client.rng.gen_range(20..80);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The seat map as `GET /v1/shows/{id}` shows it (empty if unreadable).
async fn seats(client: &Client, venue: &Venue) -> Vec<SeatView> {
    let Some(show) = client.get(&format!("/v1/shows/{}", venue.show)).await else {
        return Vec::new();
    };
    show["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|seat| {
            let row = venue
                .rows
                .iter()
                .position(|(label, _)| seat["row"] == label.as_str())?;
            Some(SeatView {
                id: seat["id"].as_str()?.to_string(),
                row,
                number: seat["number"].as_u64()? as u32,
                status: seat["status"].as_str()?.to_string(),
            })
        })
        .collect()
}

/// Blocks one or two seats the crowd wants (free ones near the centre),
/// now and then with a held or booked one among them, which refuses the
/// whole block.
async fn block(client: &mut Client, venue: &Venue, map: &[SeatView]) {
    let mut free: Vec<Vec<bool>> = venue
        .rows
        .iter()
        .map(|(_, n)| vec![false; *n as usize])
        .collect();
    for seat in map {
        let index = (seat.number as usize).wrapping_sub(1);
        if let Some(free) = free[seat.row].get_mut(index) {
            *free = seat.status == "available";
        }
    }
    let size = client.rng.gen_range(1..=2);
    let Some(mut seats) = pick_block(client, venue, &free, size) else {
        return;
    };
    let taken: Vec<&SeatView> = map
        .iter()
        .filter(|s| s.status == "booked" || s.status == "held")
        .collect();
    if !taken.is_empty() && client.rng.gen_bool(0.15) {
        let seat = taken[client.rng.gen_range(0..taken.len())];
        seats.push(seat.id.clone());
    }
    let reason = REASONS[client.rng.gen_range(0..REASONS.len())];
    let mut body = json!({ "seats": seats });
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    let op = Op::Block {
        show: venue.show.clone(),
        seats,
        reason: reason.map(String::from),
    };
    let call = Call {
        method: reqwest::Method::POST,
        path: format!("/v1/shows/{}/blocks", venue.show),
        body: Some(body),
    };
    client.run(op, call).await;
}

async fn unblock(client: &mut Client, venue: &Venue, seat: &str) {
    let op = Op::Unblock {
        show: venue.show.clone(),
        seat: seat.to_string(),
    };
    let call = Call {
        method: reqwest::Method::DELETE,
        path: format!("/v1/shows/{}/blocks/{seat}", venue.show),
        body: None,
    };
    client.run(op, call).await;
}

/// Pages of the staff list a staff member looks through at most, to find
/// a booking to cancel.
const MOST_PAGES: usize = 20;

/// Cancels one of the show's confirmed bookings, picked from the staff
/// list (oldest first, so the pages are followed to the newest: the crowd
/// gives its older bookings back).
async fn cancel_on_behalf(client: &mut Client, venue: &Venue) {
    let list = format!("/v1/shows/{}/bookings?limit=50", venue.show);
    let mut confirmed: Vec<serde_json::Value> = Vec::new();
    let mut path = list.clone();
    for _ in 0..MOST_PAGES {
        let Some(page) = client.get(&path).await else {
            break;
        };
        let bookings = page["bookings"].as_array().into_iter().flatten();
        confirmed.extend(bookings.filter(|b| b["status"] == "confirmed").cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("{list}&cursor={}", crate::read_back::query_value(cursor))
            }
            None => break,
        }
    }
    if confirmed.is_empty() {
        return;
    }
    let booking = &confirmed[client.rng.gen_range(0..confirmed.len())];
    let Some(id) = booking["id"].as_str().map(String::from) else {
        return;
    };
    let seats = booking["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    let op = Op::Cancel {
        booking: id.clone(),
        show: venue.show.clone(),
        seats,
        by_staff: true,
    };
    let call = Call {
        method: reqwest::Method::DELETE,
        path: format!("/v1/bookings/{id}"),
        body: None,
    };
    client.run(op, call).await;
}
