//! docs/API.md, "live seat changes" (resuming an event stream): every `seat` event carries an
//! `id:`, increasing per show; a reader that reconnects with
//! `Last-Event-ID` gets the events it missed, or, when its id is older
//! than what the server keeps (or unknown), an event named `snapshot` with
//! the whole seat map first.

use crate::helpers::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// One block of the stream: its `id:`, `event:` and `data:` (a block of
/// comments only, such as a keepalive, is skipped).
#[derive(Debug)]
struct Block {
    id: Option<u64>,
    event: Option<String>,
    data: String,
}

impl Block {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data {:?} is not JSON: {e}", self.data))
    }
}

struct Events {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Events {
    async fn open(client: &Client, show: &str, last_event_id: Option<&str>) -> Events {
        let mut request = client
            .http
            .get(format!("{}/v1/shows/{show}/events", client.base));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("the event stream answers");
        assert_eq!(response.status().as_u16(), 200);
        Events {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next block with an id or an event.
    async fn next(&mut self) -> Block {
        let read = async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let text: String = self.buffer.drain(..end + 2).collect();
                    let mut block = Block {
                        id: None,
                        event: None,
                        data: String::new(),
                    };
                    for line in text.lines() {
                        if let Some(value) = line.strip_prefix("id:") {
                            block.id = Some(value.trim().parse().expect("a numeric id"));
                        } else if let Some(value) = line.strip_prefix("event:") {
                            block.event = Some(value.trim().to_string());
                        } else if let Some(value) = line.strip_prefix("data:") {
                            block.data.push_str(value.trim_start());
                        }
                    }
                    if block.id.is_some() || block.event.is_some() {
                        return block;
                    }
                }
                let chunk = self
                    .stream
                    .next()
                    .await
                    .expect("the event stream ended")
                    .expect("the event stream broke");
                self.buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("no event within 5 s")
    }

    /// The next `seat` event: (id, seat, status).
    async fn seat(&mut self) -> (u64, String, String) {
        let block = self.next().await;
        assert_eq!(block.event.as_deref(), Some("seat"), "{block:?}");
        let data = block.json();
        (
            block.id.expect("a seat event has an id"),
            data["seat_id"].as_str().unwrap().to_string(),
            data["status"].as_str().unwrap().to_string(),
        )
    }
}

store_test!(a_reconnecting_reader_gets_what_it_missed);
async fn a_reconnecting_reader_gets_what_it_missed(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 4).await;

    // A new reader learns where the stream is, without an event.
    let mut first = Events::open(&client, &show, None).await;
    let hello = first.next().await;
    assert_eq!(hello.event, None, "{hello:?}");
    let start = hello.id.expect("the first block sets the reader's last id");

    guest.book(&new_key(), &show, &["A1"]).await.id();
    guest.book(&new_key(), &show, &["A2"]).await.id();
    let (one, seat, status) = first.seat().await;
    assert_eq!((seat.as_str(), status.as_str()), ("A1", "booked"));
    let (two, seat, _) = first.seat().await;
    assert_eq!(seat, "A2");
    assert_eq!((one, two), (start + 1, start + 2), "ids increase by one");
    drop(first);

    // Back after A1: A2 again, with its id, and nothing before it.
    let mut after_one = Events::open(&client, &show, Some(&one.to_string())).await;
    assert_eq!(
        after_one.seat().await,
        (two, "A2".to_string(), "booked".to_string())
    );
    guest.book(&new_key(), &show, &["A3"]).await.id();
    let (three, seat, _) = after_one.seat().await;
    assert_eq!((three, seat.as_str()), (two + 1, "A3"));
    drop(after_one);

    // Back from the very start: everything since, in order.
    let mut from_start = Events::open(&client, &show, Some(&start.to_string())).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (id, seat, _) = from_start.seat().await;
        seen.push((id, seat));
    }
    assert_eq!(
        seen,
        vec![
            (one, "A1".to_string()),
            (two, "A2".to_string()),
            (three, "A3".to_string())
        ]
    );
    drop(from_start);

    // Up to date: nothing is sent again (the stream only says where it
    // is), the next change comes live.
    let mut current = Events::open(&client, &show, Some(&three.to_string())).await;
    let hello = current.next().await;
    assert_eq!((hello.event, hello.id), (None, Some(three)));
    guest.book(&new_key(), &show, &["A4"]).await.id();
    let (four, seat, _) = current.seat().await;
    assert_eq!((four, seat.as_str()), (three + 1, "A4"));
}

store_test!(a_reader_too_far_behind_gets_a_snapshot_first);
async fn a_reader_too_far_behind_gets_a_snapshot_first(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 3).await;
    guest.book(&new_key(), &show, &["A2"]).await.id();
    let map = client.get(&format!("/v1/shows/{show}")).await.json();

    // An id older than anything kept (or of another run of the server).
    let mut behind = Events::open(&client, &show, Some("1")).await;
    let snapshot = behind.next().await;
    assert_eq!(snapshot.event.as_deref(), Some("snapshot"), "{snapshot:?}");
    let last = snapshot.id.expect("the snapshot carries the last id");
    assert_eq!(snapshot.json(), map, "the snapshot is the seat map");
    guest.book(&new_key(), &show, &["A3"]).await.id();
    let (next, seat, _) = behind.seat().await;
    assert_eq!((next, seat.as_str()), (last + 1, "A3"));

    // A header that is no id counts as none: the stream starts from now.
    let mut garbled = Events::open(&client, &show, Some("yesterday")).await;
    let hello = garbled.next().await;
    assert_eq!((hello.event, hello.id), (None, Some(next)));
}
