//! The queue engine: `apply(state, command, now)` checks the rules, changes the state and says
//! what happened. Deterministic and free of I/O: the same commands in the same order always
//! give the same state and the same events, which is what lets several instances agree.

use super::command::{Command, End};
use super::error::DomainError;
use super::event::{Event, EventEnvelope};
use super::hours::minute_of_week;
use super::state::{Counter, QueueState, Ticket, VenueState};
use super::values::*;

/// Longest gap between two calls that still counts towards a queue's pace, so one quiet
/// hour does not make every later estimate absurd.
pub const MAX_PACE_SAMPLE_MS: i64 = 15 * 60_000;

/// What a successful command produced: its events (already numbered) and the ticket it
/// concerned, if any, so the caller can answer with that ticket.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub events: Vec<EventEnvelope>,
    pub ticket: Option<TicketId>,
}

/// Apply one command. On `Err` the state is exactly as before: every check happens before the
/// first change.
pub fn apply(state: &mut VenueState, cmd: Command, now: Timestamp) -> Result<Outcome, DomainError> {
    let mut events = Vec::new();
    let ticket = match cmd {
        Command::Join {
            queue,
            name,
            party_size,
            notes,
            token,
            walk_in,
        } => Some(join(
            state,
            JoinArgs {
                queue,
                name,
                party_size,
                notes,
                token,
                walk_in,
            },
            now,
            &mut events,
        )?),
        Command::Cancel { ticket } => {
            let t = ticket_in(state, ticket)?;
            require(t, "cancel", &[TicketStatus::Waiting, TicketStatus::Called])?;
            finish(state, ticket, TicketStatus::Cancelled, now, &mut events);
            Some(ticket)
        }
        Command::CallNext { queue, counter } => {
            counter_in(state, counter)?;
            let q = queue_in(state, queue)?;
            let first = *q
                .waiting
                .values()
                .next()
                .ok_or(DomainError::NobodyWaiting)?;
            call(state, first, counter, now, &mut events);
            Some(first)
        }
        Command::CallTicket { ticket, counter } => {
            counter_in(state, counter)?;
            require(ticket_in(state, ticket)?, "call", &[TicketStatus::Waiting])?;
            call(state, ticket, counter, now, &mut events);
            Some(ticket)
        }
        Command::Recall { ticket } => {
            let t = ticket_in(state, ticket)?;
            require(t, "recall", &[TicketStatus::Called])?;
            let t = state.tickets.get_mut(&ticket).expect("checked above");
            t.calls += 1;
            t.called_at = Some(now);
            let pace_ms = state.queues[&t.queue].pace_ms;
            events.push(Event::Called {
                ticket,
                queue: t.queue,
                number: t.number.clone(),
                counter: t.counter.expect("a called ticket has a counter"),
                from_position: None,
                recall: true,
                pace_ms,
            });
            Some(ticket)
        }
        Command::StartServing { ticket } => {
            require(
                ticket_in(state, ticket)?,
                "start serving",
                &[TicketStatus::Called],
            )?;
            let t = state.tickets.get_mut(&ticket).expect("checked above");
            t.status = TicketStatus::Serving;
            t.serving_at = Some(now);
            events.push(Event::StatusChanged {
                ticket,
                queue: t.queue,
                number: t.number.clone(),
                status: TicketStatus::Serving,
                from_position: None,
            });
            Some(ticket)
        }
        Command::MarkServed { ticket } => {
            let t = ticket_in(state, ticket)?;
            require(
                t,
                "mark as served",
                &[TicketStatus::Called, TicketStatus::Serving],
            )?;
            finish(state, ticket, TicketStatus::Served, now, &mut events);
            Some(ticket)
        }
        Command::NoShow { ticket } => {
            require(
                ticket_in(state, ticket)?,
                "mark as no-show",
                &[TicketStatus::Called],
            )?;
            finish(state, ticket, TicketStatus::NoShow, now, &mut events);
            Some(ticket)
        }
        Command::Requeue { ticket, to } => {
            let t = ticket_in(state, ticket)?;
            require(
                t,
                "return to the queue",
                &[
                    TicketStatus::Waiting,
                    TicketStatus::Called,
                    TicketStatus::NoShow,
                ],
            )?;
            let queue = t.queue;
            put_in_line(state, ticket, queue, to, &mut events);
            Some(ticket)
        }
        Command::Move { ticket, queue, to } => {
            let t = ticket_in(state, ticket)?;
            queue_in(state, queue)?;
            if t.queue == queue {
                return Err(DomainError::SameQueue);
            }
            require(
                t,
                "move",
                &[
                    TicketStatus::Waiting,
                    TicketStatus::Called,
                    TicketStatus::NoShow,
                ],
            )?;
            put_in_line(state, ticket, queue, to, &mut events);
            Some(ticket)
        }
        Command::PauseQueue { queue } => {
            set_queue_status(state, queue, QueueStatus::Paused, &mut events)?;
            None
        }
        Command::ResumeQueue { queue } => {
            set_queue_status(state, queue, QueueStatus::Open, &mut events)?;
            None
        }
        Command::CloseQueue { queue } => {
            set_queue_status(state, queue, QueueStatus::Closed, &mut events)?;
            None
        }
        Command::AddQueue {
            queue,
            slug,
            name,
            prefix,
        } => {
            if state.queues.contains_key(&queue) || state.queue_by_slug(&slug).is_some() {
                return Err(DomainError::AlreadyExists);
            }
            state
                .queues
                .insert(queue, QueueState::new(queue, &slug, &name, &prefix));
            events.push(Event::QueueAdded {
                queue,
                slug,
                name,
                prefix,
            });
            None
        }
        Command::AddCounter { counter, name } => {
            if state.counters.contains_key(&counter) || state.counter_by_name(&name).is_some() {
                return Err(DomainError::AlreadyExists);
            }
            state.counters.insert(
                counter,
                Counter {
                    id: counter,
                    name: name.clone(),
                },
            );
            events.push(Event::CounterAdded { counter, name });
            None
        }
        Command::RenameVenue { name } => {
            if state.name != name {
                state.name = name.clone();
                events.push(Event::VenueRenamed { name });
            }
            None
        }
        Command::UpdateQueue {
            queue,
            name,
            prefix,
            open_hours,
        } => {
            let q = queue_in(state, queue)?;
            if q.name != name
                && state
                    .queues
                    .values()
                    .any(|o| o.id != queue && o.name == name)
            {
                return Err(DomainError::AlreadyExists);
            }
            let q = state.queues.get_mut(&queue).expect("checked above");
            if (&q.name, &q.prefix, &q.open_hours) != (&name, &prefix, &open_hours) {
                q.name = name.clone();
                q.prefix = prefix.clone();
                q.open_hours = open_hours.clone();
                events.push(Event::QueueUpdated {
                    queue,
                    name,
                    prefix,
                    open_hours,
                });
            }
            None
        }
        Command::RemoveQueue { queue } => {
            queue_in(state, queue)?;
            let active = state
                .tickets
                .values()
                .filter(|t| t.queue == queue && !t.status.is_final())
                .count() as u32;
            if active > 0 {
                return Err(DomainError::QueueNotEmpty { active });
            }
            state.queues.remove(&queue);
            // Today's finished tickets of the queue leave memory; storage keeps them.
            let gone: Vec<(TicketId, String)> = state
                .tickets
                .values()
                .filter(|t| t.queue == queue)
                .map(|t| (t.id, t.token.clone()))
                .collect();
            for (id, token) in gone {
                state.tickets.remove(&id);
                state.tokens.remove(&token);
            }
            events.push(Event::QueueRemoved { queue });
            None
        }
        Command::RenameCounter { counter, name } => {
            counter_in(state, counter)?;
            if state
                .counter_by_name(&name)
                .is_some_and(|c| c.id != counter)
            {
                return Err(DomainError::AlreadyExists);
            }
            let c = state.counters.get_mut(&counter).expect("checked above");
            if c.name != name {
                c.name = name.clone();
                events.push(Event::CounterRenamed { counter, name });
            }
            None
        }
        Command::RemoveCounter { counter } => {
            counter_in(state, counter)?;
            if state.tickets.values().any(|t| {
                t.counter == Some(counter)
                    && matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
            }) {
                return Err(DomainError::CounterInUse);
            }
            state.counters.remove(&counter);
            events.push(Event::CounterRemoved { counter });
            None
        }
        Command::SetTimeZone {
            time_zone,
            utc_offset_minutes,
        } => {
            if (&state.time_zone, state.utc_offset_minutes) != (&time_zone, utc_offset_minutes) {
                state.time_zone = time_zone.clone();
                state.utc_offset_minutes = utc_offset_minutes;
                events.push(Event::TimeZoneChanged {
                    time_zone,
                    utc_offset_minutes,
                });
            }
            None
        }
        Command::SetMaxWaiting { queue, max_waiting } => {
            let q = state
                .queues
                .get_mut(&queue)
                .ok_or(DomainError::QueueNotFound)?;
            if q.max_waiting != max_waiting {
                q.max_waiting = max_waiting;
                events.push(Event::QueueLimitChanged { queue, max_waiting });
            }
            None
        }
    };
    let events = events
        .into_iter()
        .map(|event| {
            state.offset += 1;
            EventEnvelope {
                offset: state.offset,
                at: now,
                event,
            }
        })
        .collect();
    Ok(Outcome { events, ticket })
}

struct JoinArgs {
    queue: QueueId,
    name: CustomerName,
    party_size: PartySize,
    notes: Option<String>,
    token: String,
    walk_in: bool,
}

fn join(
    state: &mut VenueState,
    a: JoinArgs,
    now: Timestamp,
    events: &mut Vec<Event>,
) -> Result<TicketId, DomainError> {
    let day = local_day(now, state.utc_offset_minutes);
    let q = queue_in(state, a.queue)?;
    // Staff may add a walk-in whatever the queue's state: they are standing at the door.
    if !a.walk_in {
        match q.status {
            QueueStatus::Open => {}
            QueueStatus::Paused => return Err(DomainError::QueuePaused),
            QueueStatus::Closed => return Err(DomainError::QueueClosed),
        }
        let minute = minute_of_week(now, state.utc_offset_minutes);
        if !q.open_hours.is_open_at(minute) {
            return Err(DomainError::OutsideOpenHours {
                opens: q.open_hours.describe_next_opening(minute),
            });
        }
        if q.max_waiting.is_some_and(|max| q.waiting_len() >= max) {
            return Err(DomainError::QueueFull);
        }
    }
    if state.tokens.contains_key(&a.token) {
        return Err(DomainError::TokenInUse);
    }
    if q.day != day {
        start_day(state, a.queue, day);
    }
    let id = TicketId(state.next_ticket_id);
    let q = state.queues.get_mut(&a.queue).expect("checked above");
    q.last_number += 1;
    let number = TicketNumber::new(&q.prefix, q.last_number);
    let rank = q.back_rank();
    let position = q.waiting_len() + 1;
    state.insert_ticket(Ticket {
        id,
        queue: a.queue,
        number: number.clone(),
        token: a.token,
        name: a.name,
        party_size: a.party_size,
        notes: a.notes,
        walk_in: a.walk_in,
        status: TicketStatus::Waiting,
        rank,
        counter: None,
        calls: 0,
        day,
        joined_at: now,
        called_at: None,
        serving_at: None,
        finished_at: None,
    });
    events.push(Event::Joined {
        ticket: id,
        queue: a.queue,
        number,
        party_size: a.party_size.get(),
        walk_in: a.walk_in,
        position,
    });
    Ok(id)
}

/// A new venue-local day for a queue: numbering restarts, and finished tickets of earlier
/// days leave memory (storage keeps them).
fn start_day(state: &mut VenueState, queue: QueueId, day: i64) {
    let q = state.queues.get_mut(&queue).expect("caller checked");
    q.day = day;
    q.last_number = 0;
    let old: Vec<(TicketId, String)> = state
        .tickets
        .values()
        .filter(|t| t.queue == queue && t.day < day && t.status.is_final())
        .map(|t| (t.id, t.token.clone()))
        .collect();
    for (id, token) in old {
        state.tickets.remove(&id);
        state.tokens.remove(&token);
    }
}

fn call(
    state: &mut VenueState,
    ticket: TicketId,
    counter: CounterId,
    now: Timestamp,
    events: &mut Vec<Event>,
) {
    let from_position = take_from_line(state, ticket);
    let t = state.tickets.get_mut(&ticket).expect("caller checked");
    t.status = TicketStatus::Called;
    t.counter = Some(counter);
    t.calls = 1;
    t.called_at = Some(now);
    let q = state
        .queues
        .get_mut(&t.queue)
        .expect("ticket's queue exists");
    if let Some(last) = q.last_call_at {
        let sample = (now - last).clamp(0, MAX_PACE_SAMPLE_MS) as u64;
        // An exponential moving average: recent calls count most, one outlier counts little.
        q.pace_ms = (q.pace_ms * 4 + sample) / 5;
    }
    q.last_call_at = Some(now);
    events.push(Event::Called {
        ticket,
        queue: t.queue,
        number: t.number.clone(),
        counter,
        from_position,
        recall: false,
        pace_ms: q.pace_ms,
    });
}

fn finish(
    state: &mut VenueState,
    ticket: TicketId,
    status: TicketStatus,
    now: Timestamp,
    events: &mut Vec<Event>,
) {
    let from_position = take_from_line(state, ticket);
    let t = state.tickets.get_mut(&ticket).expect("caller checked");
    t.status = status;
    t.finished_at = Some(now);
    events.push(Event::StatusChanged {
        ticket,
        queue: t.queue,
        number: t.number.clone(),
        status,
        from_position,
    });
}

fn put_in_line(
    state: &mut VenueState,
    ticket: TicketId,
    queue: QueueId,
    to: End,
    events: &mut Vec<Event>,
) {
    let from_position = take_from_line(state, ticket);
    let q = state.queues.get_mut(&queue).expect("caller checked");
    let (rank, position) = match to {
        End::Front => (q.front_rank(), 1),
        End::Back => (q.back_rank(), q.waiting_len() + 1),
    };
    q.waiting.insert(rank, ticket);
    let pace_ms = q.pace_ms;
    let t = state.tickets.get_mut(&ticket).expect("caller checked");
    let from_queue = t.queue;
    t.queue = queue;
    t.status = TicketStatus::Waiting;
    t.rank = rank;
    t.counter = None;
    t.finished_at = None;
    events.push(Event::Requeued {
        ticket,
        number: t.number.clone(),
        from_queue,
        from_position,
        queue,
        position,
        pace_ms,
    });
}

/// Take a waiting ticket out of its line; returns the position it had.
fn take_from_line(state: &mut VenueState, ticket: TicketId) -> Option<u32> {
    let t = &state.tickets[&ticket];
    if t.status != TicketStatus::Waiting {
        return None;
    }
    let q = state.queues.get_mut(&t.queue)?;
    let position = q.position_of_rank(t.rank);
    q.waiting.remove(&t.rank);
    position
}

fn set_queue_status(
    state: &mut VenueState,
    queue: QueueId,
    status: QueueStatus,
    events: &mut Vec<Event>,
) -> Result<(), DomainError> {
    queue_in(state, queue)?;
    let q = state.queues.get_mut(&queue).expect("checked above");
    // Asking for the status a queue already has is not an error, and nothing happens.
    if q.status != status {
        q.status = status;
        events.push(Event::QueueStatusChanged { queue, status });
    }
    Ok(())
}

fn queue_in(state: &VenueState, queue: QueueId) -> Result<&QueueState, DomainError> {
    state.queues.get(&queue).ok_or(DomainError::QueueNotFound)
}

fn ticket_in(state: &VenueState, ticket: TicketId) -> Result<&Ticket, DomainError> {
    state
        .tickets
        .get(&ticket)
        .ok_or(DomainError::TicketNotFound)
}

fn counter_in(state: &VenueState, counter: CounterId) -> Result<(), DomainError> {
    state
        .counters
        .contains_key(&counter)
        .then_some(())
        .ok_or(DomainError::CounterNotFound)
}

fn require(t: &Ticket, action: &'static str, allowed: &[TicketStatus]) -> Result<(), DomainError> {
    if allowed.contains(&t.status) {
        Ok(())
    } else {
        Err(DomainError::InvalidTransition {
            from: t.status,
            action,
        })
    }
}
