//! The body of `POST /v1/shows` and its check: a show request becomes the
//! engine's `NewShow` only when the show it describes can be built (a bad
//! layout or offer is a plain 400, never stored).

use crate::domain::{Category, OfferSpec, Row, RowOffer, Show, ShowId};
use crate::engine::NewShow;
use crate::replies::invalid_request;
use crate::wire::Reply;
use serde::Deserialize;
use utoipa::ToSchema;

/// A row of a new show.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShowRow)]
pub(crate) struct RowIn {
    /// Row label, 1-3 letters A-Z.
    #[schema(pattern = "^[A-Z]{1,3}$")]
    label: String,
    /// Number of seats in the row.
    #[schema(minimum = 1, maximum = 999)]
    seats: u32,
    /// The row's category id (default: the first category).
    #[serde(default)]
    category: Option<String>,
    /// Seat numbers an aisle follows.
    #[serde(default)]
    #[schema(example = json!([4, 8]))]
    aisles_after: Vec<u32>,
    /// Seat numbers kept for wheelchair users.
    #[serde(default)]
    wheelchair: Vec<u32>,
    /// Seat numbers of companions: each sold only with a wheelchair seat
    /// of the same row.
    #[serde(default)]
    companion: Vec<u32>,
}

/// A price category of a new show.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShowCategory)]
pub(crate) struct CategoryIn {
    #[schema(example = "standard")]
    id: String,
    #[schema(example = "Standard")]
    name: String,
    /// In cents of the show's currency.
    #[schema(example = 1200, maximum = 100_000_000)]
    price_cents: u64,
}

/// A new show. At most 100,000 seats in total.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShow)]
pub(crate) struct NewShowIn {
    title: String,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    starts_at: String,
    rows: Vec<RowIn>,
    /// Price categories (default: one, `standard`, priced 0).
    #[serde(default)]
    categories: Vec<CategoryIn>,
    /// ISO 4217 code (default `EUR`).
    #[serde(default)]
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
    /// When online sales end (RFC 3339); from then on bookings, holds and
    /// checkouts answer 409 `sales-closed`. Absent: never.
    #[serde(default)]
    #[schema(format = DateTime)]
    sales_end_at: Option<String>,
}

impl NewShowIn {
    /// The show request as the engine takes it; a bad layout is a plain
    /// 400, never stored.
    pub(crate) fn into_new_show(self) -> Result<NewShow, Reply> {
        let starts_at = chrono::DateTime::parse_from_rfc3339(&self.starts_at)
            .map_err(|_| invalid_request("starts_at must be an RFC 3339 time"))?;
        let sales_end_at_ms = match &self.sales_end_at {
            None => None,
            Some(text) => Some(
                chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|_| invalid_request("sales_end_at must be an RFC 3339 time"))?
                    .timestamp_millis(),
            ),
        };
        let (rows, row_offers) = self
            .rows
            .into_iter()
            .map(|r| {
                (
                    Row {
                        label: r.label,
                        seats: r.seats,
                    },
                    RowOffer {
                        category: r.category,
                        aisles_after: r.aisles_after,
                        wheelchair: r.wheelchair,
                        companion: r.companion,
                    },
                )
            })
            .unzip();
        let new = NewShow {
            title: self.title,
            starts_at_ms: starts_at.timestamp_millis(),
            rows,
            offer: OfferSpec {
                currency: self.currency,
                categories: self
                    .categories
                    .into_iter()
                    .map(|c| Category {
                        id: c.id,
                        name: c.name,
                        price_cents: c.price_cents,
                    })
                    .collect(),
                rows: row_offers,
            },
            sales_end_at_ms,
        };
        Show::with_offer(
            ShowId(uuid::Uuid::nil()),
            new.title.clone(),
            0,
            new.rows.clone(),
            new.offer.clone(),
        )
        .map_err(|e| invalid_request(&e.to_string()))?;
        Ok(new)
    }
}
