//! Model-based test of the whole engine: proptest generates sequences of
//! bookings, cancels, carts, holds, releases, checkouts, exact retries,
//! crash-restarts and (in a second, slower property) lapsing holds; each runs against an in-process engine over HTTP and
//! against a plain in-memory model of the contract, and every answer's
//! status, every replay's body and the seat map after each step must agree.
//! Each property runs on each store (`<property>::sled`, `::postgres`).

use crate::helpers::*;
use boxoffice::in_process::{InProcess, IN_PROCESS_ADMIN_TOKEN};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SEATS: [&str; 4] = ["A1", "A2", "A3", "A4"];
const USERS: usize = 2;

#[derive(Clone, Debug)]
enum Step {
    Book {
        user: usize,
        seats: Vec<usize>,
    },
    Cancel {
        user: usize,
        booking: usize,
    },
    CreateCart {
        user: usize,
    },
    Hold {
        user: usize,
        cart: usize,
        seat: usize,
    },
    Release {
        user: usize,
        cart: usize,
        seat: usize,
    },
    Checkout {
        user: usize,
        cart: usize,
    },
    /// Send an earlier keyed request again, exactly.
    Retry {
        sent: usize,
    },
    Restart,
    /// Wait until every hold made so far has lapsed (hold TTL 1 s).
    Lapse,
}

/// With lapsing holds and no restarts (a restart takes long enough to
/// let a 1 s hold lapse by itself, which the model could not place).
fn step_with_lapses() -> impl Strategy<Value = Step> {
    let user = 0..USERS;
    prop_oneof![
        2 => (user.clone(), proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=2))
            .prop_map(|(user, seats)| Step::Book { user, seats }),
        2 => user.clone().prop_map(|user| Step::CreateCart { user }),
        4 => (user.clone(), 0..2usize, 0..4usize).prop_map(|(user, cart, seat)| Step::Hold { user, cart, seat }),
        1 => (user.clone(), 0..2usize, 0..4usize).prop_map(|(user, cart, seat)| Step::Release { user, cart, seat }),
        2 => (user.clone(), 0..2usize).prop_map(|(user, cart)| Step::Checkout { user, cart }),
        1 => (0..12usize).prop_map(|sent| Step::Retry { sent }),
        1 => Just(Step::Lapse),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let user = 0..USERS;
    prop_oneof![
        3 => (user.clone(), proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=2))
            .prop_map(|(user, seats)| Step::Book { user, seats }),
        1 => (user.clone(), 0..4usize).prop_map(|(user, booking)| Step::Cancel { user, booking }),
        2 => user.clone().prop_map(|user| Step::CreateCart { user }),
        3 => (user.clone(), 0..3usize, 0..4usize).prop_map(|(user, cart, seat)| Step::Hold { user, cart, seat }),
        1 => (user.clone(), 0..3usize, 0..4usize).prop_map(|(user, cart, seat)| Step::Release { user, cart, seat }),
        2 => (user.clone(), 0..3usize).prop_map(|(user, cart)| Step::Checkout { user, cart }),
        2 => (0..20usize).prop_map(|sent| Step::Retry { sent }),
        1 => Just(Step::Restart),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Cart(usize),
    Booking(usize),
}

/// The contract, as plainly as it can be said.
#[derive(Default)]
struct Model {
    seats: BTreeMap<usize, Owner>,
    /// (owner user, seats, cancelled) by booking number.
    bookings: Vec<(usize, Vec<usize>, bool)>,
    /// (owner user, items: seat -> hold still live, checked out) by cart.
    carts: Vec<(usize, BTreeMap<usize, bool>, bool)>,
}

impl Model {
    fn book(&mut self, user: usize, seats: &[usize]) -> u16 {
        if seats.iter().any(|s| self.seats.contains_key(s)) {
            return 409;
        }
        let n = self.bookings.len();
        self.bookings.push((user, seats.to_vec(), false));
        for s in seats {
            self.seats.insert(*s, Owner::Booking(n));
        }
        201
    }

    fn cancel(&mut self, user: usize, booking: usize) -> u16 {
        match self.bookings.get_mut(booking) {
            Some((owner, seats, cancelled)) if *owner == user => {
                if !*cancelled {
                    *cancelled = true;
                    for s in seats.iter() {
                        self.seats.remove(s);
                    }
                }
                204
            }
            _ => 404,
        }
    }

    fn hold(&mut self, user: usize, cart: usize, seat: usize) -> u16 {
        match self.carts.get_mut(cart) {
            Some((owner, _, _)) if *owner != user => 404,
            None => 404,
            Some((_, _, true)) => 409,
            Some((_, items, false)) => {
                if items.get(&seat) == Some(&true) {
                    return 201; // already held: renews nothing
                }
                if self.seats.contains_key(&seat) {
                    return 409;
                }
                items.insert(seat, true);
                self.seats.insert(seat, Owner::Cart(cart));
                201
            }
        }
    }

    fn release(&mut self, user: usize, cart: usize, seat: usize) -> u16 {
        match self.carts.get_mut(cart) {
            Some((owner, items, closed)) if *owner == user => {
                if *closed {
                    return 409;
                }
                if items.remove(&seat) == Some(true) {
                    self.seats.remove(&seat);
                }
                204
            }
            _ => 404,
        }
    }

    fn checkout(&mut self, user: usize, cart: usize) -> u16 {
        match self.carts.get_mut(cart) {
            Some((owner, items, closed)) if *owner == user => {
                if *closed {
                    return 409;
                }
                if items.is_empty() {
                    return 400;
                }
                if items.values().any(|live| !live) {
                    return 409; // hold-expired, nothing booked
                }
                *closed = true;
                let seats: Vec<usize> = items.keys().copied().collect();
                let n = self.bookings.len();
                self.bookings.push((user, seats.clone(), false));
                for s in seats {
                    self.seats.insert(s, Owner::Booking(n));
                }
                201
            }
            _ => 404,
        }
    }

    /// Every live hold lapses: its seat is free, its item stays, expired.
    fn lapse(&mut self) {
        for (n, (_, items, closed)) in self.carts.iter_mut().enumerate() {
            if *closed {
                continue;
            }
            for (seat, live) in items.iter_mut() {
                if *live {
                    *live = false;
                    if self.seats.get(seat) == Some(&Owner::Cart(n)) {
                        self.seats.remove(seat);
                    }
                }
            }
        }
    }

    fn map(&self) -> BTreeMap<String, String> {
        SEATS
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let status = match self.seats.get(&i) {
                    None => "available",
                    Some(Owner::Cart(_)) => "held",
                    Some(Owner::Booking(_)) => "booked",
                };
                (id.to_string(), status.to_string())
            })
            .collect()
    }
}

/// A keyed request as sent, and its first answer.
struct Sent {
    /// The cart, for a checkout: a 400 (empty cart) is not stored, so a
    /// retry runs the checkout afresh.
    checkout_of: Option<usize>,
    user: usize,
    request: Request,
    first: Answer,
}

/// The engine under test and the model, side by side.
struct World {
    server: InProcess,
    /// Where the engine keeps its state (dropped after the server).
    _storage: Storage,
    show: String,
    /// The users' session tokens.
    users: Vec<String>,
    model: Model,
    booking_ids: Vec<String>,
    cart_ids: Vec<String>,
    sent: Vec<Sent>,
}

impl World {
    /// An in-process engine on new storage of `store` with one show
    /// `A1..A4` and `USERS` guests.
    async fn start(store: StoreKind, hold_ttl_secs: u64) -> Result<World, TestCaseError> {
        let (server, storage) = tokio::task::spawn_blocking(move || {
            let storage = store.storage();
            let server = InProcess::start_with(hold_ttl_secs, |s| storage.apply(s));
            (server.unwrap(), storage)
        })
        .await
        .unwrap();
        let admin = Client::on(&server.base, IN_PROCESS_ADMIN_TOKEN);
        let created = admin
            .post(
                "/v1/shows",
                &new_key(),
                json!({"title": "Model", "starts_at": "2030-01-01T20:00:00Z",
                       "rows": [{"label": "A", "seats": 4}]}),
            )
            .await;
        prop_assert_eq!(created.status, 201, "{}", created.text);
        let mut users = Vec::new();
        for _ in 0..USERS {
            users.push(Client::new(&server.base).guest().await.token());
        }
        Ok(World {
            show: created.id(),
            server,
            _storage: storage,
            users,
            model: Model::default(),
            booking_ids: Vec::new(),
            cart_ids: Vec::new(),
            sent: Vec::new(),
        })
    }

    /// A client of `user` with connections of its own.
    fn client(&self, user: usize) -> Client {
        Client::on(&self.server.base, &self.users[user])
    }

    /// Sends a keyed POST as `user` and logs it for retries.
    async fn post(
        &mut self,
        user: usize,
        path: String,
        body: Value,
        checkout_of: Option<usize>,
    ) -> Answer {
        let request = Request::post(path, &body);
        let first = self.client(user).request(&request).await;
        self.sent.push(Sent {
            checkout_of,
            user,
            request,
            first: first.clone(),
        });
        first
    }

    /// Runs one step on both sides; they must agree, and so must the
    /// seat maps after it.
    async fn step(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Book { user, seats } => self.book(user, seats).await?,
            Step::Cancel { user, booking } => self.cancel(user, booking).await?,
            Step::CreateCart { user } => self.create_cart(user).await?,
            Step::Hold { user, cart, seat } => self.hold(user, cart, seat).await?,
            Step::Release { user, cart, seat } => self.release(user, cart, seat).await?,
            Step::Checkout { user, cart } => self.checkout(user, cart).await?,
            Step::Retry { sent } => self.retry(sent).await?,
            Step::Lapse => {
                // The hold TTL is 1 s; the map shows a lapse within a second.
                tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
                self.model.lapse();
            }
            Step::Restart => {
                let server = &mut self.server;
                tokio::task::block_in_place(|| server.crash_and_restart().unwrap());
            }
        }
        let map = Client::new(&self.server.base).seat_map(&self.show).await;
        prop_assert_eq!(map, self.model.map());
        Ok(())
    }

    async fn book(&mut self, user: usize, seats: Vec<usize>) -> Result<(), TestCaseError> {
        let ids: Vec<&str> = seats.iter().map(|s| SEATS[*s]).collect();
        let body = json!({"show_id": self.show, "seats": ids});
        let answer = self.post(user, "/v1/bookings".into(), body, None).await;
        let expected = self.model.book(user, &seats);
        prop_assert_eq!(answer.status, expected, "book {:?}: {}", ids, answer.text);
        if answer.status == 201 {
            self.booking_ids.push(answer.id());
        }
        Ok(())
    }

    async fn cancel(&mut self, user: usize, booking: usize) -> Result<(), TestCaseError> {
        let Some(id) = self.booking_ids.get(booking) else {
            return Ok(());
        };
        let answer = self.client(user).cancel(id).await;
        let expected = self.model.cancel(user, booking);
        prop_assert_eq!(answer.status, expected, "cancel: {}", answer.text);
        Ok(())
    }

    async fn create_cart(&mut self, user: usize) -> Result<(), TestCaseError> {
        let answer = self.post(user, "/v1/carts".into(), json!({}), None).await;
        prop_assert_eq!(answer.status, 201);
        self.cart_ids.push(answer.id());
        self.model.carts.push((user, BTreeMap::new(), false));
        Ok(())
    }

    async fn hold(&mut self, user: usize, cart: usize, seat: usize) -> Result<(), TestCaseError> {
        let Some(id) = self.cart_ids.get(cart) else {
            return Ok(());
        };
        let path = format!("/v1/carts/{id}/items");
        let body = json!({"show_id": self.show, "seat_id": SEATS[seat]});
        let answer = self.post(user, path, body, None).await;
        let expected = self.model.hold(user, cart, seat);
        prop_assert_eq!(
            answer.status,
            expected,
            "hold {}: {}",
            SEATS[seat],
            answer.text
        );
        Ok(())
    }

    async fn release(
        &mut self,
        user: usize,
        cart: usize,
        seat: usize,
    ) -> Result<(), TestCaseError> {
        let Some(id) = self.cart_ids.get(cart) else {
            return Ok(());
        };
        let answer = self.client(user).release(id, &self.show, SEATS[seat]).await;
        let expected = self.model.release(user, cart, seat);
        prop_assert_eq!(answer.status, expected, "release: {}", answer.text);
        Ok(())
    }

    async fn checkout(&mut self, user: usize, cart: usize) -> Result<(), TestCaseError> {
        let Some(id) = self.cart_ids.get(cart) else {
            return Ok(());
        };
        let path = format!("/v1/carts/{id}/checkout");
        let answer = self.post(user, path, json!({}), Some(cart)).await;
        let expected = self.model.checkout(user, cart);
        prop_assert_eq!(answer.status, expected, "checkout: {}", answer.text);
        if answer.status == 201 {
            self.booking_ids.push(answer.id());
        }
        Ok(())
    }

    /// Sends an earlier keyed request again: a replay of its first answer,
    /// except after a 400 (not stored), where the checkout runs afresh.
    async fn retry(&mut self, n: usize) -> Result<(), TestCaseError> {
        let Some(first) = self.sent.get(n) else {
            return Ok(());
        };
        let answer = self.client(first.user).request(&first.request).await;
        if first.first.status != 400 {
            prop_assert_eq!(
                answer.status,
                first.first.status,
                "retry of {}: {}",
                first.request.path,
                answer.text
            );
            prop_assert_eq!(&answer.text, &first.first.text, "replay differs");
            prop_assert!(answer.is_replay());
            return Ok(());
        }
        let (user, cart) = (first.user, first.checkout_of);
        let cart = cart.expect("only an empty checkout is a 400 here");
        let expected = self.model.checkout(user, cart);
        prop_assert_eq!(answer.status, expected, "rerun: {}", answer.text);
        if answer.status == 201 {
            self.booking_ids.push(answer.id());
        }
        prop_assert!(!answer.is_replay());
        self.sent[n].first = answer;
        Ok(())
    }

    /// Every booking reads back as the model has it.
    async fn check_bookings(&self) -> Result<(), TestCaseError> {
        for (n, (user, seats, cancelled)) in self.model.bookings.iter().enumerate() {
            let path = format!("/v1/bookings/{}", self.booking_ids[n]);
            let got: Value = self.client(*user).get(&path).await.json();
            let want: Vec<&str> = seats.iter().map(|s| SEATS[*s]).collect();
            let mut have: Vec<&str> = got["seats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            have.sort();
            prop_assert_eq!(have, want);
            prop_assert_eq!(got["status"] == "cancelled", *cancelled);
        }
        Ok(())
    }
}

async fn run(store: StoreKind, steps: Vec<Step>, hold_ttl_secs: u64) -> Result<(), TestCaseError> {
    let mut world = World::start(store, hold_ttl_secs).await?;
    for step in steps {
        world.step(step).await?;
    }
    world.check_bookings().await
}

/// One case of a property on `store`.
fn check(store: StoreKind, steps: Vec<Step>, hold_ttl_secs: u64) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(store, steps, hold_ttl_secs))
}

// Each property on each store, as `<property>::sled` and
// `<property>::postgres` (what `store_test!` names the async tests; these
// are proptest's own test functions).
mod engine_agrees_with_the_model {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]
        #[api_test]
        fn sled(steps in proptest::collection::vec(step(), 1..30)) {
            check(StoreKind::Sled, steps, 600)?;
        }

        #[api_test(needs = "postgres")]
        fn postgres(steps in proptest::collection::vec(step(), 1..30)) {
            check(StoreKind::Postgres, steps, 600)?;
        }
    }
}

mod engine_agrees_with_the_model_as_holds_lapse {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 16, ..ProptestConfig::default() })]
        #[api_test]
        fn sled(steps in proptest::collection::vec(step_with_lapses(), 1..14)) {
            check(StoreKind::Sled, steps, 1)?;
        }

        #[api_test(needs = "postgres")]
        fn postgres(steps in proptest::collection::vec(step_with_lapses(), 1..14)) {
            check(StoreKind::Postgres, steps, 1)?;
        }
    }
}
