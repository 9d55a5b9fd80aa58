//! The pieces of the OpenAPI document the handlers' declarations name
//! (reusable problem answers and the groups of them many routes share,
//! the `Idempotency-Key` parameter, the seat list of a booking), built from the engine's own problem replies
//! (`replies::Code`, `replies::problem`) so that their examples are what a
//! client gets. `openapi.rs` puts the document together.

use crate::replies::{self, Code};
use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToResponse};

/// The `Idempotency-Key` header of a keyed write.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // described, never built: the handlers read the header
pub struct IdempotencyKeyHeader {
    /// Client-chosen key (a new UUID v4 per operation; reuse only to retry
    /// that same operation). 1-255 printable ASCII characters, sent bare or
    /// as a quoted structured-field string; both name the same key. Keys are
    /// scoped to the user. Same key + same request after completion replays
    /// the stored response with `Idempotent-Replayed: true`; same key +
    /// different request is 422 `idempotency-key-reused`.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        example = "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )]
    key: String,
}

/// The seats of a booking request: 1 to `max_seats_per_booking` (default
/// 10) distinct seat ids.
pub fn seat_list() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::ArrayBuilder;
    let seat = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(SEAT_ID_PATTERN))
        .examples([serde_json::json!("A1")]);
    ArrayBuilder::new()
        .items(seat)
        .min_items(Some(1))
        .max_items(Some(
            crate::config::Settings::default().max_seats_per_booking,
        ))
        .unique_items(true)
        .description(Some(
            "Seats to book, each a row label + number like `A1`; at most \
             `max_seats_per_booking` (config, default 10), none twice.",
        ))
        .examples([serde_json::json!(["A1", "A2"])])
        .build()
}

/// A seat id: a row label of 1-3 letters and a number 1-999.
pub const SEAT_ID_PATTERN: &str = "^[A-Z]{1,3}[1-9][0-9]{0,2}$";

/// An example detail for each code, as the engine might send it.
fn example_detail(code: Code) -> &'static str {
    match code {
        Code::InvalidRequest => "the body is not a valid request",
        Code::IdempotencyKeyMissing => "this request needs an Idempotency-Key header",
        Code::IdempotencyKeyInvalid => {
            "the Idempotency-Key must be 1-255 printable ASCII characters"
        }
        Code::Unauthorized => "a valid bearer token is required",
        Code::Forbidden => "this endpoint needs the admin token",
        Code::NotFound => "no such show",
        Code::SeatUnavailable => "not available: A1, A2",
        Code::NoSeatsTogether => "no 4 free seats side by side in one block",
        Code::SeatRestricted => "companion seats are sold only with a wheelchair seat of their row in the same booking or cart: A2",
        Code::HoldExpired => "a hold in the cart lapsed; nothing was booked",
        Code::CartClosed => "the cart was already checked out",
        Code::SalesClosed => "online sales for this show ended at 2026-12-01T19:00:00Z",
        Code::TooManyHolds => "you already hold the most seats allowed in this show",
        Code::RequestInProgress => "a request with this Idempotency-Key is still running",
        Code::RequestTimeout => "the request body did not arrive in time",
        Code::PayloadTooLarge => "the body is larger than 64 KiB",
        Code::IdempotencyKeyReused => "the key was already used for a different request",
        Code::RateLimited => "too many requests from this user",
        Code::Internal => "internal error",
        Code::Overloaded => "the server is busy; retry later",
        Code::MethodNotAllowed => "PUT is not supported on /v1/shows; Allow: GET, HEAD, POST",
    }
}

/// Every code a client may see.
pub const CODES: [Code; 21] = [
    Code::InvalidRequest,
    Code::IdempotencyKeyMissing,
    Code::IdempotencyKeyInvalid,
    Code::Unauthorized,
    Code::Forbidden,
    Code::NotFound,
    Code::SeatUnavailable,
    Code::SeatRestricted,
    Code::NoSeatsTogether,
    Code::HoldExpired,
    Code::CartClosed,
    Code::SalesClosed,
    Code::TooManyHolds,
    Code::RequestInProgress,
    Code::RequestTimeout,
    Code::PayloadTooLarge,
    Code::IdempotencyKeyReused,
    Code::RateLimited,
    Code::Internal,
    Code::Overloaded,
    Code::MethodNotAllowed,
];

/// The body the engine sends for `code` (with an example detail).
fn example_body(code: Code) -> serde_json::Value {
    let reply = match code {
        Code::SeatUnavailable => replies::seat_unavailable(&["A1".into(), "A2".into()]),
        Code::SeatRestricted => replies::seat_restricted_named(&["A2".into()]),
        _ => replies::problem(code, example_detail(code)),
    };
    serde_json::from_slice(&reply.body).expect("a problem body is JSON")
}

/// Whether the engine's reply for `code` carries `Retry-After`.
pub fn retries_after(code: Code) -> bool {
    replies::problem(code, "").retry_after_secs.is_some()
}

/// `application/problem+json` content with one example per code.
pub fn problem_content(codes: &[Code]) -> utoipa::openapi::Content {
    let mut content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem")));
    for code in codes {
        let example = utoipa::openapi::example::ExampleBuilder::new()
            .summary(code.slug())
            .value(Some(example_body(*code)))
            .build();
        content = content.examples_from_iter([(code.slug(), example)]);
    }
    content.build()
}

pub fn retry_after_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before retrying."))
        .build()
}

pub fn replayed_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        )
        .description(Some(
            "`true` when this response is a replay of the response stored under the \
             request's `Idempotency-Key`; absent on first execution.",
        ))
        .build()
}

/// A reusable problem response for one code.
fn problem_response(code: Code, description: &str) -> Response {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", problem_content(&[code]));
    if retries_after(code) {
        response = response.header("Retry-After", retry_after_header());
    }
    response.build()
}

macro_rules! reusable_problem {
    ($name:ident, $code:expr, $description:literal) => {
        #[doc = $description]
        pub struct $name;
        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (
                    stringify!($name),
                    RefOr::T(problem_response($code, $description)),
                )
            }
        }
    };
}

reusable_problem!(
    Unauthorized,
    Code::Unauthorized,
    "`unauthorized`: no or unknown bearer token."
);
reusable_problem!(
    Forbidden,
    Code::Forbidden,
    "`forbidden`: admin endpoint without the admin token (always, when no admin token is configured)."
);
reusable_problem!(
    RequestTimeout,
    Code::RequestTimeout,
    "`request-timeout`: the request body did not arrive within `client_request_timeout_secs`; nothing happened, and the connection is closed."
);
reusable_problem!(
    PayloadTooLarge,
    Code::PayloadTooLarge,
    "`payload-too-large`: request body over 64 KiB."
);
reusable_problem!(
    IdempotencyKeyReused,
    Code::IdempotencyKeyReused,
    "`idempotency-key-reused`: the key was already used for a different request (method, path or body); nothing happened."
);
reusable_problem!(
    RateLimited,
    Code::RateLimited,
    "`rate-limited`: too many requests from this user, or new sessions or unknown tokens from this address; carries `Retry-After`."
);
reusable_problem!(
    Overloaded,
    Code::Overloaded,
    "`overloaded`: the engine sheds load instead of queueing; carries `Retry-After`. The request had no effect."
);

/// A reference to the reusable answer `R` (as `response = R` writes it).
fn reference<R: ToResponse<'static>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(R::response().0))
}

/// What any signed-in request may be answered whatever it asks: 401 (no
/// or unknown token), 429 (rate), 503 (load). Named in a declaration's
/// `responses(...)` in place of the three.
pub struct SignedInRefusals;

impl IntoResponses for SignedInRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("401".to_string(), reference::<Unauthorized>()),
            ("429".to_string(), reference::<RateLimited>()),
            ("503".to_string(), reference::<Overloaded>()),
        ])
    }
}

/// What a keyed write may be answered before it runs, whoever sends it:
/// 408 (a body too slow), 413 (too large), 422 (a key already used for
/// another request).
fn body_and_key_refusals() -> [(String, RefOr<Response>); 3] {
    [
        ("408".to_string(), reference::<RequestTimeout>()),
        ("413".to_string(), reference::<PayloadTooLarge>()),
        ("422".to_string(), reference::<IdempotencyKeyReused>()),
    ]
}

/// What any user's keyed write may be answered before it runs: those of
/// every signed-in request (`SignedInRefusals`), and those of its body and
/// key (408, 413, 422).
pub struct KeyedWriteRefusals;

impl IntoResponses for KeyedWriteRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = SignedInRefusals::responses();
        responses.extend(body_and_key_refusals());
        responses
    }
}

/// What an admin-only keyed write (`POST /v1/shows`) may be answered
/// before it runs: 401 (no or unknown token), 403 (not the admin token),
/// 429 (only from an address throttled for guessing tokens: the admin
/// token is exempt from the per-user rate limit and from the cap on stored
/// keys), 503 (load), and those of its body and key (408, 413, 422).
pub struct AdminWriteRefusals;

impl IntoResponses for AdminWriteRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = BTreeMap::from([
            ("401".to_string(), reference::<Unauthorized>()),
            ("403".to_string(), reference::<Forbidden>()),
            ("429".to_string(), reference::<RateLimited>()),
            ("503".to_string(), reference::<Overloaded>()),
        ]);
        responses.extend(body_and_key_refusals());
        responses
    }
}

/// What any admin-only request without a body (a read, an unblock) may be
/// answered whatever it asks: 401, 403, 429 (an address throttled for
/// guessing tokens), 503.
pub struct AdminRefusals;

impl IntoResponses for AdminRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("401".to_string(), reference::<Unauthorized>()),
            ("403".to_string(), reference::<Forbidden>()),
            ("429".to_string(), reference::<RateLimited>()),
            ("503".to_string(), reference::<Overloaded>()),
        ])
    }
}
