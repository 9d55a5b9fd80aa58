//! How a booking or a cart item names its seats: by id (`A1`), or by
//! asking for the best N side by side (`best_available`). Both checks are
//! shared by `bookings.rs` and `carts.rs`.

use crate::domain::SeatLabel;
use crate::engine::BestAsk;
use crate::replies::invalid_request;
use crate::wire::Reply;
use serde::Deserialize;
use std::collections::HashSet;
use utoipa::ToSchema;

/// What a best-available request wants.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BestAvailable)]
pub(crate) struct BestAvailableIn {
    /// How many seats, side by side; at most `max_seats_per_booking`.
    #[schema(minimum = 1, example = 4)]
    count: u32,
    /// Only seats of this category (its id).
    #[serde(default)]
    category: Option<String>,
    /// `wheelchair`: a block with a wheelchair seat (its companion seats
    /// may come with it); wheelchair and companion seats are otherwise
    /// never chosen.
    #[serde(default)]
    #[schema(example = "wheelchair")]
    accessibility: Option<String>,
}

impl BestAvailableIn {
    /// `best_available` checked: a count within bounds, a known
    /// accessibility.
    pub(crate) fn into_best_ask(self, max: usize) -> Result<BestAsk, Reply> {
        if self.count == 0 || self.count as usize > max {
            return Err(invalid_request(&format!(
                "best_available.count must be 1-{max}"
            )));
        }
        let wheelchair = match self.accessibility.as_deref() {
            None => false,
            Some("wheelchair") => true,
            Some(other) => {
                return Err(invalid_request(&format!(
                    "best_available.accessibility {other:?}: only \"wheelchair\" is known"
                )))
            }
        };
        Ok(BestAsk {
            count: self.count,
            category: self.category,
            wheelchair,
        })
    }
}

/// A seat id of a request, like `A1`.
pub(crate) fn seat_label(text: &str) -> Result<SeatLabel, Reply> {
    SeatLabel::parse(text)
        .ok_or_else(|| invalid_request(&format!("{text:?} is not a seat id like \"A1\"")))
}

/// Seat labels of a request: non-empty, no repeats, at most `max` (per
/// `what`: a booking, a block).
pub(crate) fn seat_labels(
    seats: &[String],
    max: usize,
    what: &str,
) -> Result<Vec<SeatLabel>, Reply> {
    if seats.is_empty() {
        return Err(invalid_request("seats must name at least one seat"));
    }
    if seats.len() > max {
        return Err(invalid_request(&format!("at most {max} seats per {what}")));
    }
    let mut seen = HashSet::new();
    let mut labels = Vec::with_capacity(seats.len());
    for seat in seats {
        let label = seat_label(seat)?;
        if !seen.insert(label.clone()) {
            return Err(invalid_request(&format!("seat {seat} is listed twice")));
        }
        labels.push(label);
    }
    Ok(labels)
}

/// How a request names its seats.
pub(crate) enum SeatsAsked<T> {
    /// By id: `seats` of a booking, `seat_id` of a cart item.
    ById(T),
    /// The best N side by side.
    Best(BestAsk),
}

/// The seats a request names in one of its two ways: by id (the field
/// `field`, checked by `by_id`) or `best_available`; both, or neither, is
/// a 400.
pub(crate) fn seats_asked<T, U>(
    field: &str,
    ids: Option<T>,
    best: Option<BestAvailableIn>,
    max: usize,
    by_id: impl FnOnce(T) -> Result<U, Reply>,
) -> Result<SeatsAsked<U>, Reply> {
    match (ids, best) {
        (Some(ids), None) => Ok(SeatsAsked::ById(by_id(ids)?)),
        (None, Some(best)) => Ok(SeatsAsked::Best(best.into_best_ask(max)?)),
        (Some(_), Some(_)) => Err(invalid_request(&format!(
            "give {field} or best_available, not both"
        ))),
        (None, None) => Err(invalid_request(&format!("give {field} or best_available"))),
    }
}
