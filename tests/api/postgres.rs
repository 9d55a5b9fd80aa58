//! What only the PostgreSQL store can meet (issue 13, "How it must fail"):
//! the database stopped and started again under load, a connection pool
//! with no connection to spare, and two servers migrating one database at
//! the same moment. (Every other test that concerns the store runs on
//! both stores: `store_test!`.)

use crate::helpers::*;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ------------------------------------------------------------ the load

const ROWS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];
const ROW_SEATS: u32 = 30;

/// One attempt of a keyed request: when it was sent and answered, and
/// the answer (`None`: no answer arrived).
#[derive(Clone, Debug)]
struct Attempt {
    sent: Instant,
    answered: Instant,
    answer: Option<Answer>,
}

/// One keyed booking and every attempt of it, in order.
#[derive(Clone, Debug)]
struct Keyed {
    user: usize,
    seats: BTreeSet<String>,
    request: Request,
    attempts: Vec<Attempt>,
}

impl Keyed {
    /// Its first answer that settled it (anything but a 503 or a 409
    /// `request-in-progress`, which say: nothing happened, try again).
    fn settled(&self) -> Option<&Answer> {
        self.attempts
            .iter()
            .filter_map(|a| a.answer.as_ref())
            .find(|a| !retry_later(a))
    }
}

impl Keyed {
    /// Its attempts, for a failure message: status (or `-` for no answer)
    /// and when, relative to the first.
    fn history(&self) -> String {
        let start = self.attempts[0].sent;
        self.attempts
            .iter()
            .map(|a| {
                let status = a.answer.as_ref().map_or("-".to_string(), |a| {
                    format!("{}{}", a.status, if a.is_replay() { " replay" } else { "" })
                });
                format!(
                    "{status} sent +{:?} answered +{:?}",
                    a.sent - start,
                    a.answered - start
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// An answer that asks the client to try the same key again.
fn retry_later(answer: &Answer) -> bool {
    answer.status == 503 || (answer.status == 409 && answer.code() == "request-in-progress")
}

/// Sends `keyed` once more; whether that settled it.
async fn attempt(client: &Client, keyed: &mut Keyed) -> bool {
    let sent = Instant::now();
    let answer = client.try_request(&keyed.request).await;
    let settled = answer.as_ref().is_some_and(|a| !retry_later(a));
    keyed.attempts.push(Attempt {
        sent,
        answered: Instant::now(),
        answer,
    });
    settled
}

/// One client: books random runs of 1-2 adjacent seats, one key at a time,
/// each retried until settled, until `stop`.
async fn load_client(
    client: Client,
    user: usize,
    show: String,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) -> Vec<Keyed> {
    let mut rng = StdRng::from_entropy();
    let mut sent = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let row = ROWS[rng.gen_range(0..ROWS.len())];
        let count = rng.gen_range(1..=2u32);
        let start = rng.gen_range(1..=ROW_SEATS - count + 1);
        let seats: Vec<String> = (start..start + count)
            .map(|n| format!("{row}{n}"))
            .collect();
        let request = Request::post("/v1/bookings", &json!({"show_id": show, "seats": seats}));
        let mut keyed = Keyed {
            user,
            seats: seats.into_iter().collect(),
            request,
            attempts: Vec::new(),
        };
        // Until settled, 20 ms apart (a client honouring Retry-After would
        // wait longer; the test wants many attempts during the outage).
        while !attempt(&client, &mut keyed).await && !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if keyed.settled().is_some() {
            answered.fetch_add(1, Ordering::SeqCst);
        }
        sent.push(keyed);
    }
    sent
}

/// Every answer of the load is a booking (201), a refusal (409
/// `seat-unavailable`), or 503 `overloaded` with a Retry-After (or, for a
/// key still running from an earlier attempt, 409 `request-in-progress`):
/// never a 500. Returns how many were 503.
fn check_answers(sent: &[Keyed]) -> usize {
    let mut overloaded = 0;
    for keyed in sent {
        for answer in keyed.attempts.iter().filter_map(|a| a.answer.as_ref()) {
            match answer.status {
                201 => assert_eq!(seat_set(&answer.json()["seats"]), keyed.seats),
                409 if retry_later(answer) => {}
                409 => answer.assert_problem(409, "seat-unavailable"),
                503 => {
                    answer.assert_problem(503, "overloaded");
                    let after = answer.header("retry-after");
                    assert!(
                        after.as_deref().is_some_and(|s| s.parse::<u64>().is_ok()),
                        "503 without a Retry-After in seconds: {:?}",
                        answer.headers
                    );
                    overloaded += 1;
                }
                other => panic!("answered {other}: {}", answer.text),
            }
        }
    }
    overloaded
}

/// Retries every key the load left unsettled until it is settled (at most
/// 20 s): with the store back it finishes.
async fn settle_all(base: &str, tokens: &[String], sent: &mut [Keyed]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for keyed in sent.iter_mut().filter(|k| k.settled().is_none()) {
        let client = Client::on(base, &tokens[keyed.user]);
        while !attempt(&client, keyed).await {
            assert!(Instant::now() < deadline, "a key never settled: {keyed:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What must hold of the settled load on the server at `base`: each key
/// replays its settling answer byte for byte (so a retry after a 503 ran
/// once); each user's bookings are exactly the keys answered 201, unchanged
/// (nothing acknowledged lost, nothing unacknowledged made); no seat is in
/// two bookings, and the seat map shows exactly the booked seats.
async fn check_settled(base: &str, tokens: &[String], show: &str, sent: &[Keyed], when: &str) {
    let clients: Vec<Client> = tokens.iter().map(|t| Client::on(base, t)).collect();
    let replays = clients.iter().enumerate().map(|(user, client)| {
        let mine: Vec<&Keyed> = sent.iter().filter(|k| k.user == user).collect();
        async move {
            for keyed in mine {
                let first = keyed.settled().expect("settled");
                let again = client.request(&keyed.request).await;
                let key = keyed.request.key.as_deref().unwrap();
                let what = format!("{when}: key {key} (attempts: {})", keyed.history());
                assert_replay(first, &again, &what);
            }
        }
    });
    join_all(replays).await;

    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (user, client) in clients.iter().enumerate() {
        let acknowledged: BTreeMap<String, Value> = sent
            .iter()
            .filter(|k| k.user == user)
            .filter_map(|k| k.settled().filter(|a| a.status == 201))
            .map(|a| (a.id(), a.json()))
            .collect();
        let listed: BTreeMap<String, Value> = client
            .bookings()
            .await
            .into_iter()
            .map(|b| (b["id"].as_str().unwrap().to_string(), b))
            .collect();
        assert_eq!(
            listed.keys().collect::<Vec<_>>(),
            acknowledged.keys().collect::<Vec<_>>(),
            "{when}: user {user}'s bookings are not the ones acknowledged"
        );
        for (id, body) in &acknowledged {
            assert_eq!(&listed[id], body, "{when}: booking {id} changed");
            for seat in seat_set(&body["seats"]) {
                if let Some(other) = owner.insert(seat.clone(), id.clone()) {
                    panic!("{when}: seat {seat} is in bookings {other} and {id}");
                }
            }
        }
    }
    let booked: BTreeSet<String> = owner.keys().cloned().collect();
    assert_map(&clients[0], show, &BTreeSet::new(), &booked, when).await;
}

// ------------------------------------------------------------ the outage

const CLIENTS: usize = 8;
/// Settled keys before PostgreSQL is stopped.
const ANSWERS_BEFORE_STOP: usize = 60;
const OUTAGE: Duration = Duration::from_millis(1_500);
/// Keys settled after PostgreSQL is back, before the load ends.
const ANSWERS_AFTER_START: usize = 60;

/// PostgreSQL stopped (`pg_ctl -m immediate`) under load from eight
/// clients, kept down while they keep sending, then started again: every
/// request sent while it is down is answered 503 `overloaded` with a
/// Retry-After; no answer is a 500; the same boxoffice process serves
/// again once it is back; and then (and again after a `kill -9` and a
/// restart) every acknowledged booking and key is there, every retried key
/// ran once, and no seat is in two bookings.
///
/// Known to fail often (5 runs of 20 alone, 3 of 3 in the full suite, on
/// two cores): an acknowledged booking is not in the database, until the
/// committer stops resolving a COMMIT cut off by the crash through
/// `pg_xact_status(xid)` alone: PostgreSQL hands that xid out again after
/// crash recovery when its WAL was lost, so another transaction's commit
/// reads as this one's.
#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn postgres_stopped_under_load_answers_503_and_recovers_without_a_restart() {
    let database = PgServer::start();
    let storage = Storage::on(&database);
    let mut server = BinaryServer::on(&storage, &[]);
    let rows: Vec<(&str, u32)> = ROWS.iter().map(|r| (*r, ROW_SEATS)).collect();
    let show = server.client().create_show("Outage", &rows).await;
    // The load's clients, and one more that starts once PostgreSQL is
    // down: every load client may be waiting on a commit round whose COMMIT
    // the stop cut off (one round holds all their writes), and such a round
    // can only be resolved once the database is back (committer.rs), so
    // they may send nothing during the outage; the late client does.
    let mut tokens = Vec::new();
    for _ in 0..=CLIENTS {
        tokens.push(server.client().guest().await.token());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<_> = tokens[..CLIENTS]
        .iter()
        .enumerate()
        .map(|(user, token)| {
            let load = load_client(
                server.as_user(token),
                user,
                show.clone(),
                stop.clone(),
                answered.clone(),
            );
            tokio::spawn(load)
        })
        .collect();
    let wait_for = |count: usize, what: &'static str| {
        let answered = answered.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while answered.load(Ordering::SeqCst) < count {
                assert!(Instant::now() < deadline, "{what}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(ANSWERS_BEFORE_STOP, "the load never got going").await;

    tokio::task::block_in_place(|| database.stop_immediately());
    let stopped = Instant::now();
    let before_outage = answered.load(Ordering::SeqCst);
    tasks.push(tokio::spawn(load_client(
        server.as_user(&tokens[CLIENTS]),
        CLIENTS,
        show.clone(),
        stop.clone(),
        answered.clone(),
    )));
    tokio::time::sleep(OUTAGE).await;
    let restarting = Instant::now();
    // (Only requests in flight at the stop can settle now.)
    let during_outage = answered.load(Ordering::SeqCst) - before_outage;
    tokio::task::block_in_place(|| database.start_again());
    let started = Instant::now();
    let back = answered.load(Ordering::SeqCst);
    wait_for(
        back + ANSWERS_AFTER_START,
        "the server did not serve again after PostgreSQL came back",
    )
    .await;
    let recovered_in = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut sent: Vec<Keyed> = Vec::new();
    for task in tasks {
        sent.extend(task.await.expect("a load client panicked"));
    }

    let overloaded = check_answers(&sent);
    // Every request sent and answered while PostgreSQL was down: 503.
    let outage: Vec<&Answer> = sent
        .iter()
        .flat_map(|k| &k.attempts)
        .filter(|a| a.sent >= stopped && a.answered <= restarting)
        .map(|a| a.answer.as_ref().expect("answered during the outage"))
        .collect();
    for answer in &outage {
        answer.assert_problem(503, "overloaded");
    }
    assert!(
        outage.len() >= CLIENTS,
        "only {} requests were sent and answered during the outage",
        outage.len()
    );
    assert!(
        server.child.try_wait().expect("poll").is_none(),
        "boxoffice exited"
    );
    eprintln!(
        "outage: {} keys, {overloaded} answers 503 ({} to requests sent during the \
         {OUTAGE:?} outage; {during_outage} keys in flight at the stop settled in it); \
         {ANSWERS_AFTER_START} keys settled {recovered_in:?} after PostgreSQL was back",
        sent.len(),
        outage.len()
    );

    settle_all(&server.base, &tokens, &mut sent).await;
    check_settled(&server.base, &tokens, &show, &sent, "after the outage").await;
    // And it is all in the database, not only in the engine's memory.
    server.kill9();
    let server = BinaryServer::on(&storage, &[]);
    check_settled(&server.base, &tokens, &show, &sent, "after a restart").await;
    server.stop();
}

// ------------------------------------------------------------ the pool

/// Thirty-two users at once, each booking four seats of their own and
/// listing their bookings, against a pool of two connections that waits
/// 5 ms for one: some requests are answered 503 `overloaded` with a
/// Retry-After, promptly (no request waits in an unbounded queue), none
/// 500; every request is answered; retried, every refused booking is made
/// once.
#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn an_exhausted_connection_pool_answers_503_at_once() {
    const USERS: usize = 32;
    const SEATS_EACH: usize = 4;
    let server = StoreKind::Postgres.spawn_app_with(|s| {
        s.postgres_pool_size = 2;
        s.postgres_committers = 1;
        s.postgres_pool_wait_ms = 5;
    });
    let client = server.client();
    let show = client.create_show("Pool", &[("A", 64), ("B", 64)]).await;
    let mut users = Vec::new();
    for _ in 0..USERS {
        users.push(client.guest().await);
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(USERS));
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(u, user)| {
            let (user, show, barrier) = (user.clone(), show.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let requests = (0..SEATS_EACH).map(|n| {
                    let seat = format!(
                        "{}{}",
                        if u % 2 == 0 { "A" } else { "B" },
                        u / 2 * SEATS_EACH + n + 1
                    );
                    Request::post("/v1/bookings", &booking_body(&show, &[&seat]))
                });
                let bookings = join_all(requests.map(|request| {
                    let user = user.clone();
                    async move {
                        let started = Instant::now();
                        let answer = user.try_request(&request).await;
                        (request, answer, started.elapsed())
                    }
                }));
                let list = async {
                    let started = Instant::now();
                    let answer = user.try_send("GET", "/v1/bookings", None, None).await;
                    (answer, started.elapsed())
                };
                tokio::join!(bookings, list)
            })
        })
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    let mut to_retry: Vec<(usize, Request)> = Vec::new();
    let mut booked: Vec<BTreeSet<String>> = vec![BTreeSet::new(); USERS];
    for (u, task) in tasks.into_iter().enumerate() {
        let (bookings, list) = task.await.expect("a user's task");
        let mut answers = vec![(list.0, list.1)];
        for (request, answer, took) in bookings {
            match answer.as_ref().map(|a| a.status) {
                Some(201) => {
                    booked[u].insert(answer.as_ref().unwrap().id());
                }
                Some(503) => to_retry.push((u, request)),
                _ => {}
            }
            answers.push((answer, took));
        }
        for (answer, took) in answers {
            let answer = answer.expect("every request is answered");
            slowest = slowest.max(took);
            *statuses.entry(answer.status).or_default() += 1;
            match answer.status {
                200 | 201 => {}
                503 => {
                    answer.assert_problem(503, "overloaded");
                    let after = answer.header("retry-after");
                    assert!(
                        after.as_deref().is_some_and(|s| s.parse::<u64>().is_ok()),
                        "503 without a Retry-After in seconds: {:?}",
                        answer.headers
                    );
                }
                other => panic!("answered {other}: {}", answer.text),
            }
        }
    }
    eprintln!("pool of 2: answers by status {statuses:?}, slowest {slowest:?}");
    assert!(
        statuses.get(&503).is_some_and(|n| *n > 0),
        "the exhausted pool never answered 503: {statuses:?}"
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a request waited {slowest:?} for a pool that waits 5 ms"
    );

    // Retried once the burst is over, each refused booking is made once.
    for (u, request) in to_retry {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = users[u].request(&request).await;
            if answer.status == 201 {
                booked[u].insert(answer.id());
                break;
            }
            answer.assert_problem(503, "overloaded");
            assert!(Instant::now() < deadline, "a booking never got through");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for (u, user) in users.iter().enumerate() {
        let listed: BTreeSet<String> = user
            .bookings()
            .await
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, booked[u], "user {u}'s bookings");
        assert_eq!(listed.len(), SEATS_EACH);
    }
}

// ------------------------------------------------------------ migrations

/// Each schema version and how often `schema_migrations` has it, with when
/// it was applied.
async fn applied_versions(url: &str) -> Vec<(i32, i64, String)> {
    let db = postgres::connect(url).await.expect("connect");
    db.query(
        "SELECT version, count(*), max(applied_at)::text FROM schema_migrations \
         GROUP BY version ORDER BY version",
        &[],
    )
    .await
    .expect("read schema_migrations")
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect()
}

/// Two servers started at the same moment on one fresh database both
/// serve, and the schema is migrated once (every version recorded once); a
/// third start on the migrated database applies nothing again.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn servers_starting_together_migrate_the_database_once() {
    let storage = Arc::new(StoreKind::Postgres.storage());
    let starts: Vec<_> = ["node-a", "node-b"]
        .into_iter()
        .map(|node| {
            let storage = storage.clone();
            tokio::task::spawn_blocking(move || {
                BinaryServer::on(&storage, &[("BOXOFFICE_NODE_ID", node)])
            })
        })
        .collect();
    let mut servers = Vec::new();
    for start in starts {
        servers.push(start.await.expect("a server starts"));
    }
    // Both serve. Each holds the partitions it claimed at start, and no
    // partition has two owners; a write to a show whose partition the
    // other node holds is forwarded to it, or 503 (no effect) while the
    // owner's address is not yet known.
    for server in &servers {
        let show = server.client().create_show("Two nodes", &[("A", 2)]).await;
        let guest = server.client().guest().await;
        let answer = guest.book(&new_key(), &show, &["A1"]).await;
        match answer.status {
            201 => {}
            503 => answer.assert_problem(503, "overloaded"),
            _ => panic!("{}: {}", answer.status, answer.text),
        }
    }
    let url = storage.database_url().expect("a database");
    let db = postgres::connect(url).await.expect("connect");
    let owners: Vec<(Option<String>, i64)> = db
        .query(
            "SELECT owner, count(*) FROM partitions GROUP BY owner ORDER BY owner",
            &[],
        )
        .await
        .expect("read the leases")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let total: i64 = owners.iter().map(|(_, count)| count).sum();
    assert_eq!(total, 256, "{owners:?}");
    for (owner, _) in &owners {
        assert!(
            matches!(owner.as_deref(), Some("node-a" | "node-b")),
            "every partition is held by one of the two: {owners:?}"
        );
    }
    let url = storage.database_url().expect("a database");
    let applied = applied_versions(url).await;
    let versions: Vec<i32> = applied.iter().map(|(v, _, _)| *v).collect();
    let expected: Vec<i32> = boxoffice::store::postgres::migrations::MIGRATIONS
        .iter()
        .map(|(v, _, _)| *v)
        .collect();
    assert_eq!(versions, expected, "the versions recorded");
    for (version, count, _) in &applied {
        assert_eq!(*count, 1, "version {version} recorded {count} times");
    }
    for server in servers {
        server.stop();
    }

    let server = BinaryServer::on(&storage, &[]);
    assert_eq!(applied_versions(url).await, applied, "migrated again");
    server.stop();
}

// ------------------------------------------------------------ no database

/// `boxoffice serve` whose database cannot be reached exits 1 with the
/// reason, not a panic. (Needs no PostgreSQL: nothing listens on the port.)
#[api_test]
fn a_server_whose_database_is_unreachable_exits_with_the_reason() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (_parent, data) = temp_data_dir();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--data-dir"])
        .arg(&data)
        .env(
            "BOXOFFICE_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/none"),
        )
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run boxoffice");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("boxoffice: ") && stderr.contains("error connecting to server"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it listened: {:?}", output.stdout);
}

// ------------------------------------------------------------ tokens

/// As on sled (`abuse::tokens_are_stored_only_as_hashes`, which reads
/// sled's files): no row of any table holds a session's bearer token, as
/// text or as the bytes of a `bytea` (rendered in hex).
#[api_test(needs = "postgres")]
async fn tokens_are_stored_only_as_hashes_in_postgres() {
    let storage = StoreKind::Postgres.storage();
    let server = BinaryServer::on(&storage, &[]);
    let show = server.client().create_show("Tokens", &[("A", 2)]).await;
    let guest = server.client().guest().await;
    let token = guest.token();
    assert_eq!(guest.book(&new_key(), &show, &["A1"]).await.status, 201);
    assert!(server.terminate().success());

    let db = postgres::connect(storage.database_url().unwrap())
        .await
        .expect("connect");
    let tables = db
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .expect("list tables");
    let as_bytes = hex::encode(token.as_bytes());
    let mut scanned = 0;
    for table in tables.iter().map(|row| row.get::<_, String>(0)) {
        let rows = db
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .await
            .expect("read a table");
        for row in rows.iter().map(|row| row.get::<_, String>(0)) {
            scanned += 1;
            assert!(
                !row.contains(&token) && !row.contains(&as_bytes),
                "table {table} holds the plaintext token: {row}"
            );
        }
    }
    assert!(scanned >= 4, "only {scanned} rows were scanned");
}
