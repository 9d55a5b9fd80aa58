//! What a show sells its seats as (docs/API.md §7, "Show"): categories with prices in
//! one currency, the category of each row, wheelchair and companion seats,
//! and the aisles that split a row into blocks.
//!
//! Why apart from the layout: the layout names seats (label <-> index) and
//! is all v1 knew; the offer is what 1.1 adds on top, checked against the
//! layout once, when the show is made, and read per seat from flat arrays
//! afterwards (a 100,000-seat map is rendered from it). A show of v1 (no
//! categories) has one category, `standard`, priced 0.

/// The currency of a show that names none.
pub const DEFAULT_CURRENCY: &str = "EUR";
/// Most categories one show may have.
pub const MAX_CATEGORIES: usize = 32;
/// Longest category id and name, in characters.
pub const MAX_CATEGORY_TEXT: usize = 64;
/// The highest price of a seat, in cents (a million, in any currency).
pub const MAX_PRICE_CENTS: u64 = 100_000_000;

/// A price category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub price_cents: u64,
}

impl Category {
    /// The one category of a show that names none.
    pub fn standard() -> Category {
        Category {
            id: "standard".into(),
            name: "Standard".into(),
            price_cents: 0,
        }
    }
}

/// A seat kept for a wheelchair user, or for the person with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accessibility {
    Wheelchair,
    Companion,
}

impl Accessibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Accessibility::Wheelchair => "wheelchair",
            Accessibility::Companion => "companion",
        }
    }
}

/// What a row adds to the layout, as asked for (seat numbers, 1-based).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowOffer {
    /// A category id; `None`: the first category.
    pub category: Option<String>,
    pub aisles_after: Vec<u32>,
    pub wheelchair: Vec<u32>,
    pub companion: Vec<u32>,
}

/// A new show's offer as asked for: `rows` follows the layout's rows (or
/// is empty: every row plain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferSpec {
    pub currency: Option<String>,
    /// Empty: the one `standard` category.
    pub categories: Vec<Category>,
    pub rows: Vec<RowOffer>,
}

/// Why an offer was refused (400 `invalid-request`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("currency must be an ISO 4217 code: three letters A-Z")]
    BadCurrency,
    #[error("a show has 1-{MAX_CATEGORIES} categories")]
    CategoryCount,
    #[error("category ids and names must be 1-{MAX_CATEGORY_TEXT} characters")]
    BadCategoryText,
    #[error("category {0:?} appears twice")]
    DuplicateCategory(String),
    #[error("a price may be at most {MAX_PRICE_CENTS} cents")]
    BadPrice,
    #[error("row {row}: no category {category:?}")]
    UnknownCategory { row: String, category: String },
    #[error("row {row} has no seat {seat}")]
    SeatOutsideRow { row: String, seat: u32 },
    #[error("seat {row}{seat} cannot be both wheelchair and companion")]
    WheelchairAndCompanion { row: String, seat: u32 },
}

/// A row of the layout, as the offer is checked against it.
struct RowRef<'a> {
    label: &'a str,
    seats: u32,
}

const FLAG_WHEELCHAIR: u8 = 1;
const FLAG_COMPANION: u8 = 2;
const FLAG_AISLE_AFTER: u8 = 4;

/// A show's offer, checked against its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    currency: String,
    categories: Vec<Category>,
    /// Per row: the index of its category.
    row_category: Vec<u16>,
    /// Per row: what was asked (sorted, deduplicated), to store it again.
    rows: Vec<RowOffer>,
    /// Per seat: `FLAG_*`.
    flags: Vec<u8>,
}

impl Offer {
    /// The offer of a show that names nothing: one free category.
    /// `rows`: the layout's rows, as (label, seats).
    pub fn plain(rows: &[(&str, u32)]) -> Offer {
        Offer::new(rows, OfferSpec::default()).expect("the plain offer is valid")
    }

    /// `spec` checked against the layout's `rows`, as (label, seats).
    pub fn new(layout_rows: &[(&str, u32)], spec: OfferSpec) -> Result<Offer, OfferError> {
        let currency = spec
            .currency
            .unwrap_or_else(|| DEFAULT_CURRENCY.to_string());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(OfferError::BadCurrency);
        }
        let categories = if spec.categories.is_empty() {
            vec![Category::standard()]
        } else {
            spec.categories
        };
        if categories.len() > MAX_CATEGORIES {
            return Err(OfferError::CategoryCount);
        }
        let text_ok = |t: &str| !t.trim().is_empty() && t.chars().count() <= MAX_CATEGORY_TEXT;
        for (i, category) in categories.iter().enumerate() {
            if !text_ok(&category.id) || !text_ok(&category.name) {
                return Err(OfferError::BadCategoryText);
            }
            if category.price_cents > MAX_PRICE_CENTS {
                return Err(OfferError::BadPrice);
            }
            if categories[..i].iter().any(|c| c.id == category.id) {
                return Err(OfferError::DuplicateCategory(category.id.clone()));
            }
        }
        let capacity: u32 = layout_rows.iter().map(|(_, seats)| seats).sum();
        let mut flags = vec![0u8; capacity as usize];
        let mut row_category = Vec::with_capacity(layout_rows.len());
        let mut rows = Vec::with_capacity(layout_rows.len());
        let mut start = 0usize;
        for (i, &(label, seats)) in layout_rows.iter().enumerate() {
            let row = RowRef { label, seats };
            let asked = spec.rows.get(i).cloned().unwrap_or_default();
            let category = match &asked.category {
                None => 0,
                Some(id) => categories.iter().position(|c| &c.id == id).ok_or_else(|| {
                    OfferError::UnknownCategory {
                        row: row.label.to_string(),
                        category: id.clone(),
                    }
                })?,
            };
            row_category.push(category as u16);
            let numbers = |list: &[u32]| -> Result<Vec<u32>, OfferError> {
                let mut list = list.to_vec();
                list.sort_unstable();
                list.dedup();
                match list.iter().find(|&&n| n == 0 || n > row.seats) {
                    Some(&seat) => Err(OfferError::SeatOutsideRow {
                        row: row.label.to_string(),
                        seat,
                    }),
                    None => Ok(list),
                }
            };
            let resolved = RowOffer {
                category: asked.category.clone(),
                aisles_after: numbers(&asked.aisles_after)?,
                wheelchair: numbers(&asked.wheelchair)?,
                companion: numbers(&asked.companion)?,
            };
            for (list, flag) in [
                (&resolved.aisles_after, FLAG_AISLE_AFTER),
                (&resolved.wheelchair, FLAG_WHEELCHAIR),
                (&resolved.companion, FLAG_COMPANION),
            ] {
                for &n in list {
                    flags[start + n as usize - 1] |= flag;
                }
            }
            if let Some(&seat) = resolved
                .wheelchair
                .iter()
                .find(|n| resolved.companion.binary_search(n).is_ok())
            {
                return Err(OfferError::WheelchairAndCompanion {
                    row: row.label.to_string(),
                    seat,
                });
            }
            rows.push(resolved);
            start += row.seats as usize;
        }
        Ok(Offer {
            currency,
            categories,
            row_category,
            rows,
            flags,
        })
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// What was asked of each row (to store the offer again).
    pub fn rows(&self) -> &[RowOffer] {
        &self.rows
    }

    /// The category of row `row` (its position in the layout).
    pub fn category_of_row(&self, row: usize) -> &Category {
        &self.categories[self.row_category[row] as usize]
    }

    /// The index, in `categories`, of row `row`'s category.
    pub fn category_index_of_row(&self, row: usize) -> usize {
        self.row_category[row] as usize
    }

    pub fn accessibility(&self, seat: u32) -> Option<Accessibility> {
        let flags = self.flags[seat as usize];
        if flags & FLAG_WHEELCHAIR != 0 {
            Some(Accessibility::Wheelchair)
        } else if flags & FLAG_COMPANION != 0 {
            Some(Accessibility::Companion)
        } else {
            None
        }
    }

    /// Whether an aisle follows seat `seat` in its row.
    pub fn aisle_after(&self, seat: u32) -> bool {
        self.flags[seat as usize] & FLAG_AISLE_AFTER != 0
    }

    /// The lowest and highest price of a seat of the show.
    pub fn price_range_cents(&self) -> (u64, u64) {
        let prices = self
            .row_category
            .iter()
            .map(|&c| self.categories[c as usize].price_cents);
        let low = prices.clone().min().unwrap_or(0);
        (low, prices.max().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Vec<(&'static str, u32)> {
        vec![("A", 6), ("B", 4)]
    }

    fn categories() -> Vec<Category> {
        vec![
            Category {
                id: "standard".into(),
                name: "Standard".into(),
                price_cents: 1200,
            },
            Category {
                id: "premium".into(),
                name: "Premium".into(),
                price_cents: 1800,
            },
        ]
    }

    #[test]
    fn a_plain_show_has_one_free_category() {
        let offer = Offer::plain(&layout());
        assert_eq!(offer.currency(), "EUR");
        assert_eq!(offer.categories(), &[Category::standard()]);
        assert_eq!(offer.category_of_row(1).price_cents, 0);
        assert_eq!(offer.accessibility(0), None);
        assert!(!offer.aisle_after(0));
        assert_eq!(offer.price_range_cents(), (0, 0));
    }

    #[test]
    fn rows_take_categories_seats_and_aisles() {
        let spec = OfferSpec {
            currency: Some("CHF".into()),
            categories: categories(),
            rows: vec![
                RowOffer {
                    category: None,
                    aisles_after: vec![3],
                    wheelchair: vec![1, 1],
                    companion: vec![2],
                },
                RowOffer {
                    category: Some("premium".into()),
                    ..RowOffer::default()
                },
            ],
        };
        let offer = Offer::new(&layout(), spec).unwrap();
        assert_eq!(offer.currency(), "CHF");
        assert_eq!(offer.category_of_row(0).id, "standard");
        assert_eq!(offer.category_of_row(1).id, "premium");
        assert_eq!(offer.accessibility(0), Some(Accessibility::Wheelchair));
        assert_eq!(offer.accessibility(1), Some(Accessibility::Companion));
        assert_eq!(offer.accessibility(2), None);
        assert!(offer.aisle_after(2) && !offer.aisle_after(3));
        assert_eq!(offer.rows()[0].wheelchair, vec![1], "deduplicated");
        assert_eq!(offer.price_range_cents(), (1200, 1800));
    }

    #[test]
    fn bad_offers_are_refused_with_the_reason() {
        let with = |f: &dyn Fn(&mut OfferSpec)| {
            let mut spec = OfferSpec {
                categories: categories(),
                rows: vec![RowOffer::default(), RowOffer::default()],
                ..OfferSpec::default()
            };
            f(&mut spec);
            Offer::new(&layout(), spec).unwrap_err()
        };
        assert_eq!(
            with(&|s| s.currency = Some("eur".into())),
            OfferError::BadCurrency
        );
        assert_eq!(
            with(&|s| s.rows[1].category = Some("vip".into())),
            OfferError::UnknownCategory {
                row: "B".into(),
                category: "vip".into()
            }
        );
        assert_eq!(
            with(&|s| s.rows[1].wheelchair = vec![5]),
            OfferError::SeatOutsideRow {
                row: "B".into(),
                seat: 5
            }
        );
        assert_eq!(
            with(&|s| s.rows[0].aisles_after = vec![0]),
            OfferError::SeatOutsideRow {
                row: "A".into(),
                seat: 0
            }
        );
        assert_eq!(
            with(&|s| {
                s.rows[0].wheelchair = vec![2];
                s.rows[0].companion = vec![2];
            }),
            OfferError::WheelchairAndCompanion {
                row: "A".into(),
                seat: 2
            }
        );
        assert_eq!(
            with(&|s| s.categories[1].id = "standard".into()),
            OfferError::DuplicateCategory("standard".into())
        );
        assert_eq!(
            with(&|s| s.categories[0].price_cents = MAX_PRICE_CENTS + 1),
            OfferError::BadPrice
        );
        assert_eq!(
            with(&|s| s.categories[0].name = " ".into()),
            OfferError::BadCategoryText
        );
    }
}
