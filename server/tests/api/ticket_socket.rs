//! The ticket's holder's socket: a snapshot, then an update per change of that ticket; what
//! it answers, and what a phone that is slow or silent costs.

use crate::helpers::*;
use crate::stalled::*;
use app::protocol::TicketMessage;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};

async fn next_ticket_message(ws: &mut Ws) -> TicketMessage {
    let v = next_json(ws).await;
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v} is a TicketMessage: {e}"))
}

/// (type, offset, status, position, eta, counter) of a ticket message, for exact comparisons.
type Seen = (
    &'static str,
    u64,
    String,
    Option<u32>,
    Option<u64>,
    Option<String>,
);

fn seen(m: TicketMessage) -> Seen {
    match m {
        TicketMessage::Snapshot {
            offset,
            status,
            position,
            eta_seconds,
            counter,
            ..
        } => ("snapshot", offset, status, position, eta_seconds, counter),
        TicketMessage::Update {
            offset,
            status,
            position,
            eta_seconds,
            counter,
            ..
        } => ("update", offset, status, position, eta_seconds, counter),
    }
}

#[tokio::test]
async fn a_ticket_watcher_sees_every_change_in_order() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for i in 1..=6 {
        tokens.push(
            app.join("bar", &format!("Guest {i}"), 2)
                .await
                .token
                .unwrap(),
        );
    }
    let fifth = tokens[4].clone();
    let mut ws = app
        .ws_connect(&format!("/api/v1/tickets/{fifth}/live"))
        .await;

    let first = next_ticket_message(&mut ws).await;
    let TicketMessage::Snapshot { ref ticket, .. } = first else {
        panic!("the first message is a snapshot, got {first:?}");
    };
    assert_eq!(ticket.number, "A005");
    assert_eq!(ticket.token.as_deref(), Some(fifth.as_str()));
    assert_eq!(
        seen(first),
        (
            "snapshot",
            6,
            "waiting".into(),
            Some(5),
            Some(5 * DEFAULT_ETA_STEP),
            None
        )
    );

    // Changes that do not move this ticket send nothing: a join behind it, another queue.
    app.join("bar", "Behind", 2).await;
    app.join("tables-small", "Elsewhere", 2).await;
    assert_silent(&mut ws, QUIET).await;

    let bar1 = app.counter_id("Bar 1").await;
    let bar2 = app.counter_id("Bar 2").await;
    let mut offsets = vec![6];
    for (k, expected_position) in [4u32, 3, 2, 1].into_iter().enumerate() {
        let called = app.call_next("bar", bar1).await;
        assert_eq!(called.number, number("A", k as u32 + 1));
        let msg = next_ticket_message(&mut ws).await;
        let TicketMessage::Update { ref queue, .. } = msg else {
            panic!("an update, got {msg:?}");
        };
        assert_eq!(queue, "bar");
        // The estimate is the server's own figure for that position right now.
        let eta = app.ticket(&fifth).await.eta_seconds;
        assert!(eta.is_some());
        // Offsets: 6 joins, 2 more joins, then one event per call.
        assert_eq!(
            seen(msg),
            (
                "update",
                9 + k as u64,
                "waiting".into(),
                Some(expected_position),
                eta,
                None
            )
        );
        offsets.push(9 + k as u64);
    }
    let called = app.call_next("bar", bar2).await;
    assert_eq!(called.number, "A005");
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "update",
            13,
            "called".into(),
            None,
            None,
            Some("Bar 2".into())
        )
    );
    offsets.push(13);
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets strictly increase: {offsets:?}"
    );

    // Serving then finishing reach the holder too.
    app.act(called.id, "start", None).await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "update",
            14,
            "serving".into(),
            None,
            None,
            Some("Bar 2".into())
        )
    );
    app.act(called.id, "serve", None).await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "update",
            15,
            "served".into(),
            None,
            None,
            Some("Bar 2".into())
        )
    );

    // A watcher that reconnects after offset 13 gets the current picture first: A006 is next.
    let sixth = &tokens[5];
    let mut again = app
        .ws_connect(&format!("/api/v1/tickets/{sixth}/live?after=13"))
        .await;
    let snap = next_ticket_message(&mut again).await;
    let eta = app.ticket(sixth).await.eta_seconds;
    assert_eq!(
        seen(snap),
        ("snapshot", 15, "waiting".into(), Some(1), eta, None)
    );
    // And asking for a resync gives a fresh snapshot on the same socket.
    again.send(Message::text("resync")).await.unwrap();
    assert_eq!(
        seen(next_ticket_message(&mut again).await),
        ("snapshot", 15, "waiting".into(), Some(1), eta, None)
    );
}

/// The ticket socket reads its client's input only when woken for it: every message of a
/// burst is answered, a ping gets its pong between updates, and a hang-up ends the socket.
#[tokio::test]
async fn a_ticket_socket_answers_all_its_client_says_and_ends_when_it_hangs_up() {
    let app = spawn_app().await;
    let token = app.join("bar", "Talker", 1).await.token.unwrap();
    let mut ws = app
        .ws_connect(&format!("/api/v1/tickets/{token}/live"))
        .await;
    assert_eq!(seen(next_ticket_message(&mut ws).await).0, "snapshot");
    assert_eq!(metric::<u64>(&app, "fila_sockets").await, 1);
    // Three requests in one write: the server reads them from one wake.
    for _ in 0..3 {
        ws.feed(Message::text("resync")).await.unwrap();
    }
    ws.flush().await.unwrap();
    for _ in 0..3 {
        assert_eq!(seen(next_ticket_message(&mut ws).await).0, "snapshot");
    }
    // Updates flow, then a ping is answered.
    app.join("bar", "Behind", 1).await;
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WS_TIMEOUT, async {
        loop {
            match ws.next().await.expect("open").expect("a frame") {
                Message::Pong(p) => return p,
                _ => continue,
            }
        }
    })
    .await
    .expect("a pong");
    assert_eq!(&pong[..], b"are you there");
    // A hang-up ends the socket on the server at once, not at its next update or ping.
    ws.close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + WS_TIMEOUT;
    while metric::<u64>(&app, "fila_sockets").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the socket still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_recall_reaches_the_holders_socket() {
    let app = spawn_app().await;
    let t = app.join("bar", "Forgetful", 1).await;
    let token = t.token.unwrap();
    let mut ws = app
        .ws_connect(&format!("/api/v1/tickets/{token}/live"))
        .await;
    next_ticket_message(&mut ws).await;
    let bar1 = app.counter_id("Bar 1").await;
    app.call_next("bar", bar1).await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "update",
            2,
            "called".into(),
            None,
            None,
            Some("Bar 1".into())
        )
    );
    assert_eq!(app.act(t.id, "recall", None).await.calls, 2);
    // The phone should buzz again: the recall is a change the holder must hear about.
    let msg = next_ticket_message(&mut ws).await;
    let TicketMessage::Update { calls, .. } = msg else {
        panic!("an update, got {msg:?}");
    };
    assert_eq!(calls, 2);
    assert_eq!(
        seen(msg),
        (
            "update",
            3,
            "called".into(),
            None,
            None,
            Some("Bar 1".into())
        )
    );
    // A second recall too.
    assert_eq!(app.act(t.id, "recall", None).await.calls, 3);
    let msg = next_ticket_message(&mut ws).await;
    let TicketMessage::Update { calls, offset, .. } = msg else {
        panic!("an update, got {msg:?}");
    };
    assert_eq!((offset, calls), (4, 3));
}

#[tokio::test]
async fn a_cancelled_or_moved_ticket_tells_its_watcher() {
    let app = spawn_app().await;
    let a1 = app.join("bar", "First", 1).await;
    let a2 = app.join("bar", "Second", 1).await;
    let token2 = a2.token.clone().unwrap();
    let mut ws = app
        .ws_connect(&format!("/api/v1/tickets/{token2}/live"))
        .await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "snapshot",
            2,
            "waiting".into(),
            Some(2),
            Some(2 * DEFAULT_ETA_STEP),
            None
        )
    );
    // The one ahead cancels: move up.
    app.cancel(a1.token.as_deref().unwrap()).await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "update",
            3,
            "waiting".into(),
            Some(1),
            Some(DEFAULT_ETA_STEP),
            None
        )
    );
    // Staff move it to the large tables, which already has two waiting.
    app.join("tables-large", "C one", 5).await;
    app.join("tables-large", "C two", 5).await;
    app.act(
        a2.id,
        "move",
        Some(serde_json::json!({"queue": "tables-large"})),
    )
    .await;
    let msg = next_ticket_message(&mut ws).await;
    let TicketMessage::Update {
        ref queue,
        ref queue_name,
        ..
    } = msg
    else {
        panic!("an update, got {msg:?}");
    };
    assert_eq!(
        (queue.as_str(), queue_name.as_str()),
        ("tables-large", "Tables 3+")
    );
    assert_eq!(
        seen(msg),
        (
            "update",
            6,
            "waiting".into(),
            Some(3),
            Some(3 * DEFAULT_ETA_STEP),
            None
        )
    );
    // The holder cancels: the last word is "cancelled".
    app.cancel(&token2).await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        ("update", 7, "cancelled".into(), None, None, None)
    );
}

#[tokio::test]
async fn a_watcher_for_an_unknown_ticket_is_refused_with_404() {
    let app = spawn_app().await;
    match app
        .try_ws_connect_with("/api/v1/tickets/not-a-real-token/live", None)
        .await
    {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 404),
        Err(e) => panic!("expected a 404 answer, got {e}"),
        Ok(_) => panic!("expected a refusal, the socket opened"),
    }
}

#[tokio::test]
async fn a_watcher_keeps_up_with_a_burst_of_concurrent_calls() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut last = None;
    for i in 1..=30 {
        last = Some(app.join("bar", &format!("Guest {i}"), 1).await);
    }
    let last = last.unwrap();
    let token = last.token.clone().unwrap();
    let mut ws = app
        .ws_connect(&format!("/api/v1/tickets/{token}/live"))
        .await;
    assert_eq!(
        seen(next_ticket_message(&mut ws).await),
        (
            "snapshot",
            30,
            "waiting".into(),
            Some(30),
            Some(30 * DEFAULT_ETA_STEP),
            None
        )
    );
    let bar1 = app.counter_id("Bar 1").await;
    let bar2 = app.counter_id("Bar 2").await;
    app.staff_token().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..29 {
        let app = app.clone();
        let counter = if i % 2 == 0 { bar1 } else { bar2 };
        set.spawn(async move { app.call_next("bar", counter).await.number });
    }
    // One update per call, in offset order, each one place closer.
    for k in 1..=29u32 {
        let (kind, offset, status, position, _, counter) = seen(next_ticket_message(&mut ws).await);
        assert_eq!(
            (kind, offset, status.as_str(), position, counter),
            ("update", 30 + k as u64, "waiting", Some(30 - k), None)
        );
    }
    let mut called = std::collections::BTreeSet::new();
    while let Some(n) = set.join_next().await {
        called.insert(n.unwrap());
    }
    assert_eq!(called, (1..=29).map(|i| number("A", i)).collect());
    let mine = app.ticket(&token).await;
    assert_eq!((mine.position, mine.offset), (Some(1), 59));
    assert_silent(&mut ws, QUIET).await;
}

/// What the kernel holds unacknowledged on the server's end of an open connection.
fn server_send_queue(server: u16, phone: u16) -> u64 {
    match server_end(server, phone) {
        Some((state, queued)) if state == "01" => queued,
        other => panic!("the server's end of the phone's connection is not open: {other:?}"),
    }
}

/// A phone whose socket has a small receive window; its snapshot is read.
async fn phone_with_a_small_window(app: &TestApp, token: &str) -> (Ws, u16) {
    let path = format!("/api/v1/tickets/{token}/live");
    let (mut ws, phone) = ws_connect_with_a_small_window(app, &path).await;
    assert_eq!(seen(next_ticket_message(&mut ws).await).0, "snapshot");
    (ws, phone)
}

/// A phone that stops reading (a dead spot, a frozen tab) holds a bounded part of the
/// server's memory, not whatever the kernel would buffer for it; when it reads again it
/// gets the newest state at once, not every change it missed one by one.
#[tokio::test]
async fn a_phone_that_stops_reading_costs_a_bounded_buffer_then_gets_the_newest_state() {
    const RECALLS: u32 = 1_000;
    let app = spawn_app().await;
    let t = app.join("bar", "Dead spot", 1).await;
    let token = t.token.unwrap();
    let (mut ws, phone) = phone_with_a_small_window(&app, &token).await;
    // Every recall is an update of about 150 bytes for a phone that reads none of them:
    // some 150 KB in all.
    app.call_then_recall(t.id, RECALLS).await;
    // Wait for the server to have sent what it will.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut queued, mut since) = (0, tokio::time::Instant::now());
    while since.elapsed() < QUIET {
        assert!(tokio::time::Instant::now() < deadline, "still sending");
        let now = server_send_queue(app.addr.port(), phone);
        if now != queued {
            (queued, since) = (now, tokio::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        queued <= 48 * 1024,
        "the kernel holds {queued} bytes for a phone that does not read"
    );
    // Reading again: what was already on its way, then the newest state.
    let mut updates = 0;
    loop {
        let msg = next_ticket_message(&mut ws).await;
        let TicketMessage::Update {
            calls, ref status, ..
        } = msg
        else {
            panic!("an update, got {msg:?}");
        };
        assert_eq!(status, "called");
        updates += 1;
        if calls == RECALLS + 1 {
            break;
        }
    }
    assert!(
        updates < RECALLS / 2,
        "{updates} updates for {RECALLS} recalls: the backlog went one by one"
    );
    assert_silent(&mut ws, QUIET).await;
}

/// A phone that never reads again (a tab frozen in a pocket, still acknowledging TCP) is let
/// go once a send to it has waited for the instance's patience: its connection is reset, so
/// the kernel drops what it held for it at once, and its place under the socket limit goes
/// to the next phone. The phone, reading again, gets what was on its way, then the end, and
/// reconnects to a fresh snapshot.
#[tokio::test]
async fn a_phone_that_never_reads_again_is_let_go_and_its_place_freed() {
    const RECALLS: u32 = 600;
    let app = spawn_app_with(|c| {
        c.send_timeout_secs = 1;
        c.max_sockets = 1;
    })
    .await;
    let t = app.join("bar", "Pocket", 1).await;
    let token = t.token.unwrap();
    let (mut ws, phone) = phone_with_a_small_window(&app, &token).await;
    assert!(
        matches!(server_end(app.addr.port(), phone), Some((state, _)) if state == "01"),
        "the server's end of the phone's connection is open"
    );
    // About 90 KB of updates: more than the connection can hold, so the server's send waits
    // (and, past its patience, gives up, maybe before the last of these).
    app.call_then_recall(t.id, RECALLS).await;
    // A second of patience, then the server's end is gone: not lingering with its buffer.
    assert_let_go(app.addr.port(), phone).await;
    assert_eq!(metric::<u64>(&app, "fila_sockets_let_go_total").await, 1);
    // The only place there was is free again: the next phone gets its snapshot, the newest.
    let mut next = app
        .ws_connect(&format!("/api/v1/tickets/{token}/live"))
        .await;
    match next_ticket_message(&mut next).await {
        TicketMessage::Snapshot { status, ticket, .. } => {
            assert_eq!((status.as_str(), ticket.calls), ("called", RECALLS + 1))
        }
        other => panic!("a snapshot, got {other:?}"),
    }
    // The stalled phone: what reached it before the reset, then the end of the connection.
    let delivered = read_to_the_end(&mut ws).await;
    assert!(
        delivered < RECALLS,
        "{delivered} frames reached a phone that was let go"
    );
}
