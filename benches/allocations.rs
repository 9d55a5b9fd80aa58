//! Heap allocations per request, for issue 5's "no per-request allocation
//! storms": a real server in this process (HTTP, actors, sled), a client
//! on one keep-alive connection that writes prepared requests and reads
//! answers into a fixed buffer (so it allocates nothing while measured),
//! and a counting global allocator. Counts are of the whole process, so
//! they include sled's and the flusher's threads.
//!
//! `cargo bench --bench allocations` (figures in docs/PERFORMANCE.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ADMIN: &str = "alloc-bench-admin";
const WARM_UP: usize = 200;

/// One HTTP/1.1 keep-alive connection that allocates nothing per request.
struct Connection {
    stream: TcpStream,
    buffer: Box<[u8]>,
}

impl Connection {
    fn open(addr: std::net::SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Connection {
            stream,
            buffer: vec![0; 1 << 20].into_boxed_slice(),
        }
    }

    /// Sends a prepared request; returns the status and the body.
    fn send(&mut self, request: &[u8]) -> (u16, &[u8]) {
        self.stream.write_all(request).expect("write");
        let mut filled = 0;
        let (head_end, length) = loop {
            let read = self.stream.read(&mut self.buffer[filled..]).expect("read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
            if let Some(end) = find(&self.buffer[..filled], b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end]).expect("ASCII head");
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                break (end + 4, length);
            }
        };
        while filled < head_end + length {
            let read = self.stream.read(&mut self.buffer[filled..]).expect("read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
        }
        let status = std::str::from_utf8(&self.buffer[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("status line");
        (status, &self.buffer[head_end..head_end + length])
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn post(path: &str, token: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn json_field(body: &[u8], field: &str) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    value[field].as_str().expect("string field").to_string()
}

/// Sends every request, each answered `status`; returns allocations and
/// bytes per request.
fn measure(conn: &mut Connection, requests: &[Vec<u8>], status: u16) -> (f64, f64) {
    let (allocations, bytes) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for request in requests {
        let (got, _) = conn.send(request);
        assert_eq!(got, status);
    }
    let n = requests.len() as f64;
    (
        (ALLOCATIONS.load(Ordering::Relaxed) - allocations) as f64 / n,
        (BYTES.load(Ordering::Relaxed) - bytes) as f64 / n,
    )
}

fn main() {
    // ALLOC_REQUESTS=200 for a run under `valgrind --tool=dhat`.
    let requests: usize = std::env::var("ALLOC_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
        .min(4_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = boxoffice::config::Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(ADMIN.into()),
        user_rate_limit: 0,
        demo: false,
        ..boxoffice::config::Settings::default()
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let running = boxoffice::http::start(&settings).await.expect("server");
            ready_tx.send(running.addr).unwrap();
            running.server.await.expect("server runs");
        });
    });
    let addr = ready_rx.recv().expect("server address");
    let mut conn = Connection::open(addr);

    let rows: Vec<String> = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|label| format!(r#"{{"label":"{label}","seats":999}}"#))
        .collect();
    let show_body = format!(
        r#"{{"title":"Alloc","starts_at":"2030-01-01T20:00:00Z","rows":[{}]}}"#,
        rows.join(",")
    );
    let (status, body) = conn.send(&post("/v1/shows", ADMIN, "alloc-show", &show_body));
    assert_eq!(status, 201);
    let show = json_field(body, "id");
    let (status, body) =
        conn.send(b"POST /v1/sessions HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, 201);
    let token = json_field(body, "token");

    let seats: Vec<String> = ["A", "B", "C", "D", "E"]
        .iter()
        .flat_map(|row| (1..=999).map(move |n| format!("{row}{n}")))
        .collect();
    let bookings: Vec<Vec<u8>> = seats
        .iter()
        .take(WARM_UP + requests)
        .enumerate()
        .map(|(i, seat)| {
            let body = format!(r#"{{"show_id":"{show}","seats":["{seat}"]}}"#);
            post("/v1/bookings", &token, &format!("alloc-{i}"), &body)
        })
        .collect();
    let (warm_up, bookings) = bookings.split_at(WARM_UP);
    let replays: Vec<Vec<u8>> = (0..requests).map(|_| bookings[0].clone()).collect();
    let healthz: Vec<Vec<u8>> = (0..requests)
        .map(|_| b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec())
        .collect();

    measure(&mut conn, warm_up, 201);
    let (health_allocs, health_bytes) = measure(&mut conn, &healthz, 200);
    let (booking_allocs, booking_bytes) = measure(&mut conn, bookings, 201);
    let (replay_allocs, replay_bytes) = measure(&mut conn, &replays, 201);
    println!(
        "heap allocations per request ({requests} requests each, one connection, whole process):"
    );
    println!("  GET /healthz             {health_allocs:7.1} allocations {health_bytes:9.0} bytes");
    println!(
        "  POST /v1/bookings        {booking_allocs:7.1} allocations {booking_bytes:9.0} bytes"
    );
    println!("  replayed booking         {replay_allocs:7.1} allocations {replay_bytes:9.0} bytes");
}
