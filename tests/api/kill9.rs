//! `kill -9` under load (the contract's "Durability"): sixteen users book,
//! hold and check out while the real binary is killed, three rounds; after
//! each restart the ledger of everything they were told holds
//! (`helpers::crowd`). On each store (`store_test!`): on PostgreSQL each
//! restart is on the same database.

use crate::helpers::crowd::{crowd_until, Ledger};
use crate::helpers::*;

const USERS: usize = 16;
const ROUNDS: usize = 3;
/// Answers the crowd collects in a round before the kill.
const ANSWERS_BEFORE_KILL: usize = 150;

store_test!(
    kill9_under_load_loses_no_acknowledged_write,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn kill9_under_load_loses_no_acknowledged_write(store: StoreKind) {
    let storage = store.storage();
    let mut ledger = Ledger::default();
    for round in 0..ROUNDS {
        let server = BinaryServer::on(&storage, &[]);
        if round == 0 {
            ledger.sign_up(&server, USERS).await;
        } else {
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
        ledger.file_round(round, show, sent);
    }

    let server = BinaryServer::on(&storage, &[]);
    ledger.verify(&server.base).await;
    // Once more from disk, with the retried keys settled.
    server.stop();
    let server = BinaryServer::on(&storage, &[]);
    ledger.verify(&server.base).await;
    server.stop();
    assert_consistent(&storage);
}
