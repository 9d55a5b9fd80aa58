//! A node's identity (the contract's "Operating the data": a restarted
//! node serves at once): with no node id set, a node on PostgreSQL keeps
//! its id with its data, so a node killed and restarted takes its
//! partitions back at once instead of answering 503 until the leases of
//! its previous run lapse; and two live processes never share that id.

use crate::helpers::crowd::{crowd_until, Ledger};
use crate::helpers::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const USERS: usize = 8;
const ROUNDS: usize = 3;
/// Answers the crowd collects in a round before the kill.
const ANSWERS_BEFORE_KILL: usize = 100;

/// `boxoffice serve` on `storage`'s database and data directory, with no
/// node id of its own (as an operator starts a single node).
fn start_without_node_id(storage: &Storage) -> BinaryServer {
    let url = storage.database_url().expect("a PostgreSQL storage");
    BinaryServer::start(&storage.data, &[("BOXOFFICE_DATABASE_URL", url)])
}

/// Three rounds of a crowd booking on a single node that is killed under
/// it and restarted: no answer, before or after a restart, and no retry of
/// a request whose answer the kill lost, is a 503; and the ledger of
/// everything acknowledged holds after each restart.
#[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
async fn a_single_node_killed_and_restarted_under_load_serves_at_once() {
    let storage = StoreKind::Postgres.storage();
    let mut ledger = Ledger::default();
    for round in 0..ROUNDS {
        let server = start_without_node_id(&storage);
        if round == 0 {
            ledger.sign_up(&server, USERS).await;
        } else {
            // The first write after the restart, before anything else.
            let answer = server
                .client()
                .admin()
                .post("/v1/shows", &new_key(), show_body(&[("A", 5)]))
                .await;
            assert_eq!(
                answer.status, 201,
                "round {round}: the restarted node's first write: {}",
                answer.text
            );
            ledger.verify(&server.base).await;
        }
        let (show, sent) = crowd_until(
            server,
            round,
            &ledger.tokens,
            ANSWERS_BEFORE_KILL,
            BinaryServer::kill9,
        )
        .await;
        let unavailable: Vec<_> = sent
            .iter()
            .filter_map(|s| s.answer.as_ref().filter(|a| a.status == 503))
            .map(|a| a.text.clone())
            .collect();
        assert!(
            unavailable.is_empty(),
            "round {round}: {} of {} answers were 503, e.g. {}",
            unavailable.len(),
            sent.len(),
            unavailable[0]
        );
        ledger.file_round(round, show, sent);
    }
    let server = start_without_node_id(&storage);
    // Settles every request whose answer the last kill lost (a 503 there
    // fails it).
    ledger.verify(&server.base).await;
    server.stop();
    assert_consistent(&storage);
}

/// While a node runs, a second `boxoffice serve` on the same data
/// directory and database refuses to start (exit 1, saying why) instead of
/// running under the same node id; the first goes on serving.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "postgres")]
async fn a_second_process_on_a_nodes_data_directory_refuses_to_start() {
    let storage = StoreKind::Postgres.storage();
    let first = start_without_node_id(&storage);
    let url = storage.database_url().unwrap();
    let mut second = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--data-dir"])
        .arg(&storage.data)
        .current_dir(storage.data.parent().unwrap())
        .env("BOXOFFICE_DATABASE_URL", url)
        .env("BOXOFFICE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a second boxoffice");
    // Its first line, if it starts, says where it listens; if it refuses,
    // its output ends.
    let mut line = String::new();
    BufReader::new(second.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.is_empty() {
        second.kill().unwrap();
        second.wait().unwrap();
        panic!("a second process on the node's data directory started: {line}");
    }
    let status = second.wait().unwrap();
    let mut said = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("another boxoffice process"), "{said}");

    let answer = first
        .client()
        .admin()
        .post("/v1/shows", &new_key(), show_body(&[("A", 5)]))
        .await;
    assert_eq!(answer.status, 201, "the first node: {}", answer.text);
    first.stop();
}
