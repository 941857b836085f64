//! What can be asked of a venue. Values are already validated; the engine checks the rules.

use super::hours::OpenHours;
use super::values::*;
use serde::{Deserialize, Serialize};

/// Where a ticket goes when it is put back into a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Front,
    #[default]
    Back,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// A customer joins, or staff add a walk-in (`walk_in: true`).
    Join {
        queue: QueueId,
        name: CustomerName,
        party_size: PartySize,
        notes: Option<String>,
        /// Drawn at the edge: the engine never draws randomness.
        token: String,
        walk_in: bool,
    },
    /// The customer (or staff) cancels a waiting or called ticket.
    Cancel {
        ticket: TicketId,
    },
    /// Call whoever is first in line to a counter.
    CallNext {
        queue: QueueId,
        counter: CounterId,
    },
    /// Call a specific waiting ticket out of order.
    CallTicket {
        ticket: TicketId,
        counter: CounterId,
    },
    /// Call an already called ticket again.
    Recall {
        ticket: TicketId,
    },
    StartServing {
        ticket: TicketId,
    },
    MarkServed {
        ticket: TicketId,
    },
    NoShow {
        ticket: TicketId,
    },
    /// Put a ticket back into its own queue's line.
    Requeue {
        ticket: TicketId,
        to: End,
    },
    /// Move a ticket into another queue of the venue.
    Move {
        ticket: TicketId,
        queue: QueueId,
        to: End,
    },
    PauseQueue {
        queue: QueueId,
    },
    /// Open a paused or closed queue.
    ResumeQueue {
        queue: QueueId,
    },
    CloseQueue {
        queue: QueueId,
    },
    /// Most tickets allowed to wait in a queue at once (`None`: no limit). People already
    /// in line stay; only new joins are refused while it is full.
    SetMaxWaiting {
        queue: QueueId,
        max_waiting: Option<u32>,
    },
    /// A new queue, already given its id by storage (ids are unique across venues).
    AddQueue {
        queue: QueueId,
        slug: String,
        name: String,
        prefix: String,
    },
    /// A new counter or table, already given its id by storage.
    AddCounter {
        counter: CounterId,
        name: String,
    },
    RenameVenue {
        name: String,
    },
    /// Change a queue's name, number prefix (for numbers issued from now on) and open hours.
    /// The slug stays: it is printed in QR codes.
    UpdateQueue {
        queue: QueueId,
        name: String,
        prefix: String,
        open_hours: OpenHours,
    },
    /// Remove an empty queue (nobody waiting, called or being served). History keeps it.
    RemoveQueue {
        queue: QueueId,
    },
    RenameCounter {
        counter: CounterId,
        name: String,
    },
    /// Remove a counter nobody is called to or served at.
    RemoveCounter {
        counter: CounterId,
    },
    /// The venue's time zone and its offset at the moment (resolved at the edge, where the
    /// time zone database is). Sent again by the server whenever the offset changes.
    SetTimeZone {
        time_zone: String,
        utc_offset_minutes: i32,
    },
}
