//! Staff sign-in: passwords, tokens, the cookie, logout.

use crate::helpers::*;
use app::protocol::{LoginResponse, MeResponse, StaffVenue};
use reqwest::header::{COOKIE, SET_COOKIE};

fn demo_owner() -> Vec<StaffVenue> {
    vec![StaffVenue {
        slug: "demo".into(),
        name: "Demo Bar & Grill".into(),
        role: "owner".into(),
    }]
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_401() {
    let app = spawn_app().await;
    let e = assert_error(
        app.try_login(OWNER_EMAIL, "wrong password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(e.message, "wrong e-mail or password");
    let e = assert_error(
        app.try_login("nobody@demo.fila", OWNER_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        e.message, "wrong e-mail or password",
        "the same answer: no account probing"
    );
}

#[tokio::test]
async fn a_login_returns_a_token_and_an_http_only_cookie() {
    let app = spawn_app().await;
    // E-mail addresses are matched without case or surrounding spaces.
    let resp = app.try_login("  Owner@Demo.FILA ", OWNER_PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned();
    let body: LoginResponse = resp.json().await.unwrap();
    assert_eq!(body.email, OWNER_EMAIL);
    assert_eq!(body.venues, demo_owner());
    assert!(body.token.len() >= 20, "a long random token");
    assert!(body.expires_at > 0);
    let parts: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert_eq!(parts[0], format!("fila_session={}", body.token));
    assert!(parts.contains(&"HttpOnly"), "{cookie}");
    assert!(parts.contains(&"SameSite=Strict"), "{cookie}");
    assert!(parts.contains(&"Path=/"), "{cookie}");
    assert!(parts.contains(&"Max-Age=43200"), "12 hours: {cookie}");
    assert!(
        !parts.contains(&"Secure"),
        "plain http on localhost: {cookie}"
    );

    // Two logins are two sessions.
    let other = app.login().await;
    assert_ne!(other, body.token);
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn me_works_with_a_bearer_token_and_logout_ends_it() {
    let app = spawn_app().await;
    let token = app.login().await;
    let other = app.login().await;
    let resp = me(&app, &token).await;
    assert_eq!(resp.status(), 200);
    let body: MeResponse = resp.json().await.unwrap();
    assert_eq!(body.email, OWNER_EMAIL);
    assert_eq!(body.venues, demo_owner());

    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let clear = resp.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(clear.starts_with("fila_session=;"), "{clear}");
    assert!(clear.contains("Max-Age=0"), "{clear}");

    assert_error(me(&app, &token).await, 401, "session_expired").await;
    let resp = app
        .client
        .get(app.url("/api/v1/venues/demo/queues"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "session_expired").await;
    // Logging out twice is refused too; the other session is untouched.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "session_expired").await;
    assert_eq!(me(&app, &other).await.status(), 200);
}

#[tokio::test]
async fn the_session_cookie_reads_but_never_writes() {
    let app = spawn_app().await;
    let token = app.login().await;
    let cookie = format!("fila_session={token}");
    // Reads with the cookie work (the staff pages use it).
    let resp = app
        .client
        .get(app.url("/api/v1/venues/demo/queues"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // ...but not from another site.
    let resp = app
        .client
        .get(app.url("/api/v1/venues/demo/queues"))
        .header(COOKIE, &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
    // Changes need the bearer header: a cookie alone cannot change anything (no CSRF).
    app.join("bar", "Ana", 2).await;
    let resp = app
        .client
        .post(app.url("/api/v1/venues/demo/queues/bar/call-next"))
        .header(COOKIE, &cookie)
        .json(&serde_json::json!({"counter": "Bar 1"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
    assert_eq!(app.venue_info().await.queues[0].waiting, 1);
}

#[tokio::test]
async fn staff_of_one_venue_cannot_touch_another() {
    let app = spawn_app().await;
    // A second venue, made with the admin commands while the server runs.
    admin(&app, &["venue", "create", "corner-shop", "Corner Shop"]).await;
    admin(
        &app,
        &[
            "queue",
            "create",
            "corner-shop",
            "till",
            "Till",
            "--prefix",
            "T",
        ],
    )
    .await;
    admin(&app, &["counter", "create", "corner-shop", "Till 1"]).await;
    let password = "another long password";
    admin(
        &app,
        &[
            "user",
            "create",
            "clerk@corner.shop",
            "--venue",
            "corner-shop",
            "--password",
            password,
        ],
    )
    .await;

    // The demo has no queue "till": venues do not share queues.
    assert_error(app.try_join("till", "x", 1).await, 404, "queue_not_found").await;
    let resp = app
        .post_json(
            "/api/v1/venues/corner-shop/queues/till/tickets",
            &serde_json::json!({"name": "Shopper", "party_size": 1}),
        )
        .await;
    assert_eq!(
        resp.status(),
        201,
        "a venue created at runtime appears at once"
    );
    let shopper: app::protocol::TicketView = resp.json().await.unwrap();
    assert_eq!(shopper.number, "T001");

    let resp = app.try_login("clerk@corner.shop", password).await;
    assert_eq!(resp.status(), 200);
    let login: LoginResponse = resp.json().await.unwrap();
    assert_eq!(
        login.venues,
        [StaffVenue {
            slug: "corner-shop".into(),
            name: "Corner Shop".into(),
            role: "staff".into()
        }]
    );
    let clerk = login.token;
    let get = |path: &'static str, token: String| {
        let req = app.client.get(app.url(path)).bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(
        get("/api/v1/venues/corner-shop/queues", clerk.clone())
            .await
            .status(),
        200
    );
    assert_error(
        get("/api/v1/venues/demo/queues", clerk.clone()).await,
        403,
        "forbidden",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/api/v1/venues/demo/queues/bar/pause"))
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "forbidden").await;
    // And the demo owner has no say at the corner shop.
    let owner = app.staff_token().await.to_owned();
    let resp = app
        .client
        .post(app.url("/api/v1/venues/corner-shop/queues/till/call-next"))
        .bearer_auth(&owner)
        .json(&serde_json::json!({"counter": "Till 1"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "forbidden").await;
    assert_eq!(
        app.ticket(shopper.token.as_deref().unwrap()).await.status,
        "waiting"
    );
    assert_eq!(app.venue_info().await.queues[0].status, "open");

    // A password reset ends the account's sessions at once.
    admin(
        &app,
        &[
            "user",
            "reset-password",
            "clerk@corner.shop",
            "--password",
            "a brand new password",
        ],
    )
    .await;
    assert_error(get("/api/v1/auth/me", clerk).await, 401, "session_expired").await;
    assert_eq!(
        app.try_login("clerk@corner.shop", password).await.status(),
        401
    );
    assert_eq!(
        app.try_login("clerk@corner.shop", "a brand new password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let token = app.login().await;
    for scheme in ["bearer", "BEARER"] {
        let resp = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn changing_your_password_ends_your_other_sessions() {
    let app = spawn_app().await;
    let other_device = app.login().await;
    let this_device = app.login().await;
    let change = |token: String, current: &str, new: &str| {
        app.client
            .post(app.url("/api/v1/auth/password"))
            .bearer_auth(token)
            .json(&serde_json::json!({"current_password": current, "new_password": new}))
            .send()
    };
    let resp = change(this_device.clone(), "wrong", "a brand new password")
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = change(this_device.clone(), OWNER_PASSWORD, "short")
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let resp = change(this_device.clone(), OWNER_PASSWORD, "a brand new password")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let fresh: serde_json::Value = resp.json().await.unwrap();
    let me = |token: String| {
        app.client
            .get(app.url("/api/v1/auth/me"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        me(other_device).await.unwrap().status(),
        401,
        "other sessions end"
    );
    assert_eq!(
        me(this_device).await.unwrap().status(),
        401,
        "the old token too"
    );
    assert_eq!(
        me(fresh["token"].as_str().unwrap().to_owned())
            .await
            .unwrap()
            .status(),
        200,
        "the answer is a fresh login"
    );
    assert_eq!(
        app.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.try_login(OWNER_EMAIL, "a brand new password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_owner_resets_a_staff_password_but_not_another_owners() {
    let app = spawn_app().await;
    for (email, role) in [("bar@demo.fila", "staff"), ("co@demo.fila", "owner")] {
        admin(
            &app,
            &[
                "user",
                "create",
                email,
                "--venue",
                "demo",
                "--role",
                role,
                "--password",
                "a long enough password",
            ],
        )
        .await;
    }
    let staff_token: serde_json::Value = app
        .try_login("bar@demo.fila", "a long enough password")
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/staff/bar@demo.fila/reset-password",
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let reset: serde_json::Value = resp.json().await.unwrap();
    let new = reset["password"].as_str().unwrap();
    assert!(new.len() >= 16);
    assert_eq!(app.try_login("bar@demo.fila", new).await.status(), 200);
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(staff_token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "their sessions ended");
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/staff/co@demo.fila/reset-password",
            None,
        )
        .await;
    assert_eq!(resp.status(), 403, "not another owner");
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/staff/someone@else.example/reset-password",
            None,
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn owners_change_roles_and_remove_people_and_it_takes_effect_at_once() {
    let app = spawn_app().await;
    admin(
        &app,
        &[
            "user",
            "create",
            "sam@demo.fila",
            "--venue",
            "demo",
            "--role",
            "staff",
            "--password",
            "a long enough password",
        ],
    )
    .await;
    let sam: serde_json::Value = app
        .try_login("sam@demo.fila", "a long enough password")
        .await
        .json()
        .await
        .unwrap();
    let sam = sam["token"].as_str().unwrap().to_owned();
    let as_sam = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(sam.clone())
            .send()
    };
    let list: serde_json::Value = app
        .staff_get("/api/v1/venues/demo/staff")
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["owner@demo.fila", "sam@demo.fila"]);
    assert_eq!(
        as_sam("/api/v1/venues/demo/audit").await.unwrap().status(),
        403
    );

    // Promoted: the audit log opens for Sam at once.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/staff/sam@demo.fila/role",
            Some(&serde_json::json!({"role": "manager"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        as_sam("/api/v1/venues/demo/audit").await.unwrap().status(),
        200
    );
    // An owner cannot demote or remove themselves (the venue would lose its owner).
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/staff/owner@demo.fila/role",
            Some(&serde_json::json!({"role": "staff"})),
        )
        .await;
    assert_eq!(resp.status(), 422);
    // Removed: Sam's session still exists, but not at this venue.
    let resp = app
        .client
        .delete(app.url("/api/v1/venues/demo/staff/sam@demo.fila"))
        .bearer_auth(app.login().await)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        as_sam("/api/v1/venues/demo/queues").await.unwrap().status(),
        403
    );
    let resp = app
        .client
        .delete(app.url("/api/v1/venues/demo/staff/sam@demo.fila"))
        .bearer_auth(app.login().await)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "already gone");
}
