//! Storage adapters. Only this module knows SQL.
//!
//! Embedded mode has one adapter, [`sqlite::SqliteStore`]: venue configuration, current
//! tickets, the event history and staff accounts all live in one SQLite file. Distributed mode
//! (MySQL history + Redis log) will add adapters beside it behind the same methods.

pub mod sqlite;

use app::domain::{EventEnvelope, QueueId, QueueStatus, Ticket, Timestamp};

pub use sqlite::SqliteStore;

/// Everything one batch of accepted commands changed, written in one transaction.
#[derive(Default, Debug)]
pub struct Batch {
    pub venues: Vec<VenueRow>,
    pub queues: Vec<QueueRow>,
    pub tickets: Vec<(i64, Ticket)>,
    pub events: Vec<EventRow>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.venues.is_empty() && self.queues.is_empty() && self.tickets.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct VenueRow {
    pub id: i64,
    pub event_offset: u64,
    pub next_ticket_id: u64,
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: QueueId,
    pub status: QueueStatus,
    pub day: i64,
    pub last_number: u32,
    pub pace_ms: u64,
    pub last_call_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub venue_id: i64,
    /// The staff account that caused it; `None` for customers.
    pub actor: Option<i64>,
    pub event: EventEnvelope,
}

/// A staff member's role at one venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Staff,
    Manager,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "staff" => Role::Staff,
            "manager" => Role::Manager,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}
