//! Shows and their seat layout. A layout maps seat labels to dense indexes
//! (0..capacity) so per-seat state can live in flat arrays.

use super::ids::{SeatLabel, ShowId, MAX_ROW_LABEL_LEN, MAX_SEATS_PER_ROW};
use super::offer::{Category, Offer, OfferError, OfferSpec};
use std::collections::HashMap;

/// Most seats one show may have.
pub const MAX_SEATS_PER_SHOW: u32 = 100_000;
/// Longest show title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// One row of seats, numbered 1..=seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub label: String,
    pub seats: u32,
}

/// Why a layout was rejected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("a show needs at least one row")]
    NoRows,
    #[error("row label {0:?} must be 1-3 letters A-Z")]
    BadLabel(String),
    #[error("row {0} appears twice")]
    DuplicateRow(String),
    #[error("row {0} must have 1-999 seats")]
    BadSeatCount(String),
    #[error("a show may have at most 100000 seats")]
    TooManySeats,
    #[error("title must be 1-200 characters")]
    BadTitle,
    #[error("{0}")]
    Offer(#[from] OfferError),
}

/// The seats of a show, with a label <-> index map.
#[derive(Clone, Debug)]
pub struct Layout {
    rows: Vec<Row>,
    /// First seat index of each row (prefix sums of `rows[i].seats`).
    row_starts: Vec<u32>,
    row_by_label: HashMap<String, usize>,
    capacity: u32,
}

impl Layout {
    pub fn new(rows: Vec<Row>) -> Result<Self, LayoutError> {
        if rows.is_empty() {
            return Err(LayoutError::NoRows);
        }
        let mut row_by_label = HashMap::with_capacity(rows.len());
        let mut row_starts = Vec::with_capacity(rows.len());
        let mut capacity: u32 = 0;
        for (i, row) in rows.iter().enumerate() {
            let label_ok = !row.label.is_empty()
                && row.label.len() <= MAX_ROW_LABEL_LEN
                && row.label.bytes().all(|b| b.is_ascii_uppercase());
            if !label_ok {
                return Err(LayoutError::BadLabel(row.label.clone()));
            }
            if row.seats == 0 || row.seats > MAX_SEATS_PER_ROW {
                return Err(LayoutError::BadSeatCount(row.label.clone()));
            }
            if row_by_label.insert(row.label.clone(), i).is_some() {
                return Err(LayoutError::DuplicateRow(row.label.clone()));
            }
            row_starts.push(capacity);
            capacity += row.seats;
            if capacity > MAX_SEATS_PER_SHOW {
                return Err(LayoutError::TooManySeats);
            }
        }
        Ok(Layout {
            rows,
            row_starts,
            row_by_label,
            capacity,
        })
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Dense index of a seat, or `None` if the show has no such seat.
    pub fn index_of(&self, label: &SeatLabel) -> Option<u32> {
        let row = *self.row_by_label.get(&label.row)?;
        if label.number == 0 || label.number > self.rows[row].seats {
            return None;
        }
        Some(self.row_starts[row] + label.number - 1)
    }

    /// The row (its position in `rows`) of a dense index.
    pub fn row_of(&self, index: u32) -> usize {
        self.row_starts.partition_point(|&start| start <= index) - 1
    }

    /// The dense index of the first seat of row `row` (its position).
    pub fn row_start(&self, row: usize) -> u32 {
        self.row_starts[row]
    }

    /// Label of a dense index. Panics on an index outside the layout
    /// (a programmer error: indexes only come from `index_of`).
    pub fn label_of(&self, index: u32) -> SeatLabel {
        assert!(index < self.capacity, "seat index {index} out of range");
        let row = self.row_starts.partition_point(|&start| start <= index) - 1;
        SeatLabel {
            row: self.rows[row].label.clone(),
            number: index - self.row_starts[row] + 1,
        }
    }

    /// The seats from index `start` on, in layout order, as (index, row
    /// label, number): no allocation per seat (a 100,000-seat map is
    /// rendered from it).
    pub fn seats_from(&self, start: u32) -> impl Iterator<Item = (u32, &str, u32)> + '_ {
        let first_row = self
            .row_starts
            .partition_point(|&row_start| row_start <= start)
            .saturating_sub(1);
        self.rows
            .iter()
            .enumerate()
            .skip(first_row)
            .flat_map(move |(i, row)| {
                let row_start = self.row_starts[i];
                (1..=row.seats).map(move |n| (row_start + n - 1, row.label.as_str(), n))
            })
            .skip_while(move |(index, _, _)| *index < start)
    }

    /// Every seat, in layout order.
    pub fn labels(&self) -> impl Iterator<Item = (u32, SeatLabel)> + '_ {
        self.rows.iter().enumerate().flat_map(move |(i, row)| {
            (1..=row.seats).map(move |n| {
                (
                    self.row_starts[i] + n - 1,
                    SeatLabel {
                        row: row.label.clone(),
                        number: n,
                    },
                )
            })
        })
    }
}

/// A screening that seats can be sold for.
#[derive(Clone, Debug)]
pub struct Show {
    pub id: ShowId,
    pub title: String,
    /// Start time, milliseconds since the Unix epoch.
    pub starts_at_ms: i64,
    pub layout: Layout,
    /// Categories, prices and accessible seats (v1.1).
    pub offer: Offer,
    /// When online sales end, milliseconds since the Unix epoch (v1.2);
    /// `None`: they never do.
    pub sales_end_at_ms: Option<i64>,
}

impl Show {
    pub fn new(
        id: ShowId,
        title: String,
        starts_at_ms: i64,
        rows: Vec<Row>,
    ) -> Result<Self, LayoutError> {
        Show::with_offer(id, title, starts_at_ms, rows, OfferSpec::default())
    }

    /// A show with categories, prices and accessible seats.
    pub fn with_offer(
        id: ShowId,
        title: String,
        starts_at_ms: i64,
        rows: Vec<Row>,
        offer: OfferSpec,
    ) -> Result<Self, LayoutError> {
        let chars = title.chars().count();
        if title.trim().is_empty() || chars > MAX_TITLE_CHARS {
            return Err(LayoutError::BadTitle);
        }
        let layout = Layout::new(rows)?;
        let sizes: Vec<(&str, u32)> = layout
            .rows()
            .iter()
            .map(|r| (r.label.as_str(), r.seats))
            .collect();
        let offer = Offer::new(&sizes, offer)?;
        Ok(Show {
            id,
            title,
            starts_at_ms,
            layout,
            offer,
            sales_end_at_ms: None,
        })
    }

    /// The show with online sales ending at `sales_end_at_ms`.
    pub fn with_sales_end(mut self, sales_end_at_ms: Option<i64>) -> Self {
        self.sales_end_at_ms = sales_end_at_ms;
        self
    }

    /// Whether sales have ended at `now_ms`: from `sales_end_at_ms` on,
    /// bookings, holds and checkouts are refused (`sales-closed`).
    pub fn sales_closed(&self, now_ms: u64) -> bool {
        self.sales_end_at_ms
            .is_some_and(|end| i128::from(now_ms) >= i128::from(end))
    }

    /// The category of seat `index`.
    pub fn category_of(&self, index: u32) -> &Category {
        self.offer.category_of_row(self.layout.row_of(index))
    }

    /// The companion seats among `seats` that have no wheelchair seat of
    /// their row among them (docs/API.md §9: a companion seat is sold only
    /// with a wheelchair seat of its row, in the same booking or cart).
    pub fn lone_companions(&self, seats: &[u32]) -> Vec<u32> {
        use super::offer::Accessibility::{Companion, Wheelchair};
        let wheelchair_rows: Vec<usize> = seats
            .iter()
            .filter(|&&s| self.offer.accessibility(s) == Some(Wheelchair))
            .map(|&s| self.layout.row_of(s))
            .collect();
        seats
            .iter()
            .copied()
            .filter(|&s| self.offer.accessibility(s) == Some(Companion))
            .filter(|&s| !wheelchair_rows.contains(&self.layout.row_of(s)))
            .collect()
    }

    /// The price of seat `index`, in cents of `offer.currency()`.
    pub fn price_cents(&self, index: u32) -> u64 {
        self.category_of(index).price_cents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, seats: u32) -> Row {
        Row {
            label: label.into(),
            seats,
        }
    }

    #[test]
    fn index_and_label_round_trip() {
        let layout = Layout::new(vec![row("A", 3), row("B", 2), row("ZZ", 999)]).unwrap();
        assert_eq!(layout.capacity(), 1004);
        let all: Vec<_> = layout.labels().collect();
        assert_eq!(all.len(), 1004);
        for (index, label) in all {
            assert_eq!(layout.index_of(&label), Some(index));
            assert_eq!(layout.label_of(index), label);
        }
        assert_eq!(layout.index_of(&SeatLabel::parse("A4").unwrap()), None);
        assert_eq!(layout.index_of(&SeatLabel::parse("C1").unwrap()), None);
    }

    #[test]
    fn layout_limits() {
        assert_eq!(Layout::new(vec![]).unwrap_err(), LayoutError::NoRows);
        assert!(matches!(
            Layout::new(vec![row("a", 1)]),
            Err(LayoutError::BadLabel(_))
        ));
        assert!(matches!(
            Layout::new(vec![row("ABCD", 1)]),
            Err(LayoutError::BadLabel(_))
        ));
        assert!(matches!(
            Layout::new(vec![row("A", 1000)]),
            Err(LayoutError::BadSeatCount(_))
        ));
        assert!(matches!(
            Layout::new(vec![row("A", 0)]),
            Err(LayoutError::BadSeatCount(_))
        ));
        assert!(matches!(
            Layout::new(vec![row("A", 1), row("A", 1)]),
            Err(LayoutError::DuplicateRow(_))
        ));
        // 100 rows of 999 = 99,900 seats: allowed; one more row of 101 is not.
        let mut rows: Vec<Row> = (0..100)
            .map(|i| {
                let a = (b'A' + (i / 26) as u8) as char;
                let b = (b'A' + (i % 26) as u8) as char;
                row(&format!("{a}{b}"), 999)
            })
            .collect();
        assert_eq!(Layout::new(rows.clone()).unwrap().capacity(), 99_900);
        rows.push(row("ZZZ", 101));
        assert_eq!(Layout::new(rows).unwrap_err(), LayoutError::TooManySeats);
    }

    #[test]
    fn titles_are_bounded() {
        let id = ShowId(uuid::Uuid::nil());
        assert!(Show::new(id, " ".into(), 0, vec![row("A", 1)]).is_err());
        assert!(Show::new(id, "x".repeat(201), 0, vec![row("A", 1)]).is_err());
        assert!(Show::new(id, "Dune".into(), 0, vec![row("A", 1)]).is_ok());
    }
}
