//! The access matrix: every staff route in the OpenAPI document, tried with every kind of
//! credential. A new route that the document marks as staff-only gets checked
//! automatically; a route that forgets its check fails here.

use crate::helpers::*;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    Garbage,
    Expired,
    Revoked,
    CustomerToken,
    /// A paired venue screen's display-only credential.
    DisplayCredential,
    OtherVenueStaff,
    Staff,
    Manager,
    Owner,
}

/// The least role a route needs at its venue.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Needs {
    Staff,
    Manager,
    Owner,
}

/// What a credential may get: refused (401/403) or let through (anything else).
fn allowed(who: Who, venue_scoped: bool, needs: Needs) -> Result<(), u16> {
    match who {
        Who::Nobody
        | Who::Garbage
        | Who::Expired
        | Who::Revoked
        | Who::CustomerToken
        | Who::DisplayCredential => Err(401),
        Who::OtherVenueStaff if venue_scoped => Err(403),
        Who::Staff if needs >= Needs::Manager => Err(403),
        Who::Manager if needs >= Needs::Owner => Err(403),
        _ => Ok(()),
    }
}

/// Routes only owners may use. (An entry may name one method: "post /api/…".)
const OWNER_ROUTES: &[&str] = &[
    "/api/v1/venues/{venue}/staff/{email}",
    "/api/v1/venues/{venue}/staff/{email}/role",
    "/api/v1/venues/{venue}/invites",
    "/api/v1/venues/{venue}/staff/{email}/reset-password",
    "/api/v1/venues/{venue}/name",
    "post /api/v1/venues/{venue}/queues",
    "post /api/v1/venues/{venue}/screens/settings",
    "post /api/v1/venues/{venue}/join-code",
    "delete /api/v1/venues/{venue}/queues/{queue}",
    "/api/v1/venues/{venue}/time-zone",
];

/// Routes that need a manager or owner, not just staff.
const MANAGER_ROUTES: &[&str] = &[
    "/api/v1/venues/{venue}/staff",
    "/api/v1/venues/{venue}/join-code",
    "/api/v1/venues/{venue}/counters",
    "/api/v1/venues/{venue}/queues/{queue}/limit",
    "/api/v1/venues/{venue}/queues/{queue}/settings",
    "/api/v1/venues/{venue}/counters/{counter}",
    "/api/v1/venues/{venue}/screens",
    "/api/v1/venues/{venue}/screens/pairing-code",
    "/api/v1/venues/{venue}/screens/settings",
    "/api/v1/venues/{venue}/screens/{id}",
    "/api/v1/venues/{venue}/audit",
    "/api/v1/venues/{venue}/dead-letters",
    "/api/v1/venues/{venue}/dead-letters/{id}/replay",
];

fn needs(method: &str, path: &str) -> Needs {
    let listed =
        |list: &[&str]| list.contains(&path) || list.contains(&format!("{method} {path}").as_str());
    if listed(OWNER_ROUTES) {
        Needs::Owner
    } else if listed(MANAGER_ROUTES) {
        Needs::Manager
    } else {
        Needs::Staff
    }
}

fn fill(path: &str, ticket_id: u64) -> String {
    path.replace("{venue}", "demo")
        .replace("{queue}", "bar")
        // No such counter: allowed callers get 404, and nothing is renamed or removed.
        .replace("{counter}", "no-such-counter")
        .replace("{id}", &ticket_id.to_string())
        // Nobody who works here: the owner gets 404, and nobody's password changes.
        .replace("{email}", "nobody@example.com")
        // Harmless actions: nothing here should succeed for the wrong people anyway.
        .replace("{action}", "recall")
}

async fn token_for(app: &TestApp, email: &str) -> String {
    let resp = app.try_login(email, "a long enough password").await;
    assert_eq!(resp.status(), 200, "{email} can log in");
    let body: Value = resp.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_staff_route_lets_exactly_the_right_people_in() {
    let app = spawn_app().await;
    let expired_app = spawn_app_with(|c| c.session_hours = 0).await;
    let customer = app.join("bar", "Cara", 2).await;

    admin(&app, &["venue", "create", "corner-shop", "Corner Shop"]).await;
    for (email, venue, role) in [
        ("clerk@corner.shop", "corner-shop", "owner"),
        ("barista@demo.fila", "demo", "staff"),
        ("boss@demo.fila", "demo", "manager"),
    ] {
        admin(
            &app,
            &[
                "user",
                "create",
                email,
                "--venue",
                venue,
                "--role",
                role,
                "--password",
                "a long enough password",
            ],
        )
        .await;
    }
    let owner = app.login().await;
    let staff = token_for(&app, "barista@demo.fila").await;
    let manager = token_for(&app, "boss@demo.fila").await;
    let other = token_for(&app, "clerk@corner.shop").await;
    let revoked = app.login().await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let expired = expired_app.login().await;
    let display = app.paired_screen().await;

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut checked = 0;
    // Logging out ends the session it is called with: try that route last.
    let mut paths: Vec<(&String, &Value)> = doc["paths"].as_object().unwrap().iter().collect();
    paths.sort_by_key(|(p, _)| p.ends_with("/auth/logout"));
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if !secured {
                continue;
            }
            let venue_scoped = path.contains("{venue}");
            let needs = needs(method, path);
            for who in [
                Who::Nobody,
                Who::Garbage,
                Who::Expired,
                Who::Revoked,
                Who::CustomerToken,
                Who::DisplayCredential,
                Who::OtherVenueStaff,
                Who::Staff,
                Who::Manager,
                Who::Owner,
            ] {
                let token = match who {
                    Who::Nobody => None,
                    Who::Garbage => Some("not-a-token".to_owned()),
                    Who::Expired => Some(expired.clone()),
                    Who::Revoked => Some(revoked.clone()),
                    Who::CustomerToken => customer.token.clone(),
                    Who::DisplayCredential => Some(display.clone()),
                    Who::OtherVenueStaff => Some(other.clone()),
                    Who::Staff => Some(staff.clone()),
                    Who::Manager => Some(manager.clone()),
                    Who::Owner => Some(owner.clone()),
                };
                let url = app.url(&fill(path, customer.id));
                let mut req = match method.as_str() {
                    "get" => app.client.get(&url),
                    // An empty body on purpose: access is decided before the body is read, so
                    // a refused caller gets 401/403 however wrong the body is.
                    "post" => app.client.post(&url).json(&serde_json::json!({})),
                    "delete" => app.client.delete(&url),
                    other => panic!("add {other} to the access matrix"),
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let status = req.send().await.unwrap().status().as_u16();
                match allowed(who, venue_scoped, needs) {
                    Err(code) => assert_eq!(status, code, "{method} {path} as {who:?}"),
                    Ok(()) => assert!(
                        status != 401 && status != 403,
                        "{method} {path} as {who:?} was refused with {status}"
                    ),
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 8 * 9,
        "only {checked} checks: did the document lose its routes?"
    );
}

#[tokio::test]
async fn the_audit_log_says_who_did_what_to_which_ticket() {
    let app = spawn_app().await;
    let t = app.join("bar", "Ana", 2).await;
    let counter = app.counter_id("Bar 1").await;
    app.call_next("bar", counter).await;
    let token = app.staff_token().await.to_owned();
    let log: Value = app
        .client
        .get(app.url("/api/v1/venues/demo/audit?limit=10"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["kind"], "called");
    assert_eq!(log[0]["actor"], OWNER_EMAIL);
    assert_eq!(log[0]["ticket"], t.id);
    assert_eq!(log[1]["kind"], "joined");
    assert_eq!(log[1]["actor"], Value::Null);
    assert!(
        !log[1].to_string().contains("Ana"),
        "no names in the audit log"
    );
    let resp = app
        .client
        .get(app.url("/api/v1/venues/demo/audit?limit=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "invalid_limit").await;
}
