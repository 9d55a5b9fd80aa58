//! Power cuts (the contract's "Durability": an answer waits for fsync or
//! fdatasync, never for less). The server keeps its data on a file system
//! that loses, at a power cut, everything no fsync or fdatasync made
//! durable (`helpers::power_cut`); `sync_file_range` makes nothing durable
//! there, as on a real power cut it may not.

use crate::helpers::crowd::{crowd_until, Ledger};
use crate::helpers::environment::fuse_usable;
use crate::helpers::power_cut::{self, Image, PowerCutDisk, Tear};
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

#[api_test(needs = "fuse")]
fn the_power_cut_disk_keeps_synced_files_and_loses_the_rest() {
    use std::io::Write;
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    let mut disk = PowerCutDisk::mount_new();
    let dir = disk.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut synced = std::fs::File::create(dir.join("synced")).unwrap();
    synced.write_all(b"kept").unwrap();
    synced.sync_data().unwrap();
    std::fs::File::open(&dir).unwrap().sync_all().unwrap();
    std::fs::File::open(disk.path())
        .unwrap()
        .sync_all()
        .unwrap();
    synced.write_all(b" and lost").unwrap();
    std::fs::write(dir.join("unsynced"), b"lost").unwrap();
    drop(synced);
    disk.cut();
    assert!(std::fs::read(dir.join("synced")).is_err());
    disk.power_on();
    assert_eq!(std::fs::read(dir.join("synced")).unwrap(), b"kept");
    assert!(!dir.join("unsynced").exists());
}

/// The `data` directory of a disk image (what a power cut would leave),
/// written out as real files in a temporary directory, to start a server
/// on. Panics, naming `what`, if the image has none.
fn data_dir_of(image: &Image, what: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let data = copy.path().join("data");
    let Image::Dir(root, _) = image else {
        panic!("the root is a directory");
    };
    match root.get(std::ffi::OsStr::new("data")) {
        Some(image) => power_cut::materialize(image, &data),
        None => panic!("{what}: no data directory was durable"),
    }
    (copy, data)
}

/// One acknowledged write of the sequence, and what the disk held durably
/// the moment its answer arrived.
struct Acked {
    what: &'static str,
    token: Option<String>,
    request: Option<Request>,
    answer: Answer,
    durable: Image,
}

impl Acked {
    /// `answer` has just arrived: takes what the disk holds durably now.
    fn now(
        disk: &PowerCutDisk,
        what: &'static str,
        client: &Client,
        request: Option<Request>,
        answer: Answer,
    ) -> Acked {
        let durable = disk.durable_image();
        assert!(answer.status < 300, "{what}: {}", answer.text);
        Acked {
            what,
            token: client.token.clone(),
            request,
            answer,
            durable,
        }
    }
}

/// Each answer of the sled store waits for a real sync of everything it
/// reports. Every sync of the disk takes 100 ms before it makes anything
/// durable (a slow disk): a server that answered before its sync, or that
/// synced with `sync_file_range` alone, answers while its write is not yet
/// durable. The moment each answer arrives, the test takes what the disk
/// holds durably; afterwards it starts a server on each of those copies,
/// and the write that answer acknowledged must be there: its key replays
/// the answer byte for byte, and its effect reads back.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "fuse")]
async fn every_answer_waits_for_the_sync_of_what_it_reports() {
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    let disk = PowerCutDisk::mount_new();
    disk.set_sync_delay(Duration::from_millis(100));
    let server = BinaryServer::start(&disk.path().join("data"), &[]);
    let anonymous = server.client();
    let mut acked: Vec<Acked> = Vec::new();
    let admin = anonymous.admin();
    let show = Request::post("/v1/shows", &show_body(&[("A", 10)]));
    let answer = admin.request(&show).await;
    let show_id = answer.id();
    acked.push(Acked::now(&disk, "a show", &admin, Some(show), answer));

    let session = anonymous.send("POST", "/v1/sessions", None, None).await;
    assert_eq!(session.status, 201, "{}", session.text);
    let guest = anonymous.with_token(session.json()["token"].as_str().unwrap());
    acked.push(Acked::now(&disk, "a session", &guest, None, session));

    let booking = Request::post("/v1/bookings", &booking_body(&show_id, &["A1", "A2"]));
    let answer = guest.request(&booking).await;
    let booking_id = answer.id();
    acked.push(Acked::now(
        &disk,
        "a booking",
        &guest,
        Some(booking),
        answer,
    ));

    let cart = Request::post("/v1/carts", &json!({}));
    let answer = guest.request(&cart).await;
    let cart_id = answer.id();
    acked.push(Acked::now(&disk, "a cart", &guest, Some(cart), answer));

    let hold = Request::post(
        format!("/v1/carts/{cart_id}/items"),
        &json!({"show_id": show_id, "seat_id": "A5"}),
    );
    let answer = guest.request(&hold).await;
    acked.push(Acked::now(&disk, "a hold", &guest, Some(hold), answer));

    let checkout = Request::post(format!("/v1/carts/{cart_id}/checkout"), &json!({}));
    let answer = guest.request(&checkout).await;
    acked.push(Acked::now(
        &disk,
        "a checkout",
        &guest,
        Some(checkout),
        answer,
    ));

    let cancel = guest.cancel(&booking_id).await;
    assert_eq!(cancel.status, 204, "{}", cancel.text);
    acked.push(Acked::now(&disk, "a cancel", &guest, None, cancel));
    server.stop();
    let counts = disk.counts();
    eprintln!(
        "{} answers; the disk saw {} writes, {} file syncs, {} directory syncs",
        acked.len(),
        counts.writes,
        counts.file_syncs,
        counts.dir_syncs
    );

    for step in &acked {
        let (_copy, data) = data_dir_of(&step.durable, step.what);
        let server = BinaryServer::start(&data, &[]);
        let client = match &step.token {
            Some(token) => server.as_user(token),
            None => server.client(),
        };
        match &step.request {
            Some(request) => {
                let again = client.request(request).await;
                assert_replay(&step.answer, &again, step.what);
            }
            None => {
                // A session: its token works. A cancel: the booking reads
                // back cancelled.
                let mine = client.get(&format!("/v1/bookings/{booking_id}")).await;
                if step.what == "a cancel" {
                    assert_eq!(mine.status, 200, "{}: {}", step.what, mine.text);
                    assert_eq!(mine.json()["status"], "cancelled", "{}", step.what);
                } else {
                    assert_ne!(mine.status, 401, "{}: the token is lost", step.what);
                }
            }
        }
        server.stop();
    }
}

const USERS: usize = 16;
const CUTS: usize = 3;
/// Answers the crowd collects in a round before the power cut.
const ANSWERS_BEFORE_CUT: usize = 150;
/// How long each sync takes while the crowd runs: a slow disk, so that a
/// server that answered before its sync has an answer out that no sync
/// covers yet when the power goes.
const SLOW_SYNC: Duration = Duration::from_millis(20);

/// The power goes while sixteen users book, hold and check out, three
/// times; after each power-on the server starts again and the ledger of
/// everything the users were told holds (`helpers::crowd`): every
/// acknowledged booking, cart, hold, checkout and key is there and
/// replays, every unanswered request happened wholly or not at all, and
/// the seat maps agree with the bookings and holds. The first cut keeps
/// only what was synced; the next two also keep a random half of the
/// sectors written and not synced (torn writes: records cut in the
/// middle, a later sector of a write kept and an earlier one lost). On
/// PostgreSQL its data directory is on the disk (fsync on, as in
/// production) and it is killed with the power.
mod a_power_cut_under_load_loses_nothing_acknowledged {
    use super::*;

    #[api_test(flavor = "multi_thread", worker_threads = 4, needs = "fuse")]
    async fn sled() {
        power_cuts_under_load(StoreKind::Sled).await
    }

    #[api_test(flavor = "multi_thread", worker_threads = 4, needs = "fuse, postgres")]
    async fn postgres() {
        power_cuts_under_load(StoreKind::Postgres).await
    }
}

async fn power_cuts_under_load(store: StoreKind) {
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    // sled syncs every directory whose entries it changes; PostgreSQL
    // relies on a journaling file system for some (it syncs a new
    // database's directory, not the directory that holds it).
    let mut disk = match store {
        StoreKind::Sled => PowerCutDisk::mount_new(),
        StoreKind::Postgres => PowerCutDisk::mount_journaled(),
    };
    let data = disk.path().join("data");
    let pg =
        (store == StoreKind::Postgres).then(|| PgServer::start_durable_in(&disk.path().join("pg")));
    let storage = pg.as_ref().map(Storage::on);
    let start = || match &storage {
        Some(storage) => BinaryServer::on(storage, &[]),
        None => BinaryServer::start(&data, &[]),
    };
    let mut ledger = Ledger::default();
    let (mut acked, mut syncs) = (0, 0);
    for round in 0..CUTS {
        let server = start();
        if round == 0 {
            ledger.sign_up(&server, USERS).await;
        } else {
            ledger.verify(&server.base).await;
        }
        let postmaster = pg.as_ref().map(PgServer::postmaster);
        disk.set_sync_delay(SLOW_SYNC);
        let before = disk.counts();
        let (show, sent) = crowd_until(
            server,
            round,
            &ledger.tokens,
            ANSWERS_BEFORE_CUT,
            |server| {
                // The server stops first: a request the cut's I/O errors
                // broke would otherwise be answered 5xx before the kill,
                // which a power cut never lets it do.
                server.pause();
                disk.cut();
                server.kill9();
                if let (Some(pg), Some(postmaster)) = (&pg, postmaster) {
                    pg.kill_all(postmaster);
                }
            },
        )
        .await;
        let after = disk.counts();
        acked += sent.iter().filter(|s| s.answer.is_some()).count();
        syncs += after.file_syncs - before.file_syncs;
        ledger.file_round(round, show, sent);
        disk.set_sync_delay(Duration::ZERO);
        let tear = match round {
            0 => Tear::None,
            _ => Tear::Sectors(rand::random()),
        };
        eprintln!("power on after a cut that tears as {tear:?}");
        disk.power_on_with(tear);
        if let Some(pg) = &pg {
            pg.start_again();
        }
    }
    eprintln!("{acked} answers in {CUTS} rounds, {syncs} file syncs");

    let server = start();
    ledger.verify(&server.base).await;
    server.stop();
    match &storage {
        Some(storage) => assert_consistent(storage),
        None => assert_dir_consistent(&data),
    }
}

/// A store whose last log write was torn by the power cut (cut
/// mid-record, some of its sectors kept and others not) opens with
/// everything acknowledged before it. Booking B is written and its sync
/// held when the power goes; each of sixteen tears of what B wrote must
/// start, with booking A (acknowledged) there and replayed, and B either
/// wholly there or wholly absent, its seats as its presence says.
#[api_test(flavor = "multi_thread", worker_threads = 2, needs = "fuse")]
async fn a_store_whose_last_write_was_torn_opens_with_everything_acknowledged() {
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    let disk = PowerCutDisk::mount_new();
    let server = BinaryServer::start(&disk.path().join("data"), &[]);
    let client = server.client();
    let show = client.create_show("Torn", &[("A", 10)]).await;
    let guest = client.guest().await;
    let a = Request::post("/v1/bookings", &booking_body(&show, &["A1", "A2"]));
    let a_answer = guest.request(&a).await;
    assert_eq!(a_answer.status, 201, "{}", a_answer.text);

    // B's write reaches the disk; its sync waits (10 s) when the power
    // goes. Every unsynced sector is then B's, or the server's after it.
    disk.set_sync_delay(Duration::from_secs(10));
    let written = disk.counts().writes;
    let b = Request::post("/v1/bookings", &booking_body(&show, &["A5", "A6", "A7"]));
    let sender = guest.clone();
    let b_request = b.clone();
    let pending = tokio::spawn(async move { sender.try_request(&b_request).await });
    let started = std::time::Instant::now();
    while disk.counts().writes == written {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "B was never written"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tears: Vec<Image> = (0..16)
        .map(|seed| disk.image_after(Tear::Sectors(seed)))
        .collect();
    server.pause();
    disk.cut();
    server.kill9();
    assert!(
        pending.await.unwrap().is_none(),
        "B was answered before its sync"
    );

    let (mut with_b, mut without_b) = (0, 0);
    for (seed, image) in tears.iter().enumerate() {
        let (_copy, data) = data_dir_of(image, &format!("tear {seed}"));
        let server = BinaryServer::start(&data, &[]);
        let guest = server.as_user(&guest.token());
        assert_replay(
            &a_answer,
            &guest.request(&a).await,
            &format!("A after tear {seed}"),
        );
        let map = guest.seat_map(&show).await;
        let b_seats = ["A5", "A6", "A7"].map(|seat| map[seat].clone());
        let retry = guest.request(&b).await;
        assert_eq!(retry.status, 201, "tear {seed}: {}", retry.text);
        if b_seats.iter().all(|s| s == "booked") {
            with_b += 1;
            assert!(
                retry.is_replay(),
                "tear {seed}: B is there, but its key ran again"
            );
        } else {
            without_b += 1;
            assert!(
                b_seats.iter().all(|s| s == "available"),
                "tear {seed}: {b_seats:?}"
            );
            assert!(
                !retry.is_replay(),
                "tear {seed}: B is not there, but its key replayed"
            );
        }
        assert_eq!(
            guest.bookings().await.len(),
            2,
            "tear {seed}: A and B, once each"
        );
        server.stop();
    }
    eprintln!("of 16 tears, {with_b} kept B whole and {without_b} lost it");
    assert!(without_b > 0, "no tear cut B's write short");
}
