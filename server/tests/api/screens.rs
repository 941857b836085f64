//! Venue screens: pairing codes, display-only credentials, revocation, and the venue setting
//! that makes the display need them.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn pairing_code(app: &TestApp) -> String {
    let resp = app
        .staff_post("/api/v1/venues/demo/screens/pairing-code", None)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    body["code"].as_str().unwrap().to_owned()
}

async fn pair(app: &TestApp, code: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/screens/pair",
        &json!({"code": code, "name": "TV by the door"}),
    )
    .await
}

async fn need_pairing(app: &TestApp, on: bool) {
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/screens/settings",
            Some(&json!({"need_pairing": on})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_pairs_one_screen_once_and_typing_it_loosely_works() {
    let app = spawn_app().await;
    let code = pairing_code(&app).await;
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");
    // Typed on a TV remote: lower case, no dash.
    let typed = code.replace('-', "").to_lowercase();
    let resp = pair(&app, &typed).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let paired: Value = resp.json().await.unwrap();
    assert_eq!(paired["venue"], "demo");
    assert_eq!(paired["token"].as_str().unwrap().len(), 48);
    // Once only.
    assert_eq!(pair(&app, &code).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        pair(&app, "NOPE-NOPE").await.status(),
        StatusCode::NOT_FOUND
    );
    // Listed for managers.
    let list: Value = app
        .staff_get("/api/v1/venues/demo/screens")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "TV by the door");
    assert_eq!(list[0]["revoked"], false);
}

#[tokio::test]
async fn an_expired_code_pairs_nothing_and_guessing_is_rate_limited() {
    let app = spawn_app().await;
    let code = pairing_code(&app).await;
    let db = sqlx::SqlitePool::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE pairing_codes SET expires_at = expires_at - 11 * 60 * 1000")
        .execute(&db)
        .await
        .unwrap();
    let resp = pair(&app, &code).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // 10 tries a minute from one address, then 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(pair(&app, "ABCD-EFGH").await.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn with_pairing_required_only_paired_screens_and_staff_see_the_display() {
    let app = spawn_app().await;
    // Off by default: the display is public.
    assert_eq!(app.get("/api/v1/venues/demo/display").await.status(), 200);
    let code = pairing_code(&app).await;
    let paired: Value = pair(&app, &code).await.json().await.unwrap();
    let token = paired["token"].as_str().unwrap().to_owned();
    let id = paired["screen_id"].as_i64().unwrap();

    need_pairing(&app, true).await;
    let resp = app.get("/api/v1/venues/demo/display").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "pairing_required");
    let ws = tokio_tungstenite::connect_async(app.ws_url("/api/v1/venues/demo/display/ws")).await;
    assert!(ws.is_err(), "the socket is refused without a credential");

    // The paired screen sees it, over REST and the socket.
    let path = format!("/api/v1/venues/demo/display?screen={token}");
    assert_eq!(app.get(&path).await.status(), 200);
    let (mut ws, _) = tokio_tungstenite::connect_async(
        app.ws_url(&format!("/api/v1/venues/demo/display/ws?screen={token}")),
    )
    .await
    .expect("the paired screen connects");
    use futures_util::StreamExt;
    let first = tokio::time::timeout(WS_TIMEOUT, ws.next()).await.unwrap();
    assert!(first.is_some());
    // Staff of the venue may look too.
    assert_eq!(
        app.staff_get("/api/v1/venues/demo/display").await.status(),
        200
    );

    // Revoked: refused at once.
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/venues/demo/screens/{id}")))
        .bearer_auth(app.login().await)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status(), StatusCode::UNAUTHORIZED);

    // Only owners change the setting; turning it off makes the display public again.
    need_pairing(&app, false).await;
    assert_eq!(app.get("/api/v1/venues/demo/display").await.status(), 200);
}

/// A revoked screen and an ended staff session lose their live sockets too, not only new
/// requests (every socket checks its credential again every `access_recheck_secs`).
#[tokio::test]
async fn revoking_a_screen_or_logging_out_closes_the_open_sockets() {
    let app = spawn_app_with(|c| c.access_recheck_secs = 1).await;
    let code = pairing_code(&app).await;
    let paired: Value = pair(&app, &code).await.json().await.unwrap();
    let token = paired["token"].as_str().unwrap().to_owned();
    let id = paired["screen_id"].as_i64().unwrap();
    need_pairing(&app, true).await;
    let mut screen = app
        .ws_connect(&format!("/api/v1/venues/demo/display/ws?screen={token}"))
        .await;
    next_json(&mut screen).await;
    let session = app.login().await;
    let mut staff = app
        .try_ws_connect_with("/api/v1/venues/demo/ws", Some(&session))
        .await
        .expect("the staff socket opens");
    next_json(&mut staff).await;
    // Both stay open while nothing changes (several rechecks pass).
    assert_silent(&mut screen, std::time::Duration::from_millis(2500)).await;

    let resp = app
        .staff_delete(&format!("/api/v1/venues/demo/screens/{id}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let within = std::time::Duration::from_secs(5);
    assert_eq!(
        close_code(&mut screen, within).await,
        app::protocol::CLOSE_ACCESS_ENDED
    );

    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        close_code(&mut staff, within).await,
        app::protocol::CLOSE_ACCESS_ENDED
    );
    need_pairing(&app, false).await;
}
