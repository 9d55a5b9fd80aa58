//! The public seat map of a show: a projection, not the seat state.
//!
//! Seat actors own seat state; after each durable change they store the new
//! public status here (one atomic byte per seat) and publish an event.
//! Readers (the seat map, the show list, event streams) never touch actors,
//! so a sold-out premiere's page views cost nothing in the seat mailboxes.

use crate::domain::{SeatStatus, Show};
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use tokio::sync::broadcast;

/// Events kept for slow event-stream readers before they lag and are cut off.
pub const EVENT_BUFFER: usize = 4096;

/// One seat changed its public status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatEvent {
    pub seat_id: String,
    pub status: SeatStatus,
}

/// A show's public seat map and its event stream.
pub struct SeatMap {
    pub show: Show,
    statuses: Box<[AtomicU8]>,
    available: AtomicI64,
    events: broadcast::Sender<SeatEvent>,
}

impl SeatMap {
    pub fn new(show: Show) -> Self {
        let capacity = show.layout.capacity();
        let statuses = (0..capacity)
            .map(|_| AtomicU8::new(SeatStatus::Available as u8))
            .collect();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        SeatMap {
            show,
            statuses,
            available: AtomicI64::new(capacity as i64),
            events,
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
        match (old, status) {
            (SeatStatus::Available, _) => self.available.fetch_sub(1, Ordering::AcqRel),
            (_, SeatStatus::Available) => self.available.fetch_add(1, Ordering::AcqRel),
            _ => 0,
        };
        // No receivers is fine: nobody is watching this show.
        let _ = self.events.send(SeatEvent {
            seat_id: self.show.layout.label_of(index).to_string(),
            status,
        });
    }

    pub fn available(&self) -> u32 {
        self.available.load(Ordering::Acquire).max(0) as u32
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SeatEvent> {
        self.events.subscribe()
    }
}
