//! Writes a dump: the first line, a line per record, and the last line
//! with the counts and the SHA-256 of everything before it.

use super::lines::{Header, Line, Trailer};
use super::record::{Record, RecordKind};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;

pub struct DumpWriter<W: Write> {
    out: W,
    hash: Sha256,
    counts: BTreeMap<RecordKind, u64>,
}

impl<W: Write> DumpWriter<W> {
    /// Starts a dump of a `source` store (`sled`, `postgres`) taken at
    /// `created_at` (RFC 3339).
    pub fn start(out: W, source: &str, created_at: String) -> std::io::Result<Self> {
        let mut writer = DumpWriter {
            out,
            hash: Sha256::new(),
            counts: RecordKind::ALL.iter().map(|k| (*k, 0)).collect(),
        };
        writer.line(&Header::new(source, created_at))?;
        Ok(writer)
    }

    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        *self.counts.entry(record.kind()).or_default() += 1;
        self.line(&Line::of(record))
    }

    /// Writes the last line; returns the output and the counts.
    pub fn finish(mut self) -> std::io::Result<(W, BTreeMap<RecordKind, u64>)> {
        let trailer = Trailer {
            end: true,
            counts: self
                .counts
                .iter()
                .map(|(kind, n)| (kind.as_str().to_string(), *n))
                .collect(),
            sha256: hex::encode(self.hash.clone().finalize()),
        };
        let mut bytes = serde_json::to_vec(&trailer).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()?;
        Ok((self.out, self.counts))
    }

    fn line(&mut self, value: &impl serde::Serialize) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        self.hash.update(&bytes);
        self.out.write_all(&bytes)
    }
}
