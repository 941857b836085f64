//! The in-memory state of one venue: what the engine reads and changes.

use super::hours::OpenHours;
use super::values::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A hash map with foldhash's per-process seeded hasher instead of std's SipHash: every join
/// inserts into and looks up the ticket maps several times, and SipHash showed as a few per
/// cent of a join's CPU. The keys are ids and tokens the server assigns, so no client can
/// fill a map with colliding keys; the per-process seed is kept all the same.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Pace assumed for a queue until calls have been observed: two minutes a party.
pub const DEFAULT_PACE_MS: u64 = 120_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub id: CounterId,
    pub name: String,
}

/// Serialized into log entries and snapshots: fields that are `None` are left out (an absent
/// one reads as `None`, also in earlier versions), a fifth of a waiting ticket's JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub queue: QueueId,
    pub number: TicketNumber,
    /// The customer's capability: whoever holds it can see and cancel the ticket.
    pub token: String,
    pub name: CustomerName,
    pub party_size: PartySize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub walk_in: bool,
    pub status: TicketStatus,
    /// Order among the waiting tickets of its queue: lower is served first.
    pub rank: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<CounterId>,
    /// How many times the ticket has been called (1 after the first call, +1 per recall).
    pub calls: u32,
    /// Venue-local day the ticket was issued on.
    pub day: i64,
    pub joined_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueState {
    pub id: QueueId,
    pub slug: String,
    pub name: String,
    pub prefix: String,
    pub status: QueueStatus,
    /// Most tickets allowed to wait at once; `None` is unlimited.
    pub max_waiting: Option<u32>,
    /// When customers may join, in venue-local time; empty: whenever the queue is open.
    #[serde(default)]
    pub open_hours: OpenHours,
    /// The venue-local day `last_number` belongs to.
    pub day: i64,
    pub last_number: u32,
    /// Waiting tickets by rank; position = 1 + number of entries before it.
    pub waiting: BTreeMap<i64, TicketId>,
    /// Smoothed time between two calls of this queue, used for wait estimates.
    pub pace_ms: u64,
    pub last_call_at: Option<Timestamp>,
}

impl QueueState {
    pub fn new(id: QueueId, slug: &str, name: &str, prefix: &str) -> Self {
        Self {
            id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            status: QueueStatus::Open,
            max_waiting: None,
            open_hours: OpenHours::default(),
            day: i64::MIN,
            last_number: 0,
            waiting: BTreeMap::new(),
            pace_ms: DEFAULT_PACE_MS,
            last_call_at: None,
        }
    }

    /// 1-based position of the waiting ticket with this rank.
    ///
    /// Counts from the nearer end of the line. Ranks are spread about evenly (joins take
    /// last + 1, moves to the front first - 1), so answering a join near the back costs the
    /// distance to the back, not the length of the line: with 20,000 people waiting,
    /// counting from the front made every join answer walk the whole line.
    pub fn position_of_rank(&self, rank: i64) -> Option<u32> {
        if !self.waiting.contains_key(&rank) {
            return None;
        }
        let first = *self.waiting.keys().next()?;
        let last = *self.waiting.keys().next_back()?;
        let position = if rank - first <= last - rank {
            self.waiting.range(..rank).count() + 1
        } else {
            self.waiting.len() - self.waiting.range(rank..).count() + 1
        };
        Some(position as u32)
    }

    pub fn waiting_len(&self) -> u32 {
        self.waiting.len() as u32
    }

    /// Estimated wait for whoever is at `position`.
    pub fn eta_seconds(&self, position: u32) -> u64 {
        eta_seconds(position, self.pace_ms)
    }

    pub(crate) fn back_rank(&self) -> i64 {
        self.waiting.keys().next_back().map_or(0, |r| r + 1)
    }

    pub(crate) fn front_rank(&self) -> i64 {
        self.waiting.keys().next().map_or(0, |r| r - 1)
    }
}

/// Wait estimate shared by the server and the phone, so both always show the same figure.
pub fn eta_seconds(position: u32, pace_ms: u64) -> u64 {
    (position as u64 * pace_ms).div_ceil(1000)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VenueState {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// IANA time zone name ("Europe/Lisbon"); empty means UTC.
    #[serde(default)]
    pub time_zone: String,
    /// The zone's offset now. The engine reads only this (it has no time zone database);
    /// the server keeps it current across daylight-saving changes.
    pub utc_offset_minutes: i32,
    pub queues: BTreeMap<QueueId, QueueState>,
    pub counters: BTreeMap<CounterId, Counter>,
    /// Active tickets and tickets finished today; older finished tickets live only in storage.
    pub tickets: FastMap<TicketId, Ticket>,
    pub tokens: FastMap<String, TicketId>,
    pub next_ticket_id: u64,
    /// Offset of the last event applied; every event gets the next one.
    pub offset: u64,
}

impl VenueState {
    pub fn new(id: i64, slug: &str, name: &str) -> Self {
        Self {
            id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            next_ticket_id: 1,
            ..Self::default()
        }
    }

    pub fn insert_ticket(&mut self, ticket: Ticket) {
        if ticket.status == TicketStatus::Waiting
            && let Some(q) = self.queues.get_mut(&ticket.queue)
        {
            q.waiting.insert(ticket.rank, ticket.id);
        }
        self.next_ticket_id = self.next_ticket_id.max(ticket.id.0 + 1);
        self.tokens.insert(ticket.token.clone(), ticket.id);
        self.tickets.insert(ticket.id, ticket);
    }

    pub fn queue_by_slug(&self, slug: &str) -> Option<&QueueState> {
        self.queues.values().find(|q| q.slug == slug)
    }

    pub fn counter_by_name(&self, name: &str) -> Option<&Counter> {
        self.counters
            .values()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn ticket_by_token(&self, token: &str) -> Option<&Ticket> {
        self.tokens.get(token).and_then(|id| self.tickets.get(id))
    }

    /// Current 1-based position of a waiting ticket.
    pub fn position(&self, ticket: &Ticket) -> Option<u32> {
        if ticket.status != TicketStatus::Waiting {
            return None;
        }
        self.queues
            .get(&ticket.queue)?
            .position_of_rank(ticket.rank)
    }

    /// Waiting tickets of a queue, first in line first.
    pub fn waiting_tickets(&self, queue: QueueId) -> impl Iterator<Item = &Ticket> {
        self.queues
            .get(&queue)
            .into_iter()
            .flat_map(|q| q.waiting.values())
            .filter_map(|id| self.tickets.get(id))
    }
}
