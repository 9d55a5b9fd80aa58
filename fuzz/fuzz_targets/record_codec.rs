//! Any bytes read back from the store: a record or an error, never a panic.
#![no_main]
use boxoffice::store::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode_seat(data);
    let _ = codec::decode_reply(data);
    let _ = codec::decode_show(data);
    let _ = codec::decode_cart(data);
    let _ = codec::decode_booking(data);
});
