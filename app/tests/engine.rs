//! The queue engine against a simple model, over random command sequences, plus scenarios.

mod support;

use app::domain::*;
use app::position::Watch;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use support::*;

/// The model: each queue's line as a plain list, changed only by what the events say.
#[derive(Default)]
struct Model {
    lines: BTreeMap<QueueId, Vec<TicketId>>,
}

impl Model {
    fn take(&mut self, queue: QueueId, ticket: TicketId, from: Option<u32>) {
        let line = self.lines.entry(queue).or_default();
        match line.iter().position(|t| *t == ticket) {
            Some(i) => {
                assert_eq!(
                    from,
                    Some(i as u32 + 1),
                    "event reports where the ticket stood"
                );
                line.remove(i);
            }
            None => assert_eq!(from, None, "only a waiting ticket has a from_position"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(ops in prop::collection::vec(op(), 1..150)) {
        let mut state = venue();
        let mut now: Timestamp = 1_700_000_000_000;
        let mut model = Model::default();
        let mut called_by_next: HashSet<TicketId> = HashSet::new();
        let mut numbers: HashSet<(QueueId, i64, String)> = HashSet::new();
        let mut issued = 0usize;
        let mut last_offset = 0u64;
        let mut watches: HashMap<TicketId, Watch> = HashMap::new();
        let mut finished: HashSet<TicketId> = HashSet::new();

        for op in &ops {
            if let Op::Wait(ms) = op {
                now += ms;
                continue;
            }
            now += 1;
            let cmd = to_command(op, issued).unwrap();
            let is_call_next = matches!(cmd, Command::CallNext { .. });
            let before = state.clone();
            match apply(&mut state, cmd, now) {
                Err(_) => {
                    prop_assert_eq!(&state, &before, "a refused command changes nothing");
                    continue;
                }
                Ok(outcome) => {
                    // The log records only commands with events, and other instances apply
                    // only those; the distributed writer keeps its copy of the state across
                    // batches on the strength of this.
                    if outcome.events.is_empty() {
                        prop_assert_eq!(&state, &before, "a command without events changes nothing");
                    }
                    for env in &outcome.events {
                        prop_assert_eq!(env.offset, last_offset + 1, "offsets have no gaps");
                        last_offset = env.offset;
                        for w in watches.values_mut() {
                            w.apply(env);
                        }
                        match &env.event {
                            Event::Joined { ticket, queue, number, position, walk_in, .. } => {
                                issued += 1;
                                let line = model.lines.entry(*queue).or_default();
                                line.push(*ticket);
                                prop_assert_eq!(*position as usize, line.len());
                                // Customers are held to the limit; staff may add a walk-in anyway.
                                if let Some(max) = state.queues[queue].max_waiting.filter(|_| !walk_in) {
                                    prop_assert!(line.len() as u32 <= max, "a join past the queue's limit");
                                }
                                let t = &state.tickets[ticket];
                                prop_assert!(numbers.insert((*queue, t.day, number.0.clone())),
                                    "number {} repeated within a queue-day", number);
                                watches.insert(*ticket, Watch::of(&state, t));
                                if let Some(w) = watches.get_mut(ticket) { w.offset = env.offset; }
                            }
                            Event::Called { ticket, queue, from_position, recall, .. } => {
                                model.take(*queue, *ticket, *from_position);
                                if is_call_next && !recall {
                                    prop_assert_eq!(*from_position, Some(1), "call next takes the first in line");
                                    prop_assert!(called_by_next.insert(*ticket), "called twice by call next");
                                }
                            }
                            Event::StatusChanged { ticket, queue, status, from_position, .. } => {
                                model.take(*queue, *ticket, *from_position);
                                if status.is_final() { finished.insert(*ticket); }
                            }
                            Event::Requeued { ticket, from_queue, from_position, queue, position, .. } => {
                                model.take(*from_queue, *ticket, *from_position);
                                finished.remove(ticket);
                                // A requeued ticket may be called by call next again: that is a new turn.
                                called_by_next.remove(ticket);
                                let line = model.lines.entry(*queue).or_default();
                                if *position == 1 { line.insert(0, *ticket) } else { line.push(*ticket) }
                                prop_assert_eq!(*position as usize, if *position == 1 { 1 } else { line.len() });
                            }
                            Event::QueueStatusChanged { .. }
                            | Event::QueueLimitChanged { .. }
                            | Event::QueueAdded { .. }
                            | Event::CounterAdded { .. }
                            | Event::VenueRenamed { .. }
                            | Event::QueueUpdated { .. }
                            | Event::CounterRenamed { .. }
                            | Event::TimeZoneChanged { .. } => {}
                            // Configuration changes are tested as scenarios below.
                            Event::QueueRemoved { .. } | Event::CounterRemoved { .. } => {
                                prop_assert!(false, "not generated: {:?}", env.event);
                            }
                        }
                    }
                }
            }
            // The engine's lines are the model's lines, and positions are exactly 1..n.
            for (q, qs) in &state.queues {
                let engine_line: Vec<TicketId> = qs.waiting.values().copied().collect();
                let model_line = model.lines.get(q).cloned().unwrap_or_default();
                prop_assert_eq!(&engine_line, &model_line);
                for (i, id) in engine_line.iter().enumerate() {
                    let t = &state.tickets[id];
                    prop_assert_eq!(t.status, TicketStatus::Waiting);
                    prop_assert_eq!(state.position(t), Some(i as u32 + 1));
                }
            }
            // Every ticket ever issued is still known, or left with a final status event.
            for id in 1..=issued as u64 {
                let id = TicketId(id);
                prop_assert!(state.tickets.contains_key(&id) || finished.contains(&id),
                    "ticket {} vanished without a final event", id);
            }
            // Every watcher agrees with the engine, event by event.
            for (id, w) in &watches {
                if let Some(t) = state.tickets.get(id) {
                    prop_assert_eq!(w.status, t.status);
                    prop_assert_eq!(w.position, state.position(t));
                    prop_assert_eq!(w.queue, t.queue);
                    prop_assert_eq!(w.calls, t.calls);
                    prop_assert_eq!(w.eta_seconds(), state.position(t).map(|p| state.queues[&t.queue].eta_seconds(p)));
                }
            }
        }
    }
}

#[test]
fn first_come_first_called() {
    let mut v = venue();
    for i in 0..3 {
        apply(&mut v, join_cmd(QUEUES[0], &format!("t{i}")), 1).unwrap();
    }
    let call = |v: &mut VenueState| {
        apply(
            v,
            Command::CallNext {
                queue: QUEUES[0],
                counter: COUNTERS[0],
            },
            2,
        )
        .unwrap()
        .ticket
        .unwrap()
    };
    assert_eq!(call(&mut v), TicketId(1));
    assert_eq!(call(&mut v), TicketId(2));
    assert_eq!(v.position(&v.tickets[&TicketId(3)]), Some(1));
}

#[test]
fn calling_an_empty_queue_is_refused() {
    let mut v = venue();
    let err = apply(
        &mut v,
        Command::CallNext {
            queue: QUEUES[0],
            counter: COUNTERS[0],
        },
        1,
    );
    assert_eq!(err, Err(DomainError::NobodyWaiting));
}

#[test]
fn a_paused_queue_refuses_joins_but_takes_walk_ins() {
    let mut v = venue();
    apply(&mut v, Command::PauseQueue { queue: QUEUES[0] }, 1).unwrap();
    assert_eq!(
        apply(&mut v, join_cmd(QUEUES[0], "a"), 2),
        Err(DomainError::QueuePaused)
    );
    let walk_in = join_as(QUEUES[0], "b", true);
    assert!(apply(&mut v, walk_in, 3).is_ok());
    apply(&mut v, Command::CloseQueue { queue: QUEUES[0] }, 4).unwrap();
    assert_eq!(
        apply(&mut v, join_cmd(QUEUES[0], "c"), 5),
        Err(DomainError::QueueClosed)
    );
}

#[test]
fn a_full_queue_says_so() {
    let mut v = venue();
    v.queues.get_mut(&QUEUES[0]).unwrap().max_waiting = Some(1);
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    assert_eq!(
        apply(&mut v, join_cmd(QUEUES[0], "b"), 2),
        Err(DomainError::QueueFull)
    );
}

#[test]
fn numbers_restart_each_venue_day() {
    let mut v = venue();
    let day = 86_400_000;
    apply(&mut v, join_cmd(QUEUES[0], "a"), 10).unwrap();
    apply(&mut v, join_cmd(QUEUES[0], "b"), 20).unwrap();
    assert_eq!(v.tickets[&TicketId(2)].number.0, "A002");
    apply(&mut v, join_cmd(QUEUES[0], "c"), day + 10).unwrap();
    assert_eq!(v.tickets[&TicketId(3)].number.0, "A001");
}

#[test]
fn no_show_can_be_brought_back_to_the_front() {
    let mut v = venue();
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    apply(&mut v, join_cmd(QUEUES[0], "b"), 1).unwrap();
    apply(
        &mut v,
        Command::CallNext {
            queue: QUEUES[0],
            counter: COUNTERS[0],
        },
        2,
    )
    .unwrap();
    apply(
        &mut v,
        Command::NoShow {
            ticket: TicketId(1),
        },
        3,
    )
    .unwrap();
    apply(
        &mut v,
        Command::Requeue {
            ticket: TicketId(1),
            to: End::Front,
        },
        4,
    )
    .unwrap();
    assert_eq!(v.position(&v.tickets[&TicketId(1)]), Some(1));
    assert_eq!(v.position(&v.tickets[&TicketId(2)]), Some(2));
}

#[test]
fn served_tickets_cannot_be_recalled() {
    let mut v = venue();
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    apply(
        &mut v,
        Command::CallNext {
            queue: QUEUES[0],
            counter: COUNTERS[0],
        },
        2,
    )
    .unwrap();
    apply(
        &mut v,
        Command::MarkServed {
            ticket: TicketId(1),
        },
        3,
    )
    .unwrap();
    assert!(matches!(
        apply(
            &mut v,
            Command::Recall {
                ticket: TicketId(1)
            },
            4
        ),
        Err(DomainError::InvalidTransition {
            from: TicketStatus::Served,
            ..
        })
    ));
}

#[test]
fn pace_follows_the_calls() {
    let mut v = venue();
    for i in 0..5 {
        apply(&mut v, join_cmd(QUEUES[0], &format!("t{i}")), 0).unwrap();
    }
    let mut now = 0;
    for _ in 0..5 {
        now += 60_000;
        apply(
            &mut v,
            Command::CallNext {
                queue: QUEUES[0],
                counter: COUNTERS[0],
            },
            now,
        )
        .unwrap();
    }
    let pace = v.queues[&QUEUES[0]].pace_ms;
    assert!(
        pace < 120_000 && pace > 60_000,
        "pace moved toward one minute: {pace}"
    );
}

/// 1970-01-09 was a Friday; `h` hours into it, UTC.
fn friday_at(h: i64) -> Timestamp {
    8 * 86_400_000 + h * 3_600_000
}

#[test]
fn joins_follow_open_hours_in_venue_time_but_walk_ins_do_not() {
    let mut v = venue();
    let hours = OpenHours::parse([("fri", "20:00", "03:00")]).unwrap();
    let update = Command::UpdateQueue {
        queue: QUEUES[0],
        name: "Bar".into(),
        prefix: "A".into(),
        open_hours: hours,
    };
    apply(&mut v, update, 1).unwrap();
    // 18:00 UTC is 21:00 at UTC+3 (open) but 19:00 at UTC+1 (not yet).
    apply(
        &mut v,
        Command::SetTimeZone {
            time_zone: "Europe/Paris".into(),
            utc_offset_minutes: 60,
        },
        2,
    )
    .unwrap();
    assert_eq!(
        apply(&mut v, join_cmd(QUEUES[0], "a"), friday_at(18)),
        Err(DomainError::OutsideOpenHours {
            opens: Some("opens today at 20:00".into())
        })
    );
    assert!(apply(&mut v, join_as(QUEUES[0], "w", true), friday_at(18)).is_ok());
    v.utc_offset_minutes = 180;
    assert!(apply(&mut v, join_cmd(QUEUES[0], "a"), friday_at(18)).is_ok());
    // Past 03:00 on Saturday morning it is closed until next Friday.
    let err = apply(&mut v, join_cmd(QUEUES[0], "b"), friday_at(24 + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this queue is not taking people right now; it opens Friday at 20:00"
    );
}

#[test]
fn updating_a_queue_keeps_issued_numbers_and_says_so_once() {
    let mut v = venue();
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    let update = Command::UpdateQueue {
        queue: QUEUES[0],
        name: "Main bar".into(),
        prefix: "M".into(),
        open_hours: OpenHours::default(),
    };
    let out = apply(&mut v, update.clone(), 2).unwrap();
    assert!(matches!(out.events[0].event, Event::QueueUpdated { .. }));
    assert!(apply(&mut v, update, 3).unwrap().events.is_empty());
    apply(&mut v, join_cmd(QUEUES[0], "b"), 4).unwrap();
    assert_eq!(v.tickets[&TicketId(1)].number.0, "A001");
    assert_eq!(v.tickets[&TicketId(2)].number.0, "M002");
    let clash = Command::UpdateQueue {
        queue: QUEUES[1],
        name: "Main bar".into(),
        prefix: "B".into(),
        open_hours: OpenHours::default(),
    };
    assert_eq!(apply(&mut v, clash, 5), Err(DomainError::AlreadyExists));
}

#[test]
fn only_an_empty_queue_can_be_removed() {
    let mut v = venue();
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    apply(&mut v, join_cmd(QUEUES[0], "b"), 2).unwrap();
    let remove = Command::RemoveQueue { queue: QUEUES[0] };
    assert_eq!(
        apply(&mut v, remove.clone(), 3),
        Err(DomainError::QueueNotEmpty { active: 2 })
    );
    let call = Command::CallNext {
        queue: QUEUES[0],
        counter: COUNTERS[0],
    };
    apply(&mut v, call, 4).unwrap();
    apply(
        &mut v,
        Command::MarkServed {
            ticket: TicketId(1),
        },
        5,
    )
    .unwrap();
    apply(
        &mut v,
        Command::Cancel {
            ticket: TicketId(2),
        },
        6,
    )
    .unwrap();
    let out = apply(&mut v, remove.clone(), 7).unwrap();
    assert_eq!(
        out.events[0].event,
        Event::QueueRemoved { queue: QUEUES[0] }
    );
    assert!(!v.queues.contains_key(&QUEUES[0]));
    assert!(v.tickets.is_empty() && v.tokens.is_empty());
    assert_eq!(apply(&mut v, remove, 8), Err(DomainError::QueueNotFound));
    assert_eq!(
        apply(&mut v, join_cmd(QUEUES[0], "c"), 9),
        Err(DomainError::QueueNotFound)
    );
}

#[test]
fn a_counter_in_use_is_kept_until_its_ticket_is_done() {
    let mut v = venue();
    apply(&mut v, join_cmd(QUEUES[0], "a"), 1).unwrap();
    let call = Command::CallNext {
        queue: QUEUES[0],
        counter: COUNTERS[0],
    };
    apply(&mut v, call, 2).unwrap();
    let remove = Command::RemoveCounter {
        counter: COUNTERS[0],
    };
    assert_eq!(
        apply(&mut v, remove.clone(), 3),
        Err(DomainError::CounterInUse)
    );
    let rename = Command::RenameCounter {
        counter: COUNTERS[0],
        name: "counter 2".into(),
    };
    assert_eq!(apply(&mut v, rename, 4), Err(DomainError::AlreadyExists));
    let rename = Command::RenameCounter {
        counter: COUNTERS[0],
        name: "Bar top".into(),
    };
    apply(&mut v, rename, 5).unwrap();
    assert_eq!(v.counters[&COUNTERS[0]].name, "Bar top");
    apply(
        &mut v,
        Command::MarkServed {
            ticket: TicketId(1),
        },
        6,
    )
    .unwrap();
    apply(&mut v, remove, 7).unwrap();
    assert!(!v.counters.contains_key(&COUNTERS[0]));
}
