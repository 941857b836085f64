//! Taking back a run of joins.
//!
//! The distributed writer applies a batch to its copy of the state before it knows whether
//! the batch will win the race to the log; when it loses, the copy must go back to where it
//! was. Copying the venue for that costs O(tickets) per batch. A join only adds its ticket
//! and moves a few counters on, so a run of joins is taken back in O(joins), and only that
//! case is offered: anything else is copied as before.

use super::state::VenueState;
use super::values::{QueueId, TicketId};

/// What a run of joins changed besides adding tickets: saved before the first of them.
#[derive(Debug, Clone)]
pub struct JoinUndo {
    next_ticket_id: u64,
    offset: u64,
    /// Each queue's venue day and last number.
    queues: Vec<(QueueId, i64, u32)>,
    joined: Vec<TicketId>,
}

impl JoinUndo {
    /// Save what joins change, before applying any.
    pub fn new(state: &VenueState) -> Self {
        Self {
            next_ticket_id: state.next_ticket_id,
            offset: state.offset,
            queues: state
                .queues
                .values()
                .map(|q| (q.id, q.day, q.last_number))
                .collect(),
            joined: Vec::new(),
        }
    }

    /// A join was applied and issued this ticket. (Refused joins change nothing.)
    pub fn joined(&mut self, ticket: TicketId) {
        self.joined.push(ticket);
    }

    /// Put the state back as it was at [`JoinUndo::new`], given that only joins were applied
    /// since. `false` when that cannot be done: a join started a new venue day, which also
    /// dropped the finished tickets of earlier days. The state is then unchanged by this
    /// call, and no longer the saved one.
    pub fn undo(self, state: &mut VenueState) -> bool {
        let same_queues = state.queues.len() == self.queues.len()
            && self
                .queues
                .iter()
                .all(|(id, day, _)| state.queues.get(id).is_some_and(|q| q.day == *day));
        if !same_queues {
            return false;
        }
        for id in self.joined.iter().rev() {
            let Some(t) = state.tickets.remove(id) else {
                continue;
            };
            state.tokens.remove(&t.token);
            if let Some(q) = state.queues.get_mut(&t.queue) {
                q.waiting.remove(&t.rank);
            }
        }
        for (id, _, last_number) in &self.queues {
            if let Some(q) = state.queues.get_mut(id) {
                q.last_number = *last_number;
            }
        }
        state.next_ticket_id = self.next_ticket_id;
        state.offset = self.offset;
        true
    }
}
