//! What only the PostgreSQL store can meet (issue 13, "How it must fail"):
//! the database stopped and started again under load, a connection pool
//! with no connection to spare, and two servers migrating one database at
//! the same moment. (Every other test that concerns the store runs on
//! both stores: `store_test!`.)

use crate::helpers::*;
use boxoffice::store::StoreError;
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
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
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
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
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
#[test]
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
#[tokio::test]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
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

/// The fence (CLUSTER.md): a node whose partition was claimed by another
/// node (here the claim is made in SQL, as another node's would be, while
/// this one still believes it holds the lease: a paused or cut-off owner)
/// writes nothing for that partition: the write set gets 503 material
/// (`Unavailable`), neither its records nor its key record are written,
/// the fenced counter rises and the node forgets the partition. Writes
/// for partitions it still holds go through in the same round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_stale_owner_is_fenced_and_writes_nothing() {
    let run = stale_owner_writes(true).await;
    assert!(
        matches!(run.stale, Err(StoreError::Unavailable(_))),
        "the stale write was not refused: {:?}",
        run.stale
    );
    assert!(run.fresh.is_ok(), "{:?}", run.fresh);
    assert_eq!(run.stale_seats, 0, "the fenced seat was written");
    assert_eq!(
        run.keys,
        ["fresh"],
        "only the write that passed keeps its key"
    );
    assert!(run.fenced >= 1);
    assert!(!run.holds_lost, "the fenced partition is still held");
    assert!(run.holds_kept);
}

/// The same with the fence turned off (`unsafe_no_fence`, the setting the
/// fault runs use to show they can fail): the stale owner writes the seat
/// the new owner now decides about. So the fence, not the node's belief,
/// is what refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn without_the_fence_a_stale_owner_writes() {
    let run = stale_owner_writes(false).await;
    assert!(run.stale.is_ok(), "{:?}", run.stale);
    assert!(run.fresh.is_ok(), "{:?}", run.fresh);
    assert_eq!(run.stale_seats, 1, "the unfenced stale write is applied");
    assert_eq!(run.keys, ["fresh", "stale"]);
    assert_eq!(run.fenced, 0);
}

/// A write whose records name no show but that was decided on a show's
/// seat state (a release emptying a cart: the cart record, no seat, when
/// the stale seat said "not held") carries that show in its fence and is
/// refused once another node holds the show. Seen in a cluster cut run
/// (SEED=2): a release answered 204 by the old owner left the seat held.
/// Fails with the fence taken from the records alone (the write lands).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_stale_owner_cannot_empty_a_cart_of_a_show_it_lost() {
    use boxoffice::domain::{Cart, CartId, ShowId, UserId};
    use boxoffice::store::postgres::leases::partition_of;
    use boxoffice::store::{Mutation, PgOptions, PgStore, Store, WriteSet};
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().expect("a database").to_string();
    let options = PgOptions {
        node_id: Some("node-a".into()),
        ..PgOptions::default()
    };
    let store = PgStore::connect(&url, options).await.expect("connects");
    let show = ShowId(uuid::Uuid::new_v4());
    let epoch = store
        .leases()
        .epoch_of(partition_of(show))
        .expect("alone, it holds every partition");
    let db = postgres::connect(&url).await.expect("connect");
    node_b_claims(&db, partition_of(show)).await;
    let emptied = Cart::new(
        CartId(uuid::Uuid::new_v4()),
        UserId(uuid::Uuid::new_v4()),
        1,
    );
    let answer = store
        .submit(WriteSet {
            key: None,
            mutations: vec![Mutation::Cart(emptied.clone())],
            fence: Some((show, epoch)),
        })
        .await;
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "the stale release was not refused: {answer:?}"
    );
    assert!(
        store.load_cart(emptied.id).await.unwrap().is_none(),
        "the cart was written"
    );
}

/// A node that lost a show's partition and has not heard yet (its lease
/// renews only every 20 s here) answers from stale state at most what the
/// fence lets through: a repeated release (a no-op, the item is not in its
/// copy of the cart) and a refusal it would store under the key (the seat
/// held in its copy) are both checked against the lease like any write, and
/// answer 503 with nothing stored. Fails with the no-op's 204 and the
/// refusal's stored 409 answered without asking the fence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_stale_owner_answers_no_op_and_refusal_only_through_the_fence() {
    use boxoffice::domain::ShowId;
    use boxoffice::store::postgres::leases::partition_of;
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().expect("a database").to_string();
    let a = BinaryServer::on(
        &storage,
        &[
            ("BOXOFFICE_NODE_ID", "node-a"),
            ("BOXOFFICE_LEASE_MS", "60000"),
        ],
    );
    let partition = |show: &str| partition_of(ShowId(uuid::Uuid::parse_str(show).unwrap()));
    let released = a.client().create_show("Released", &[("A", 4)]).await;
    let refused = loop {
        let show = a.client().create_show("Refused", &[("A", 4)]).await;
        if partition(&show) != partition(&released) {
            break show;
        }
    };
    let guest = a.client().guest().await;
    let first = guest.new_cart().await;
    guest.hold_new(&first, &released, "A1").await;
    let second = guest.new_cart().await;
    guest.hold_new(&second, &refused, "A1").await;
    let third = guest.new_cart().await;
    guest.hold_new(&third, &refused, "A2").await;

    let db = postgres::connect(&url).await.expect("connect");
    for show in [&released, &refused] {
        node_b_claims(&db, partition(show)).await;
    }

    // A2 is not in the first cart: a no-op, if a still served the show.
    let release = guest.release(&first, &released, "A2").await;
    release.assert_problem(503, "overloaded");
    // A1 is held by the second cart in a's copy: a refusal, if a still
    // served the show; it must not be the key's answer for good.
    let key = new_key();
    let hold = guest.hold(&third, &key, &refused, "A1").await;
    hold.assert_problem(503, "overloaded");
    let stored: i64 = db
        .query_one(
            "SELECT count(*) FROM idempotency_keys WHERE key = $1",
            &[&key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "the stale refusal was stored under the key");
    assert!(a.client().metric("boxoffice_cluster_fenced_total").await >= 2.0);
    a.stop();
}

/// Node b claims `partition` behind its owner's back (epoch raised, leased
/// for an hour), as a takeover the owner has not heard of yet.
async fn node_b_claims(db: &tokio_postgres::Client, partition: i32) {
    db.execute(
        "UPDATE partitions SET owner = 'node-b', epoch = epoch + 1,
             lapse_at = now() + interval '1 hour' WHERE id = $1",
        &[&partition],
    )
    .await
    .expect("node b claims the partition");
}

/// What a node that lost one of two partitions (to node b, behind its
/// back) wrote when it submitted a write for each at once.
struct StaleRun {
    stale: Result<(), StoreError>,
    fresh: Result<(), StoreError>,
    /// Seat records of the lost partition's show in the database.
    stale_seats: i64,
    /// Keys in the database.
    keys: Vec<String>,
    fenced: u64,
    holds_lost: bool,
    holds_kept: bool,
}

async fn stale_owner_writes(fence: bool) -> StaleRun {
    use boxoffice::domain::{
        Fingerprint, IdempotencyKey, SeatState, ShowId, StoredBody, StoredReply, UserId,
    };
    use boxoffice::store::postgres::leases::partition_of;
    use boxoffice::store::{KeyRecord, Mutation, PgOptions, PgStore, Store, WriteSet};
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().expect("a database").to_string();
    let options = PgOptions {
        node_id: Some("node-a".into()),
        fence,
        ..PgOptions::default()
    };
    let store = PgStore::connect(&url, options).await.expect("connects");
    assert_eq!(
        store.leases().held().len(),
        256,
        "alone, it claims them all"
    );

    // Two shows in different partitions; the second is taken over.
    let mut shows = (0..).map(|_| ShowId(uuid::Uuid::new_v4()));
    let kept = shows.next().unwrap();
    let lost = shows
        .find(|show| partition_of(*show) != partition_of(kept))
        .unwrap();
    let db = postgres::connect(&url).await.expect("connect");
    node_b_claims(&db, partition_of(lost)).await;

    let user = UserId(uuid::Uuid::new_v4());
    let write = |show: ShowId, key: &str| WriteSet {
        key: Some(KeyRecord {
            user,
            key: IdempotencyKey::parse(key.as_bytes()).expect("a key"),
            reply: StoredReply {
                fingerprint: Fingerprint([7; 32]),
                status: 201,
                body: StoredBody::Bytes(bytes::Bytes::from_static(b"{}")),
                created_at_ms: 1,
                line: None,
            },
        }),
        mutations: vec![Mutation::Seat {
            show,
            index: 0,
            state: SeatState::Booked {
                booking: boxoffice::domain::BookingId(uuid::Uuid::new_v4()),
            },
        }],
        fence: None,
    };
    let (stale, fresh) = tokio::join!(
        store.submit(write(lost, "stale")),
        store.submit(write(kept, "fresh"))
    );
    let stale_seats: i64 = db
        .query_one("SELECT count(*) FROM seats WHERE show_id = $1", &[&lost.0])
        .await
        .unwrap()
        .get(0);
    let keys: Vec<String> = db
        .query("SELECT key FROM idempotency_keys ORDER BY key", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    StaleRun {
        stale: stale.map(|_| ()),
        fresh: fresh.map(|_| ()),
        stale_seats,
        keys,
        fenced: store.leases().fenced.load(Ordering::Relaxed),
        holds_lost: store.leases().epoch_of(partition_of(lost)).is_some(),
        holds_kept: store.leases().epoch_of(partition_of(kept)).is_some(),
    }
}

/// `GET /v1/cluster` (admin): this node, its heartbeat, and the 256
/// partition leases, all held by the only node; `?show_id=` answers that
/// show's partition and owner. Guests are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn the_cluster_view_lists_the_node_and_its_leases() {
    let storage = StoreKind::Postgres.storage();
    let node = storage.node_id.clone();
    let server = spawn_app_on(storage, |_| {});
    let client = server.client();
    let show = client.create_show("Leases", &[("A", 2)]).await;
    let cluster = assert_json(&client.admin().get("/v1/cluster").await, 200);
    assert_eq!(cluster["node"], node.as_str());
    let nodes = cluster["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["id"] == node.as_str()), "{nodes:?}");
    let partitions = cluster["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 256);
    assert!(partitions
        .iter()
        .all(|p| p["owner"] == node.as_str() && p["epoch"].as_i64() >= Some(1)));
    let one = assert_json(
        &client
            .admin()
            .get(&format!("/v1/cluster?show_id={show}"))
            .await,
        200,
    );
    assert_eq!(one["owner"], node.as_str());
    let partition = one["partition"].as_i64().unwrap();
    assert!((0..256).contains(&partition), "{one}");
    let guest = client.guest().await;
    guest
        .get("/v1/cluster")
        .await
        .assert_problem(403, "forbidden");
    client
        .admin()
        .get("/v1/cluster?show_id=nonsense")
        .await
        .assert_problem(400, "invalid-request");
}

/// A takeover (CLUSTER.md): two nodes with 128 partitions each; a show
/// owned by a is read on b (so b holds a copy), and a seat booked on a,
/// which b's copy does not know; a is killed (-9). Within a few leases b
/// claims a's partitions, reloads the show from the database and serves
/// it: a new booking succeeds on b, the seat a sold is still sold (409,
/// never a second buyer), and a's answer replays from b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_node_takes_over_the_partitions_of_a_dead_one() {
    let storage = StoreKind::Postgres.storage();
    let TwoNodes { a, b, b_id, show } = two_nodes(&storage, &[("A", 3)]).await;
    // b loads the show too (not its partition: the map comes from a),
    // with its state before a sells A1: stale once a does.
    let before = b.client().seat_map(&show).await;
    assert_eq!(seats_with(&before, "available").len(), 3);
    let guest = a.client().guest().await;
    let token = guest.token();
    let first_key = new_key();
    let first = guest.book(&first_key, &show, &["A1"]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // A cart made on b (a cart of no show yet: any node writes it), so b
    // keeps it in memory; then a seat held in it through a, the owner.
    let cart = b.as_user(&token).new_cart().await;
    guest.hold_new(&cart, &show, "A3").await;
    a.kill9();

    // b serves the show once it has taken the partition over (a failure
    // detector bounds the wait: 3 x lease_ms is the contract, 20 s here).
    let guest = b.as_user(&token);
    let key = new_key();
    let started = Instant::now();
    let second = loop {
        let answer = guest.book(&key, &show, &["A2"]).await;
        if answer.status == 201 {
            break answer;
        }
        assert!(
            matches!(answer.status, 503 | 404),
            "{}: {}",
            answer.status,
            answer.text
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "b never took the show over: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(second.json()["seats"], json!(["A2"]));
    // The seat a sold stays sold, and a's answer replays from b.
    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");
    let again = guest.book(&first_key, &show, &["A1"]).await;
    assert_replay(&first, &again, "a's booking, replayed by b");
    let map = b.client().seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), set(&["A1", "A2"]));
    assert_eq!(seats_with(&map, "held"), set(&["A3"]));
    // b's copy of the cart predates the hold: b reads it again before
    // checking it out (else: 400, an empty cart).
    let checked_out = guest.checkout(&cart, &new_key()).await;
    assert_eq!(checked_out.status, 201, "{}", checked_out.text);
    assert_eq!(checked_out.json()["seats"], json!(["A3"]));
    let cluster = assert_json(&b.client().admin().get("/v1/cluster").await, 200);
    let owners: BTreeSet<&str> = cluster["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["owner"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(owners, BTreeSet::from([b_id]), "{cluster}");
    assert!(b.client().metric("boxoffice_cluster_takeovers_total").await >= 256.0);
    b.stop();
}

/// A lapsed lease is adopted whatever the even share says: a node died
/// holding every partition (as one can while a rebalance is under way),
/// and a survivor that counts three live nodes (a share of 86) claims all
/// 256 at once. With claims capped at the share, the rest would wait for a
/// survivor to hand some over and claim again, and a show among them
/// would not be served within 3 x lease_ms (seen in the pause-in-commit
/// fault runs: "not served again").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_survivor_adopts_every_lapsed_partition_whatever_its_share() {
    use boxoffice::store::postgres::leases::{self, Leases};
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().unwrap().to_string();
    let dead = BinaryServer::on(
        &storage,
        &[("BOXOFFICE_NODE_ID", "dead"), ("BOXOFFICE_LEASE_MS", "600")],
    );
    let cluster = assert_json(&dead.client().admin().get("/v1/cluster").await, 200);
    let owners: BTreeSet<&str> = cluster["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["owner"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(owners, BTreeSet::from(["dead"]), "{cluster}");
    dead.kill9();

    let db = crate::helpers::postgres::connect(&url).await.unwrap();
    let started = Instant::now();
    loop {
        let live: i64 = db
            .query_one(
                "SELECT count(*) FROM partitions WHERE lapse_at >= now()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if live == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "leases never lapsed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config: tokio_postgres::Config = url.parse().unwrap();
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .unwrap();
    let (survivor, _events) = Leases::new("survivor".into(), "http://127.0.0.1:9".into(), 600);
    let claimed = leases::claim(&pool, &survivor, 3).await.unwrap();
    assert_eq!(
        claimed.len(),
        256,
        "adopted {} of 256 lapsed partitions",
        claimed.len()
    );
    let owners: Vec<String> = db
        .query("SELECT DISTINCT owner FROM partitions", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(owners, vec!["survivor".to_string()]);
}

/// Any node answers (CLUSTER.md): two nodes with 128 partitions each.
/// Writes sent to b for a's shows are forwarded to a with the
/// client's headers, and a's answers come back as they are: a booking, its
/// replay (from b and from a, the same bytes), a conflict, a cart's hold,
/// its checkout, and a cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_write_sent_to_another_node_is_answered_by_the_owner() {
    let storage = StoreKind::Postgres.storage();
    let TwoNodes { a, b, show, .. } = two_nodes(&storage, &[("A", 4)]).await;
    let on_b = b.client().guest().await;
    let on_a = a.as_user(&on_b.token());
    // The show's live events, asked of b, come from a.
    let events = b.client().open_events(&show).await;
    assert_eq!(events.status().as_u16(), 200);
    let mut events = events.bytes_stream();
    let mut buffer = String::new();

    let key = new_key();
    let booked = on_b.book(&key, &show, &["A1"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let seen = crate::operations::read_events(&mut events, &mut buffer, 1).await;
    assert_eq!(
        seen,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A1", "status": "booked"})
        )]
    );
    assert_replay(
        &booked,
        &on_b.book(&key, &show, &["A1"]).await,
        "replay via b",
    );
    assert_replay(
        &booked,
        &on_a.book(&key, &show, &["A1"]).await,
        "replay via a",
    );
    on_b.book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");

    let cart = on_b.new_cart().await;
    on_b.hold_new(&cart, &show, "A2").await;
    let checked_out = on_b.checkout(&cart, &new_key()).await;
    assert_eq!(checked_out.status, 201, "{}", checked_out.text);
    let cancelled = on_b.cancel(booked.json()["id"].as_str().unwrap()).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);

    let map = a.client().seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), set(&["A2"]));
    assert_eq!(
        b.client().seat_map(&show).await,
        map,
        "b shows the owner's map"
    );
    // b's show list follows the owner's counts within a few seconds.
    let owners_count = a.client().show_summary(&show).await["available"].clone();
    let started = Instant::now();
    while b.client().show_summary(&show).await["available"] != owners_count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "b's count never followed a's ({owners_count})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The booking, the conflict, the hold, the checkout and the cancel;
    // the replay via b came from the key record every node shares.
    assert!(b.client().metric("boxoffice_cluster_forwarded_total").await >= 5.0);
    a.stop();
    b.stop();
}

/// A forwarded write whose answer is lost on the way back (the owner read
/// it and closed the connection: it may have taken effect) is never
/// answered 5xx, which would tell the client it had no effect (API.md):
/// the node sends it again with its key until the owner answers, and,
/// when no answer comes within a takeover's time, answers 409
/// `request-in-progress`, so the client's retry with its key finds out.
/// Fails with the forwarder answering 503 on any failure to get an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn a_forwarded_write_whose_answer_is_lost_is_not_answered_5xx() {
    use boxoffice::store::postgres::leases::partition_of;
    let storage = StoreKind::Postgres.storage();
    let url = storage.database_url().expect("a database").to_string();
    let a = BinaryServer::on(
        &storage,
        &[
            ("BOXOFFICE_NODE_ID", "node-a"),
            ("BOXOFFICE_LEASE_MS", "600"),
        ],
    );
    let show = a.client().create_show("Lost answers", &[("A", 4)]).await;

    // "node-b": reads each request whole, then hangs up without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let advertise = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let counted = counted.clone();
            tokio::spawn(async move {
                if read_one_request(&mut socket).await {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    let db = postgres::connect(&url).await.expect("connect");
    let show_id = uuid::Uuid::parse_str(&show).unwrap();
    db.execute(
        "INSERT INTO nodes (id, advertise, heartbeat_at)
             VALUES ('node-b', $1, now() + interval '1 hour')",
        &[&advertise],
    )
    .await
    .expect("node b joins");
    node_b_claims(&db, partition_of(boxoffice::domain::ShowId(show_id))).await;

    let guest = a.client().guest().await;
    let started = Instant::now();
    let answer = loop {
        // Until a learns of its loss it serves the show itself, and the
        // fence refuses its write (503, nothing done): then a new request.
        let before = received.load(Ordering::SeqCst);
        let answer = guest.book(&new_key(), &show, &["A1"]).await;
        if received.load(Ordering::SeqCst) > before {
            break answer;
        }
        assert_eq!(answer.status, 503, "{}", answer.text);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a never forwarded the request"
        );
    };
    answer.assert_problem(409, "request-in-progress");
    assert!(answer.header("retry-after").is_some());
    assert!(
        received.load(Ordering::SeqCst) >= 2,
        "the request was not sent again"
    );
    a.stop();
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from
/// `socket`; false if the connection ended first.
async fn read_one_request(socket: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(read) = socket.read(&mut chunk).await else {
            return false;
        };
        if read == 0 {
            return false;
        }
        seen.extend_from_slice(&chunk[..read]);
        let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap_or(0));
        if seen.len() >= head_end + 4 + length {
            return true;
        }
    }
}

/// A node that joins gets an even share: the node holding every partition
/// hands a few over per renewal once membership is stable, the newcomer
/// claims them (reloading their shows), and both then serve every show
/// (each forwarding what the other owns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn partitions_spread_over_the_nodes_that_join() {
    let storage = StoreKind::Postgres.storage();
    let lease = ("BOXOFFICE_LEASE_MS", "600");
    let a = BinaryServer::on(&storage, &[("BOXOFFICE_NODE_ID", "node-a"), lease]);
    let shows = [
        a.client().create_show("One", &[("A", 2)]).await,
        a.client().create_show("Two", &[("A", 2)]).await,
        a.client().create_show("Three", &[("A", 2)]).await,
    ];
    let b = BinaryServer::on(&storage, &[("BOXOFFICE_NODE_ID", "node-b"), lease]);
    let started = Instant::now();
    loop {
        let cluster = assert_json(&a.client().admin().get("/v1/cluster").await, 200);
        let mut held = BTreeMap::new();
        for partition in cluster["partitions"].as_array().unwrap() {
            *held
                .entry(partition["owner"].as_str().unwrap_or("none").to_string())
                .or_insert(0) += 1;
        }
        if held.get("node-a") == Some(&128) && held.get("node-b") == Some(&128) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no even share: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every show is served through either node.
    let guest = b.client().guest().await;
    for (i, show) in shows.iter().enumerate() {
        let via = if i % 2 == 0 { &b } else { &a };
        let answer = via
            .as_user(&guest.token())
            .book(&new_key(), show, &["A1"])
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        let other = if i % 2 == 0 { &a } else { &b };
        let answer = other
            .as_user(&guest.token())
            .book(&new_key(), show, &["A2"])
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    a.stop();
    b.stop();
}

/// Waits (a failure detector bounds it) until `from` knows the address
/// node `id` (`node`) listens on: a node's heartbeat carries its bound
/// address once it has one.
async fn until_reachable(from: &BinaryServer, id: &str, node: &BinaryServer) {
    let started = Instant::now();
    loop {
        let cluster = assert_json(&from.client().admin().get("/v1/cluster").await, 200);
        let known = cluster["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == id && n["advertise"] == node.client().base.as_str());
        if known {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{cluster}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Expired keys are swept by one node at a time: the holder of partition
/// 0 (here a, which keeps the lowest partitions when b joins); b sweeps
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_missing,
    ignore = "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
)]
async fn one_node_sweeps_the_expired_keys() {
    let storage = StoreKind::Postgres.storage();
    let env = |node| {
        [
            ("BOXOFFICE_NODE_ID", node),
            ("BOXOFFICE_LEASE_MS", "600"),
            ("BOXOFFICE_IDEMPOTENCY_TTL_SECS", "1"),
        ]
    };
    let a = BinaryServer::on(&storage, &env("node-a"));
    let b = BinaryServer::on(&storage, &env("node-b"));
    until_reachable(&b, "node-a", &a).await;
    let show = a.client().create_show("Sweeps", &[("A", 4)]).await;
    let guest = b.client().guest().await;
    for seat in ["A1", "A2", "A3"] {
        let via = if seat == "A2" { &a } else { &b };
        let answer = via
            .as_user(&guest.token())
            .book(&new_key(), &show, &[seat])
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    let started = Instant::now();
    while a
        .client()
        .metric("boxoffice_idempotency_keys_expired_total")
        .await
        < 3.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a did not sweep the keys"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.client().metric("boxoffice_sweeps_total").await > 0.0);
    assert_eq!(
        b.client().metric("boxoffice_sweeps_total").await,
        0.0,
        "b swept too"
    );
    a.stop();
    b.stop();
}

/// Waits (bounded) until two nodes hold 128 partitions each: after that,
/// no partition moves unless a node stops.
async fn until_balanced(node: &BinaryServer) {
    let started = Instant::now();
    loop {
        let cluster = assert_json(&node.client().admin().get("/v1/cluster").await, 200);
        let mut held = BTreeMap::new();
        for partition in cluster["partitions"].as_array().unwrap() {
            *held
                .entry(partition["owner"].as_str().unwrap_or("none").to_string())
                .or_insert(0) += 1;
        }
        if held.len() == 2 && held.values().all(|count| *count == 128) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no even share: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node id owning `show`'s partition, as `node` sees it.
async fn owner_of(node: &BinaryServer, show: &str) -> String {
    let path = format!("/v1/cluster?show_id={show}");
    let answer = assert_json(&node.client().admin().get(&path).await, 200);
    answer["owner"].as_str().expect("an owner").to_string()
}

/// Two nodes on one database with an even share each, and a show: `a`
/// owns its partition, `b` does not.
struct TwoNodes {
    a: BinaryServer,
    b: BinaryServer,
    /// `b`'s node id.
    b_id: &'static str,
    show: String,
}

/// Starts two nodes (`lease_ms` 600), waits until each holds 128
/// partitions and knows the other's address, and creates a show of `rows`.
async fn two_nodes(storage: &Storage, rows: &[(&str, u32)]) -> TwoNodes {
    let lease = ("BOXOFFICE_LEASE_MS", "600");
    let one = BinaryServer::on(storage, &[("BOXOFFICE_NODE_ID", "node-a"), lease]);
    let two = BinaryServer::on(storage, &[("BOXOFFICE_NODE_ID", "node-b"), lease]);
    until_balanced(&one).await;
    until_reachable(&two, "node-a", &one).await;
    until_reachable(&one, "node-b", &two).await;
    let show = one.client().create_show("Two nodes", rows).await;
    if owner_of(&one, &show).await == "node-a" {
        TwoNodes {
            a: one,
            b: two,
            b_id: "node-b",
            show,
        }
    } else {
        TwoNodes {
            a: two,
            b: one,
            b_id: "node-a",
            show,
        }
    }
}
