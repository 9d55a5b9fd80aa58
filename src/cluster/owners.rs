//! Discovery: who serves a show's partition, as the forwarding node learns
//! it from the database, kept a moment so that forwarding costs no query
//! per request.

use super::partitions::PARTITIONS;

/// The owners of partitions as last read from the database, each kept for
/// a sixth of a lease: a node forwarding thousands of requests a second
/// asks the database once a second per partition, not once a request
/// (`docs/SCALING.md`). Safe to be stale: a node that does not own the show
/// refuses a forwarded request (503, not sent on), and the forwarder then
/// forgets the entry and asks again (`Membership::forget_owner`).
pub struct OwnerCache {
    keep: std::time::Duration,
    entries: Vec<std::sync::RwLock<Option<(String, std::time::Instant)>>>,
}

impl OwnerCache {
    pub fn new(lease_ms: u64) -> OwnerCache {
        OwnerCache {
            keep: std::time::Duration::from_millis(lease_ms / 6),
            entries: (0..PARTITIONS)
                .map(|_| std::sync::RwLock::new(None))
                .collect(),
        }
    }

    pub fn get(&self, partition: i32) -> Option<String> {
        let entry = self.entries.get(partition as usize)?.read().ok()?;
        match &*entry {
            Some((owner, at)) if at.elapsed() < self.keep => Some(owner.clone()),
            _ => None,
        }
    }

    pub fn put(&self, partition: i32, owner: String) {
        if let Some(Ok(mut entry)) = self.entries.get(partition as usize).map(|e| e.write()) {
            *entry = Some((owner, std::time::Instant::now()));
        }
    }

    pub fn forget(&self, partition: i32) {
        if let Some(Ok(mut entry)) = self.entries.get(partition as usize).map(|e| e.write()) {
            *entry = None;
        }
    }
}
