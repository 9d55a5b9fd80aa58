//! Many nodes on one PostgreSQL: the fence that stops a stale owner, the
//! cluster view, takeovers of a dead node's partitions, forwarding to the
//! owner, partitions spread over nodes that join, and the key sweep run
//! by one node (README, "Run it on PostgreSQL"; docs/SCALING.md).

use crate::helpers::*;
use boxoffice::store::StoreError;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fence (docs/CLUSTER.md): a node whose partition was claimed by another
/// node (here the claim is made in SQL, as another node's would be, while
/// this one still believes it holds the lease: a paused or cut-off owner)
/// writes nothing for that partition: the write set gets 503 material
/// (`Unavailable`), neither its records nor its key record are written,
/// the fenced counter rises and the node forgets the partition. Writes
/// for partitions it still holds go through in the same round.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn a_stale_owner_cannot_empty_a_cart_of_a_show_it_lost() {
    use boxoffice::cluster::partition_of;
    use boxoffice::domain::{Cart, CartId, ShowId, UserId};
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn a_stale_owner_answers_no_op_and_refusal_only_through_the_fence() {
    use boxoffice::cluster::partition_of;
    use boxoffice::domain::ShowId;
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
    use boxoffice::cluster::partition_of;
    use boxoffice::domain::{
        Fingerprint, IdempotencyKey, SeatState, ShowId, StoredBody, StoredReply, UserId,
    };
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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

/// A takeover (docs/CLUSTER.md): two nodes with 128 partitions each; a show
/// owned by a is read on b (so b holds a copy), and a seat booked on a,
/// which b's copy does not know; a is killed (-9). Within a few leases b
/// claims a's partitions, reloads the show from the database and serves
/// it: a new booking succeeds on b, the seat a sold is still sold (409,
/// never a second buyer), and a's answer replays from b.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn a_survivor_adopts_every_lapsed_partition_whatever_its_share() {
    use boxoffice::cluster::leases::{self, Leases};
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

/// Any node answers (docs/CLUSTER.md): two nodes with 128 partitions each.
/// Writes sent to b for a's shows are forwarded to a with the
/// client's headers, and a's answers come back as they are: a booking, its
/// replay (from b and from a, the same bytes), a conflict, a cart's hold,
/// its checkout, and a cancel.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
/// answered 5xx, which would tell the client it had no effect (docs/API.md §3):
/// the node sends it again with its key until the owner answers, and,
/// when no answer comes within a takeover's time, answers 409
/// `request-in-progress`, so the client's retry with its key finds out.
/// Fails with the forwarder answering 503 on any failure to get an answer.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn a_forwarded_write_whose_answer_is_lost_is_not_answered_5xx() {
    use boxoffice::cluster::partition_of;
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
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
pub(crate) struct TwoNodes {
    pub(crate) a: BinaryServer,
    pub(crate) b: BinaryServer,
    /// `b`'s node id.
    pub(crate) b_id: &'static str,
    pub(crate) show: String,
}

/// Starts two nodes (`lease_ms` 600), waits until each holds 128
/// partitions and knows the other's address, and creates a show of `rows`.
pub(crate) async fn two_nodes(storage: &Storage, rows: &[(&str, u32)]) -> TwoNodes {
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
