//! The demo shows seeded on a first start with an empty store, so the
//! booking page has something to book.

use crate::domain::{Category, OfferSpec, Row, RowOffer, Show, ShowId};
use crate::idempotency::{Outcome, Settled};
use crate::ops::Core;
use crate::replies::EngineError;
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::store::{Mutation, StoreError};
use crate::wire::Reply;
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Title, start (ms after tomorrow's midnight UTC), rows (label, seats).
type DemoShow = (&'static str, i64, &'static [(&'static str, u32)]);

const FILMS: [DemoShow; 3] = [
    (
        "Dune: Part Two",
        19 * HOUR_MS + HOUR_MS / 2,
        &[
            ("A", 10),
            ("B", 12),
            ("C", 12),
            ("D", 14),
            ("E", 14),
            ("F", 14),
            ("G", 12),
            ("H", 10),
        ],
    ),
    (
        "Casablanca",
        2 * DAY_MS + 20 * HOUR_MS,
        &[("A", 8), ("B", 8), ("C", 10), ("D", 10), ("E", 10)],
    ),
    (
        "Spirited Away",
        3 * DAY_MS + 15 * HOUR_MS,
        &[
            ("A", 12),
            ("B", 12),
            ("C", 14),
            ("D", 14),
            ("E", 16),
            ("F", 16),
        ],
    ),
];

/// What a small cinema sells: stalls at 9.50, the back two rows a
/// premium category at 13.50, an aisle in the middle of each row of 10 or
/// more, and in the front row a wheelchair space at each end with its
/// companion seat beside it.
fn demo_offer(rows: &[(&str, u32)]) -> OfferSpec {
    let premium_from = rows.len().saturating_sub(2);
    OfferSpec {
        currency: Some("EUR".into()),
        categories: vec![
            Category {
                id: "stalls".into(),
                name: "Stalls".into(),
                price_cents: 950,
            },
            Category {
                id: "premium".into(),
                name: "Premium".into(),
                price_cents: 1350,
            },
        ],
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, (_, seats))| RowOffer {
                category: (i >= premium_from).then(|| "premium".to_string()),
                aisles_after: if *seats >= 10 {
                    vec![seats / 2]
                } else {
                    vec![]
                },
                wheelchair: if i == 0 { vec![1, *seats] } else { vec![] },
                companion: if i == 0 { vec![2, seats - 1] } else { vec![] },
            })
            .collect(),
    }
}

/// Writes the demo shows in one atomic write and serves them.
pub(super) async fn seed(core: &Core) -> Result<(), EngineError> {
    let tomorrow = (now_ms() as i64 / DAY_MS + 1) * DAY_MS;
    let shows: Vec<Show> = FILMS
        .iter()
        .map(|(title, starts_after_ms, film_rows)| {
            let rows = film_rows
                .iter()
                .map(|(label, seats)| Row {
                    label: label.to_string(),
                    seats: *seats,
                })
                .collect();
            let starts_at_ms = tomorrow + starts_after_ms;
            Show::with_offer(
                ShowId(Uuid::new_v4()),
                title.to_string(),
                starts_at_ms,
                rows,
                demo_offer(film_rows),
            )
            .expect("demo layouts are valid")
        })
        .collect();
    let mutations = shows.iter().cloned().map(Mutation::Show).collect();
    let outcome = Outcome::effect(Reply::empty(204), mutations);
    match core.keys.commit(Op::Seed, None, outcome).await {
        Settled::Applied(_) => {
            for show in shows {
                core.shows.add_new(show);
            }
            Ok(())
        }
        Settled::NotApplied(reply) => Err(EngineError::Store(StoreError::Corrupt(format!(
            "demo seed failed: {}",
            reply.status
        )))),
    }
}
