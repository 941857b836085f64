//! The optional rotating join code: with it on, only people who scanned the venue screen's QR
//! can join, and only paired screens and staff get that QR.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn with_the_join_code_on_only_the_current_qr_link_lets_people_join() {
    let app = spawn_app().await;
    // Off by default: the plain link works and the QR is public.
    assert_eq!(
        app.try_join("bar", "Before", 1).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.get("/api/v1/venues/demo/qr.svg").await.status(),
        StatusCode::OK
    );

    let resp = app
        .staff_post(
            "/api/v1/venues/demo/join-code",
            Some(&json!({"required": true})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // From home, with the plain link: a friendly refusal.
    let resp = app.try_join("bar", "From home", 1).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "join_code_required");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scan the QR")
    );
    // Nor can anyone fetch the QR or the link to read the code off it.
    assert_eq!(
        app.get("/api/v1/venues/demo/qr.svg").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/venues/demo/join-link").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A paired screen gets the current link; joining with its code works.
    let screen = app.paired_screen().await;
    let url = app.join_link(&screen).await;
    let code = url.split("?code=").nth(1).expect("the link has a code");
    assert_eq!(code.len(), 8);
    assert_eq!(
        app.get(&format!("/api/v1/venues/demo/qr.svg?screen={screen}"))
            .await
            .status(),
        StatusCode::OK
    );
    let resp = app.try_join_with_code("bar", "At the door", 2, code).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // A made-up code is refused; staff may still add walk-ins.
    let resp = app
        .try_join_with_code("bar", "Guesser", 2, "00000000")
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues/bar/walk-ins",
            Some(&json!({"name": "Walk-in", "party_size": 2})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // The code of an earlier window (20+ minutes ago) no longer works.
    let db = sqlx::SqlitePool::connect(&app.config.database_url)
        .await
        .unwrap();
    let secret: String = sqlx::query_scalar("SELECT join_secret FROM venues WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let window = now.div_euclid(server::http::join_code::WINDOW_MS);
    let old = server::http::join_code::code_for(&secret, 1, window - 2);
    let previous = server::http::join_code::code_for(&secret, 1, window - 1);
    for (c, want) in [
        (old, StatusCode::FORBIDDEN),
        (previous, StatusCode::CREATED),
    ] {
        let resp = app
            .post_json(
                "/api/v1/venues/demo/queues/bar/tickets",
                &json!({"name": "Late", "party_size": 1, "code": c}),
            )
            .await;
        assert_eq!(resp.status(), want, "code {c}");
    }

    // Off again: the plain link works.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/join-code",
            Some(&json!({"required": false})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.try_join("bar", "After", 1).await.status(),
        StatusCode::CREATED
    );
}
