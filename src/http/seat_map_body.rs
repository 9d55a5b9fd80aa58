//! `GET /v1/shows/{id}`: the seat map, sent a piece at a time.
//!
//! Why: a 100,000-seat map is about 6 MB. Built whole per request, every
//! client that sends the request and never reads pinned a copy of it in
//! the server (400 such sockets took it past 1 GiB). Sent in pieces, the
//! server renders the next piece only when the connection's write buffer
//! (32 KiB) has room, so a reader that reads nothing holds one piece and
//! that buffer, whatever the map's size. Each piece reads the live statuses
//! (the map is a projection, not a snapshot; the event stream carries the
//! changes).

use crate::engine::SeatMap;
use crate::wire;
use bytes::Bytes;
use futures_util::Stream;
use std::sync::Arc;

/// Seats rendered per piece (about 15 KB).
const SEATS_PER_PIECE: u32 = 256;

/// Where the rendering of a map is.
enum Next {
    Start,
    SeatsFrom(u32),
    End,
    Done,
}

/// The show's JSON, byte for byte as `wire::show_out` writes it.
pub fn seat_map_body(map: Arc<SeatMap>) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold((map, Next::Start), |(map, next)| async move {
        let capacity = map.show.layout.capacity();
        let (piece, next) = match next {
            Next::Start => (wire::show_json_start(&map.show), Next::SeatsFrom(0)),
            Next::SeatsFrom(from) => {
                let mut piece = Vec::with_capacity(SEATS_PER_PIECE as usize * 64);
                let status_of = |index| map.status(index);
                let after =
                    wire::show_json_seats(&map.show, from, SEATS_PER_PIECE, status_of, &mut piece);
                let next = if after < capacity {
                    Next::SeatsFrom(after)
                } else {
                    Next::End
                };
                (piece, next)
            }
            Next::End => (wire::SHOW_JSON_END.to_vec(), Next::Done),
            Next::Done => return None,
        };
        Some((Ok(Bytes::from(piece)), (map, next)))
    })
}
