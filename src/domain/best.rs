//! Best available (docs/API.md §9): N free seats side by side in one row,
//! within one block between aisles, closest to the centre of the hall,
//! never leaving a single free seat stranded (between the block and a
//! taken seat, an aisle or a row end) when a choice without that exists.
//!
//! Pure: the hall, which seats are free, what is wanted -> a block or
//! none. Under races the choice goes through the seat actors like any
//! booking (`ops::book`): a seat taken meanwhile makes the caller choose
//! again with that seat taken.
//!
//! Wheelchair and companion seats are kept for those who need them: an
//! ordinary request never gets them; a request for `wheelchair` gets a
//! block with at least one wheelchair seat, its companions allowed.

use super::offer::Accessibility;
use super::show::Show;

/// What a best-available request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub count: u32,
    /// Only rows of this category (its index in the show's categories).
    pub category: Option<usize>,
    /// A block with a wheelchair seat (its companions may come with it).
    pub wheelchair: bool,
}

/// How good a block is: lower is better. Blocks that strand a single seat
/// come after every block that does not; then the distance of the block's
/// centre from the hall's centre (squared; a row counts as deep as two
/// seats are wide, as in most halls); then the row nearer the middle, the
/// front row, the left, so the choice is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    pub strands: bool,
    /// Squared distance from the centre, in half seat widths squared.
    pub distance: u64,
    /// Rows from the middle, in half rows.
    pub row_offset: u64,
    pub row: usize,
    pub first: u32,
}

/// How many seat widths deep a row counts (`Score::distance`).
const ROW_DEPTH_SEATS: u64 = 2;

/// The best block for `wanted`, as seat indexes from left to right, or
/// `None` when no block fits.
pub fn best_block(show: &Show, is_free: impl Fn(u32) -> bool, wanted: &Wanted) -> Option<Vec<u32>> {
    let count = wanted.count;
    if count == 0 {
        return None;
    }
    let rows = show.layout.rows();
    let mut best: Option<(Score, u32)> = None;
    for (row, row_shape) in rows.iter().enumerate() {
        if wanted
            .category
            .is_some_and(|c| c != show.offer.category_index_of_row(row))
        {
            continue;
        }
        let start = show.layout.row_start(row);
        let seats = row_shape.seats;
        if count > seats {
            continue;
        }
        for first in 0..=(seats - count) {
            let block: Vec<u32> = (start + first..start + first + count).collect();
            if !fits(show, &is_free, wanted, &block) {
                continue;
            }
            let score = score(show, &is_free, row, start, seats, first, count);
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, start + first));
            }
        }
    }
    best.map(|(_, first)| (first..first + count).collect())
}

/// Every seat free and allowed, no aisle inside, a wheelchair seat if
/// wanted.
fn fits(show: &Show, is_free: &impl Fn(u32) -> bool, wanted: &Wanted, block: &[u32]) -> bool {
    let inner = &block[..block.len() - 1];
    let mut wheelchair = false;
    for &seat in block {
        if !is_free(seat) {
            return false;
        }
        match show.offer.accessibility(seat) {
            Some(Accessibility::Wheelchair) if wanted.wheelchair => wheelchair = true,
            Some(Accessibility::Companion) if wanted.wheelchair => {}
            Some(_) => return false,
            None => {}
        }
    }
    let aisle_inside = inner.iter().any(|&seat| show.offer.aisle_after(seat));
    !aisle_inside && (wheelchair || !wanted.wheelchair)
}

/// The score of the block of `count` seats from position `first` (0-based)
/// of row `row`, which starts at index `start` and has `seats` seats.
pub fn score(
    show: &Show,
    is_free: &impl Fn(u32) -> bool,
    row: usize,
    start: u32,
    seats: u32,
    first: u32,
    count: u32,
) -> Score {
    let rows = show.layout.rows().len();
    // In half units: row centre (rows - 1) / 2, seat centre (seats - 1) / 2.
    let row_offset = (2 * row as i64 - (rows as i64 - 1)).unsigned_abs();
    let block_centre = 2 * first as i64 + count as i64 - 1;
    let seat_offset = (block_centre - (seats as i64 - 1)).unsigned_abs();
    let row_depth = row_offset * ROW_DEPTH_SEATS;
    Score {
        strands: strands(show, is_free, start, seats, first, count),
        distance: row_depth * row_depth + seat_offset * seat_offset,
        row_offset,
        row,
        first,
    }
}

/// Whether taking the block leaves exactly one free seat between it and a
/// taken seat, an aisle or the row's end, on either side.
fn strands(
    show: &Show,
    is_free: &impl Fn(u32) -> bool,
    start: u32,
    seats: u32,
    first: u32,
    count: u32,
) -> bool {
    // Left: free seats from first-1 down, stopping at a taken seat, the
    // row's start, or an aisle (after the seat before the run).
    let mut left = 0;
    let mut position = first;
    while position > 0 {
        let seat = start + position - 1;
        if show.offer.aisle_after(seat) || !is_free(seat) {
            break;
        }
        left += 1;
        position -= 1;
    }
    let mut right = 0;
    let mut position = first + count;
    while position < seats {
        let seat = start + position;
        // An aisle after the seat before this one ends the run.
        if show.offer.aisle_after(seat - 1) || !is_free(seat) {
            break;
        }
        right += 1;
        position += 1;
    }
    left == 1 || right == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Category, OfferSpec, Row, RowOffer, ShowId};
    use proptest::prelude::*;

    fn hall(rows: &[(u32, Vec<u32>)], wheelchair: &[(usize, u32)]) -> Show {
        let labels = ["A", "B", "C", "D", "E", "F", "G", "H"];
        let layout = rows
            .iter()
            .enumerate()
            .map(|(i, (seats, _))| Row {
                label: labels[i].into(),
                seats: *seats,
            })
            .collect();
        let offers = rows
            .iter()
            .enumerate()
            .map(|(i, (_, aisles))| RowOffer {
                category: Some(if i % 2 == 0 { "a" } else { "b" }.into()),
                aisles_after: aisles.clone(),
                wheelchair: wheelchair
                    .iter()
                    .filter(|(r, _)| *r == i)
                    .map(|(_, n)| *n)
                    .collect(),
                companion: Vec::new(),
            })
            .collect();
        let spec = OfferSpec {
            currency: None,
            categories: vec![
                Category {
                    id: "a".into(),
                    name: "A".into(),
                    price_cents: 1,
                },
                Category {
                    id: "b".into(),
                    name: "B".into(),
                    price_cents: 2,
                },
            ],
            rows: offers,
        };
        Show::with_offer(ShowId(uuid::Uuid::nil()), "t".into(), 0, layout, spec).unwrap()
    }

    fn plain(count: u32) -> Wanted {
        Wanted {
            count,
            category: None,
            wheelchair: false,
        }
    }

    fn labels(show: &Show, block: &[u32]) -> Vec<String> {
        block
            .iter()
            .map(|&s| show.layout.label_of(s).to_string())
            .collect()
    }

    #[test]
    fn an_empty_hall_gives_the_centre_of_the_middle_row() {
        let show = hall(&[(10, vec![]), (10, vec![]), (10, vec![])], &[]);
        let block = best_block(&show, |_| true, &plain(2)).unwrap();
        assert_eq!(labels(&show, &block), ["B5", "B6"]);
        let block = best_block(&show, |_| true, &plain(3)).unwrap();
        // Two centred choices (B4-B6, B5-B7): the left one.
        assert_eq!(labels(&show, &block), ["B4", "B5", "B6"]);
    }

    #[test]
    fn a_block_does_not_cross_an_aisle_nor_strand_a_seat() {
        // An aisle after A4: the centred A3-A6 would cross it; the halves
        // are as near the centre: the left one.
        let show = hall(&[(8, vec![4])], &[]);
        let block = best_block(&show, |_| true, &plain(4)).unwrap();
        assert_eq!(labels(&show, &block), ["A1", "A2", "A3", "A4"]);
        assert_eq!(best_block(&show, |_| true, &plain(5)), None);
        // A4-A7 free: the centred A5-A6 would leave A4 and A7 alone.
        let show = hall(&[(10, vec![])], &[]);
        let block = best_block(&show, |s| (3..=6).contains(&s), &plain(2)).unwrap();
        assert_eq!(labels(&show, &block), ["A4", "A5"]);
        // When every choice strands one, the nearest still comes.
        let block = best_block(&show, |s| (3..=6).contains(&s), &plain(3)).unwrap();
        assert_eq!(labels(&show, &block), ["A4", "A5", "A6"]);
    }

    #[test]
    fn wheelchair_seats_go_only_to_who_asks() {
        let show = hall(&[(6, vec![])], &[(0, 3)]);
        let ordinary = best_block(&show, |_| true, &plain(2)).unwrap();
        assert!(!ordinary.contains(&2), "{:?}", labels(&show, &ordinary));
        let wanted = Wanted {
            count: 2,
            category: None,
            wheelchair: true,
        };
        let block = best_block(&show, |_| true, &wanted).unwrap();
        assert!(block.contains(&2), "{:?}", labels(&show, &block));
    }

    /// An independent reading of the rules, seat by seat, for the
    /// properties: every block that fits, with whether it strands.
    fn every_fitting_block(show: &Show, free: &[bool], wanted: &Wanted) -> Vec<(Vec<u32>, bool)> {
        let mut out = Vec::new();
        for (row, shape) in show.layout.rows().iter().enumerate() {
            if wanted
                .category
                .is_some_and(|c| c != show.offer.category_index_of_row(row))
            {
                continue;
            }
            let start = show.layout.row_start(row);
            for first in 0..shape.seats {
                let block: Vec<u32> = (start + first..start + first + wanted.count)
                    .filter(|s| *s < start + shape.seats)
                    .collect();
                if block.len() as u32 != wanted.count {
                    continue;
                }
                let ok = block.iter().all(|&s| free[s as usize])
                    && block[..block.len() - 1]
                        .iter()
                        .all(|&s| !show.offer.aisle_after(s))
                    && block.iter().all(|&s| show.offer.accessibility(s).is_none());
                if !ok {
                    continue;
                }
                // The free seats next to the block, up to a taken seat, an
                // aisle or the row's end, counted one side at a time.
                let (lo, hi) = (block[0], *block.last().unwrap());
                let mut left = 0;
                let mut s = lo;
                while s > start && free[(s - 1) as usize] && !show.offer.aisle_after(s - 1) {
                    left += 1;
                    s -= 1;
                }
                let mut right = 0;
                let mut s = hi;
                while s + 1 < start + shape.seats
                    && free[(s + 1) as usize]
                    && !show.offer.aisle_after(s)
                {
                    right += 1;
                    s += 1;
                }
                out.push((block, left == 1 || right == 1));
            }
        }
        out
    }

    fn halls() -> impl Strategy<Value = (Show, Vec<bool>)> {
        proptest::collection::vec((1u32..16, proptest::collection::vec(1u32..15, 0..3)), 1..6)
            .prop_flat_map(|rows| {
                let rows: Vec<(u32, Vec<u32>)> = rows
                    .into_iter()
                    .map(|(seats, aisles)| {
                        (seats, aisles.into_iter().filter(|a| *a <= seats).collect())
                    })
                    .collect();
                let capacity: u32 = rows.iter().map(|(s, _)| s).sum();
                let free =
                    proptest::collection::vec(proptest::bool::weighted(0.7), capacity as usize);
                (Just(rows), free)
            })
            .prop_map(|(rows, free)| (hall(&rows, &[]), free))
    }

    proptest! {
        #[test]
        fn the_block_is_free_side_by_side_within_one_block_and_the_best(
            (show, free) in halls(),
            count in 1u32..6,
            category in proptest::option::of(0usize..2),
        ) {
            let wanted = Wanted { count, category, wheelchair: false };
            let chosen = best_block(&show, |s| free[s as usize], &wanted);
            let fitting = every_fitting_block(&show, &free, &wanted);
            match chosen {
                None => prop_assert!(fitting.is_empty(), "a block fits: {:?}", fitting[0].0),
                Some(block) => {
                    prop_assert_eq!(block.len() as u32, count);
                    // Never a taken seat; one row; side by side; no aisle.
                    prop_assert!(block.iter().all(|&s| free[s as usize]));
                    let row = show.layout.row_of(block[0]);
                    prop_assert!(block.iter().all(|&s| show.layout.row_of(s) == row));
                    prop_assert!(block.windows(2).all(|w| w[1] == w[0] + 1));
                    prop_assert!(block[..block.len() - 1].iter().all(|&s| !show.offer.aisle_after(s)));
                    if let Some(c) = category {
                        prop_assert_eq!(show.offer.category_index_of_row(row), c);
                    }
                    let (_, strands) = fitting.iter().find(|(b, _)| *b == block).expect("it fits");
                    // Never strands a seat when a block that does not fits.
                    if fitting.iter().any(|(_, s)| !s) {
                        prop_assert!(!strands, "stranded a seat: {:?}", block);
                    }
                    // Closest to the centre among the blocks of its kind.
                    let centre = |b: &[u32]| {
                        let row = show.layout.row_of(b[0]);
                        let start = show.layout.row_start(row);
                        let seats = show.layout.rows()[row].seats;
                        score(&show, &|s| free[s as usize], row, start, seats, b[0] - start, count).distance
                    };
                    let nearest = fitting
                        .iter()
                        .filter(|(_, s)| s == strands)
                        .map(|(b, _)| centre(b))
                        .min()
                        .unwrap();
                    prop_assert_eq!(centre(&block), nearest);
                }
            }
        }
    }
}
