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

mod format;
mod lines;
mod reader;
mod record;
mod store_io;
mod writer;

pub use format::{DumpError, FORMAT, VERSION};
pub use reader::{check_dump, read_dump, DumpSummary};
pub use record::{Record, RecordKind};
pub use store_io::{each_record, export, import, DataError, StoreLocation};
pub use writer::DumpWriter;
