//! The staff dashboard's and the venue screen's sockets, and the sockets' limit (the
//! ticket holder's socket is in `ticket_socket.rs`).

use crate::helpers::*;
use crate::stalled::*;
use app::protocol::{DisplaySnapshot, StaffSnapshot, VenueMessage};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message};

async fn next_staff(ws: &mut Ws) -> (u64, StaffSnapshot) {
    let v = next_json(ws).await;
    let VenueMessage::Snapshot { offset, data } =
        serde_json::from_value::<VenueMessage<StaffSnapshot>>(v.clone())
            .unwrap_or_else(|e| panic!("{v} is a staff snapshot: {e}"));
    assert_eq!(offset, data.offset);
    (offset, data)
}

/// The raw text too, to check what the screen is never sent.
async fn next_display(ws: &mut Ws) -> (u64, DisplaySnapshot, String) {
    let v = next_json(ws).await;
    let text = v.to_string();
    let VenueMessage::Snapshot { offset, data } =
        serde_json::from_value::<VenueMessage<DisplaySnapshot>>(v)
            .unwrap_or_else(|e| panic!("{text} is a display snapshot: {e}"));
    assert_eq!(offset, data.offset);
    (offset, data, text)
}

#[tokio::test]
async fn staff_and_display_sockets_get_a_snapshot_then_one_per_change() {
    let app = spawn_app().await;
    app.join("bar", "Already Here", 3).await;
    let mut staff = app.ws_connect_staff("/api/v1/venues/demo/ws").await;
    let mut display = app.ws_connect("/api/v1/venues/demo/display/ws").await;

    let (offset, snap) = next_staff(&mut staff).await;
    assert_eq!(offset, 1);
    assert_eq!(snap.venue, "demo");
    let names: Vec<&str> = snap.counters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Bar 1", "Bar 2", "Table 4", "Table 7"]);
    let queues: Vec<&str> = snap
        .queues
        .iter()
        .map(|q| q.summary.slug.as_str())
        .collect();
    assert_eq!(queues, ["bar", "tables-small", "tables-large"]);
    assert_eq!(snap.queues[0].tickets[0].name, "Already Here");

    let (offset, shown, text) = next_display(&mut display).await;
    assert_eq!(offset, 1);
    assert_eq!(shown.queues[0].next, ["A001"]);
    assert!(shown.called.is_empty());
    assert!(
        !text.contains("Already Here"),
        "the screen never gets names: {text}"
    );
    assert!(shown.join_url.ends_with("/v/demo"), "{}", shown.join_url);

    // A join: both get a new picture.
    let t = app.join("bar", "Zebulon Quixote", 2).await;
    let (offset, snap) = next_staff(&mut staff).await;
    assert_eq!(offset, 2);
    let bar = &snap.queues[0];
    assert_eq!(bar.summary.waiting, 2);
    let seen: Vec<(&str, &str)> = bar
        .tickets
        .iter()
        .map(|t| (t.number.as_str(), t.name.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("A001", "Already Here"), ("A002", "Zebulon Quixote")]
    );
    assert!(
        bar.tickets.iter().all(|t| t.token.is_none()),
        "no tokens on the staff socket"
    );
    let (offset, shown, text) = next_display(&mut display).await;
    assert_eq!(offset, 2);
    assert_eq!(shown.queues[0].next, ["A001", "A002"]);
    assert_eq!(shown.queues[0].summary.waiting, 2);
    assert!(
        !text.contains("Zebulon"),
        "the screen never gets names: {text}"
    );
    assert!(
        !text.contains("Already Here"),
        "the screen never gets names: {text}"
    );
    assert!(!text.contains(t.token.as_deref().unwrap()), "nor tokens");

    // A call: both get a new picture with the called number at its counter.
    let bar1 = app.counter_id("Bar 1").await;
    app.call_next("bar", bar1).await;
    let (offset, snap) = next_staff(&mut staff).await;
    assert_eq!(offset, 3);
    let statuses: Vec<(&str, &str, Option<&str>)> = snap.queues[0]
        .tickets
        .iter()
        .map(|t| (t.number.as_str(), t.status.as_str(), t.counter.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        [("A002", "waiting", None), ("A001", "called", Some("Bar 1"))]
    );
    let (offset, shown, text) = next_display(&mut display).await;
    assert_eq!(offset, 3);
    assert_eq!(shown.called.len(), 1);
    assert_eq!(shown.called[0].number, "A001");
    assert_eq!(shown.called[0].counter, "Bar 1");
    assert_eq!(shown.called[0].queue, "bar");
    assert_eq!(shown.called[0].calls, 1);
    assert_eq!(shown.queues[0].next, ["A002"]);
    assert!(
        !text.contains("Zebulon") && !text.contains("Already Here"),
        "{text}"
    );

    // Nothing else arrives while nothing changes.
    assert_silent(&mut staff, QUIET).await;
    assert_silent(&mut display, QUIET).await;
}

#[tokio::test]
async fn the_staff_socket_needs_a_valid_token() {
    let app = spawn_app().await;
    for bearer in [None, Some("not-a-session")] {
        match app
            .try_ws_connect_with("/api/v1/venues/demo/ws", bearer)
            .await
        {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401, "{bearer:?}"),
            Err(e) => panic!("expected a 401 answer, got {e}"),
            Ok(_) => panic!("the staff socket opened without a valid token ({bearer:?})"),
        }
    }
}

#[tokio::test]
async fn sockets_over_the_limit_are_told_to_try_again() {
    let app = spawn_app_with(|c| c.max_sockets = 1).await;
    let mut first = app.ws_connect("/api/v1/venues/demo/display/ws").await;
    next_json(&mut first).await;
    let mut second = app.ws_connect("/api/v1/venues/demo/display/ws").await;
    let msg = tokio::time::timeout(WS_TIMEOUT, second.next())
        .await
        .expect("an answer")
        .expect("a frame")
        .expect("a valid frame");
    match msg {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1013),
        other => panic!("expected close 1013, got {other:?}"),
    }
    // The first one still works.
    app.join("bar", "Still live", 1).await;
    let v = next_json(&mut first).await;
    assert_eq!(v["offset"], 1);
}

/// A venue screen that never reads again (a frozen kiosk browser) is let go like a phone:
/// once a send to it has waited for the instance's patience, its connection is reset and
/// its place under the socket limit is free for the screen that replaces it.
#[tokio::test]
async fn a_screen_that_never_reads_again_is_let_go_and_its_place_freed() {
    let app = spawn_app_with(|c| {
        c.send_timeout_secs = 1;
        c.max_sockets = 1;
    })
    .await;
    let t = app.join("bar", "On the big screen", 1).await;
    let path = "/api/v1/venues/demo/display/ws";
    let (mut frozen, port) = ws_connect_with_a_small_window(&app, path).await;
    next_display(&mut frozen).await;
    // Every recall is a new picture for a screen that reads none of them.
    app.call_then_recall(t.id, 600).await;
    assert_let_go(app.addr.port(), port).await;
    assert_eq!(metric::<u64>(&app, "fila_sockets_let_go_total").await, 1);
    // The replacement screen gets the newest picture, not "try again".
    let mut next = app.ws_connect(path).await;
    let (offset, _, _) = next_display(&mut next).await;
    assert_eq!(offset, app.ticket(t.token.as_deref().unwrap()).await.offset);
    // The frozen one, reading again, gets what reached it, then the end.
    read_to_the_end(&mut frozen).await;
}
