//! What the engine's test files share: a two-queue venue and random commands over it.

// Each test file uses its own part of this.
#![allow(dead_code)]

use app::domain::*;
use proptest::prelude::*;

pub const QUEUES: [QueueId; 2] = [QueueId(1), QueueId(2)];
pub const COUNTERS: [CounterId; 2] = [CounterId(10), CounterId(11)];

pub fn venue() -> VenueState {
    let mut v = VenueState::new(1, "demo", "Demo");
    v.queues
        .insert(QUEUES[0], QueueState::new(QUEUES[0], "bar", "Bar", "A"));
    v.queues.insert(
        QUEUES[1],
        QueueState::new(QUEUES[1], "tables", "Tables", "B"),
    );
    for (i, c) in COUNTERS.iter().enumerate() {
        v.counters.insert(
            *c,
            Counter {
                id: *c,
                name: format!("Counter {}", i + 1),
            },
        );
    }
    v
}

pub fn join_cmd(queue: QueueId, token: &str) -> Command {
    join_as(queue, token, false)
}

pub fn join_as(queue: QueueId, token: &str, walk_in: bool) -> Command {
    Command::Join {
        queue,
        name: CustomerName::parse("Ana").unwrap(),
        party_size: PartySize::parse(2).unwrap(),
        notes: None,
        token: token.into(),
        walk_in,
    }
}

/// Commands drawn by index, so they usually hit existing tickets.
#[derive(Clone, Debug)]
pub enum Op {
    Join(usize),
    WalkIn(usize),
    Cancel(usize),
    CallNext(usize, usize),
    CallTicket(usize, usize),
    Recall(usize),
    Start(usize),
    Served(usize),
    NoShow(usize),
    Requeue(usize, bool),
    Move(usize, usize, bool),
    Pause(usize),
    Resume(usize),
    Close(usize),
    Limit(usize, Option<u32>),
    /// Let time pass, sometimes past midnight.
    Wait(i64),
}

pub fn op() -> impl Strategy<Value = Op> {
    let t = 0usize..40;
    let q = 0usize..2;
    prop_oneof![
        4 => q.clone().prop_map(Op::Join),
        1 => q.clone().prop_map(Op::WalkIn),
        1 => t.clone().prop_map(Op::Cancel),
        3 => (q.clone(), 0usize..2).prop_map(|(q, c)| Op::CallNext(q, c)),
        1 => (t.clone(), 0usize..2).prop_map(|(t, c)| Op::CallTicket(t, c)),
        1 => t.clone().prop_map(Op::Recall),
        1 => t.clone().prop_map(Op::Start),
        1 => t.clone().prop_map(Op::Served),
        1 => t.clone().prop_map(Op::NoShow),
        1 => (t.clone(), any::<bool>()).prop_map(|(t, f)| Op::Requeue(t, f)),
        1 => (t.clone(), q.clone(), any::<bool>()).prop_map(|(t, q, f)| Op::Move(t, q, f)),
        1 => q.clone().prop_map(Op::Pause),
        1 => q.clone().prop_map(Op::Resume),
        1 => q.clone().prop_map(Op::Close),
        1 => (q.clone(), proptest::option::of(1u32..6)).prop_map(|(q, m)| Op::Limit(q, m)),
        1 => prop_oneof![Just(1_000i64), Just(60_000), Just(7 * 3_600_000)].prop_map(Op::Wait),
    ]
}

pub fn to_command(op: &Op, n: usize) -> Option<Command> {
    let tid = |i: usize| TicketId(1 + (i % n.max(1)) as u64);
    let end = |front: bool| if front { End::Front } else { End::Back };
    Some(match *op {
        Op::Join(q) => join_cmd(QUEUES[q], &format!("tok{n}")),
        Op::WalkIn(q) => join_as(QUEUES[q], &format!("tok{n}"), true),
        Op::Cancel(t) => Command::Cancel { ticket: tid(t) },
        Op::CallNext(q, c) => Command::CallNext {
            queue: QUEUES[q],
            counter: COUNTERS[c],
        },
        Op::CallTicket(t, c) => Command::CallTicket {
            ticket: tid(t),
            counter: COUNTERS[c],
        },
        Op::Recall(t) => Command::Recall { ticket: tid(t) },
        Op::Start(t) => Command::StartServing { ticket: tid(t) },
        Op::Served(t) => Command::MarkServed { ticket: tid(t) },
        Op::NoShow(t) => Command::NoShow { ticket: tid(t) },
        Op::Requeue(t, f) => Command::Requeue {
            ticket: tid(t),
            to: end(f),
        },
        Op::Move(t, q, f) => Command::Move {
            ticket: tid(t),
            queue: QUEUES[q],
            to: end(f),
        },
        Op::Pause(q) => Command::PauseQueue { queue: QUEUES[q] },
        Op::Resume(q) => Command::ResumeQueue { queue: QUEUES[q] },
        Op::Close(q) => Command::CloseQueue { queue: QUEUES[q] },
        Op::Limit(q, max_waiting) => Command::SetMaxWaiting {
            queue: QUEUES[q],
            max_waiting,
        },
        Op::Wait(_) => return None,
    })
}
