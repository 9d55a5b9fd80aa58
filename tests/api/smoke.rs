use crate::helpers::*;

#[api_test]
async fn in_process_server_books_and_replays() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Smoke", &[("A", 5)]).await;
    let guest = client.guest().await;
    let first = guest.book("k", &show, &["A1"]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = guest.book("k", &show, &["A1"]).await;
    assert!(again.is_replay());
    assert_eq!(again.text, first.text);
}

#[api_test]
async fn binary_server_starts_and_stops_on_sigterm() {
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &[]);
    let health = server.client().get("/healthz").await;
    assert_eq!(health.status, 200);
    assert!(server.terminate().success());
}
