use super::*;
use crate::domain::{SeatStatus, Show};

#[test]
fn a_show_in_pieces_is_the_show_as_one() {
    use crate::domain::{Row, ShowId};
    let rows = ["A", "B", "ZZ"]
        .iter()
        .zip([3, 1, 12])
        .map(|(label, seats)| Row {
            label: label.to_string(),
            seats,
        })
        .collect();
    let id = ShowId(uuid::Uuid::new_v4());
    let show = Show::new(id, "Quote \" and \u{e9}".into(), 86_400_000, rows).unwrap();
    let status_of = |i: u32| match i % 3 {
        0 => SeatStatus::Available,
        1 => SeatStatus::Held,
        _ => SeatStatus::Booked,
    };
    let whole = serde_json::to_vec(&show_out(&show, status_of)).unwrap();
    for per_piece in [1, 2, 5, 16, 100] {
        let mut pieces = show_json_start(&show);
        let mut next = 0;
        while next < show.layout.capacity() {
            next = show_json_seats(&show, next, per_piece, status_of, &mut pieces);
        }
        pieces.extend_from_slice(SHOW_JSON_END);
        assert_eq!(
            String::from_utf8(pieces).unwrap(),
            String::from_utf8(whole.clone()).unwrap(),
            "{per_piece} seats a piece"
        );
    }
}

#[test]
fn times_are_rfc3339_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
}
