//! Joining and calling: numbers, positions, estimates, and concurrent calls.

use crate::helpers::*;
use app::protocol::TicketView;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Demo queues with their prefixes and how many customers each gets (50 in all).
const PLAN: [(&str, &str, u32); 3] = [
    ("bar", "A", 20),
    ("tables-small", "B", 15),
    ("tables-large", "C", 15),
];

#[tokio::test]
async fn fifty_customers_get_sequential_numbers_and_positions_per_queue() {
    let app = spawn_app().await;
    let mut joined: BTreeMap<&str, Vec<TicketView>> = BTreeMap::new();
    // Interleave the queues so each queue's numbering is shown to be its own.
    for i in 1..=20u32 {
        for (queue, prefix, count) in PLAN {
            if i > count {
                continue;
            }
            let t = app
                .join(queue, &format!("Guest {queue} {i}"), (i % 6 + 1) as i64)
                .await;
            assert_eq!(t.number, number(prefix, i));
            assert_eq!(t.status, "waiting");
            assert_eq!(t.position, Some(i));
            assert_eq!(t.eta_seconds, Some(i as u64 * DEFAULT_ETA_STEP));
            assert_eq!(t.queue, queue);
            assert_eq!(t.venue, VENUE);
            assert_eq!(t.name, format!("Guest {queue} {i}"));
            assert_eq!(t.party_size, (i % 6 + 1) as u8);
            assert_eq!(t.calls, 0);
            assert_eq!(t.counter, None);
            assert!(!t.walk_in);
            joined.entry(queue).or_default().push(t);
        }
    }
    assert_eq!(joined.values().map(Vec::len).sum::<usize>(), 50);
    let ids: BTreeSet<u64> = joined.values().flatten().map(|t| t.id).collect();
    assert_eq!(ids.len(), 50, "every ticket has its own id");
    let tokens: BTreeSet<&str> = joined
        .values()
        .flatten()
        .map(|t| t.token.as_deref().unwrap())
        .collect();
    assert_eq!(tokens.len(), 50, "every ticket has its own token");

    // Reading back gives the same positions.
    for (queue, _, count) in PLAN {
        for (i, t) in joined[queue].iter().enumerate() {
            let now = app.ticket(t.token.as_deref().unwrap()).await;
            assert_eq!(now.position, Some(i as u32 + 1));
            assert_eq!(now.number, t.number);
        }
        let info = app.venue_info().await;
        let q = info.queues.iter().find(|q| q.slug == queue).unwrap();
        assert_eq!(q.waiting, count);
        assert_eq!(q.status, "open");
        assert_eq!(q.eta_seconds, (count as u64 + 1) * DEFAULT_ETA_STEP);
    }
}

#[tokio::test]
async fn two_counters_calling_at_once_never_get_the_same_ticket() {
    let app = Arc::new(spawn_app().await);
    let mut tokens: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (queue, prefix, count) in PLAN {
        for i in 1..=count {
            let t = app.join(queue, &format!("Guest {i}"), 2).await;
            assert_eq!(t.number, number(prefix, i));
            tokens.entry(queue).or_default().push(t.token.unwrap());
        }
    }
    let bar1 = app.counter_id("Bar 1").await;
    let bar2 = app.counter_id("Bar 2").await;
    app.staff_token().await; // log in once, before the race

    // Ten calls on the same queue from two counters, all in flight together.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let app = app.clone();
        let counter = if i % 2 == 0 { bar1 } else { bar2 };
        set.spawn(async move { (counter, app.try_call_next("bar", counter).await) });
    }
    let mut called: Vec<(i64, TicketView)> = Vec::new();
    while let Some(res) = set.join_next().await {
        let (counter, resp) = res.expect("the call task did not panic");
        assert_eq!(resp.status(), 200);
        called.push((counter, resp.json().await.expect("a ticket")));
    }
    let numbers: BTreeSet<String> = called.iter().map(|(_, t)| t.number.clone()).collect();
    let first_ten: BTreeSet<String> = (1..=10).map(|i| number("A", i)).collect();
    assert_eq!(
        numbers, first_ten,
        "ten distinct tickets, the first ten in line"
    );
    let ids: BTreeSet<u64> = called.iter().map(|(_, t)| t.id).collect();
    assert_eq!(ids.len(), 10);
    for (counter, t) in &called {
        assert_eq!(t.status, "called");
        assert_eq!(t.position, None);
        assert_eq!(t.eta_seconds, None);
        assert_eq!(t.calls, 1);
        assert!(t.called_at.is_some());
        assert_eq!(
            t.token, None,
            "a staff answer does not leak the holder's token"
        );
        let expected = if *counter == bar1 { "Bar 1" } else { "Bar 2" };
        assert_eq!(t.counter.as_deref(), Some(expected));
    }
    assert_eq!(
        called.iter().filter(|(c, _)| *c == bar1).count(),
        5,
        "each counter made five calls"
    );

    // The holders see it too: the first ten called, the rest moved up by exactly ten.
    for (i, token) in tokens["bar"].iter().enumerate() {
        let t = app.ticket(token).await;
        let n = i as u32 + 1;
        assert_eq!(t.number, number("A", n));
        if n <= 10 {
            assert_eq!(t.status, "called");
            assert_eq!(t.position, None);
            assert!(t.counter.is_some());
        } else {
            assert_eq!(t.status, "waiting");
            assert_eq!(t.position, Some(n - 10));
            assert!(t.eta_seconds.is_some());
            assert_eq!(t.counter, None);
        }
    }
    // Other queues did not move.
    for (queue, _, _) in &PLAN[1..] {
        for (i, token) in tokens[queue].iter().enumerate() {
            let t = app.ticket(token).await;
            assert_eq!(t.status, "waiting");
            assert_eq!(t.position, Some(i as u32 + 1));
        }
    }
    let info = app.venue_info().await;
    let waiting: Vec<(String, u32)> = info
        .queues
        .iter()
        .map(|q| (q.slug.clone(), q.waiting))
        .collect();
    assert_eq!(
        waiting,
        vec![
            ("bar".to_owned(), 10),
            ("tables-small".to_owned(), 15),
            ("tables-large".to_owned(), 15)
        ]
    );
    // The staff view lists the ten waiting in order, then the ten at counters.
    let snap = app.staff_snapshot().await;
    let bar = snap
        .queues
        .iter()
        .find(|q| q.summary.slug == "bar")
        .unwrap();
    let statuses: Vec<&str> = bar.tickets.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(statuses[..10], ["waiting"; 10]);
    assert_eq!(statuses[10..], ["called"; 10]);
    let waiting_numbers: Vec<&str> = bar.tickets[..10]
        .iter()
        .map(|t| t.number.as_str())
        .collect();
    let expected: Vec<String> = (11..=20).map(|i| number("A", i)).collect();
    assert_eq!(waiting_numbers, expected);
}

#[tokio::test]
async fn concurrent_joins_on_one_queue_get_distinct_numbers_and_positions() {
    let app = Arc::new(spawn_app().await);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..30 {
        let app = app.clone();
        set.spawn(async move { app.join("tables-small", &format!("Rush {i}"), 2).await });
    }
    let mut got = Vec::new();
    while let Some(t) = set.join_next().await {
        got.push(t.expect("join task did not panic"));
    }
    let numbers: BTreeSet<String> = got.iter().map(|t| t.number.clone()).collect();
    assert_eq!(numbers, (1..=30).map(|i| number("B", i)).collect());
    for t in &got {
        // The number and the position at join time were given together.
        let n: u32 = t.number[1..].parse().unwrap();
        assert_eq!(t.position, Some(n));
    }
    let positions: BTreeSet<u32> = got.iter().filter_map(|t| t.position).collect();
    assert_eq!(positions, (1..=30).collect());
}
