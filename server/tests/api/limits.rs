//! Rate limits on joins and lock-out on logins.

use crate::helpers::*;
use serde_json::json;

async fn join_from(app: &TestApp, ip: &str, name: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/venues/demo/queues/bar/tickets"))
        .header("x-forwarded-for", ip)
        .json(&json!({"name": name, "party_size": 2}))
        .send()
        .await
        .expect("join request")
}

#[tokio::test]
async fn joins_over_the_per_address_limit_get_a_friendly_429_and_change_nothing() {
    let app = spawn_app_with(|c| c.join_rate_per_ip = 3).await;
    for i in 0..3 {
        app.join("bar", &format!("Guest {i}"), 2).await;
    }
    let resp = app.try_join("bar", "One too many", 2).await;
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "retry after {retry_after}s"
    );
    let err = assert_error(resp, 429, "rate_limited").await;
    assert!(err.message.contains("wait a moment"), "{}", err.message);
    assert_eq!(app.venue_info().await.queues[0].waiting, 3);
}

#[tokio::test]
async fn invalid_joins_do_not_use_up_the_allowance() {
    let app = spawn_app_with(|c| c.join_rate_per_ip = 2).await;
    for _ in 0..5 {
        assert_error(app.try_join("bar", "", 2).await, 422, "invalid_name").await;
    }
    app.join("bar", "Ana", 2).await;
    app.join("bar", "Bia", 2).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_allowance() {
    let app = spawn_app_with(|c| {
        c.join_rate_per_ip = 1;
        c.trust_proxy = true;
    })
    .await;
    assert_eq!(join_from(&app, "10.0.0.1", "Ana").await.status(), 201);
    assert_error(
        join_from(&app, "10.0.0.1", "Ana again").await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(join_from(&app, "10.0.0.2", "Bia").await.status(), 201);
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_addresses_are_ignored() {
    let app = spawn_app_with(|c| c.join_rate_per_ip = 1).await;
    assert_eq!(join_from(&app, "10.0.0.1", "Ana").await.status(), 201);
    assert_error(
        join_from(&app, "10.0.0.2", "Bia").await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn the_per_venue_limit_holds_across_addresses() {
    let app = spawn_app_with(|c| {
        c.join_rate_per_venue = 2;
        c.trust_proxy = true;
    })
    .await;
    assert_eq!(join_from(&app, "10.0.0.1", "Ana").await.status(), 201);
    assert_eq!(join_from(&app, "10.0.0.2", "Bia").await.status(), 201);
    assert_error(
        join_from(&app, "10.0.0.3", "Caio").await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(app.venue_info().await.queues[0].waiting, 2);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_out() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_error(
            app.try_login(OWNER_EMAIL, "wrong password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Even the right password waits now, so guessing gains nothing.
    let resp = app.try_login(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert!(resp.headers().get("retry-after").is_some());
    let err = assert_error(resp, 429, "locked_out").await;
    assert!(err.message.contains("try again in"), "{}", err.message);
}

#[tokio::test]
async fn a_successful_login_clears_earlier_failures() {
    let app = spawn_app().await;
    for _ in 0..4 {
        assert_error(
            app.try_login(OWNER_EMAIL, "wrong password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(
        app.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.status(),
        200
    );
    for _ in 0..4 {
        assert_error(
            app.try_login(OWNER_EMAIL, "wrong password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(
        app.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.status(),
        200
    );
}
