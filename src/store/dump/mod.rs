//! The dump: everything a store holds, as a portable, versioned file of
//! JSON lines (`docs/DUMP.md` is its contract). It is how data leaves a
//! store and enters another: a backup (`boxoffice export`, or
//! `GET /v1/admin/export` while the server sells), a restore
//! (`boxoffice import`), and the move between sled and PostgreSQL.
//!
//! Why a format of its own, not the stores' encodings: a dump outlives
//! the build that wrote it and crosses stores, so it says what each record
//! means, field by field, in a shape that only ever grows by version; the
//! stores turn `Record`s into their own layouts on import.
//!
//! `record` has what a store holds, as values; `lines` the JSON shape of
//! each line; `writer` writes a dump with its counts and checksum;
//! `reader` checks a whole dump before any of it is used.

mod lines;
mod reader;
mod record;
mod store_io;
mod writer;

pub use reader::{check_dump, read_dump, DumpSummary};
pub use record::{Record, RecordKind};
pub use store_io::{each_record, export, import, DataError, StoreLocation};
pub use writer::DumpWriter;

/// The first line's `format`.
pub const FORMAT: &str = "boxoffice-dump";

/// The version this build writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// What went wrong with a dump, for its reader (exit 1, named).
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("the dump could not be read: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {why}")]
    Line { line: u64, why: String },
    #[error("the dump is version {found}; this build reads versions up to {VERSION}")]
    Newer { found: u32 },
    #[error("the dump ends without its last line (counts and checksum): cut short?")]
    Truncated,
    #[error("the dump's checksum does not match its lines: it was changed or damaged")]
    Checksum,
    #[error("the dump's counts do not match its lines: {0}")]
    Counts(String),
}
