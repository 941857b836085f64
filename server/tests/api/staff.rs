//! Staff actions through the API: calls out of order, recalls, serving, no-shows, requeues,
//! moves, walk-ins, and the customer's own cancel.

use crate::helpers::*;
use app::protocol::{QueueSummary, TicketView};
use serde_json::json;

/// (number, status, position) of each token's ticket, as its holder sees it.
async fn line(app: &TestApp, tokens: &[&str]) -> Vec<(String, String, Option<u32>)> {
    let mut out = Vec::new();
    for t in tokens {
        let v = app.ticket(t).await;
        out.push((v.number, v.status, v.position));
    }
    out
}

fn row(number: &str, status: &str, position: Option<u32>) -> (String, String, Option<u32>) {
    (number.to_owned(), status.to_owned(), position)
}

fn tok(t: &TicketView) -> &str {
    t.token.as_deref().expect("a joiner's ticket has its token")
}

#[tokio::test]
async fn staff_can_call_recall_start_and_serve_a_ticket_out_of_order() {
    let app = spawn_app().await;
    let mut a = Vec::new();
    for i in 1..=5 {
        a.push(app.join("bar", &format!("Guest {i}"), 2).await);
    }
    let bar1 = app.counter_id("Bar 1").await;

    // Call A003 out of order, by counter name.
    let t = app
        .act(a[2].id, "call", Some(json!({"counter": "Bar 1"})))
        .await;
    assert_eq!(t.number, "A003");
    assert_eq!(t.status, "called");
    assert_eq!(t.counter.as_deref(), Some("Bar 1"));
    assert_eq!(t.calls, 1);
    assert_eq!(t.position, None);
    let first_call = t.called_at.expect("called_at is set");
    let toks: Vec<&str> = a.iter().map(tok).collect();
    assert_eq!(
        line(&app, &toks).await,
        [
            row("A001", "waiting", Some(1)),
            row("A002", "waiting", Some(2)),
            row("A003", "called", None),
            row("A004", "waiting", Some(3)),
            row("A005", "waiting", Some(4)),
        ]
    );

    // Recall twice: the call count goes up, the counter stays.
    let t = app.act(a[2].id, "recall", None).await;
    assert_eq!((t.status.as_str(), t.calls), ("called", 2));
    let t = app.act(a[2].id, "recall", None).await;
    assert_eq!((t.status.as_str(), t.calls), ("called", 3));
    assert_eq!(t.counter.as_deref(), Some("Bar 1"));
    assert!(t.called_at.unwrap() >= first_call);
    // The screen shows the recall count.
    let display: serde_json::Value = app
        .get("/api/v1/venues/demo/display")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(display["called"][0]["number"], "A003");
    assert_eq!(display["called"][0]["calls"], 3);

    // Start serving, then served.
    let t = app.act(a[2].id, "start", None).await;
    assert_eq!(t.status, "serving");
    assert_eq!(t.finished_at, None);
    // Serving tickets leave the screen's called list.
    let display: serde_json::Value = app
        .get("/api/v1/venues/demo/display")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(display["called"], json!([]));
    let t = app.act(a[2].id, "serve", None).await;
    assert_eq!(t.status, "served");
    assert!(t.finished_at.is_some());
    assert_eq!(t.counter.as_deref(), Some("Bar 1"));
    // Served is final: it cannot be called again.
    let resp = app
        .ticket_action(a[2].id, "call", Some(json!({"counter": bar1})))
        .await;
    assert_error(resp, 409, "invalid_transition").await;
    // The holder sees it served.
    let mine = app.ticket(toks[2]).await;
    assert_eq!((mine.status.as_str(), mine.calls), ("served", 3));

    // A called ticket can be marked served directly (no "start" step).
    let t = app.call_next("bar", bar1).await;
    assert_eq!(t.number, "A001");
    assert_eq!(app.act(t.id, "served", None).await.status, "served");
    assert_eq!(app.venue_info().await.queues[0].waiting, 3);
}

#[tokio::test]
async fn no_shows_can_be_requeued_to_the_front_or_the_back() {
    let app = spawn_app().await;
    let mut a = Vec::new();
    for i in 1..=4 {
        a.push(app.join("bar", &format!("Guest {i}"), 2).await);
    }
    let toks: Vec<&str> = a.iter().map(tok).collect();
    let bar2 = app.counter_id("Bar 2").await;
    let called = app.call_next("bar", bar2).await;
    assert_eq!(called.number, "A001");
    let t = app.act(a[0].id, "no-show", None).await;
    assert_eq!(t.status, "no_show");
    assert!(t.finished_at.is_some());
    assert_eq!(t.position, None);

    // Back to the front: first in line again, counter forgotten.
    let t = app
        .act(a[0].id, "requeue", Some(json!({"to": "front"})))
        .await;
    assert_eq!((t.status.as_str(), t.position), ("waiting", Some(1)));
    assert_eq!(t.counter, None);
    assert_eq!(t.finished_at, None);
    assert_eq!(t.number, "A001", "a requeued ticket keeps its number");
    // A waiting ticket sent to the back (no body means the back).
    let t = app.act(a[1].id, "requeue", None).await;
    assert_eq!(t.position, Some(4));
    assert_eq!(
        line(&app, &toks).await,
        [
            row("A001", "waiting", Some(1)),
            row("A002", "waiting", Some(4)),
            row("A003", "waiting", Some(2)),
            row("A004", "waiting", Some(3)),
        ]
    );
    // A called ticket goes back explicitly to the back.
    let called = app.call_next("bar", bar2).await;
    assert_eq!(called.number, "A001");
    let t = app
        .act(called.id, "requeue", Some(json!({"to": "back"})))
        .await;
    assert_eq!(t.position, Some(4));
    assert_eq!(
        line(&app, &toks).await,
        [
            row("A001", "waiting", Some(4)),
            row("A002", "waiting", Some(3)),
            row("A003", "waiting", Some(1)),
            row("A004", "waiting", Some(2)),
        ]
    );
    // The next call follows the new order.
    assert_eq!(app.call_next("bar", bar2).await.number, "A003");
}

#[tokio::test]
async fn a_ticket_can_move_to_another_queue() {
    let app = spawn_app().await;
    let a1 = app.join("bar", "Mover", 6).await;
    let a2 = app.join("bar", "Stayer", 2).await;
    let a3 = app.join("bar", "Front mover", 5).await;
    let c1 = app.join("tables-large", "C one", 4).await;
    let c2 = app.join("tables-large", "C two", 4).await;

    // To the back of the large tables (the default).
    let t = app
        .act(a1.id, "move", Some(json!({"queue": "tables-large"})))
        .await;
    assert_eq!(t.queue, "tables-large");
    assert_eq!(t.queue_name, "Tables 3+");
    assert_eq!(t.number, "A001", "a moved ticket keeps its number");
    assert_eq!((t.status.as_str(), t.position), ("waiting", Some(3)));
    assert_eq!(t.eta_seconds, Some(3 * DEFAULT_ETA_STEP));
    // To the front.
    let t = app
        .act(
            a3.id,
            "move",
            Some(json!({"queue": "tables-large", "to": "front"})),
        )
        .await;
    assert_eq!((t.queue.as_str(), t.position), ("tables-large", Some(1)));
    let toks = [tok(&a1), tok(&a2), tok(&a3), tok(&c1), tok(&c2)];
    assert_eq!(
        line(&app, &toks).await,
        [
            row("A001", "waiting", Some(4)),
            row("A002", "waiting", Some(1)),
            row("A003", "waiting", Some(1)),
            row("C001", "waiting", Some(2)),
            row("C002", "waiting", Some(3)),
        ]
    );
    let info = app.venue_info().await;
    let waiting: Vec<u32> = info.queues.iter().map(|q| q.waiting).collect();
    assert_eq!(waiting, [1, 0, 4]);
    // The large tables now call the moved tickets in their new order.
    let table7 = app.counter_id("Table 7").await;
    let order: Vec<String> = [
        app.call_next("tables-large", table7).await,
        app.call_next("tables-large", table7).await,
        app.call_next("tables-large", table7).await,
        app.call_next("tables-large", table7).await,
    ]
    .into_iter()
    .map(|t| t.number)
    .collect();
    assert_eq!(order, ["A003", "C001", "C002", "A001"]);
    // Numbering of the bar is unaffected by the moves.
    assert_eq!(app.join("bar", "Next", 1).await.number, "A004");
}

#[tokio::test]
async fn a_walk_in_joins_a_paused_queue() {
    let app = spawn_app().await;
    let paused: QueueSummary = app
        .queue_action("tables-small", "pause")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paused.status, "paused");
    assert_error(
        app.try_join("tables-small", "Online", 2).await,
        409,
        "queue_paused",
    )
    .await;

    let resp = app.walk_in("tables-small", "At the door", 2).await;
    assert_eq!(resp.status(), 201);
    let t: TicketView = resp.json().await.unwrap();
    assert_eq!(t.number, "B001");
    assert!(t.walk_in);
    assert_eq!((t.status.as_str(), t.position), ("waiting", Some(1)));
    assert!(t.token.is_some(), "the walk-in's link can be handed over");
    // Closed queues take walk-ins too.
    app.queue_action("tables-small", "close").await;
    let resp = app.walk_in("tables-small", "Late at the door", 3).await;
    assert_eq!(resp.status(), 201);
    let t2: TicketView = resp.json().await.unwrap();
    assert_eq!((t2.number.as_str(), t2.position), ("B002", Some(2)));
    // Walk-ins are validated like joins.
    assert_error(
        app.walk_in("tables-small", " ", 2).await,
        422,
        "invalid_name",
    )
    .await;
    assert_error(
        app.walk_in("tables-small", "Big", 0).await,
        422,
        "invalid_party_size",
    )
    .await;
    let info = app.venue_info().await;
    assert_eq!(
        (info.queues[1].status.as_str(), info.queues[1].waiting),
        ("closed", 2)
    );
    // The walk-in's holder link works like any other.
    let mine = app.ticket(tok(&t)).await;
    assert_eq!(
        (mine.number.as_str(), mine.position, mine.walk_in),
        ("B001", Some(1), true)
    );
}

#[tokio::test]
async fn a_customer_can_cancel_their_own_ticket() {
    let app = spawn_app().await;
    let a1 = app.join("bar", "One", 1).await;
    let a2 = app.join("bar", "Two", 1).await;
    let a3 = app.join("bar", "Three", 1).await;

    let resp = app.cancel(tok(&a2)).await;
    assert_eq!(resp.status(), 200);
    let t: TicketView = resp.json().await.unwrap();
    assert_eq!(
        (t.number.as_str(), t.status.as_str(), t.position),
        ("A002", "cancelled", None)
    );
    assert!(t.finished_at.is_some());
    assert_eq!(
        line(&app, &[tok(&a1), tok(&a2), tok(&a3)]).await,
        [
            row("A001", "waiting", Some(1)),
            row("A002", "cancelled", None),
            row("A003", "waiting", Some(2)),
        ]
    );
    // A called ticket can still be cancelled by its holder.
    let bar1 = app.counter_id("Bar 1").await;
    assert_eq!(app.call_next("bar", bar1).await.number, "A001");
    let resp = app.cancel(tok(&a1)).await;
    assert_eq!(resp.status(), 200);
    // Once served, it cannot.
    let c = app.call_next("bar", bar1).await;
    assert_eq!(c.number, "A003");
    app.act(c.id, "serve", None).await;
    let e = assert_error(app.cancel(tok(&a3)).await, 409, "invalid_transition").await;
    assert_eq!(e.message, "cannot cancel a ticket that is served");
    assert_eq!(app.venue_info().await.queues[0].waiting, 0);
    // Staff can cancel a waiting ticket too.
    let a4 = app.join("bar", "Four", 1).await;
    let t = app.act(a4.id, "cancel", None).await;
    assert_eq!(t.status, "cancelled");
}

#[tokio::test]
async fn todays_no_shows_are_listed_for_staff_until_brought_back() {
    let app = spawn_app().await;
    let a = app.join("bar", "Late Larry", 2).await;
    app.join("bar", "On-time Olga", 2).await;
    let counter = app.counter_id("Bar 1").await;
    app.call_next("bar", counter).await;
    app.act(a.id, "no-show", None).await;
    let listed = |snap: &app::protocol::StaffSnapshot| {
        snap.queues[0]
            .tickets
            .iter()
            .map(|t| (t.number.clone(), t.status.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(&app.staff_snapshot().await),
        [
            ("A002".to_owned(), "waiting".to_owned()),
            ("A001".to_owned(), "no_show".to_owned())
        ]
    );
    app.act(a.id, "requeue", Some(serde_json::json!({"to": "front"})))
        .await;
    assert_eq!(
        listed(&app.staff_snapshot().await),
        [
            ("A001".to_owned(), "waiting".to_owned()),
            ("A002".to_owned(), "waiting".to_owned())
        ]
    );
}

async fn limit(app: &TestApp, max: serde_json::Value) -> reqwest::Response {
    app.staff_post(
        "/api/v1/venues/demo/queues/bar/limit",
        Some(&serde_json::json!({ "max_waiting": max })),
    )
    .await
}

#[tokio::test]
async fn a_full_queue_turns_customers_away_kindly_but_not_walk_ins_and_survives_a_restart() {
    let mut app = spawn_app().await;
    assert_eq!(limit(&app, serde_json::json!(0)).await.status(), 422);
    assert_eq!(limit(&app, serde_json::json!(10_001)).await.status(), 422);
    let resp = limit(&app, serde_json::json!(2)).await;
    assert_eq!(resp.status(), 200);
    let summary: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(summary["max_waiting"], 2);
    app.join("bar", "One", 1).await;
    app.join("bar", "Two", 1).await;
    let resp = app.try_join("bar", "Three", 1).await;
    assert_eq!(resp.status(), 409);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    // Staff standing at the door can still add someone.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues/bar/walk-ins",
            Some(&serde_json::json!({"name": "Walk-in", "party_size": 2})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    // The public venue info says how big the queue may get.
    let info: serde_json::Value = app.get("/api/v1/venues/demo").await.json().await.unwrap();
    assert_eq!(info["queues"][0]["max_waiting"], 2);

    // It is stored: still full after a restart; lifting it lets people in again.
    app.restart().await;
    assert_eq!(app.try_join("bar", "Four", 1).await.status(), 409);
    assert_eq!(limit(&app, serde_json::Value::Null).await.status(), 200);
    assert_eq!(app.try_join("bar", "Four", 1).await.status(), 201);
}

#[tokio::test]
async fn queues_counters_and_the_name_change_live_and_are_kept() {
    let mut app = spawn_app().await;
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues",
            Some(&serde_json::json!({"slug": "terrace", "name": "Terrace", "prefix": "T"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    // No restart needed: people can join it, and a new counter can call them.
    let t = app.join("terrace", "Ana", 2).await;
    assert_eq!(t.number, "T001");
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/counters",
            Some(&serde_json::json!({"name": "Terrace bar"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues/terrace/call-next",
            Some(&serde_json::json!({"counter": "Terrace bar"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/name",
            Some(&serde_json::json!({"name": "Demo Bar & Terrace"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // Refusals: duplicates, bad slugs and prefixes.
    for (body, status) in [
        (
            serde_json::json!({"slug": "terrace", "name": "Again", "prefix": "U"}),
            409,
        ),
        (
            serde_json::json!({"slug": "Bad Slug", "name": "X", "prefix": "X"}),
            422,
        ),
        (
            serde_json::json!({"slug": "x", "name": "X", "prefix": "x1"}),
            422,
        ),
    ] {
        let resp = app
            .staff_post("/api/v1/venues/demo/queues", Some(&body))
            .await;
        assert_eq!(resp.status(), status, "{body}");
    }
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/counters",
            Some(&serde_json::json!({"name": "terrace BAR"})),
        )
        .await;
    assert_eq!(
        resp.status(),
        409,
        "counter names are unique, whatever the case"
    );

    // All of it is stored.
    app.restart().await;
    let info: serde_json::Value = app.get("/api/v1/venues/demo").await.json().await.unwrap();
    assert_eq!(info["name"], "Demo Bar & Terrace");
    assert!(
        info["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["slug"] == "terrace")
    );
    let t2 = app.join("terrace", "Bo", 2).await;
    assert_eq!(t2.number, "T002");
}
