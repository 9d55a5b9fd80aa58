//! Seat ids from request bodies and paths: parse, or refuse; what parses
//! prints back to the same text.
#![no_main]
use boxoffice::domain::SeatLabel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(label) = SeatLabel::parse(text) {
            assert_eq!(label.to_string(), text);
        }
    }
});
