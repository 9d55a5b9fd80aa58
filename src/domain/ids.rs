//! Typed identifiers. Ids are opaque UUIDs on the wire; seat labels are
//! row letters plus a number (`A1`, `AB12`).

use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses the canonical hyphenated form; anything else is `None`.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A show (one screening of one film in one auditorium).
    ShowId
);
uuid_id!(
    /// A cart: seats held for one user until checkout or expiry.
    CartId
);
uuid_id!(
    /// A confirmed (or cancelled) booking of one or more seats.
    BookingId
);
uuid_id!(
    /// A guest user created by `POST /v1/sessions`, or the admin.
    UserId
);
uuid_id!(
    /// One in-flight multi-actor operation; seats remember it while prepared.
    TxnId
);

impl UserId {
    /// The user the admin token acts as (its keys are scoped like anyone's).
    pub const ADMIN: UserId = UserId(Uuid::from_u128(0xad));
}

/// Longest row label: `ZZZ`.
pub const MAX_ROW_LABEL_LEN: usize = 3;
/// Highest seat number in a row.
pub const MAX_SEATS_PER_ROW: u32 = 999;

/// A seat's name within its show: row label (1-3 letters A-Z) and number (1-999).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatLabel {
    pub row: String,
    pub number: u32,
}

impl SeatLabel {
    /// Parses `A1`, `BC999`. Rejects lower case, leading zeros and anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let split = text.find(|c: char| !c.is_ascii_uppercase())?;
        let (row, digits) = text.split_at(split);
        if row.is_empty() || row.len() > MAX_ROW_LABEL_LEN {
            return None;
        }
        if digits.is_empty()
            || digits.len() > 3
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let number: u32 = digits.parse().ok()?;
        Some(SeatLabel {
            row: row.to_string(),
            number,
        })
    }
}

impl fmt::Display for SeatLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.row, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_labels_parse_and_print() {
        let label = SeatLabel::parse("AB12").unwrap();
        assert_eq!(label.row, "AB");
        assert_eq!(label.number, 12);
        assert_eq!(label.to_string(), "AB12");
        for bad in [
            "", "A", "12", "a1", "A01", "ABCD1", "A1000", "A1B", "A-1", " A1",
        ] {
            assert!(SeatLabel::parse(bad).is_none(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn ids_parse_only_uuids() {
        assert!(ShowId::parse("not-a-uuid").is_none());
        let id = ShowId(Uuid::new_v4());
        assert_eq!(ShowId::parse(&id.to_string()), Some(id));
    }
}
