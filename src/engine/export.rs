//! The whole store as a dump (docs/DUMP.md), from one consistent snapshot
//! taken while the engine serves: what `GET /v1/admin/export` streams.

use super::Engine;
use crate::store::dump::{DumpWriter, RecordKind};
use crate::store::StoreError;
use std::collections::BTreeMap;
use std::io::Write;

impl Engine {
    /// Writes every record to `out` as a dump stamped `created_at`;
    /// returns the records written by kind. Blocking: call it on a thread
    /// that may block (the store hands records out as it reads them).
    pub fn export_dump<W: Write>(
        &self,
        out: W,
        created_at: String,
    ) -> Result<BTreeMap<RecordKind, u64>, String> {
        let store = &self.inner.core.store;
        let mut dump =
            DumpWriter::start(out, store.kind_name(), created_at).map_err(|e| e.to_string())?;
        store
            .export_snapshot(&mut |record| {
                dump.write(&record)
                    .map_err(|e| StoreError::Io(e.to_string()))
            })
            .map_err(|e| e.to_string())?;
        dump.finish()
            .map(|(_, counts)| counts)
            .map_err(|e| e.to_string())
    }
}
