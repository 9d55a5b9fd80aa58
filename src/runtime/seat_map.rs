//! The public seat map of a show: a projection, not the seat state.
//!
//! Seat actors own seat state; after each durable change they store the new
//! public status here (one atomic byte per seat) and publish an event.
//! Readers (the seat map, the show list, event streams) never touch actors,
//! so a sold-out premiere's page views cost nothing in the seat mailboxes.
//!
//! Events carry ids, increasing per show, and the last `EVENT_BUFFER` of
//! them are kept, so that a reader that reconnects with `Last-Event-ID`
//! gets what it missed instead of reloading the whole map
//! (`SeatMap::subscribe`). Ids start at the time the map was made, in
//! microseconds, so that they keep increasing across restarts and
//! takeovers (a reader holding an id of an earlier map is behind the
//! oldest kept event, and gets a snapshot). The short lock of `EventLog`
//! orders ids with the broadcast; it guards the log, never a seat's state:
//! seat actors decide first, then publish here.

use crate::domain::{SeatStatus, Show};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Events kept for slow event-stream readers before they lag and are cut
/// off, and kept for readers that reconnect.
pub const EVENT_BUFFER: usize = 4096;

/// One seat changed its public status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatEvent {
    /// Increasing per show, in the order events are sent.
    pub id: u64,
    pub seat_id: String,
    pub status: SeatStatus,
}

/// The recent events and the next id.
struct EventLog {
    next_id: u64,
    recent: VecDeque<SeatEvent>,
}

/// Where a new reader starts (`SeatMap::subscribe`).
#[derive(Debug, PartialEq, Eq)]
pub enum Resume {
    /// From now: nothing missed. The id of the last event sent so far.
    Live { last_id: u64 },
    /// These events were missed since the reader's last id.
    Missed(Vec<SeatEvent>),
    /// The reader's last id is older than the events kept (or unknown):
    /// it needs the whole map. The id of the last event sent so far.
    Snapshot { last_id: u64 },
}

/// A show's public seat map and its event stream.
pub struct SeatMap {
    pub show: Show,
    statuses: Box<[AtomicU8]>,
    /// Seats by status (`SeatStatus as usize`): the list's `available` and
    /// the sales figures' counts, kept as statuses change, never counted.
    counts: [AtomicI64; 4],
    events: broadcast::Sender<SeatEvent>,
    log: Mutex<EventLog>,
}

impl SeatMap {
    /// A map with every seat available; `first_event_id` is the id its
    /// first event gets (the time, in microseconds, outside tests).
    pub fn new(show: Show, first_event_id: u64) -> Self {
        let capacity = show.layout.capacity();
        let statuses = (0..capacity)
            .map(|_| AtomicU8::new(SeatStatus::Available as u8))
            .collect();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        SeatMap {
            show,
            statuses,
            counts: [
                AtomicI64::new(capacity as i64),
                AtomicI64::new(0),
                AtomicI64::new(0),
                AtomicI64::new(0),
            ],
            events,
            log: Mutex::new(EventLog {
                next_id: first_event_id.max(1),
                recent: VecDeque::new(),
            }),
        }
    }

    pub fn status(&self, index: u32) -> SeatStatus {
        SeatStatus::from_u8(self.statuses[index as usize].load(Ordering::Acquire))
    }

    /// Publishes a seat's new status. Only the seat's actor calls this (and
    /// start-up before any actor runs), so per seat the order is the order
    /// of changes.
    pub fn set(&self, index: u32, status: SeatStatus) {
        let old =
            SeatStatus::from_u8(self.statuses[index as usize].swap(status as u8, Ordering::AcqRel));
        if old == status {
            return;
        }
        self.counts[old as usize].fetch_sub(1, Ordering::AcqRel);
        self.counts[status as usize].fetch_add(1, Ordering::AcqRel);
        let mut log = self.log.lock().expect("event log");
        let event = SeatEvent {
            id: log.next_id,
            seat_id: self.show.layout.label_of(index).to_string(),
            status,
        };
        log.next_id += 1;
        if log.recent.len() == EVENT_BUFFER {
            log.recent.pop_front();
        }
        log.recent.push_back(event.clone());
        // No receivers is fine: nobody is watching this show.
        let _ = self.events.send(event);
    }

    pub fn available(&self) -> u32 {
        self.count(SeatStatus::Available)
    }

    /// How many seats show `status` now.
    pub fn count(&self, status: SeatStatus) -> u32 {
        self.counts[status as usize].load(Ordering::Acquire).max(0) as u32
    }

    /// A new reader of the events, and where it starts: after
    /// `last_seen` (the id a reconnecting reader last got), or from now.
    /// Taken under the log's lock, so the missed events and the live ones
    /// that follow neither overlap nor leave a gap.
    pub fn subscribe(&self, last_seen: Option<u64>) -> (broadcast::Receiver<SeatEvent>, Resume) {
        let log = self.log.lock().expect("event log");
        let receiver = self.events.subscribe();
        let last_id = log.next_id - 1;
        let resume = match last_seen {
            None => Resume::Live { last_id },
            Some(seen) if seen == last_id => Resume::Live { last_id },
            // Kept from the one after `seen` on (or nothing was sent since
            // the map was made and `seen` is of this map).
            Some(seen)
                if seen < last_id
                    && log
                        .recent
                        .front()
                        .is_some_and(|oldest| oldest.id <= seen + 1) =>
            {
                Resume::Missed(
                    log.recent
                        .iter()
                        .filter(|event| event.id > seen)
                        .cloned()
                        .collect(),
                )
            }
            // Older than what is kept, or an id this map never gave.
            Some(_) => Resume::Snapshot { last_id },
        };
        (receiver, resume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Row, ShowId};

    fn map(seats: u32) -> SeatMap {
        let row = Row {
            label: "A".into(),
            seats,
        };
        let show = Show::new(ShowId(uuid::Uuid::nil()), "t".into(), 0, vec![row]).expect("a show");
        SeatMap::new(show, 100)
    }

    #[test]
    fn a_reader_resumes_after_its_last_id_without_gap_or_overlap() {
        let map = map(4);
        map.set(0, SeatStatus::Held);
        map.set(1, SeatStatus::Booked);
        map.set(0, SeatStatus::Booked);
        // Ids increase from the first id, one per change.
        let (_, resume) = map.subscribe(Some(100));
        let Resume::Missed(missed) = resume else {
            panic!("{resume:?}")
        };
        let ids: Vec<u64> = missed.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![101, 102]);
        assert_eq!(missed[0].seat_id, "A2");
        // Up to date: live; and the next change arrives live with the next id.
        let (mut live, resume) = map.subscribe(Some(102));
        assert_eq!(resume, Resume::Live { last_id: 102 });
        map.set(3, SeatStatus::Held);
        assert_eq!(live.try_recv().expect("live").id, 103);
        // A new reader starts from now.
        assert_eq!(map.subscribe(None).1, Resume::Live { last_id: 103 });
    }

    #[test]
    fn a_reader_too_far_behind_or_from_another_map_gets_a_snapshot() {
        let map = map(2);
        for i in 0..(EVENT_BUFFER as u32 + 10) {
            let status = if i % 2 == 0 {
                SeatStatus::Held
            } else {
                SeatStatus::Available
            };
            map.set(0, status);
        }
        let last_id = 100 + EVENT_BUFFER as u64 + 10 - 1;
        // The first events are no longer kept.
        assert_eq!(map.subscribe(Some(100)).1, Resume::Snapshot { last_id });
        assert_eq!(map.subscribe(Some(99)).1, Resume::Snapshot { last_id });
        // Ids from the future (another map's, a corrupt header).
        assert_eq!(
            map.subscribe(Some(last_id + 5)).1,
            Resume::Snapshot { last_id }
        );
        // The oldest kept one is still a resume.
        let (_, resume) = map.subscribe(Some(last_id - EVENT_BUFFER as u64));
        assert!(
            matches!(resume, Resume::Missed(ref m) if m.len() == EVENT_BUFFER),
            "{resume:?}"
        );
    }
}
