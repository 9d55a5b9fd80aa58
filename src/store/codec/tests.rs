use super::bookings::*;
use super::common::*;
use super::records::*;
use super::replies::*;
use super::seats::*;
use crate::domain::{
    Booking, BookingId, BookingStatus, CartId, Category, Fingerprint, OfferSpec, RequestLine, Row,
    RowOffer, SeatLabel, SeatState, Show, ShowId, StoredBody, StoredReply, UserId,
};
use bytes::Bytes;
use uuid::Uuid;

#[test]
fn seats_round_trip_and_corruption_is_an_error() {
    let states = [
        SeatState::Held {
            cart: CartId(Uuid::new_v4()),
            until_ms: 42,
        },
        SeatState::Booked {
            booking: BookingId(Uuid::new_v4()),
        },
    ];
    for state in states {
        let bytes = encode_seat(state).unwrap();
        assert_eq!(decode_seat(&bytes).unwrap(), state);
        for cut in 0..bytes.len() {
            assert!(decode_seat(&bytes[..cut]).is_err());
        }
    }
    assert!(encode_seat(SeatState::Available).is_none());
    assert!(decode_seat(&[9, 1]).is_err());
}

#[test]
fn replies_round_trip_byte_for_byte() {
    let reply = StoredReply {
        fingerprint: Fingerprint([7; 32]),
        status: 409,
        body: StoredBody::Bytes(Bytes::from_static(b"{\"x\":1}")),
        created_at_ms: 99,
        line: Some(RequestLine {
            method: "POST".into(),
            path: "/v1/bookings".into(),
        }),
    };
    let bytes = encode_reply(&reply);
    assert_eq!(bytes[0], REPLY_WITH_LINE);
    assert_eq!(decode_reply(&bytes).unwrap(), reply);
    for cut in [20, 43, 45, 50] {
        assert!(decode_reply(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert!(decode_reply(b"").is_err());
    let without = StoredReply {
        line: None,
        ..reply
    };
    assert_eq!(decode_reply(&encode_reply(&without)).unwrap(), without);
}

/// Records written before the request line was kept (led by `VERSION`
/// and `REPLY_CREATED_SHOW`, bytes as that build wrote them) still
/// read, with no line.
#[test]
fn replies_of_the_earlier_layout_still_read() {
    let mut old = vec![VERSION];
    old.extend_from_slice(&[7; 32]);
    old.extend_from_slice(&201u16.to_be_bytes());
    old.extend_from_slice(&99u64.to_be_bytes());
    old.extend_from_slice(b"{\"id\":\"b\"}");
    let reply = decode_reply(&old).unwrap();
    assert_eq!(reply.line, None);
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.body,
        StoredBody::Bytes(Bytes::from_static(b"{\"id\":\"b\"}"))
    );
    let mut old_show = vec![REPLY_CREATED_SHOW];
    old_show.extend_from_slice(&[3; 32]);
    old_show.extend_from_slice(&201u16.to_be_bytes());
    old_show.extend_from_slice(&7u64.to_be_bytes());
    old_show.extend_from_slice(Uuid::from_u128(42).as_bytes());
    // A created show answered by such a build replays in its shape.
    let reply = decode_reply(&old_show).unwrap();
    assert_eq!(
        (reply.line.clone(), reply.body.clone()),
        (None, StoredBody::CreatedShowV1(ShowId(Uuid::from_u128(42))))
    );
    assert_eq!(encode_reply(&reply), old_show);
}

/// A created show's answer is stored as the show's id (58 bytes in
/// all, however large the show), and only an exact id decodes.
#[test]
fn created_show_replies_are_stored_by_reference() {
    let reply = StoredReply {
        fingerprint: Fingerprint([3; 32]),
        status: 201,
        body: StoredBody::CreatedShow(ShowId(Uuid::from_u128(42))),
        created_at_ms: 7,
        line: None,
    };
    let bytes = encode_reply(&reply);
    assert_eq!(bytes.len(), 1 + 32 + 2 + 8 + 3 + 16);
    assert_eq!(bytes[0], REPLY_CREATED_SHOW_WITH_LINE);
    assert_eq!(decode_reply(&bytes).unwrap(), reply);
    let with_line = StoredReply {
        line: Some(RequestLine {
            method: "POST".into(),
            path: "/v1/shows".into(),
        }),
        ..reply.clone()
    };
    assert_eq!(decode_reply(&encode_reply(&with_line)).unwrap(), with_line);
    assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_reply(&longer).is_err());
    let mut unknown = bytes;
    unknown[0] = 0x7f;
    assert!(decode_reply(&unknown).is_err());
}

#[test]
fn corrupt_json_records_are_errors() {
    assert!(decode_show(b"\x01{not json").is_err());
    assert!(decode_cart(b"\x02{}").is_err());
    assert!(decode_booking(b"").is_err());
}

proptest::proptest! {
    /// Whatever bytes are on disk, decoding answers an error, never a
    /// panic (the fuzz targets in fuzz/ push further).
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = decode_seat(&bytes);
        let _ = decode_reply(&bytes);
        let _ = decode_show(&bytes);
        let _ = decode_cart(&bytes);
        let _ = decode_booking(&bytes);
        let mut versioned = vec![VERSION];
        versioned.extend_from_slice(&bytes);
        let _ = decode_seat(&versioned);
        let _ = decode_reply(&versioned);
        let _ = decode_show(&versioned);
        let _ = decode_cart(&versioned);
        let _ = decode_booking(&versioned);
        let mut binary = vec![BOOKING_BINARY, REPLY_CREATED_BOOKING_WITH_LINE];
        binary.extend_from_slice(&bytes);
        let _ = decode_booking(&binary);
        let _ = decode_reply(&binary[1..]);
    }
}

fn booking(seats: &[(u32, &str)], prices_cents: Vec<u64>) -> Booking {
    Booking {
        id: BookingId(Uuid::from_u128(1)),
        owner: UserId(Uuid::from_u128(2)),
        show: ShowId(Uuid::from_u128(3)),
        seats: seats
            .iter()
            .map(|(i, l)| (*i, SeatLabel::parse(l).unwrap()))
            .collect(),
        status: BookingStatus::Confirmed,
        created_at_ms: 1_700_000_000_123,
        cart: None,
        prices_cents,
        currency: "EUR".into(),
        cancelled_by: None,
    }
}

/// Bookings round-trip in the binary layout (issue 18) with and
/// without a cart, prices or a cancel, in fewer bytes than in JSON;
/// a record cut short or with bytes after it is an error.
#[test]
fn bookings_round_trip_in_the_binary_layout() {
    let one = booking(&[(0, "A1")], vec![1250]);
    let mut many = booking(&[(5, "ZZ999"), (0, "A1"), (77, "BC12")], vec![0, 900, 1]);
    many.cart = Some(CartId(Uuid::from_u128(4)));
    many.cancel(crate::domain::Canceller::BoxOffice);
    many.currency = "CHF".into();
    let mut free = booking(&[(3, "B4")], Vec::new());
    free.cancel(crate::domain::Canceller::Customer);
    for b in [one, many, free] {
        let bytes = encode_booking(&b);
        assert_eq!(bytes[0], BOOKING_BINARY);
        assert_eq!(decode_booking(&bytes).unwrap(), b);
        assert!(
            bytes.len() * 2 < encode_booking_json(&b).len(),
            "{}",
            bytes.len()
        );
        assert!(decode_booking(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_booking(&longer).is_err());
    }
}

/// A booking record as builds before issue 18 wrote it (JSON behind
/// the version byte, bytes copied from such a build's store) reads.
#[test]
fn bookings_of_the_json_layout_still_read() {
    let mut old = vec![VERSION];
    old.extend_from_slice(
        br#"{"id":"00000000-0000-0000-0000-000000000001","owner":"00000000-0000-0000-0000-000000000002","show":"00000000-0000-0000-0000-000000000003","seats":[[0,"A1"]],"cancelled":false,"created_at_ms":1700000000123,"cart":null,"prices_cents":[1250],"currency":"EUR"}"#,
    );
    assert_eq!(
        decode_booking(&old).unwrap(),
        booking(&[(0, "A1")], vec![1250])
    );
    assert_eq!(encode_booking_json(&booking(&[(0, "A1")], vec![1250])), old);
}

/// A new booking's answer is stored as the booking's id, with the
/// request line, and only an exact id decodes.
#[test]
fn created_booking_replies_are_stored_by_reference() {
    let reply = StoredReply {
        fingerprint: Fingerprint([5; 32]),
        status: 201,
        body: StoredBody::CreatedBooking(BookingId(Uuid::from_u128(9))),
        created_at_ms: 11,
        line: Some(RequestLine {
            method: "POST".into(),
            path: "/v1/bookings".into(),
        }),
    };
    let bytes = encode_reply(&reply);
    assert_eq!(bytes[0], REPLY_CREATED_BOOKING_WITH_LINE);
    assert_eq!(bytes.len(), 1 + 32 + 2 + 8 + 3 + 4 + 12 + 16);
    assert_eq!(decode_reply(&bytes).unwrap(), reply);
    assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
    assert_eq!(booking_in_key_record(&bytes).unwrap(), None);
}

/// The sled store's way (issue 18): the key record holds the booking
/// itself, and decodes with it at hand; a record cut short is an error.
#[test]
fn created_booking_replies_can_hold_the_booking() {
    let made = booking(&[(0, "A1"), (1, "A2")], vec![1250, 900]);
    let reply = StoredReply {
        fingerprint: Fingerprint([5; 32]),
        status: 201,
        body: StoredBody::CreatedBooking(made.id),
        created_at_ms: 11,
        line: Some(RequestLine {
            method: "POST".into(),
            path: "/v1/bookings".into(),
        }),
    };
    let bytes = encode_reply_holding(&reply, Some(&made));
    assert_eq!(bytes[0], REPLY_CREATED_BOOKING_EMBEDDED);
    let held = StoredReply {
        body: StoredBody::CreatedBookingAsMade(Box::new(made.clone())),
        ..reply.clone()
    };
    assert_eq!(decode_reply(&bytes).unwrap(), held);
    assert_eq!(encode_reply(&held), bytes);
    assert!(key_record_holds(&bytes, made.id));
    assert!(!key_record_holds(&bytes, BookingId(Uuid::from_u128(8))));
    assert!(!key_record_holds(&encode_reply(&reply), made.id));
    assert_eq!(booking_in_key_record(&bytes).unwrap(), Some(made));
    assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
    assert!(booking_in_key_record(&bytes[..bytes.len() - 1]).is_err());
}

/// A show's offer (v1.1) round-trips; a show record of an earlier
/// build (no offer fields) reads as a plain show.
#[test]
fn shows_keep_their_offer_and_old_records_read_plain() {
    let rows = vec![
        Row {
            label: "A".into(),
            seats: 4,
        },
        Row {
            label: "B".into(),
            seats: 2,
        },
    ];
    let spec = OfferSpec {
        currency: Some("GBP".into()),
        categories: vec![
            Category {
                id: "stalls".into(),
                name: "Stalls".into(),
                price_cents: 950,
            },
            Category {
                id: "circle".into(),
                name: "Dress circle".into(),
                price_cents: 1450,
            },
        ],
        rows: vec![
            RowOffer {
                aisles_after: vec![2],
                wheelchair: vec![1],
                companion: vec![2],
                ..RowOffer::default()
            },
            RowOffer {
                category: Some("circle".into()),
                ..RowOffer::default()
            },
        ],
    };
    let show = Show::with_offer(ShowId(Uuid::from_u128(5)), "T".into(), 9, rows, spec).unwrap();
    let back = decode_show(&encode_show(&show)).unwrap();
    assert_eq!(back.offer, show.offer);
    assert_eq!(back.price_cents(4), 1450);

    let mut old = vec![VERSION];
    old.extend_from_slice(
        br#"{"id":"00000000-0000-0000-0000-000000000005","title":"T","starts_at_ms":9,"rows":[["A",3]]}"#,
    );
    let plain = decode_show(&old).unwrap();
    assert_eq!(plain.offer.currency(), "EUR");
    assert_eq!(plain.offer.categories(), &[Category::standard()]);
    assert_eq!(plain.layout.capacity(), 3);
}
