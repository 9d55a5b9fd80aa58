//! Any header value: a valid key (1-255 printable ASCII) or an error.
#![no_main]
use boxoffice::domain::IdempotencyKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = IdempotencyKey::parse(data) {
        let text = key.as_str();
        assert!(!text.is_empty() && text.len() <= 255);
        assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    }
});
