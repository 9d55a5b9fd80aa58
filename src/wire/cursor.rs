//! The cursor of a show's booking pages (`GET /v1/shows/{id}/bookings`):
//! where the last page ended, `(created_at_ms, booking id)`, and the show
//! it belongs to, with a check so that a cursor the server did not make (a
//! typo, a cursor of another show, a hand-made one) is refused with 400
//! instead of silently paging from somewhere else. The check is a digest,
//! not a secret: a cursor grants nothing, it only says where to go on.

use crate::domain::{BookingId, ShowId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const BODY_BYTES: usize = 1 + 16 + 8 + 16;
const CHECK_BYTES: usize = 8;

fn check(body: &[u8]) -> [u8; CHECK_BYTES] {
    let digest = Sha256::new()
        .chain_update(b"boxoffice booking cursor")
        .chain_update(body)
        .finalize();
    digest[..CHECK_BYTES].try_into().expect("8 bytes")
}

/// The cursor after `(created_at_ms, id)` in `show`'s bookings.
pub fn booking_cursor(show: ShowId, created_at_ms: u64, id: BookingId) -> String {
    let mut bytes = Vec::with_capacity(BODY_BYTES + CHECK_BYTES);
    bytes.push(VERSION);
    bytes.extend_from_slice(show.0.as_bytes());
    bytes.extend_from_slice(&created_at_ms.to_be_bytes());
    bytes.extend_from_slice(id.0.as_bytes());
    let tag = check(&bytes);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a cursor of `show` names, or `None` for anything this
/// server did not make for that show.
pub fn parse_booking_cursor(show: ShowId, text: &str) -> Option<(u64, BookingId)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    if bytes.len() != BODY_BYTES + CHECK_BYTES || bytes[0] != VERSION {
        return None;
    }
    let (body, tag) = bytes.split_at(BODY_BYTES);
    if check(body) != tag {
        return None;
    }
    let named = Uuid::from_slice(&body[1..17]).ok()?;
    if named != show.0 {
        return None;
    }
    let created_at_ms = u64::from_be_bytes(body[17..25].try_into().ok()?);
    let id = Uuid::from_slice(&body[25..41]).ok()?;
    Some((created_at_ms, BookingId(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_for_its_show_only() {
        let show = ShowId(Uuid::new_v4());
        let id = BookingId(Uuid::new_v4());
        let cursor = booking_cursor(show, 1_765_000_000_123, id);
        assert_eq!(
            parse_booking_cursor(show, &cursor),
            Some((1_765_000_000_123, id))
        );
        assert_eq!(parse_booking_cursor(ShowId(Uuid::new_v4()), &cursor), None);
        // One character changed, cut short, not base64, empty: refused.
        let mut changed = cursor.clone().into_bytes();
        changed[45] = if changed[45] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            parse_booking_cursor(show, &String::from_utf8(changed).unwrap()),
            None
        );
        assert_eq!(
            parse_booking_cursor(show, &cursor[..cursor.len() - 2]),
            None
        );
        assert_eq!(parse_booking_cursor(show, "not a cursor!"), None);
        assert_eq!(parse_booking_cursor(show, ""), None);
    }
}
