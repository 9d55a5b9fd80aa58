//! Any request body, for every route that takes one: parsed and validated
//! as the route does, answered with a problem or accepted, never a panic.
#![no_main]
use boxoffice::http::requests::{parse_body, BodyOf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for of in [
        BodyOf::NewShow,
        BodyOf::NewBooking,
        BodyOf::NewCart,
        BodyOf::NewItem,
        BodyOf::Checkout,
    ] {
        if let Err(reply) = parse_body(of, data, 10) {
            assert_eq!(reply.status, 400, "{of:?}");
        }
    }
});
