//! The RFC 9457 problem body every refusal is sent as. Which refusals
//! there are, with their codes, statuses and words, is `replies.rs`'s
//! table; this file only writes what it is given.

use super::reply::Reply;
use serde::Serialize;
use utoipa::ToSchema;

/// Base of every problem `type`; the last segment is the code.
pub const PROBLEM_BASE: &str = "https://boxoffice.dev/problems/";

/// RFC 9457 problem details. The last path segment of `type` is the
/// error code.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody<'a> {
    /// Problem type; its last path segment is the error code.
    #[serde(rename = "type")]
    #[schema(format = "uri-reference")]
    kind: String,
    title: &'a str,
    #[schema(minimum = 100, maximum = 599)]
    status: u16,
    detail: &'a str,
    /// Present only on `seat-unavailable` (the seats held or booked by
    /// someone else) and `seat-restricted` (the companion seats asked for
    /// without a wheelchair seat of their row): the seat ids the refusal
    /// is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Vec<String>)]
    seats: Option<&'a [String]>,
}

/// A problem reply: `status`, its `type` the code's `slug` under
/// `PROBLEM_BASE`, its `title` and `detail`, and the seats a seat refusal
/// names. Which refusals there are, and their words, is `replies`' table.
pub fn problem_reply(
    status: u16,
    slug: &str,
    title: &str,
    detail: &str,
    seats: Option<&[String]>,
) -> Reply {
    Reply::json(
        status,
        &ProblemBody {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title,
            status,
            detail,
            seats,
        },
    )
}
