//! A file's bytes in pages of 4 KiB, shared between the copy the programs
//! see and the durable copy until written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Bytes are kept and made durable in pages of this size.
pub const PAGE: u64 = 4096;
type Page = Arc<[u8; PAGE as usize]>;

/// A disk writes whole sectors of this size, or none of them.
pub const SECTOR: u64 = 512;

/// A file's bytes: pages that share memory with other copies until
/// written (a durable copy costs a page only where the file changed).
#[derive(Clone, Default)]
pub struct Bytes {
    size: u64,
    pub(super) pages: BTreeMap<u64, Page>,
}

impl Bytes {
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn read(&self, offset: u64, len: u64) -> Vec<u8> {
        let end = (offset.saturating_add(len)).min(self.size);
        if offset >= end {
            return Vec::new();
        }
        let mut out = vec![0u8; (end - offset) as usize];
        let mut at = offset;
        while at < end {
            let page = at / PAGE;
            let within = (at % PAGE) as usize;
            let take = ((PAGE - at % PAGE).min(end - at)) as usize;
            if let Some(bytes) = self.pages.get(&page) {
                let from = (at - offset) as usize;
                out[from..from + take].copy_from_slice(&bytes[within..within + take]);
            }
            at += take as u64;
        }
        out
    }

    /// Writes `data` at `offset`; the pages it touched go into `dirty`.
    pub(super) fn write(&mut self, offset: u64, data: &[u8], dirty: &mut BTreeSet<u64>) {
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let page = at / PAGE;
            let within = (at % PAGE) as usize;
            let take = (PAGE as usize - within).min(rest.len());
            let bytes = self
                .pages
                .entry(page)
                .or_insert_with(|| Arc::new([0u8; PAGE as usize]));
            Arc::make_mut(bytes)[within..within + take].copy_from_slice(&rest[..take]);
            dirty.insert(page);
            rest = &rest[take..];
            at += take as u64;
        }
        self.size = self.size.max(offset + data.len() as u64);
    }

    /// Sets the size; bytes past it are gone (zeros if it grows again).
    pub(super) fn truncate(&mut self, size: u64, dirty: &mut BTreeSet<u64>) {
        if size < self.size {
            let first_gone = size.div_ceil(PAGE);
            let gone: Vec<u64> = self.pages.range(first_gone..).map(|(p, _)| *p).collect();
            for page in gone {
                self.pages.remove(&page);
                dirty.insert(page);
            }
            let within = (size % PAGE) as usize;
            if within != 0 {
                if let Some(bytes) = self.pages.get_mut(&(size / PAGE)) {
                    Arc::make_mut(bytes)[within..].fill(0);
                    dirty.insert(size / PAGE);
                }
            }
        }
        self.size = size;
    }

    /// Copies the pages in `dirty` and the size from `now`.
    pub(super) fn take_from(&mut self, now: &Bytes, dirty: &BTreeSet<u64>) {
        for page in dirty {
            match now.pages.get(page) {
                Some(bytes) => self.pages.insert(*page, bytes.clone()),
                None => self.pages.remove(page),
            };
        }
        self.size = now.size;
        // Pages past the size that no write marked (a file cut short and
        // then synced) must not reappear if it grows again.
        let first_gone = self.size.div_ceil(PAGE);
        self.pages.retain(|page, _| *page < first_gone);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.read(0, self.size)
    }
}
