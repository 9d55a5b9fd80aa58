//! Error precedence and body size limits.

use crate::helpers::*;
use serde_json::json;

store_test!(errors_come_in_the_contract_order);
async fn errors_come_in_the_contract_order(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let nobody = client.anonymous();
    let stranger = client.with_token("unknown-token-for-precedence");
    let huge = json!({"show_id": show, "seats": ["A1"], "pad": "x".repeat(70_000)}).to_string();
    let malformed = r#"{"show_id": "#;
    let tab_key: &[u8] = b"bad\tkey";
    let send = |who: &Client, key: Option<&[u8]>, body: &str| {
        let (who, key, body) = (who.clone(), key.map(<[u8]>::to_vec), body.to_string());
        async move {
            who.send_raw("POST", "/v1/bookings", key.as_deref(), Some(body.into()))
                .await
        }
    };

    // auth first
    send(&nobody, None, malformed)
        .await
        .assert_problem(401, "unauthorized");
    send(&nobody, Some(tab_key), &huge)
        .await
        .assert_problem(401, "unauthorized");
    send(&stranger, None, &huge)
        .await
        .assert_problem(401, "unauthorized");
    guest
        .send("POST", "/v1/shows", None, Some(malformed))
        .await
        .assert_problem(403, "forbidden");
    // then size
    send(&guest, None, &huge)
        .await
        .assert_problem(413, "payload-too-large");
    send(&guest, Some(tab_key), &huge)
        .await
        .assert_problem(413, "payload-too-large");
    // then the key
    send(&guest, None, malformed)
        .await
        .assert_problem(400, "idempotency-key-missing");
    send(&guest, Some(tab_key), malformed)
        .await
        .assert_problem(400, "idempotency-key-invalid");
    // then the body
    send(&guest, Some(new_key().as_bytes()), malformed)
        .await
        .assert_problem(400, "invalid-request");
    // then the outcome
    send(
        &guest,
        Some(new_key().as_bytes()),
        &booking_body(&uuid::Uuid::new_v4().to_string(), &["A1"]).to_string(),
    )
    .await
    .assert_problem(404, "not-found");

    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
}

store_test!(bodies_are_limited_to_64_kib);
async fn bodies_are_limited_to_64_kib(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let padded = |seat: &str, len: usize| {
        let mut body = booking_body(&show, &[seat]).to_string();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };

    // Exactly 64 KiB is allowed (JSON may end in whitespace).
    let exact = padded("A1", 64 * 1024);
    assert_eq!(exact.len(), 65_536);
    let answer = guest
        .send("POST", "/v1/bookings", Some(&new_key()), Some(&exact))
        .await;
    assert_json(&answer, 201);

    // One byte more is not.
    let over = padded("A2", 64 * 1024 + 1);
    guest
        .send("POST", "/v1/bookings", Some(&new_key()), Some(&over))
        .await
        .assert_problem(413, "payload-too-large");

    // Nor is a chunked body without Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 7_000])).collect();
    let mut first = booking_body(&show, &["A3"]).to_string().into_bytes();
    first.extend(std::iter::repeat_n(b' ', 100));
    let stream = futures_util::stream::iter(std::iter::once(Ok(first)).chain(chunks));
    guest
        .send_raw(
            "POST",
            "/v1/bookings",
            Some(new_key().as_bytes()),
            Some(reqwest::Body::wrap_stream(stream)),
        )
        .await
        .assert_problem(413, "payload-too-large");

    expect_map(&client, &show, &[("A1", "booked")]).await;
    assert_eq!(guest.bookings().await.len(), 1);
}

store_test!(a_malformed_chunked_body_is_answered_as_problem_json);
/// A malformed chunked body is an error of the request, answered as every
/// error is (problem+json `invalid-request`) on every POST route, the one
/// that ignores its body included; nothing runs.
async fn a_malformed_chunked_body_is_answered_as_problem_json(store: StoreKind) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart = guest.new_cart().await;
    let addr = server.addr();
    let routes = [
        "/v1/sessions".to_string(),
        "/v1/shows".to_string(),
        "/v1/bookings".to_string(),
        "/v1/carts".to_string(),
        format!("/v1/carts/{cart}/items"),
        format!("/v1/carts/{cart}/checkout"),
    ];
    for path in routes {
        let token = if path == "/v1/shows" {
            ADMIN_TOKEN.to_string()
        } else {
            guest.token()
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: {}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n",
            new_key()
        );
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(
            answer.contains("application/problem+json") && answer.contains("/invalid-request"),
            "{path}: {answer}"
        );
    }
    assert!(guest.bookings().await.is_empty());
    assert_eq!(client.shows().await.len(), 1);
    expect_map(&client, &show, &[]).await;
}
