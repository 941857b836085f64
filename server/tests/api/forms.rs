//! The phone pages' forms posted by the browser itself (before the app has loaded, or with no
//! JavaScript): the same rules as the API, a 303 to the ticket on success, and the page again
//! with the message and what was typed on a refusal.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

/// The token a 303 sends the browser to (`/t/<token>`).
fn ticket_location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let to = resp.headers()["location"].to_str().unwrap();
    to.strip_prefix("/t/")
        .unwrap_or_else(|| panic!("redirects to a ticket: {to}"))
        .to_string()
}

#[tokio::test]
async fn the_join_form_joins_and_redirects_to_the_ticket() {
    let app = spawn_app().await;
    app.join("bar", "Ahead", 1).await;
    let resp = app
        .post_form(
            "/v/demo",
            &[
                ("queue", "bar"),
                ("name", "  Bea  "),
                ("party_size", "3"),
                ("notes", "window seat"),
            ],
        )
        .await;
    let token = ticket_location(&resp);
    let t = app.ticket(&token).await;
    assert_eq!(
        (t.name.as_str(), t.party_size, t.notes.as_deref()),
        ("Bea", 3, Some("window seat"))
    );
    assert_eq!((t.status.as_str(), t.position), ("waiting", Some(2)));
    // The ticket page it leads to shows it.
    let html = app.get(&format!("/t/{token}")).await.text().await.unwrap();
    assert!(html.contains(&t.number), "{html}");
}

#[tokio::test]
async fn a_refused_join_renders_the_page_again_with_the_message_and_the_fields() {
    let app = spawn_app().await;
    // The fields posted, the status, and words of the message.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: [Case; 5] = [
        (
            &[("queue", "bar"), ("name", "   "), ("party_size", "4")],
            422,
            "Please tell us your name.",
        ),
        (
            &[("queue", "bar"), ("name", "Cleo"), ("party_size", "21")],
            422,
            "Party size must be between 1 and 20.",
        ),
        (
            &[("name", "Cleo"), ("party_size", "2")],
            422,
            "Choose a queue first.",
        ),
        (
            &[("queue", "nope"), ("name", "Cleo"), ("party_size", "2")],
            404,
            "no such queue in this venue",
        ),
        (
            &[
                ("queue", "bar"),
                ("name", "Cleo"),
                ("party_size", "2"),
                ("notes", &"x".repeat(300)),
            ],
            422,
            "notes",
        ),
    ];
    for (fields, status, message) in cases {
        let resp = app.post_form("/v/demo?queue=bar", fields).await;
        assert_eq!(resp.status().as_u16(), status, "{fields:?}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert!(
            resp.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("form-action 'self'"),
            "a page, with the page's policy"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("data-testid=\"join-error\""), "{html}");
        assert!(html.contains(message), "{message}: {html}");
        // The title too: it is worked out when the page is built (`page_title`), where
        // reading it later from this path panicked now and then.
        assert!(
            html.contains("<title>Join · Demo Bar &amp; Grill · Fila</title>"),
            "{html}"
        );
        // What was typed comes back, escaped, in the same fields.
        for (name, value) in fields.iter().filter(|(n, _)| *n != "queue") {
            if !value.trim().is_empty() {
                assert!(
                    html.contains(&format!("value=\"{value}\"")),
                    "{name} kept: {html}"
                );
            }
        }
    }
    // Nobody joined.
    assert!(app.venue_info().await.queues.iter().all(|q| q.waiting == 0));

    // Markup in a field stays text.
    let resp = app
        .post_form(
            "/v/demo",
            &[
                ("queue", "bar"),
                ("name", "<b>x</b>\""),
                ("party_size", "0"),
            ],
        )
        .await;
    let html = resp.text().await.unwrap();
    assert!(html.contains("Party size must be between 1 and 20."));
    // The quote is escaped: the value cannot end its attribute and add markup.
    assert!(!html.contains("x</b>\""), "{html}");
    assert!(html.contains("&quot;"), "{html}");
}

#[tokio::test]
async fn the_join_form_keeps_the_queue_rules_the_code_and_the_limits() {
    let app = spawn_app_with(|c| c.join_rate_per_ip = 3).await;
    // A paused queue: 409, the API's message, and the choice kept.
    app.queue_action("bar", "pause").await;
    let resp = app
        .post_form(
            "/v/demo",
            &[("queue", "bar"), ("name", "Dan"), ("party_size", "2")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(html.to_lowercase().contains("paused"), "{html}");
    assert!(html.contains("value=\"Dan\""));
    app.queue_action("bar", "resume").await;

    // The join code: the page's own query string carries it, as the QR link does.
    app.staff_post(
        "/api/v1/venues/demo/join-code",
        Some(&json!({"required": true})),
    )
    .await;
    let fields = [("queue", "bar"), ("name", "Eve"), ("party_size", "2")];
    let resp = app.post_form("/v/demo", &fields).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("scan the QR"));
    let screen = app.paired_screen().await;
    let url = app.join_link(&screen).await;
    let path = &url[url.find("/v/demo").unwrap()..];
    ticket_location(&app.post_form(path, &fields).await);

    // The per-address limit counts form joins with API joins (3 a minute here). Taken so
    // far: the paused join (the limit is checked before the queue's state) and the one that
    // went through; the refused code was not counted.
    let code = url.split("?code=").nth(1).unwrap();
    let resp = app.try_join_with_code("bar", "Api", 1, code).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app.post_form(path, &fields).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(resp.text().await.unwrap().contains("Please wait a moment"));
}

#[tokio::test]
async fn the_ticket_form_cancels_and_refuses_what_it_must() {
    let app = spawn_app().await;
    let t = app.join("bar", "Fay", 2).await;
    let token = t.token.unwrap();
    let page = format!("/t/{token}");

    // Anything but `action=cancel` changes nothing.
    let resp = app.post_form(&page, &[("action", "delete")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("data-testid=\"ticket-error\"")
    );
    assert_eq!(app.ticket(&token).await.status, "waiting");

    let resp = app.post_form(&page, &[("action", "cancel")]).await;
    assert_eq!(ticket_location(&resp), token);
    assert_eq!(app.ticket(&token).await.status, "cancelled");
    let html = app.get(&page).await.text().await.unwrap();
    assert!(html.contains("This ticket is cancelled."), "{html}");

    // Twice: refused with the API's reason, on the ticket's page.
    let resp = app.post_form(&page, &[("action", "cancel")]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(html.contains("data-testid=\"ticket-error\""), "{html}");
    // An unknown token: 404.
    let resp = app
        .post_form("/t/no-such-token", &[("action", "cancel")])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused_without_harm() {
    let app = spawn_app().await;
    let resp = app
        .post_json("/v/demo", &json!({"queue": "bar", "name": "Gil"}))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("We could not read that form.")
    );
    let resp = app
        .client
        .post(app.url("/v/demo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={}", "x".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(app.venue_info().await.queues.iter().all(|q| q.waiting == 0));
}
