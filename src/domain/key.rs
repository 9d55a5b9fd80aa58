//! `Idempotency-Key` values and request fingerprints.

use sha2::{Digest, Sha256};

/// Longest accepted key, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A client-made key naming one operation (scoped to its user elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the Idempotency-Key must be 1-255 printable ASCII characters")]
    Invalid,
}

impl IdempotencyKey {
    /// Parses a header value: bare (`abc`) or a structured-field string
    /// (`"abc"`, with `\"` and `\\` escapes). Both forms name the same key.
    pub fn parse(raw: &[u8]) -> Result<Self, KeyError> {
        let trimmed = trim_ows(raw);
        let key = if trimmed.len() >= 2 && trimmed[0] == b'"' {
            if *trimmed.last().unwrap() != b'"' {
                return Err(KeyError::Invalid);
            }
            unescape_sf_string(&trimmed[1..trimmed.len() - 1])?
        } else {
            trimmed.to_vec()
        };
        let printable = key.iter().all(|&b| (0x20..=0x7e).contains(&b));
        if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
            return Err(KeyError::Invalid);
        }
        Ok(IdempotencyKey(
            String::from_utf8(key).expect("printable ASCII is UTF-8"),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn trim_ows(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &raw[start..end]
}

fn unescape_sf_string(inner: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => out.push(escaped),
                _ => return Err(KeyError::Invalid),
            },
            b'"' => return Err(KeyError::Invalid),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// SHA-256 of (method, path, canonical body): "the same request".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// `canonical_body` must already be normalised so that JSON-equal bodies
    /// give equal bytes (the HTTP layer re-serialises with sorted keys).
    pub fn of(method: &str, path: &str, canonical_body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(method.as_bytes());
        hasher.update([0]);
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_body);
        Fingerprint(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_quoted_forms_name_the_same_key() {
        let bare = IdempotencyKey::parse(b"8e03978e-40d5-43e8-bc93-6894a57f9324").unwrap();
        let quoted = IdempotencyKey::parse(b"\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap();
        assert_eq!(bare, quoted);
        assert_eq!(
            IdempotencyKey::parse(br#""a\"b\\c""#).unwrap().as_str(),
            r#"a"b\c"#
        );
        assert_eq!(IdempotencyKey::parse(b"  k1 ").unwrap().as_str(), "k1");
    }

    #[test]
    fn invalid_keys_are_rejected() {
        let long = vec![b'a'; 256];
        for bad in [
            &b""[..],
            b"   ",
            b"\"\"",
            &long,
            "ключ".as_bytes(),
            b"a\x01b",
            b"\"abc",
            b"\"a\"b\"",
            b"\"a\\nb\"",
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(KeyError::Invalid),
                "{bad:?}"
            );
        }
        assert!(IdempotencyKey::parse(&vec![b'a'; 255]).is_ok());
    }

    #[test]
    fn fingerprints_separate_method_path_and_body() {
        let base = Fingerprint::of("POST", "/v1/bookings", b"{}");
        assert_eq!(base, Fingerprint::of("POST", "/v1/bookings", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/v1/carts", b"{}"));
        assert_ne!(base, Fingerprint::of("PUT", "/v1/bookings", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/v1/bookings", b"{\"a\":1}"));
    }

    proptest::proptest! {
        /// Any header value parses to a valid key or is refused, never a
        /// panic; what parses is 1-255 printable ASCII.
        #[test]
        fn any_header_value_is_a_key_or_refused(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(key) = IdempotencyKey::parse(&raw) {
                let text = key.as_str();
                proptest::prop_assert!(!text.is_empty() && text.len() <= MAX_KEY_LEN);
                proptest::prop_assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            }
        }
    }
}
