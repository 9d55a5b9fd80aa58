//! What names a dump and what can be wrong with one: a leaf the other
//! parts of `dump` share.

/// The first line's `format`.
pub const FORMAT: &str = "boxoffice-dump";

/// The version this build writes, and the newest it reads. Version 2
/// (v1.2) adds blocked seats, a show's sales end and who cancelled a
/// booking; a version 1 dump reads as before (no blocks, no end, every
/// cancel its owner's).
pub const VERSION: u32 = 2;

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
