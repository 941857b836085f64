//! What happened. Events carry no names or contacts, so they can go to any watcher as they are.

use super::hours::OpenHours;
use super::values::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Per-venue, gap-free: a watcher that sees offset n+2 after n knows it missed one.
    pub offset: u64,
    pub at: Timestamp,
    #[serde(flatten)]
    pub event: Event,
}

/// `from_position`: where the ticket stood in its queue's line before the event, if it was
/// waiting. `position`: where it stands after. Watchers shift their own position with these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Joined {
        ticket: TicketId,
        queue: QueueId,
        number: TicketNumber,
        party_size: u8,
        walk_in: bool,
        position: u32,
    },
    Called {
        ticket: TicketId,
        queue: QueueId,
        number: TicketNumber,
        counter: CounterId,
        from_position: Option<u32>,
        recall: bool,
        /// The queue's pace after this call, for everyone's wait estimate.
        pace_ms: u64,
    },
    /// Serving, served, no-show or cancelled.
    StatusChanged {
        ticket: TicketId,
        queue: QueueId,
        number: TicketNumber,
        status: TicketStatus,
        from_position: Option<u32>,
    },
    /// Back into a line: its own queue (`from_queue == queue`) or another one (a move).
    Requeued {
        ticket: TicketId,
        number: TicketNumber,
        from_queue: QueueId,
        from_position: Option<u32>,
        queue: QueueId,
        position: u32,
        /// Pace of the queue it is now in.
        pace_ms: u64,
    },
    QueueStatusChanged {
        queue: QueueId,
        status: QueueStatus,
    },
    /// The queue's limit on waiting tickets changed (`None`: unlimited).
    QueueLimitChanged {
        queue: QueueId,
        max_waiting: Option<u32>,
    },
    QueueAdded {
        queue: QueueId,
        slug: String,
        name: String,
        prefix: String,
    },
    CounterAdded {
        counter: CounterId,
        name: String,
    },
    VenueRenamed {
        name: String,
    },
    QueueUpdated {
        queue: QueueId,
        name: String,
        prefix: String,
        open_hours: OpenHours,
    },
    QueueRemoved {
        queue: QueueId,
    },
    CounterRenamed {
        counter: CounterId,
        name: String,
    },
    CounterRemoved {
        counter: CounterId,
    },
    TimeZoneChanged {
        time_zone: String,
        utc_offset_minutes: i32,
    },
}

impl Event {
    /// The event's name, as in its JSON `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Joined { .. } => "joined",
            Event::Called { .. } => "called",
            Event::StatusChanged { .. } => "status_changed",
            Event::Requeued { .. } => "requeued",
            Event::QueueStatusChanged { .. } => "queue_status_changed",
            Event::QueueLimitChanged { .. } => "queue_limit_changed",
            Event::QueueAdded { .. } => "queue_added",
            Event::CounterAdded { .. } => "counter_added",
            Event::VenueRenamed { .. } => "venue_renamed",
            Event::QueueUpdated { .. } => "queue_updated",
            Event::QueueRemoved { .. } => "queue_removed",
            Event::CounterRenamed { .. } => "counter_renamed",
            Event::CounterRemoved { .. } => "counter_removed",
            Event::TimeZoneChanged { .. } => "time_zone_changed",
        }
    }

    pub fn ticket(&self) -> Option<TicketId> {
        match self {
            Event::Joined { ticket, .. }
            | Event::Called { ticket, .. }
            | Event::StatusChanged { ticket, .. }
            | Event::Requeued { ticket, .. } => Some(*ticket),
            Event::QueueStatusChanged { .. }
            | Event::QueueLimitChanged { .. }
            | Event::QueueAdded { .. }
            | Event::CounterAdded { .. }
            | Event::VenueRenamed { .. }
            | Event::QueueUpdated { .. }
            | Event::QueueRemoved { .. }
            | Event::CounterRenamed { .. }
            | Event::CounterRemoved { .. }
            | Event::TimeZoneChanged { .. } => None,
        }
    }

    /// Queues whose line, status or settings this event changes (at most two).
    pub fn queues(&self) -> (Option<QueueId>, Option<QueueId>) {
        match self {
            Event::Joined { queue, .. }
            | Event::Called { queue, .. }
            | Event::StatusChanged { queue, .. }
            | Event::QueueStatusChanged { queue, .. }
            | Event::QueueLimitChanged { queue, .. }
            | Event::QueueAdded { queue, .. }
            | Event::QueueUpdated { queue, .. }
            | Event::QueueRemoved { queue } => (Some(*queue), None),
            Event::Requeued {
                from_queue, queue, ..
            } => (Some(*queue), (from_queue != queue).then_some(*from_queue)),
            Event::CounterAdded { .. }
            | Event::VenueRenamed { .. }
            | Event::CounterRenamed { .. }
            | Event::CounterRemoved { .. }
            | Event::TimeZoneChanged { .. } => (None, None),
        }
    }
}
