//! docs/API.md §1 (HTTP hygiene): HEAD wherever GET works, 405 with `Allow`
//! for a known path asked with another method, and `/favicon.ico`.

use crate::helpers::*;

store_test!(head_works_wherever_get_does);
async fn head_works_wherever_get_does(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let booking = guest.book(&new_key(), &show, &["A1"]).await.id();
    for (who, path) in [
        (&client, "/".to_string()),
        (&client, "/healthz".to_string()),
        (&client, "/openapi.json".to_string()),
        (&client, "/v1/shows".to_string()),
        (&client, format!("/v1/shows/{show}")),
        (&guest, "/v1/bookings".to_string()),
        (&guest, format!("/v1/bookings/{booking}")),
    ] {
        let get = who.get(&path).await;
        let head = who.send("HEAD", &path, None, None).await;
        assert_eq!(head.status, 200, "HEAD {path}: {}", head.text);
        assert_eq!(get.status, 200, "GET {path}: {}", get.text);
        assert!(head.text.is_empty(), "HEAD {path} sent a body");
        assert_eq!(
            head.headers.get("content-type"),
            get.headers.get("content-type"),
            "HEAD {path}"
        );
    }
    // The event stream answers its headers and ends.
    let head = client
        .send("HEAD", &format!("/v1/shows/{show}/events"), None, None)
        .await;
    assert_eq!(head.status, 200, "{}", head.text);
    assert!(head.text.is_empty());
    // What GET refuses, HEAD refuses the same way.
    let unknown = client.send("HEAD", "/v1/shows/nope", None, None).await;
    assert_eq!(unknown.status, client.get("/v1/shows/nope").await.status);
    assert_eq!(
        client
            .send("HEAD", "/no/such/path", None, None)
            .await
            .status,
        404
    );

    // On one connection, a HEAD answer sends no body bytes: the next
    // answer starts right after its headers.
    let addr = server.addr();
    let answers = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .write_all(
                b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
                  GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .expect("send");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("read");
        text
    })
    .await
    .expect("reader");
    let answers: Vec<&str> = answers.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers[0].starts_with("200"), "{answers:?}");
    assert!(!answers[0].contains('{'), "HEAD sent a body: {answers:?}");
    assert!(answers[1].starts_with("200"), "{answers:?}");
    assert!(answers[1].contains(r#"{"status":"ok"}"#), "{answers:?}");
}

store_test!(a_known_path_with_another_method_answers_405_with_allow);
async fn a_known_path_with_another_method_answers_405_with_allow(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, _guest) = show_and_guest(&server, 5).await;
    for (method, path, allow) in [
        ("PUT", "/v1/shows".to_string(), "GET, HEAD, POST"),
        ("OPTIONS", "/healthz".to_string(), "GET, HEAD"),
        ("DELETE", format!("/v1/shows/{show}"), "GET, HEAD"),
        ("PATCH", "/v1/carts".to_string(), "POST"),
        ("GET", "/v1/sessions".to_string(), "POST"),
        ("PUT", "/".to_string(), "GET, HEAD"),
    ] {
        let answer = client.admin().send(method, &path, None, None).await;
        answer.assert_problem(405, "method-not-allowed");
        assert_eq!(
            answer.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
    // An unknown path is still 404, whatever the method.
    client
        .send("PUT", "/v1/nothing-here", None, None)
        .await
        .assert_problem(404, "not-found");
}

store_test!(the_favicon_exists);
async fn the_favicon_exists(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let icon = client.get("/favicon.ico").await;
    assert_eq!(icon.status, 200);
    assert_eq!(
        icon.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/svg+xml")
    );
    assert!(icon.text.starts_with("<svg"), "{}", icon.text);
}
