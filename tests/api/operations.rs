//! The event stream and operations endpoints: metrics, OpenAPI, health,
//! problem codes.

use crate::helpers::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads server-sent events until `want` of them were seen (or panics).
pub(crate) async fn read_events(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    want: usize,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim().to_string());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(name) = name {
                    let data: Value = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("event data {data:?} is not JSON: {e}"));
                    events.push((name, data));
                    if events.len() == want {
                        return;
                    }
                }
            }
            let chunk = stream
                .next()
                .await
                .expect("the event stream ended")
                .expect("the event stream broke");
            buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or_else(|_| panic!("no {want} events within 5 s, got {events:?}"));
    events
}

store_test!(the_event_stream_reports_seat_changes);
async fn the_event_stream_reports_seat_changes(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let response = client.open_events(&show).await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();

    // A change in another show is not reported on this stream.
    guest.book_new(&other_show, &["A5"]).await;
    let booked = guest.book_new(&show, &["A1"]).await;
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A1", "status": "booked"})
        )]
    );

    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A2", "status": "held"})
        )]
    );

    let id = booked["id"].as_str().unwrap();
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A1", "status": "available"})
        )]
    );
}

store_test!(metrics_expose_the_required_series);
async fn metrics_expose_the_required_series(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    // Make sure a booking, a conflict and a replay happened.
    let key = new_key();
    assert_json(&guest.book(&key, &show, &["A1"]).await, 201);
    assert!(guest.book(&key, &show, &["A1"]).await.is_replay());
    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");

    assert_eq!(client.get(&format!("/v1/shows/{show}")).await.status, 200);
    assert_eq!(client.get("/no/such/path").await.status, 404);

    let answer = client.get("/metrics").await;
    assert_eq!(answer.status, 200);
    let content_type = answer.header("content-type").unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for name in [
        "boxoffice_http_requests_total",
        "boxoffice_bookings_total",
        "boxoffice_idempotent_replays_total",
        "boxoffice_conflicts_total",
        "boxoffice_mailbox_depth",
    ] {
        assert!(
            answer.text.lines().any(|l| l.starts_with(name)),
            "no {name} series in:\n{}",
            answer.text
        );
    }
    // Requests are counted by route (its pattern) and status; latency is a
    // histogram.
    let counted = |method: &str, route: &str, status: &str| {
        let series = format!(
            "boxoffice_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        );
        answer.text.lines().any(|l| l.starts_with(&series))
    };
    assert!(counted("POST", "/v1/bookings", "201"), "{}", answer.text);
    assert!(counted("POST", "/v1/bookings", "409"), "{}", answer.text);
    assert!(
        counted("GET", "/v1/shows/{show_id}", "200"),
        "{}",
        answer.text
    );
    assert!(counted("GET", "unmatched", "404"), "{}", answer.text);
    assert!(answer
        .text
        .contains("# TYPE boxoffice_http_request_duration_seconds histogram"));
    let bookings_total = client.metric("boxoffice_bookings_total").await;
    assert!(bookings_total >= 1.0);
}

#[api_test]
async fn openapi_documents_every_endpoint() {
    let server = spawn_app();
    let answer = server.client().get("/openapi.json").await;
    let doc = assert_json(&answer, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "not OpenAPI 3: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    // Parameter names may differ; compare the shapes of the paths.
    let normalise = |path: &str| {
        path.split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "{}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let documented: BTreeMap<String, &Value> =
        paths.iter().map(|(p, ops)| (normalise(p), ops)).collect();
    let endpoints = [
        ("post", "/v1/sessions"),
        ("get", "/v1/shows"),
        ("post", "/v1/shows"),
        ("get", "/v1/shows/{}"),
        ("get", "/v1/shows/{}/events"),
        ("post", "/v1/bookings"),
        ("get", "/v1/bookings"),
        ("get", "/v1/bookings/{}"),
        ("delete", "/v1/bookings/{}"),
        ("post", "/v1/carts"),
        ("get", "/v1/carts/{}"),
        ("post", "/v1/carts/{}/items"),
        ("delete", "/v1/carts/{}/items/{}/{}"),
        ("post", "/v1/carts/{}/checkout"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    for (method, path) in endpoints {
        let ops = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI paths"));
        assert!(
            ops.get(method).is_some(),
            "{} {path} is not documented",
            method.to_uppercase()
        );
    }
}

#[api_test]
async fn unknown_paths_are_404_problems() {
    let server = spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    for path in ["/v1/nothing", "/nothing", "/v2/shows", "/v1/shows/x/y/z"] {
        client.get(path).await.assert_problem(404, "not-found");
        guest.get(path).await.assert_problem(404, "not-found");
    }
}

#[api_test]
async fn healthz_answers_200() {
    let server = spawn_app();
    let answer = server.client().get("/healthz").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[api_test]
async fn every_error_carries_a_listed_problem_code() {
    let server = spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    let listed: BTreeMap<&str, u16> = [
        ("invalid-request", 400),
        ("idempotency-key-missing", 400),
        ("idempotency-key-invalid", 400),
        ("unauthorized", 401),
        ("forbidden", 403),
        ("not-found", 404),
        ("seat-unavailable", 409),
        ("hold-expired", 409),
        ("cart-closed", 409),
        ("too-many-holds", 409),
        ("request-in-progress", 409),
        ("payload-too-large", 413),
        ("idempotency-key-reused", 422),
        ("rate-limited", 429),
        ("overloaded", 503),
        // docs/API.md §1: a known path with another method answers 405 with
        // `Allow`; it names no code, and this is the one sent.
        ("method-not-allowed", 405),
    ]
    .into_iter()
    .collect();
    for (method, path) in [
        ("PUT", "/v1/bookings"),
        ("DELETE", "/v1/shows"),
        ("PATCH", "/v1/carts"),
        ("GET", "/v1/sessions"),
    ] {
        let answer = guest.send(method, path, Some(&new_key()), Some("{}")).await;
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{method} {path}"
        );
        let code = answer.code();
        let status = listed
            .get(code.as_str())
            .unwrap_or_else(|| panic!("{method} {path}: code {code:?} is not in docs/API.md"));
        assert_eq!(answer.status, *status, "{method} {path}");
    }
}

store_test!(json_arrays_are_not_objects);
async fn json_arrays_are_not_objects(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Arrays", &[("A", 3)]).await;
    let guest = client.guest().await;
    let answer = guest
        .send(
            "POST",
            "/v1/bookings",
            Some(&new_key()),
            Some(&format!(r#"["{show}",["A1"]]"#)),
        )
        .await;
    answer.assert_problem(400, "invalid-request");
    let answer = guest
        .send("POST", "/v1/carts", Some(&new_key()), Some("[]"))
        .await;
    answer.assert_problem(400, "invalid-request");
    assert_eq!(guest.seat_map(&show).await["A1"], "available");
}

#[api_test]
async fn odd_methods_do_not_grow_the_metrics() {
    let server = spawn_app();
    let client = server.client();
    for i in 0..5 {
        let answer = client
            .send(&format!("FOO{i}"), "/healthz", None, None)
            .await;
        assert!(answer.status >= 400, "{}", answer.status);
    }
    let metrics = client.get("/metrics").await.text;
    assert!(!metrics.contains("FOO"), "client methods became labels");
    assert!(metrics.contains("method=\"other\""));
}

store_test!(a_show_created_by_a_client_that_hung_up_is_listed);
/// A client that hangs up right after sending a show must still find it
/// listed once a retry with the same key has answered 201. A retry that
/// arrives while the first is still running is answered 409
/// `request-in-progress` (docs/API.md §4) and, as a client does, tries again.
async fn a_show_created_by_a_client_that_hung_up_is_listed(store: StoreKind) {
    use tokio::io::AsyncWriteExt;
    let server = store.spawn_app();
    let client = server.client();
    let addr = server.addr();
    let body = r#"{"title":"Hung up","starts_at":"2026-12-01T19:30:00Z","rows":[{"label":"A","seats":2}]}"#;
    let keys: Vec<String> = (0..20).map(|_| new_key()).collect();
    for key in &keys {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "POST /v1/shows HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        drop(stream); // hang up without reading the answer
    }
    let admin = client.admin();
    let mut ids = Vec::new();
    for key in &keys {
        let mut answer = admin.send("POST", "/v1/shows", Some(key), Some(body)).await;
        for _ in 0..500 {
            if answer.status != 409 {
                break;
            }
            answer.assert_problem(409, "request-in-progress");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            answer = admin.send("POST", "/v1/shows", Some(key), Some(body)).await;
        }
        assert_eq!(answer.status, 201, "{}", answer.text);
        ids.push(answer.json()["id"].as_str().unwrap().to_string());
    }
    let listed = client.get("/v1/shows").await.json();
    for id in ids {
        assert!(
            listed["shows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id.as_str()),
            "show {id} answered 201 but is not listed"
        );
        assert_eq!(client.get(&format!("/v1/shows/{id}")).await.status, 200);
    }
}

#[api_test]
async fn there_is_no_cluster_on_sled() {
    let server = spawn_app();
    server
        .client()
        .admin()
        .get("/v1/cluster")
        .await
        .assert_problem(404, "not-found");
}

/// One 409 is one count in `boxoffice_conflicts_total`, under the code the
/// client got: a refused booking counts once as `seat-unavailable` (not a
/// second time per seat), a checkout of a checked-out cart as
/// `cart-closed`. In a server process of its own: the counters are global.
#[api_test]
fn each_conflict_counts_once_under_its_code() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let storage = StoreKind::Sled.storage();
    let server = BinaryServer::on(&storage, &[]);
    runtime.block_on(async {
        let client = Client::new(&server.base);
        let show = client.create_show("Conflicts", &[("A", 4)]).await;
        let (first, second) = (client.guest().await, client.guest().await);
        assert_eq!(
            first.book(&new_key(), &show, &["A1", "A2"]).await.status,
            201
        );
        second
            .book(&new_key(), &show, &["A1", "A2"])
            .await
            .assert_problem(409, "seat-unavailable");
        let cart = second.new_cart().await;
        let held = second.hold(&cart, &new_key(), &show, "A3").await;
        assert_eq!(held.status, 201, "{}", held.text);
        let done = second.checkout(&cart, &new_key()).await;
        assert_eq!(done.status, 201, "{}", done.text);
        second
            .checkout(&cart, &new_key())
            .await
            .assert_problem(409, "cart-closed");

        let metrics = client.get("/metrics").await.text;
        let count = |code: &str| {
            let series = format!("boxoffice_conflicts_total{{code=\"{code}\"}} ");
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0.0, |v| v.trim().parse::<f64>().expect("a count"))
        };
        assert_eq!(count("seat-unavailable"), 1.0, "{metrics}");
        assert_eq!(count("cart-closed"), 1.0, "{metrics}");
        assert_eq!(count("seat"), 0.0, "a refusal counted per seat too");
    });
    server.stop();
}

/// SIGTERM stops the server even when nobody reads what it writes any
/// more (`boxoffice serve 2>&1 | head`, a supervisor's pipe gone): a log
/// line that cannot be written must not stop the shutdown.
#[api_test]
async fn sigterm_stops_a_server_whose_output_nobody_reads() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (_dir, data) = temp_data_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--data-dir"])
        .arg(&data)
        .current_dir(data.parent().unwrap())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start boxoffice binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on "), "{line:?}");
    // Both pipes closed: every later write fails.
    drop(child.stderr.take());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut exited = None;
    for _ in 0..1000 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        exited.is_some_and(|status| status.success()),
        "no clean exit within 20 s of SIGTERM: {exited:?}"
    );
}
