//! Hostile clients: what one user cannot learn or do to another, what the
//! server keeps of a token, slow clients, and a graceful stop under load.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

store_test!(another_users_ids_and_keys_get_nothing);
async fn another_users_ids_and_keys_get_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Private", &[("A", 6)]).await;
    let alice = client.guest().await;
    let mallory = client.guest().await;

    let key = new_key();
    let booking = alice.book(&key, &show, &["A1"]).await;
    assert_eq!(booking.status, 201);
    let booking_id = booking.json()["id"].as_str().unwrap().to_string();
    let cart = alice.new_cart().await;
    let held = alice.hold(&cart, &new_key(), &show, "A2").await;
    assert_eq!(held.status, 201);

    // Guessing ids: 404, never the data.
    for path in [
        format!("/v1/bookings/{booking_id}"),
        format!("/v1/carts/{cart}"),
    ] {
        let answer = mallory.get(&path).await;
        answer.assert_problem(404, "not-found");
        assert!(!answer.text.contains(&booking_id) && !answer.text.contains("A1"));
    }
    mallory
        .delete(&format!("/v1/bookings/{booking_id}"))
        .await
        .assert_problem(404, "not-found");
    mallory
        .delete(&format!("/v1/carts/{cart}/items/{show}/A2"))
        .await
        .assert_problem(404, "not-found");
    mallory
        .post(&format!("/v1/carts/{cart}/checkout"), &new_key(), json!({}))
        .await
        .assert_problem(404, "not-found");
    assert!(mallory.get("/v1/bookings").await.json()["bookings"]
        .as_array()
        .unwrap()
        .is_empty());

    // Reusing Alice's key: Mallory's own fresh request, never Alice's replay.
    let reuse = mallory.book(&key, &show, &["A1"]).await;
    reuse.assert_problem(409, "seat-unavailable");
    assert!(!reuse.is_replay());

    // Nothing of Alice's changed.
    let map = client.seat_map(&show).await;
    assert_eq!((map["A1"].as_str(), map["A2"].as_str()), ("booked", "held"));
    assert_eq!(
        alice
            .get(&format!("/v1/bookings/{booking_id}"))
            .await
            .json()["status"],
        "confirmed"
    );
}

#[api_test]
async fn the_event_stream_names_no_user() {
    use futures_util::StreamExt;
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Stream", &[("A", 3)]).await;
    // The booker's own session, so its user id is known.
    let session = client.send("POST", "/v1/sessions", None, None).await.json();
    let user_id = session["user_id"].as_str().unwrap().to_string();
    let guest = client.with_token(session["token"].as_str().unwrap());
    let response = client.open_events(&show).await;
    let mut stream = response.bytes_stream();
    let booked = guest.book(&new_key(), &show, &["A1"]).await;
    let booking_id = booked.json()["id"].as_str().unwrap().to_string();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("\"booked\"") {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let token = guest.token.clone().unwrap();
    for secret in [token.as_str(), user_id.as_str(), booking_id.as_str()] {
        assert!(!seen.contains(secret), "the stream leaked {secret}");
    }
    assert!(
        seen.contains(r#"{"seat_id":"A1","status":"booked"}"#),
        "{seen}"
    );
}

#[api_test]
async fn tokens_are_stored_only_as_hashes() {
    let (parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &[]);
    let guest = server.client().guest().await;
    let token = guest.token.clone().unwrap();
    assert_eq!(guest.get("/v1/bookings").await.status, 200);
    assert!(server.terminate().success());
    let mut files = vec![parent.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{} holds the plaintext token",
                path.display()
            );
        }
    }
    assert!(scanned > 0, "nothing was scanned");
}

#[api_test]
async fn a_slow_client_is_cut_off() {
    let server = spawn_app_with(|s| s.client_request_timeout_secs = 1);
    let addr = server.addr();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Half a request head, then nothing (slowloris).
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    // Closed or reset: either ends it; only a timeout here is a failure.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buffer))
        .await
        .expect("the server closes the connection");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "held open for {waited:?}");
    let head = String::from_utf8_lossy(&buffer);
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "{head}"
    );
    // The server still serves others.
    assert_eq!(server.client().get("/healthz").await.status, 200);
}

/// A body that does not arrive within `client_request_timeout_secs` is cut
/// off: 408 `request-timeout`, the connection closed, and nothing runs
/// (the key is free, so its retry books).
#[api_test]
async fn a_slow_body_is_cut_off_and_nothing_runs() {
    let server = spawn_app_with(|s| s.client_request_timeout_secs = 1);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let body = format!(r#"{{"show_id":"{show}","seats":["A1"]}}"#);
    let addr = server.addr();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The whole head, promising the body, then only ten bytes of it.
    let head = format!(
        "POST /v1/bookings HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        guest.token(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buffer))
        .await
        .expect("the server answers and closes the connection")
        .expect("read the answer");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "held open for {waited:?}");
    let answer = String::from_utf8_lossy(&buffer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("application/problem+json") && answer.contains("/request-timeout"),
        "{answer}"
    );
    // Nothing ran: the seat is free, and the key runs afresh.
    expect_map(&client, &show, &[]).await;
    assert!(guest.bookings().await.is_empty());
    let retry = guest.book(&key, &show, &["A1"]).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_not_replay(&retry);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A show's rows by label: A..Z, then AA, AB, ...
fn row_label(i: usize) -> String {
    if i < 26 {
        char::from(b'A' + i as u8).to_string()
    } else {
        let (first, second) = (i / 26 - 1, i % 26);
        format!(
            "{}{}",
            char::from(b'A' + first as u8),
            char::from(b'A' + second as u8)
        )
    }
}

/// 400 clients that ask for a 100,000-seat show's map (about 6 MB each) and
/// never read it keep the server under 256 MiB resident, and once they are
/// gone it is back under 100 MiB within a minute. (Built whole per request,
/// 200 such sockets took it to 620-1,100 MiB.)
#[api_test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_of_a_big_seat_map_hold_little_memory() {
    const MIB: u64 = 1024;
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &[("BOXOFFICE_CLIENT_REQUEST_TIMEOUT_SECS", "120")]);
    let client = server.client();
    let labels: Vec<String> = (0..125).map(row_label).collect();
    let rows: Vec<(&str, u32)> = labels.iter().map(|l| (l.as_str(), 800)).collect();
    let show = client.create_show("Stadium", &rows).await;
    let pid = server.child.id();
    let addr = server.base.trim_start_matches("http://").to_string();
    let request = format!("GET /v1/shows/{show} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut readers = Vec::new();
    for _ in 0..400 {
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        readers.push(socket); // and never read
    }
    // Read the first bytes of every answer, so that each has begun, and
    // nothing more.
    for socket in &mut readers {
        let mut status_line = [0u8; 15];
        tokio::time::timeout(
            Duration::from_secs(120),
            socket.read_exact(&mut status_line),
        )
        .await
        .expect("every answer begins")
        .expect("read its first bytes");
        assert_eq!(&status_line, b"HTTP/1.1 200 OK");
    }
    let mut peak_kib = 0;
    for _ in 0..4 {
        peak_kib = peak_kib.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let fresh = Client::new(&server.base);
    assert_eq!(fresh.get("/healthz").await.status, 200, "still serving");
    eprintln!("400 slow readers of a 100,000-seat map: peak RSS {peak_kib} KiB");
    assert!(
        peak_kib < 256 * MIB,
        "resident memory reached {peak_kib} KiB"
    );
    drop(readers);
    let gone = Instant::now();
    loop {
        let rss = rss_kib(pid);
        if rss < 100 * MIB {
            eprintln!("after they closed: {rss} KiB in {:?}", gone.elapsed());
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(60),
            "still {rss} KiB a minute after the readers closed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(server.terminate().success());
}

/// More clients than the mailboxes hold, at a few seats: the surplus is
/// answered 503 `overloaded` at once, nothing else fails, and memory stays
/// bounded instead of growing with the queue.
#[api_test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_is_shed_with_bounded_memory() {
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(
        &data,
        &[
            ("BOXOFFICE_SEAT_MAILBOX_CAPACITY", "8"),
            ("BOXOFFICE_MAILBOX_CAPACITY", "4"),
        ],
    );
    let client = server.client();
    let show = client.create_show("Flood", &[("A", 4)]).await;
    let mut guests = Vec::new();
    for _ in 0..50 {
        guests.push(client.guest().await);
    }
    let pid = server.child.id();
    let before = rss_kib(pid);
    let mut counts = std::collections::BTreeMap::new();
    for round in 0..4 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(guests.len() * 10));
        let mut tasks = Vec::new();
        for guest in &guests {
            for n in 0..10 {
                let (guest, show, barrier) = (guest.clone(), show.clone(), barrier.clone());
                let seat = ["A1", "A2", "A3", "A4"][(n + round) % 4];
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    guest.book(&new_key(), &show, &[seat]).await
                }));
            }
        }
        for task in tasks {
            let answer = task.await.unwrap();
            match answer.status {
                201 | 409 => {}
                503 => {
                    answer.assert_problem(503, "overloaded");
                    assert!(answer.header("retry-after").is_some());
                }
                other => panic!("unexpected {other}: {}", answer.text),
            }
            *counts.entry(answer.status).or_insert(0) += 1;
        }
    }
    let after = rss_kib(pid);
    assert!(
        counts.get(&503).copied().unwrap_or(0) > 0,
        "nothing was shed: {counts:?}"
    );
    assert_eq!(counts.get(&201).copied().unwrap_or(0), 4, "{counts:?}");
    // 2,000 requests in bursts of 500: the server's memory may grow by its
    // caches and connection buffers, not by a queue per request.
    assert!(
        after < before + 64 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
    eprintln!("flood: {counts:?}, RSS {before} KiB -> {after} KiB");
    assert!(server.terminate().success());
}

#[api_test]
async fn anonymous_clients_cannot_mint_users_without_end() {
    let server = spawn_app_with(|s| {
        s.session_rate_limit = 1;
        s.session_burst_factor = 3;
    });
    let client = server.client();
    for _ in 0..3 {
        assert_eq!(
            client.send("POST", "/v1/sessions", None, None).await.status,
            201
        );
    }
    let refused = client.send("POST", "/v1/sessions", None, None).await;
    refused.assert_problem(429, "rate-limited");
    assert!(refused.header("retry-after").is_some());
}
