//! Reads a dump: `check_dump` reads it whole first (the first line's
//! format and version, every record line, the counts and checksum of the
//! last line) and changes nothing; only then does `read_dump` hand out its
//! records. A dump is read from a file, twice, never held in memory.

use super::format::{DumpError, FORMAT, VERSION};
use super::lines::{Header, Line, Trailer};
use super::record::{Record, RecordKind};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What a checked dump holds.
#[derive(Debug)]
pub struct DumpSummary {
    pub version: u32,
    pub created_at: String,
    pub source: String,
    pub counts: BTreeMap<RecordKind, u64>,
}

/// Reads every line of the dump at `path` and checks it: the first line
/// names this format and a version this build reads, each record line is
/// a valid record, and the last line's counts and SHA-256 match the lines
/// before it.
pub fn check_dump(path: &Path) -> Result<DumpSummary, DumpError> {
    let mut lines = Lines::open(path)?;
    let header = lines.header()?;
    let mut counts: BTreeMap<RecordKind, u64> = RecordKind::ALL.iter().map(|k| (*k, 0)).collect();
    let mut hash = Sha256::new();
    hash.update(&lines.last);
    loop {
        let number = lines.number + 1;
        let Some(bytes) = lines.next_line()? else {
            return Err(DumpError::Truncated);
        };
        // The last line is the trailer: nothing after it.
        if let Ok(trailer) = serde_json::from_slice::<Trailer>(&bytes) {
            if lines.next_line()?.is_some() {
                return Err(DumpError::Line {
                    line: number + 1,
                    why: "lines after the last line".into(),
                });
            }
            verify_trailer(&trailer, &counts, hash)?;
            return Ok(DumpSummary {
                version: header.version,
                created_at: header.created_at,
                source: header.source,
                counts,
            });
        }
        let record = parse(&bytes, number)?;
        *counts.entry(record.kind()).or_default() += 1;
        hash.update(&bytes);
        hash.update(b"\n");
    }
}

/// The records of a dump that `check_dump` passed, in order.
pub fn read_dump(
    path: &Path,
) -> Result<impl Iterator<Item = Result<Record, DumpError>>, DumpError> {
    let mut lines = Lines::open(path)?;
    lines.header()?;
    Ok(std::iter::from_fn(move || {
        let number = lines.number + 1;
        match lines.next_line() {
            Err(error) => Some(Err(error)),
            Ok(None) => None,
            Ok(Some(bytes)) if serde_json::from_slice::<Trailer>(&bytes).is_ok() => None,
            Ok(Some(bytes)) => Some(parse(&bytes, number)),
        }
    }))
}

fn parse(bytes: &[u8], number: u64) -> Result<Record, DumpError> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| DumpError::Line {
        line: number,
        why: e.to_string(),
    })?;
    line.into_record()
        .map_err(|why| DumpError::Line { line: number, why })
}

fn verify_trailer(
    trailer: &Trailer,
    counts: &BTreeMap<RecordKind, u64>,
    hash: Sha256,
) -> Result<(), DumpError> {
    if !trailer.end {
        return Err(DumpError::Truncated);
    }
    if hex::encode(hash.finalize()) != trailer.sha256 {
        return Err(DumpError::Checksum);
    }
    for kind in RecordKind::ALL {
        let said = trailer.counts.get(kind.as_str()).copied().unwrap_or(0);
        let found = counts[&kind];
        if said != found {
            return Err(DumpError::Counts(format!(
                "the last line says {said} {} records, the dump holds {found}",
                kind.as_str()
            )));
        }
    }
    if let Some(unknown) = trailer
        .counts
        .keys()
        .find(|name| !RecordKind::ALL.iter().any(|k| k.as_str() == name.as_str()))
    {
        return Err(DumpError::Counts(format!("no record kind {unknown:?}")));
    }
    Ok(())
}

/// A dump's lines, each without its newline; a last line without one is
/// a dump cut short.
struct Lines {
    input: BufReader<Box<dyn Read>>,
    number: u64,
    /// The first line with its newline (it is hashed too).
    last: Vec<u8>,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, DumpError> {
        let file = std::fs::File::open(path)?;
        Ok(Lines {
            input: BufReader::with_capacity(1 << 16, Box::new(file)),
            number: 0,
            last: Vec::new(),
        })
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, DumpError> {
        let mut bytes = Vec::new();
        if self.input.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        if bytes.pop() != Some(b'\n') {
            return Err(DumpError::Truncated);
        }
        Ok(Some(bytes))
    }

    fn header(&mut self) -> Result<Header, DumpError> {
        let bytes = self.next_line()?.ok_or(DumpError::Truncated)?;
        let header: Header = serde_json::from_slice(&bytes).map_err(|e| DumpError::Line {
            line: 1,
            why: format!("not a dump's first line: {e}"),
        })?;
        if header.format != FORMAT {
            return Err(DumpError::Line {
                line: 1,
                why: format!("format {:?}, not {FORMAT:?}", header.format),
            });
        }
        if header.version > VERSION {
            return Err(DumpError::Newer {
                found: header.version,
            });
        }
        self.last = bytes;
        self.last.push(b'\n');
        Ok(header)
    }
}
