//! A graceful restart on the same database loses nothing and changes nothing.

use crate::helpers::*;
use app::protocol::{QueueSummary, TicketView};
use serde_json::json;

async fn all_tickets(app: &TestApp, tokens: &[String]) -> Vec<TicketView> {
    let mut out = Vec::new();
    for token in tokens {
        out.push(app.ticket(token).await);
    }
    out
}

#[tokio::test]
async fn a_restart_keeps_every_ticket_queue_and_number() {
    let mut app = spawn_app().await;
    let mut tokens = Vec::new();
    for i in 1..=6 {
        tokens.push(
            app.join("bar", &format!("Bar guest {i}"), 2)
                .await
                .token
                .unwrap(),
        );
    }
    for i in 1..=3 {
        tokens.push(
            app.join("tables-small", &format!("Table guest {i}"), 4)
                .await
                .token
                .unwrap(),
        );
    }
    let bar1 = app.counter_id("Bar 1").await;
    let bar2 = app.counter_id("Bar 2").await;
    let a1 = app.call_next("bar", bar1).await;
    let a2 = app.call_next("bar", bar2).await;
    let a3 = app.call_next("bar", bar1).await;
    assert_eq!(
        (a1.number.as_str(), a2.number.as_str(), a3.number.as_str()),
        ("A001", "A002", "A003")
    );
    // A001 did not show up, then came back and goes to the front.
    assert_eq!(app.act(a1.id, "no-show", None).await.status, "no_show");
    let back = app
        .act(a1.id, "requeue", Some(json!({"to": "front"})))
        .await;
    assert_eq!((back.status.as_str(), back.position), ("waiting", Some(1)));
    // A002 did not show up and stays gone; A003 is being served; one recall on nobody.
    assert_eq!(app.act(a2.id, "no-show", None).await.status, "no_show");
    assert_eq!(app.act(a3.id, "recall", None).await.calls, 2);
    assert_eq!(app.act(a3.id, "start", None).await.status, "serving");
    // B001 is called, B queue paused.
    let tables4 = app.counter_id("Table 4").await;
    let b1 = app.call_next("tables-small", tables4).await;
    assert_eq!(b1.number, "B001");
    let paused: QueueSummary = app
        .queue_action("tables-small", "pause")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paused.status, "paused");
    let closed: QueueSummary = app
        .queue_action("tables-large", "close")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed.status, "closed");

    let before = all_tickets(&app, &tokens).await;
    let info_before = app.venue_info().await;
    let staff_before = app.staff_snapshot().await;
    let display_before: serde_json::Value = app
        .get("/api/v1/venues/demo/display")
        .await
        .json()
        .await
        .unwrap();
    let summary: Vec<(String, Option<u32>)> = before
        .iter()
        .map(|t| (format!("{} {}", t.number, t.status), t.position))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("A001 waiting".to_owned(), Some(1)),
            ("A002 no_show".to_owned(), None),
            ("A003 serving".to_owned(), None),
            ("A004 waiting".to_owned(), Some(2)),
            ("A005 waiting".to_owned(), Some(3)),
            ("A006 waiting".to_owned(), Some(4)),
            ("B001 called".to_owned(), None),
            ("B002 waiting".to_owned(), Some(1)),
            ("B003 waiting".to_owned(), Some(2)),
        ]
    );

    app.restart().await;
    // Same file, same (empty) site directory, a new port.
    assert!(app.db_dir.path().join("fila.db").is_file());
    assert_eq!(
        app.config.site_root,
        app.site_dir.path().display().to_string()
    );

    let after = all_tickets(&app, &tokens).await;
    assert_eq!(
        after, before,
        "every ticket reads exactly the same after a restart"
    );
    assert_eq!(app.venue_info().await, info_before);
    assert_eq!(
        app.staff_snapshot().await,
        staff_before,
        "the staff token survives too"
    );
    let display_after: serde_json::Value = app
        .get("/api/v1/venues/demo/display")
        .await
        .json()
        .await
        .unwrap();
    // Only the join link differs: it names the new port.
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("join_url");
        v
    };
    assert_eq!(strip(display_after), strip(display_before));

    // Numbering continues where it was.
    let a7 = app.join("bar", "After the restart", 1).await;
    assert_eq!(a7.number, "A007");
    assert_eq!(a7.position, Some(5));
    assert!(a7.offset > info_before.offset, "offsets continue too");
    // The pause held: joining is still refused until staff resume.
    assert_error(
        app.try_join("tables-small", "Late", 2).await,
        409,
        "queue_paused",
    )
    .await;
    assert_error(
        app.try_join("tables-large", "Late", 2).await,
        409,
        "queue_closed",
    )
    .await;
    let resumed: QueueSummary = app
        .queue_action("tables-small", "resume")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed.status, "open");
    let b4 = app.join("tables-small", "Late", 2).await;
    assert_eq!((b4.number.as_str(), b4.position), ("B004", Some(3)));
    // Calls pick up the restored line order: A001 (requeued to the front) first.
    let next = app.call_next("bar", bar2).await;
    assert_eq!(next.number, "A001");
    assert_eq!(next.counter.as_deref(), Some("Bar 2"));
    let next = app.call_next("bar", bar2).await;
    assert_eq!(next.number, "A004");
    assert_eq!(app.ticket(&tokens[5]).await.position, Some(2)); // A006
    assert_eq!(app.ticket(&a7.token.unwrap()).await.position, Some(3));
}

#[tokio::test]
async fn a_restart_twice_in_a_row_still_continues_numbering() {
    let mut app = spawn_app().await;
    assert_eq!(app.join("bar", "One", 1).await.number, "A001");
    app.restart().await;
    assert_eq!(app.join("bar", "Two", 1).await.number, "A002");
    app.restart().await;
    let three = app.join("bar", "Three", 1).await;
    assert_eq!((three.number.as_str(), three.position), ("A003", Some(3)));
    // A fresh start of an existing database does not seed a second demo venue.
    let info = app.venue_info().await;
    assert_eq!(info.queues.len(), 3);
    assert_eq!(app.staff_snapshot().await.counters.len(), 4);
}

#[tokio::test]
async fn a_restart_with_open_sockets_tells_watchers_to_reconnect() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut app = spawn_app().await;
    let t = app.join("bar", "Watcher", 2).await;
    let token = t.token.unwrap();
    let mut ticket_ws = app
        .ws_connect(&format!("/api/v1/tickets/{token}/live"))
        .await;
    next_json(&mut ticket_ws).await;
    let mut display_ws = app.ws_connect("/api/v1/venues/demo/display/ws").await;
    next_json(&mut display_ws).await;

    let started = std::time::Instant::now();
    app.stop().await;
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(2),
        "stopping took {took:?}"
    );
    // Each watcher notices at once that the server went away, so it reconnects to the new
    // one: a close frame (1001 going away / 1012 service restart) or the connection ending.
    for ws in [&mut ticket_ws, &mut display_ws] {
        match tokio::time::timeout(WS_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                let code = u16::from(frame.code);
                assert!(code == 1001 || code == 1012, "close code {code}");
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(None)))) => {}
            other => panic!("expected the socket to close, got {other:?}"),
        }
    }
}
