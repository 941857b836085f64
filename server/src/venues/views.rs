//! Turning venue state into the public DTOs of `app::protocol`. Pure functions of the state.

use app::domain::{QueueId, QueueState, Ticket, TicketStatus, VenueState};
use app::protocol::*;
use std::collections::HashMap;

/// How many called tickets the venue screen lists.
pub const DISPLAY_CALLED: usize = 8;
/// How many upcoming numbers the venue screen shows per queue.
pub const DISPLAY_NEXT: usize = 5;

pub fn ticket_view(state: &VenueState, t: &Ticket, with_token: bool) -> TicketView {
    ticket_view_at(state, t, with_token, state.position(t))
}

/// As [`ticket_view`], for a caller that already knows the position (counting the line is
/// O(line length)).
pub fn ticket_view_at(
    state: &VenueState,
    t: &Ticket,
    with_token: bool,
    position: Option<u32>,
) -> TicketView {
    let q = state.queues.get(&t.queue);
    TicketView {
        id: t.id.0,
        number: t.number.0.clone(),
        token: with_token.then(|| t.token.clone()),
        status: t.status.as_str().to_owned(),
        position,
        eta_seconds: position.zip(q).map(|(p, q)| q.eta_seconds(p)),
        queue: q.map(|q| q.slug.clone()).unwrap_or_default(),
        queue_name: q.map(|q| q.name.clone()).unwrap_or_default(),
        venue: state.slug.clone(),
        venue_name: state.name.clone(),
        name: t.name.as_str().to_owned(),
        party_size: t.party_size.get(),
        notes: t.notes.clone(),
        walk_in: t.walk_in,
        counter: counter_name(state, t),
        calls: t.calls,
        joined_at: t.joined_at,
        called_at: t.called_at,
        finished_at: t.finished_at,
        offset: state.offset,
    }
}

pub fn counter_name(state: &VenueState, t: &Ticket) -> Option<String> {
    t.counter
        .and_then(|c| state.counters.get(&c))
        .map(|c| c.name.clone())
}

pub fn queue_summary(q: &QueueState) -> QueueSummary {
    QueueSummary {
        slug: q.slug.clone(),
        name: q.name.clone(),
        prefix: q.prefix.clone(),
        status: q.status.as_str().to_owned(),
        waiting: q.waiting_len(),
        eta_seconds: q.eta_seconds(q.waiting_len() + 1),
        max_waiting: q.max_waiting,
        open_hours: HoursSlotView::from_hours(&q.open_hours),
    }
}

pub fn venue_info(state: &VenueState) -> VenueInfo {
    VenueInfo {
        slug: state.slug.clone(),
        name: state.name.clone(),
        queues: state.queues.values().map(queue_summary).collect(),
        offset: state.offset,
    }
}

pub fn staff_snapshot(state: &VenueState) -> StaffSnapshot {
    // One pass over the tickets for everything not in a line, grouped by queue.
    let mut at_counters: HashMap<QueueId, Vec<&Ticket>> = HashMap::new();
    let mut no_shows: HashMap<QueueId, Vec<&Ticket>> = HashMap::new();
    for t in state.tickets.values() {
        match t.status {
            TicketStatus::Called | TicketStatus::Serving => {
                at_counters.entry(t.queue).or_default().push(t)
            }
            // Today's no-shows, so staff can bring back someone who turns up late.
            TicketStatus::NoShow if state.queues.get(&t.queue).is_some_and(|q| t.day >= q.day) => {
                no_shows.entry(t.queue).or_default().push(t)
            }
            _ => {}
        }
    }
    let queues = state
        .queues
        .values()
        .map(|q| {
            // Positions come from the line's order: no per-ticket count of the line.
            let mut tickets: Vec<TicketView> = state
                .waiting_tickets(q.id)
                .enumerate()
                .map(|(i, t)| ticket_view_at(state, t, false, Some(i as u32 + 1)))
                .collect();
            let mut called = at_counters.remove(&q.id).unwrap_or_default();
            called.sort_by_key(|t| (t.called_at, t.id));
            let mut missed = no_shows.remove(&q.id).unwrap_or_default();
            missed.sort_by_key(|t| (t.finished_at, t.id));
            tickets.extend(
                called
                    .into_iter()
                    .chain(missed)
                    .map(|t| ticket_view(state, t, false)),
            );
            StaffQueue {
                summary: queue_summary(q),
                tickets,
            }
        })
        .collect();
    StaffSnapshot {
        venue: state.slug.clone(),
        venue_name: state.name.clone(),
        time_zone: state.time_zone.clone(),
        offset: state.offset,
        queues,
        counters: state
            .counters
            .values()
            .map(|c| CounterView {
                id: c.id.0,
                name: c.name.clone(),
            })
            .collect(),
    }
}

pub fn display_snapshot(state: &VenueState, public_url: &str) -> DisplaySnapshot {
    let mut called: Vec<&Ticket> = state
        .tickets
        .values()
        .filter(|t| t.status == TicketStatus::Called)
        .collect();
    called.sort_by_key(|t| std::cmp::Reverse((t.called_at, t.id)));
    DisplaySnapshot {
        venue: state.slug.clone(),
        venue_name: state.name.clone(),
        offset: state.offset,
        called: called
            .into_iter()
            .take(DISPLAY_CALLED)
            .map(|t| CalledTicket {
                number: t.number.0.clone(),
                queue: state
                    .queues
                    .get(&t.queue)
                    .map(|q| q.slug.clone())
                    .unwrap_or_default(),
                counter: counter_name(state, t).unwrap_or_default(),
                called_at: t.called_at.unwrap_or(t.joined_at),
                calls: t.calls,
            })
            .collect(),
        queues: state
            .queues
            .values()
            .map(|q| DisplayQueue {
                summary: queue_summary(q),
                next: state
                    .waiting_tickets(q.id)
                    .take(DISPLAY_NEXT)
                    .map(|t| t.number.0.clone())
                    .collect(),
            })
            .collect(),
        join_url: join_url(public_url, &state.slug),
    }
}

pub fn join_url(public_url: &str, venue: &str) -> String {
    format!("{}/v/{venue}", public_url.trim_end_matches('/'))
}
