//! Invites: an owner invites by e-mail; the link works once, expires, and logs the person in.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn invite(app: &TestApp, email: &str, role: &str) -> reqwest::Response {
    app.staff_post(
        "/api/v1/venues/demo/invites",
        Some(&json!({"email": email, "role": role})),
    )
    .await
}

/// Accept invite `token` with `password`.
async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/invites/{token}/accept"),
        &json!({"password": password}),
    )
    .await
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_invite_creates_an_account_once_and_logs_it_in() {
    let app = spawn_app().await;
    let resp = invite(&app, "  New.Hire@Example.com ", "manager").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let url = created["url"].as_str().unwrap();
    assert!(url.contains("/invite/"), "{url}");
    assert_eq!(created["email"], "new.hire@example.com");
    let token = token_of(url);

    // The page can say what it is for.
    let info: Value = app
        .get(&format!("/api/v1/invites/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["venue"], "demo");
    assert_eq!(info["role"], "manager");
    assert_eq!(info["existing_account"], false);

    // Too short a password is refused and does not use the invite up.
    let resp = accept(&app, &token, "short").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let resp = accept(&app, &token, "my own good password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let login: Value = resp.json().await.unwrap();
    assert_eq!(login["venues"][0]["role"], "manager");
    // The session works, and so does the password later.
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let resp = app
        .try_login("new.hire@example.com", "my own good password")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Single use: the second try (a double click, a forwarded link) is refused.
    let resp = accept(&app, &token, "someone else's password").await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert_eq!(
        app.get(&format!("/api/v1/invites/{token}")).await.status(),
        StatusCode::GONE
    );
    // An unknown token is simply not found.
    let resp = app.get("/api/v1/invites/0123456789abcdef").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let app = spawn_app().await;
    let created: Value = invite(&app, "late@example.com", "staff")
        .await
        .json()
        .await
        .unwrap();
    let token = token_of(created["url"].as_str().unwrap());
    // Age it: the link was made 73 hours ago.
    let db = sqlx::SqlitePool::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE invites SET expires_at = expires_at - 73 * 3600 * 1000")
        .execute(&db)
        .await
        .unwrap();
    let resp = accept(&app, &token, "a long enough password").await;
    assert_eq!(resp.status(), StatusCode::GONE);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(
        app.try_login("late@example.com", "a long enough password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_owners_invite_and_existing_accounts_prove_their_password() {
    let app = spawn_app().await;
    admin(
        &app,
        &[
            "user",
            "create",
            "mgr@demo.fila",
            "--venue",
            "demo",
            "--role",
            "manager",
            "--password",
            "a long enough password",
        ],
    )
    .await;
    let mgr: Value = app
        .try_login("mgr@demo.fila", "a long enough password")
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .client
        .post(app.url("/api/v1/venues/demo/invites"))
        .bearer_auth(mgr["token"].as_str().unwrap())
        .json(&json!({"email": "x@example.com", "role": "staff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "managers do not invite"
    );
    for (email, role) in [("not-an-email", "staff"), ("a@example.com", "king")] {
        let resp = invite(&app, email, role).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email} {role}"
        );
    }

    // The manager is invited to a second venue: accepting needs their own password.
    admin(&app, &["venue", "create", "annex", "The Annex"]).await;
    let lines = admin(
        &app,
        &[
            "user",
            "invite",
            "mgr@demo.fila",
            "--venue",
            "annex",
            "--role",
            "owner",
        ],
    )
    .await;
    let url = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("http").map(|r| format!("http{r}")))
        .expect("the CLI prints the link");
    let token = token_of(&url);
    let info: Value = app
        .get(&format!("/api/v1/invites/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["existing_account"], true);
    let resp = accept(&app, &token, "a guess at the password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = accept(&app, &token, "a long enough password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let login: Value = resp.json().await.unwrap();
    let roles: Vec<(String, String)> = login["venues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["slug"].as_str().unwrap().into(),
                v["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("annex".into(), "owner".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("demo".into(), "manager".into())),
        "{roles:?}"
    );
}
