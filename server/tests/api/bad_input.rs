//! Every refusal has its exact status and `{"error": {"code", "message"}}`, and changes nothing.

use crate::helpers::*;
use app::protocol::{StaffSnapshot, VenueInfo};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

const JOIN_BAR: &str = "/api/v1/venues/demo/queues/bar/tickets";

/// Everything observable about the venue: the public summary and the staff picture (which
/// carries the event offset, so any accepted command would show).
async fn state(app: &TestApp) -> (VenueInfo, StaffSnapshot) {
    (app.venue_info().await, app.staff_snapshot().await)
}

/// An app with two people waiting at the bar, and its state.
async fn setup() -> (TestApp, (VenueInfo, StaffSnapshot)) {
    let app = spawn_app().await;
    app.join("bar", "Ana", 2).await;
    app.join("bar", "Bo", 3).await;
    let before = state(&app).await;
    assert_eq!(before.0.offset, 2);
    assert_eq!(before.0.queues[0].waiting, 2);
    (app, before)
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.send().await.expect("request sent")
}

#[tokio::test]
async fn a_body_over_16_kib_is_rejected_with_413() {
    let (app, before) = setup().await;
    let body = json!({"name": "x".repeat(17 * 1024), "party_size": 2}).to_string();
    assert!(body.len() > 16 * 1024);
    let resp = raw_post(&app, JOIN_BAR, Some("application/json"), body).await;
    assert_error(resp, 413, "payload_too_large").await;
    // On a staff action body too.
    let token = app.staff_token().await.to_owned();
    let resp = app
        .client
        .post(app.url("/api/v1/venues/demo/tickets/1/requeue"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/json")
        .body(format!(
            "{{\"to\": \"front\", \"pad\": \"{}\"}}",
            "y".repeat(20_000)
        ))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "payload_too_large").await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn malformed_json_is_rejected_with_400() {
    let (app, before) = setup().await;
    for body in [
        r#"{"name": "Ana", "party_size": "#,
        "not json",
        r#"{"name": "Ana",}"#,
    ] {
        let resp = raw_post(&app, JOIN_BAR, Some("application/json"), body).await;
        assert_error(resp, 400, "malformed_json").await;
    }
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_rejected_with_422() {
    let (app, before) = setup().await;
    for body in [
        json!({"name": "Ana", "party_size": "two"}),
        json!({"name": "Ana", "party_size": 2.5}),
        json!({"name": 42, "party_size": 2}),
        json!({"name": "Ana"}),
        json!({"party_size": 2}),
        json!([]),
        json!(null),
    ] {
        let resp = app.post_json(JOIN_BAR, &body).await;
        let e = assert_error(resp, 422, "invalid_body").await;
        assert!(!e.message.is_empty(), "{body}");
    }
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn a_body_without_json_content_type_is_rejected_with_415() {
    let (app, before) = setup().await;
    let body = json!({"name": "Ana", "party_size": 2}).to_string();
    let resp = raw_post(&app, JOIN_BAR, None, body.clone()).await;
    assert_error(resp, 415, "unsupported_media_type").await;
    let resp = raw_post(&app, JOIN_BAR, Some("text/plain"), body).await;
    assert_error(resp, 415, "unsupported_media_type").await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn an_unknown_venue_or_queue_is_404() {
    let (app, before) = setup().await;
    let body = json!({"name": "Ana", "party_size": 2});
    let resp = app
        .post_json("/api/v1/venues/nowhere/queues/bar/tickets", &body)
        .await;
    assert_error(resp, 404, "venue_not_found").await;
    let resp = app
        .post_json("/api/v1/venues/demo/queues/nowhere/tickets", &body)
        .await;
    assert_error(resp, 404, "queue_not_found").await;
    assert_error(
        app.get("/api/v1/venues/nowhere").await,
        404,
        "venue_not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/venues/nowhere/display").await,
        404,
        "venue_not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/venues/nowhere/qr.svg").await,
        404,
        "venue_not_found",
    )
    .await;
    let long = "v".repeat(101);
    assert_error(
        app.get(&format!("/api/v1/venues/{long}")).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn an_empty_blank_or_too_long_name_is_rejected() {
    let (app, before) = setup().await;
    for name in [
        "",
        "   ",
        &"x".repeat(200),
        &"x".repeat(81),
        "tab\tinside",
        "nul\u{0}",
    ] {
        let resp = app.try_join("bar", name, 2).await;
        assert_error(resp, 422, "invalid_name").await;
    }
    assert_eq!(state(&app).await, before);
    // The limits themselves are fine: 80 characters (not bytes), trimmed.
    let t = app.join("bar", &format!("  {}  ", "ç".repeat(80)), 2).await;
    assert_eq!(t.name, "ç".repeat(80));
}

#[tokio::test]
async fn a_party_of_zero_is_rejected() {
    let (app, before) = setup().await;
    for party in [0, -1, 21, 1000, i64::MAX] {
        let resp = app.try_join("bar", "Ana", party).await;
        let e = assert_error(resp, 422, "invalid_party_size").await;
        assert_eq!(e.message, "party size must be between 1 and 20");
    }
    assert_eq!(state(&app).await, before);
    assert_eq!(app.join("bar", "Big table", 20).await.party_size, 20);
}

#[tokio::test]
async fn notes_over_280_characters_are_rejected() {
    let (app, before) = setup().await;
    let resp = app
        .post_json(
            JOIN_BAR,
            &json!({"name": "Ana", "party_size": 2, "notes": "n".repeat(281)}),
        )
        .await;
    assert_error(resp, 422, "invalid_notes").await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn a_paused_or_closed_queue_refuses_joins_with_409() {
    let app = spawn_app().await;
    app.join("tables-small", "Early", 2).await;
    assert_eq!(
        app.queue_action("tables-small", "pause").await.status(),
        200
    );
    assert_eq!(
        app.queue_action("tables-large", "close").await.status(),
        200
    );
    let before = state(&app).await;
    let e = assert_error(
        app.try_join("tables-small", "Ana", 2).await,
        409,
        "queue_paused",
    )
    .await;
    assert_eq!(
        e.message,
        "this queue is paused and not taking new people right now"
    );
    let e = assert_error(
        app.try_join("tables-large", "Ana", 2).await,
        409,
        "queue_closed",
    )
    .await;
    assert_eq!(e.message, "this queue is closed for today");
    assert_eq!(state(&app).await, before);
    let q = &before.0.queues;
    assert_eq!((q[1].status.as_str(), q[1].waiting), ("paused", 1));
    assert_eq!((q[2].status.as_str(), q[2].waiting), ("closed", 0));
    // Pausing what is paused changes nothing and is not an error.
    assert_eq!(
        app.queue_action("tables-small", "pause").await.status(),
        200
    );
    assert_eq!(state(&app).await, before);
    // Open again ("open" is the same as "resume"): joins work.
    assert_eq!(app.queue_action("tables-large", "open").await.status(), 200);
    assert_eq!(app.join("tables-large", "Ana", 2).await.number, "C001");
}

#[tokio::test]
async fn calling_next_on_an_empty_queue_says_nobody_is_waiting() {
    let (app, before) = setup().await;
    let bar1 = app.counter_id("Bar 1").await;
    let e = assert_error(
        app.try_call_next("tables-small", bar1).await,
        409,
        "nobody_waiting",
    )
    .await;
    assert_eq!(e.message, "nobody is waiting in this queue");
    // Unknown counters and queues.
    assert_error(
        app.try_call_next("bar", 9_999).await,
        404,
        "counter_not_found",
    )
    .await;
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues/bar/call-next",
            Some(&json!({"counter": "Bar 99"})),
        )
        .await;
    assert_error(resp, 404, "counter_not_found").await;
    assert_error(
        app.try_call_next("nowhere", bar1).await,
        404,
        "queue_not_found",
    )
    .await;
    let resp = app
        .staff_post("/api/v1/venues/demo/queues/bar/call-next", Some(&json!({})))
        .await;
    assert_error(resp, 422, "invalid_body").await;
    assert_eq!(state(&app).await, before);
    // Counters can be named, case-insensitively.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues/bar/call-next",
            Some(&json!({"counter": "bar 2"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let t: app::protocol::TicketView = resp.json().await.unwrap();
    assert_eq!(
        (t.number.as_str(), t.counter.as_deref()),
        ("A001", Some("Bar 2"))
    );
}

#[tokio::test]
async fn staff_routes_without_a_valid_token_are_401() {
    let (app, before) = setup().await;
    let gets = ["/api/v1/venues/demo/queues", "/api/v1/auth/me"];
    let posts = [
        (
            "/api/v1/venues/demo/queues/bar/call-next",
            Some(json!({"counter": 1})),
        ),
        (
            "/api/v1/venues/demo/queues/bar/walk-ins",
            Some(json!({"name": "W", "party_size": 1})),
        ),
        ("/api/v1/venues/demo/queues/bar/pause", None),
        (
            "/api/v1/venues/demo/tickets/1/call",
            Some(json!({"counter": 1})),
        ),
        ("/api/v1/venues/demo/tickets/1/cancel", None),
        ("/api/v1/auth/logout", None),
    ];
    for bearer in [None, Some("not-a-real-session"), Some("")] {
        let expected = match bearer {
            Some(t) if !t.is_empty() => "session_expired",
            _ => "unauthorized",
        };
        for path in gets {
            let mut req = app.client.get(app.url(path));
            if let Some(t) = bearer {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let resp = req.send().await.unwrap();
            assert_error(resp, 401, expected).await;
        }
        for (path, body) in &posts {
            let mut req = app.client.post(app.url(path));
            if let Some(t) = bearer {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.unwrap();
            assert_error(resp, 401, expected).await;
        }
    }
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn unknown_actions_and_ticket_ids_are_404() {
    let (app, before) = setup().await;
    assert_error(
        app.ticket_action(1, "teleport", None).await,
        404,
        "unknown_action",
    )
    .await;
    assert_error(
        app.queue_action("bar", "explode").await,
        404,
        "unknown_action",
    )
    .await;
    for id in ["abc", "-1", "99999", "1.5", "18446744073709551616"] {
        let resp = app
            .staff_post(&format!("/api/v1/venues/demo/tickets/{id}/recall"), None)
            .await;
        assert_error(resp, 404, "ticket_not_found").await;
    }
    assert_error(
        app.get("/api/v1/tickets/no-such-token").await,
        404,
        "ticket_not_found",
    )
    .await;
    assert_error(app.cancel("no-such-token").await, 404, "ticket_not_found").await;
    let long = "t".repeat(101);
    assert_error(
        app.get(&format!("/api/v1/tickets/{long}")).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn bad_action_bodies_are_422_and_impossible_moves_are_409() {
    let (app, before) = setup().await;
    let a1 = app.staff_snapshot().await.queues[0].tickets[0].id;
    let cases = [
        ("call", json!({}), 422, "invalid_body"),
        ("call", json!({"counter": 9999}), 404, "counter_not_found"),
        ("requeue", json!({"to": "middle"}), 422, "invalid_body"),
        ("requeue", json!({"sideways": true}), 422, "invalid_body"),
        ("move", json!({}), 422, "invalid_body"),
        ("move", json!({"queue": "nowhere"}), 404, "queue_not_found"),
        ("move", json!({"queue": "bar"}), 409, "same_queue"),
    ];
    for (action, body, status, code) in cases {
        let resp = app.ticket_action(a1, action, Some(body)).await;
        assert_error(resp, status, code).await;
    }
    let resp = app.ticket_action(a1, "start", None).await;
    let e = assert_error(resp, 409, "invalid_transition").await;
    assert_eq!(e.message, "cannot start serving a ticket that is waiting");
    assert_error(
        app.ticket_action(a1, "serve", None).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_error(
        app.ticket_action(a1, "no-show", None).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_error(
        app.ticket_action(a1, "recall", None).await,
        409,
        "invalid_transition",
    )
    .await;
    let resp = app
        .staff_post(&format!("/api/v1/venues/demo/tickets/{a1}/recall"), None)
        .await;
    assert_error(resp, 409, "invalid_transition").await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn cancelling_twice_is_409_the_second_time() {
    let app = spawn_app().await;
    let t = app.join("bar", "Ana", 2).await;
    let token = t.token.unwrap();
    let resp = app.cancel(&token).await;
    assert_eq!(resp.status(), 200);
    let before = state(&app).await;
    let e = assert_error(app.cancel(&token).await, 409, "invalid_transition").await;
    assert_eq!(e.message, "cannot cancel a ticket that is cancelled");
    assert_eq!(state(&app).await, before);
    // Staff cannot cancel it again either.
    assert_error(
        app.ticket_action(t.id, "cancel", None).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn unknown_api_routes_are_404_json() {
    let (app, before) = setup().await;
    for path in [
        "/api/v1/whatever",
        "/api/v1/venues/demo/nope/nope/nope/nope",
        "/api/v2/venues",
        "/api/whatever",
    ] {
        assert_error(app.get(path).await, 404, "not_found").await;
        let resp = app.post_json(path, &json!({})).await;
        assert_error(resp, 404, "not_found").await;
        // Any method, with the API's headers: never the site's HTML page.
        let resp = app.client.delete(app.url(path)).send().await.unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(resp.headers()["x-frame-options"], "DENY", "{path}");
        assert_error(resp, 404, "not_found").await;
    }
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_405_json() {
    let (app, before) = setup().await;
    assert_error(app.get(JOIN_BAR).await, 405, "method_not_allowed").await;
    let resp = app
        .client
        .put(app.url("/api/v1/tickets/x"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 405, "method_not_allowed").await;
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn a_login_without_email_or_password_is_422() {
    let app = spawn_app().await;
    for body in [
        json!({"email": "", "password": "x"}),
        json!({"email": "owner@demo.fila", "password": ""}),
        json!({"email": "   ", "password": "x"}),
    ] {
        let resp = app.post_json("/api/v1/auth/login", &body).await;
        assert_error(resp, 422, "invalid_credentials_format").await;
    }
    let resp = app
        .post_json("/api/v1/auth/login", &json!({"email": "a@b.c"}))
        .await;
    assert_error(resp, 422, "invalid_body").await;
}

#[tokio::test]
async fn socket_routes_and_odd_urls_answer_json_errors_too() {
    let app = spawn_app().await;
    let ticket = app.join("bar", "Watcher", 1).await.token.unwrap();
    let before = state(&app).await;
    for path in [
        // A plain GET (no upgrade) on the socket routes.
        format!("/api/v1/tickets/{ticket}/live"),
        "/api/v1/venues/demo/display/ws".to_owned(),
        // A query that does not parse.
        format!("/api/v1/tickets/{ticket}/live?after=abc"),
        // Path segments that are not UTF-8.
        "/api/v1/tickets/%FF".to_owned(),
        "/api/v1/venues/%FF".to_owned(),
    ] {
        let resp = app.get(&path).await;
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
        assert_json_error(resp, status).await;
    }
    assert_eq!(state(&app).await, before);
}
