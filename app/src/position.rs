//! How one ticket's position changes under a queue event.
//!
//! The server uses this to answer each ticket socket with its exact position without looking
//! the ticket up on every event, and the phone runs the very same code. Property tests check
//! it against the engine's own positions.

use crate::domain::{
    CounterId, Event, EventEnvelope, QueueId, Ticket, TicketId, TicketStatus, VenueState,
    state::eta_seconds,
};
use serde::{Deserialize, Serialize};

/// What a customer sees of their ticket, kept current event by event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    pub ticket: TicketId,
    pub queue: QueueId,
    pub status: TicketStatus,
    /// 1-based, only while waiting.
    pub position: Option<u32>,
    pub counter: Option<CounterId>,
    /// Times called: a recall bumps it, so the phone can alert again.
    pub calls: u32,
    pub pace_ms: u64,
    /// Offset of the last event applied.
    pub offset: u64,
}

impl Watch {
    /// The watch of a ticket as the state has it now.
    pub fn of(state: &VenueState, ticket: &Ticket) -> Self {
        Self::with_position(state, ticket, state.position(ticket))
    }

    /// As [`Watch::of`], for a caller that already knows the ticket's position in `state`.
    pub fn with_position(state: &VenueState, ticket: &Ticket, position: Option<u32>) -> Self {
        Self {
            ticket: ticket.id,
            queue: ticket.queue,
            status: ticket.status,
            position,
            counter: ticket.counter,
            calls: ticket.calls,
            pace_ms: state.queues.get(&ticket.queue).map_or(0, |q| q.pace_ms),
            offset: state.offset,
        }
    }

    pub fn eta_seconds(&self) -> Option<u64> {
        self.position.map(|p| eta_seconds(p, self.pace_ms))
    }

    /// Apply one event; returns whether anything the customer sees changed.
    /// Events at or before `offset` are ignored, so replays after a resync are harmless.
    pub fn apply(&mut self, env: &EventEnvelope) -> bool {
        if env.offset <= self.offset {
            return false;
        }
        self.offset = env.offset;
        let before = self.seen();
        let me = self.ticket;
        match &env.event {
            Event::Joined {
                ticket,
                queue,
                position,
                ..
            } => {
                if *ticket != me {
                    self.inserted(*queue, *position);
                }
            }
            Event::Called {
                ticket,
                queue,
                counter,
                from_position,
                pace_ms,
                recall,
                ..
            } => {
                if *queue == self.queue {
                    self.pace_ms = *pace_ms;
                }
                if *ticket == me {
                    self.status = TicketStatus::Called;
                    self.position = None;
                    self.counter = Some(*counter);
                    self.calls = if *recall { self.calls + 1 } else { 1 };
                } else {
                    self.removed(*queue, *from_position);
                }
            }
            Event::StatusChanged {
                ticket,
                queue,
                status,
                from_position,
                ..
            } => {
                if *ticket == me {
                    self.status = *status;
                    self.position = None;
                } else {
                    self.removed(*queue, *from_position);
                }
            }
            Event::Requeued {
                ticket,
                from_queue,
                from_position,
                queue,
                position,
                pace_ms,
                ..
            } => {
                if *ticket == me {
                    self.status = TicketStatus::Waiting;
                    self.queue = *queue;
                    self.position = Some(*position);
                    self.counter = None;
                    self.pace_ms = *pace_ms;
                } else {
                    self.removed(*from_queue, *from_position);
                    self.inserted(*queue, *position);
                }
            }
            Event::QueueStatusChanged { .. }
            | Event::QueueLimitChanged { .. }
            | Event::QueueAdded { .. }
            | Event::CounterAdded { .. }
            | Event::VenueRenamed { .. }
            | Event::QueueUpdated { .. }
            | Event::QueueRemoved { .. }
            | Event::CounterRenamed { .. }
            | Event::CounterRemoved { .. }
            | Event::TimeZoneChanged { .. } => {}
        }
        before != self.seen()
    }

    /// What the customer sees: a change in any of it is worth a message.
    fn seen(
        &self,
    ) -> (
        TicketStatus,
        Option<u32>,
        Option<CounterId>,
        u32,
        Option<u64>,
    ) {
        (
            self.status,
            self.position,
            self.counter,
            self.calls,
            self.eta_seconds(),
        )
    }

    fn removed(&mut self, queue: QueueId, from: Option<u32>) {
        if let (true, Some(from), Some(mine)) = (queue == self.queue, from, self.position)
            && from < mine
        {
            self.position = Some(mine - 1);
        }
    }

    fn inserted(&mut self, queue: QueueId, at: u32) {
        if let (true, Some(mine)) = (queue == self.queue, self.position)
            && at <= mine
        {
            self.position = Some(mine + 1);
        }
    }
}
