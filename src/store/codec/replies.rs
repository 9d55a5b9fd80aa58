//! Idempotency records: the stored answer, replayed byte for byte, and on
//! sled a new booking kept inside the key record that answered it.

use super::bookings::{decode_booking, encode_booking, BOOKING_BINARY};
use super::common::*;
use crate::domain::{
    Booking, BookingId, Fingerprint, RequestLine, ShowId, StoredBody, StoredReply,
};
use crate::store::contract::StoreResult;
use bytes::Bytes;

// ---- idempotency records: binary, replayed byte for byte ----

/// Leads an idempotency record whose body is a created show's answer
/// (`StoredBody::CreatedShow`): the show's id follows instead of the body.
/// Records led by `VERSION` carry their body inline.
pub const REPLY_CREATED_SHOW: u8 = 0x81;

/// The same two, with the request's method and path after the header
/// (`StoredReply::line`, for the key look-up): a byte of method length,
/// the method, two bytes of path length, the path (both empty: no line).
/// Records led by the two above were written by builds before 1.1: they
/// have no line, and a created show's answer led by `REPLY_CREATED_SHOW`
/// is rebuilt in the shape of those builds (`StoredBody::CreatedShowV1`).
pub const REPLY_WITH_LINE: u8 = 0x02;
pub const REPLY_CREATED_SHOW_WITH_LINE: u8 = 0x82;
/// A new booking's answer (`StoredBody::CreatedBooking`, issue 18): the
/// line, then the booking's id instead of the body.
pub const REPLY_CREATED_BOOKING_WITH_LINE: u8 = 0x83;
/// A new booking's answer with the booking itself (the sled store,
/// `StoredBody::CreatedBookingAsMade`, issue 18): the line, then the
/// booking's record (`encode_booking`). The booking has no record of its
/// own until it changes (a cancel writes one under its owner, which then
/// wins) or its key expires (the sweep writes one first).
pub const REPLY_CREATED_BOOKING_EMBEDDED: u8 = 0x84;

pub fn encode_reply(reply: &StoredReply) -> Vec<u8> {
    encode_reply_holding(reply, None)
}

/// `encode_reply`, for a reply that is `made`'s answer: the record holds
/// the booking (`REPLY_CREATED_BOOKING_EMBEDDED`) whatever the reply's body.
pub fn encode_reply_holding(reply: &StoredReply, made: Option<&Booking>) -> Vec<u8> {
    // A line too long for its length field is dropped, not cut (paths are
    // bounded far below 64 KiB by the HTTP server).
    let line = reply
        .line
        .as_ref()
        .filter(|l| l.method.len() <= u8::MAX as usize && l.path.len() <= u16::MAX as usize);
    let none = RequestLine {
        method: String::new(),
        path: String::new(),
    };
    let held = made.or(match &reply.body {
        StoredBody::CreatedBookingAsMade(booking) => Some(booking),
        _ => None,
    });
    let embedded = held.map(encode_booking);
    let (lead, line, body): (u8, Option<&RequestLine>, &[u8]) = match (&reply.body, line) {
        _ if embedded.is_some() => (
            REPLY_CREATED_BOOKING_EMBEDDED,
            Some(line.unwrap_or(&none)),
            embedded.as_deref().expect("a booking"),
        ),
        (StoredBody::Bytes(bytes), None) => (VERSION, None, bytes),
        (StoredBody::Bytes(bytes), Some(line)) => (REPLY_WITH_LINE, Some(line), bytes),
        (StoredBody::CreatedShow(show), line) => (
            REPLY_CREATED_SHOW_WITH_LINE,
            Some(line.unwrap_or(&none)),
            show.0.as_bytes(),
        ),
        (StoredBody::CreatedShowV1(show), _) => (REPLY_CREATED_SHOW, None, show.0.as_bytes()),
        (StoredBody::CreatedBooking(booking), line) => (
            REPLY_CREATED_BOOKING_WITH_LINE,
            Some(line.unwrap_or(&none)),
            booking.0.as_bytes(),
        ),
        (StoredBody::CreatedBookingAsMade(_), _) => unreachable!("held above"),
    };
    let line_len = line.map_or(0, |l| 3 + l.method.len() + l.path.len());
    let mut out = Vec::with_capacity(1 + 32 + 2 + 8 + line_len + body.len());
    out.push(lead);
    out.extend_from_slice(&reply.fingerprint.0);
    out.extend_from_slice(&reply.status.to_be_bytes());
    out.extend_from_slice(&reply.created_at_ms.to_be_bytes());
    if let Some(line) = line {
        out.push(line.method.len() as u8);
        out.extend_from_slice(line.method.as_bytes());
        out.extend_from_slice(&(line.path.len() as u16).to_be_bytes());
        out.extend_from_slice(line.path.as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// The method's and the path's bytes after a record's header, and what
/// follows them; `None`: cut short.
pub(super) fn line_parts(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&method_len, rest) = bytes.split_first()?;
    let (method, rest) = rest.split_at_checked(method_len as usize)?;
    let (path_len, rest) = rest.split_at_checked(2)?;
    let path_len = u16::from_be_bytes([path_len[0], path_len[1]]);
    let (path, tail) = rest.split_at_checked(path_len as usize)?;
    Some((method, path, tail))
}

/// The method and path after a record's header, and what follows them.
pub(super) fn split_line(bytes: &[u8]) -> StoreResult<(RequestLine, &[u8])> {
    let bad = || corrupt("idempotency record's request line");
    let (method, path, tail) = line_parts(bytes).ok_or_else(bad)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad());
    Ok((
        RequestLine {
            method: text(method)?,
            path: text(path)?,
        },
        tail,
    ))
}

/// Bytes before a record's request line: the lead, the fingerprint (32),
/// the status (2), the creation time (8).
pub(super) const REPLY_HEADER_LEN: usize = 1 + 42;

/// Whether a key record holds the booking `id`, read from its header
/// alone (a scan for one booking decodes only the record that holds it).
pub fn key_record_holds(bytes: &[u8], id: BookingId) -> bool {
    if bytes.first() != Some(&REPLY_CREATED_BOOKING_EMBEDDED) {
        return false;
    }
    match bytes.get(REPLY_HEADER_LEN..).and_then(line_parts) {
        Some((_, _, booking)) => {
            booking.first() == Some(&BOOKING_BINARY)
                && booking.get(1..17) == Some(id.0.as_bytes().as_slice())
        }
        None => false,
    }
}

/// The booking a key record holds (`REPLY_CREATED_BOOKING_EMBEDDED`), if
/// it holds one; other records are not decoded.
pub fn booking_in_key_record(bytes: &[u8]) -> StoreResult<Option<Booking>> {
    if bytes.first() != Some(&REPLY_CREATED_BOOKING_EMBEDDED) {
        return Ok(None);
    }
    match decode_reply(bytes)?.body {
        StoredBody::CreatedBookingAsMade(booking) => Ok(Some(*booking)),
        _ => Err(corrupt("idempotency record")),
    }
}

pub fn decode_reply(bytes: &[u8]) -> StoreResult<StoredReply> {
    let (&lead, rest) = bytes
        .split_first()
        .ok_or_else(|| corrupt("idempotency record"))?;
    if rest.len() < 42 {
        return Err(corrupt("idempotency record"));
    }
    let (line, tail) = match lead {
        REPLY_WITH_LINE
        | REPLY_CREATED_SHOW_WITH_LINE
        | REPLY_CREATED_BOOKING_WITH_LINE
        | REPLY_CREATED_BOOKING_EMBEDDED => {
            let (line, tail) = split_line(&rest[42..])?;
            let empty = line.method.is_empty() && line.path.is_empty();
            ((!empty).then_some(line), tail)
        }
        _ => (None, &rest[42..]),
    };
    let body = match lead {
        VERSION | REPLY_WITH_LINE => StoredBody::Bytes(Bytes::copy_from_slice(tail)),
        REPLY_CREATED_SHOW if tail.len() == 16 => {
            StoredBody::CreatedShowV1(ShowId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_SHOW_WITH_LINE if tail.len() == 16 => {
            StoredBody::CreatedShow(ShowId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_BOOKING_WITH_LINE if tail.len() == 16 => {
            StoredBody::CreatedBooking(BookingId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_BOOKING_EMBEDDED => {
            StoredBody::CreatedBookingAsMade(Box::new(decode_booking(tail)?))
        }
        _ => return Err(corrupt("idempotency record")),
    };
    Ok(StoredReply {
        fingerprint: Fingerprint(rest[..32].try_into().expect("32 bytes")),
        status: u16::from_be_bytes(rest[32..34].try_into().expect("2 bytes")),
        created_at_ms: u64::from_be_bytes(rest[34..42].try_into().expect("8 bytes")),
        body,
        line,
    })
}
