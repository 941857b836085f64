//! Venue settings through the API: queue names, prefixes and open hours, the venue's time
//! zone, and removing queues and counters. All of it live, and kept across a restart.

use crate::helpers::*;
use app::domain::Weekday;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// mon..sun, as the API spells them.
fn day(i: usize) -> &'static str {
    Weekday::ALL[i].as_str()
}

/// Today's weekday in UTC, Monday = 0 (1970-01-01 was a Thursday).
fn utc_weekday_today() -> usize {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    ((days + 3) % 7) as usize
}

async fn save_queue(app: &TestApp, queue: &str, body: Value) -> reqwest::Response {
    app.staff_post(
        &format!("/api/v1/venues/demo/queues/{queue}/settings"),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn a_queue_can_be_renamed_reprefixed_and_given_hours_and_keeps_them() {
    let mut app = spawn_app().await;
    let before = app.join("bar", "Ana", 2).await;
    let hours = json!([
        {"day": "fri", "open": "20:00", "close": "03:00"},
        {"day": "mon", "open": "09:00", "close": "17:30"}
    ]);
    let resp = save_queue(
        &app,
        "bar",
        json!({"name": "Main bar", "prefix": "M", "open_hours": hours}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let q: Value = resp.json().await.unwrap();
    assert_eq!(q["name"], "Main bar");
    assert_eq!(q["slug"], "bar", "the slug never changes");
    // Stored in order, Monday first.
    assert_eq!(q["open_hours"][0]["day"], "mon");
    assert_eq!(q["open_hours"][1]["close"], "03:00");

    // Numbers already issued keep their prefix; new walk-ins get the new one.
    assert!(
        app.ticket(before.token.as_deref().unwrap())
            .await
            .number
            .starts_with('A')
    );
    let walk_in: Value = app.walk_in("bar", "Bo", 2).await.json().await.unwrap();
    assert!(walk_in["number"].as_str().unwrap().starts_with('M'));

    app.restart().await;
    let info = app.venue_info().await;
    let bar = info.queues.iter().find(|q| q.slug == "bar").unwrap();
    assert_eq!(bar.name, "Main bar");
    assert_eq!(bar.prefix, "M");
    assert_eq!(bar.open_hours.len(), 2);
    assert_eq!(bar.open_hours[1].day, "fri");

    // No hours at all: open whenever the queue is.
    let resp = save_queue(&app, "bar", json!({"name": "Main bar", "prefix": "M"})).await;
    assert_eq!(resp.status(), 200);
    app.restart().await;
    let info = app.venue_info().await;
    assert!(
        info.queues
            .iter()
            .find(|q| q.slug == "bar")
            .unwrap()
            .open_hours
            .is_empty()
    );
}

#[tokio::test]
async fn bad_queue_settings_are_refused_with_a_reason_and_change_nothing() {
    let app = spawn_app().await;
    for (body, code) in [
        (json!({"name": "Bar", "prefix": "a1"}), "invalid_prefix"),
        (json!({"name": " ", "prefix": "A"}), "invalid_name"),
        (
            json!({"name": "Bar", "prefix": "A", "open_hours": [{"day": "fri", "open": "25:00", "close": "03:00"}]}),
            "invalid_open_hours",
        ),
        (
            json!({"name": "Bar", "prefix": "A", "open_hours": [{"day": "someday", "open": "10:00", "close": "11:00"}]}),
            "invalid_open_hours",
        ),
        (
            json!({"name": "Bar", "prefix": "A", "open_hours": [{"day": "fri", "open": "10:00", "close": "10:00"}]}),
            "invalid_open_hours",
        ),
    ] {
        let err = assert_error(save_queue(&app, "bar", body.clone()).await, 422, code).await;
        assert!(!err.message.is_empty(), "{body}");
    }
    // Another queue's name is taken.
    let err = assert_error(
        save_queue(&app, "bar", json!({"name": "Tables 1-2", "prefix": "A"})).await,
        409,
        "already_exists",
    )
    .await;
    assert!(err.message.contains("already"), "{}", err.message);
    assert_error(
        save_queue(&app, "nowhere", json!({"name": "X", "prefix": "X"})).await,
        404,
        "queue_not_found",
    )
    .await;
    let info = app.venue_info().await;
    let bar = info.queues.iter().find(|q| q.slug == "bar").unwrap();
    assert_eq!((bar.name.as_str(), bar.prefix.as_str()), ("Bar", "A"));
    assert!(bar.open_hours.is_empty());
}

#[tokio::test]
async fn outside_its_hours_a_queue_says_when_it_opens_but_staff_can_add_walk_ins() {
    let app = spawn_app().await;
    // Hours only on the day after tomorrow (UTC, the demo venue's zone): closed now.
    let later = (utc_weekday_today() + 2) % 7;
    let resp = save_queue(
        &app,
        "bar",
        json!({"name": "Bar", "prefix": "A",
               "open_hours": [{"day": day(later), "open": "18:00", "close": "23:00"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let err = assert_error(
        app.try_join("bar", "Ana", 2).await,
        409,
        "outside_open_hours",
    )
    .await;
    assert_eq!(
        err.message,
        format!(
            "this queue is not taking people right now; it opens {} at 18:00",
            Weekday::ALL[later].long_name()
        )
    );
    assert_eq!(app.walk_in("bar", "Walk-in", 2).await.status(), 201);

    // Every day, all day: open again.
    let all_week: Vec<Value> = Weekday::ALL
        .iter()
        .map(|d| json!({"day": d.as_str(), "open": "00:00", "close": "24:00"}))
        .collect();
    let resp = save_queue(
        &app,
        "bar",
        json!({"name": "Bar", "prefix": "A", "open_hours": all_week}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    app.join("bar", "Ana", 2).await;
}

#[tokio::test]
async fn the_time_zone_is_checked_made_canonical_and_kept() {
    let mut app = spawn_app().await;
    let err = assert_error(
        app.staff_post(
            "/api/v1/venues/demo/time-zone",
            Some(&json!({"time_zone": "Mars/Olympus_Mons"})),
        )
        .await,
        422,
        "invalid_time_zone",
    )
    .await;
    assert!(err.message.contains("Europe/Lisbon"), "{}", err.message);

    let resp = app
        .staff_post(
            "/api/v1/venues/demo/time-zone",
            Some(&json!({"time_zone": "asia/kolkata"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let tz: Value = resp.json().await.unwrap();
    assert_eq!(tz["time_zone"], "Asia/Kolkata");
    assert_eq!(tz["utc_offset_minutes"], 330);
    assert_eq!(app.staff_snapshot().await.time_zone, "Asia/Kolkata");

    app.restart().await;
    assert_eq!(app.staff_snapshot().await.time_zone, "Asia/Kolkata");
    // The offset came back too: hours are read in Kolkata time. Open from "now" in Kolkata
    // for one hour on today's Kolkata weekday: a join succeeds only with the right offset.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let local_min = (now / 60 + 330).rem_euclid(7 * 1440);
    let (day_index, minute) = (((local_min / 1440 + 3) % 7) as usize, local_min % 1440);
    let at = |m: i64| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    // `minute` is an i64: `saturating_sub` would not stop at 0, and "00:-2" is refused.
    let (open, close) = ((minute - 2).max(0), (minute + 30).min(1439));
    let resp = save_queue(
        &app,
        "bar",
        json!({"name": "Bar", "prefix": "A",
               "open_hours": [{"day": day(day_index), "open": at(open), "close": at(close)}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    if close > open + 3 {
        // Not in the last minutes of a Kolkata day, where the slot would be too short.
        app.join("bar", "Ana", 2).await;
    }
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/time-zone",
            Some(&json!({"time_zone": "UTC"})),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["time_zone"], "");
}

#[tokio::test]
async fn only_an_empty_queue_can_be_removed_and_its_slug_is_free_again() {
    let mut app = spawn_app().await;
    let t = app.join("tables-small", "Ana", 2).await;
    let err = assert_error(
        app.staff_delete("/api/v1/venues/demo/queues/tables-small")
            .await,
        409,
        "queue_not_empty",
    )
    .await;
    assert!(err.message.contains("1 ticket"), "{}", err.message);
    assert_eq!(app.cancel(t.token.as_deref().unwrap()).await.status(), 200);
    let resp = app
        .staff_delete("/api/v1/venues/demo/queues/tables-small")
        .await;
    assert_eq!(resp.status(), 204);

    assert!(
        !app.venue_info()
            .await
            .queues
            .iter()
            .any(|q| q.slug == "tables-small")
    );
    assert!(
        !app.staff_snapshot()
            .await
            .queues
            .iter()
            .any(|q| q.summary.slug == "tables-small")
    );
    assert_error(
        app.try_join("tables-small", "Bo", 2).await,
        404,
        "queue_not_found",
    )
    .await;
    // The holder of a ticket from the removed queue can still look at it.
    let old = app.ticket(t.token.as_deref().unwrap()).await;
    assert_eq!(old.status, "cancelled");

    app.restart().await;
    assert!(
        !app.venue_info()
            .await
            .queues
            .iter()
            .any(|q| q.slug == "tables-small")
    );
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/queues",
            Some(&json!({"slug": "tables-small", "name": "Small tables", "prefix": "S"})),
        )
        .await;
    assert_eq!(resp.status(), 201, "the slug can be used again");
    app.join("tables-small", "Cy", 2).await;
}

#[tokio::test]
async fn counters_can_be_renamed_and_removed_once_nobody_is_called_there() {
    let mut app = spawn_app().await;
    let bar1 = app.counter_id("Bar 1").await;
    let path = format!("/api/v1/venues/demo/counters/{bar1}");
    assert_error(
        app.staff_post(&path, Some(&json!({"name": "bar 2"}))).await,
        409,
        "already_exists",
    )
    .await;
    let resp = app
        .staff_post(&path, Some(&json!({"name": "Terrace bar"})))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.counter_id("Terrace bar").await, bar1);

    app.join("bar", "Ana", 2).await;
    let called = app.call_next("bar", bar1).await;
    assert_error(app.staff_delete(&path).await, 409, "counter_in_use").await;
    app.act(called.id, "serve", None).await;
    // By name works too.
    let resp = app
        .staff_delete("/api/v1/venues/demo/counters/terrace%20bar")
        .await;
    assert_eq!(resp.status(), 204);
    assert_error(app.staff_delete(&path).await, 404, "counter_not_found").await;

    app.restart().await;
    let snap = app.staff_snapshot().await;
    assert!(!snap.counters.iter().any(|c| c.id == bar1));
    // The served ticket's history is intact, and the name can be used again.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/counters",
            Some(&json!({"name": "Terrace bar"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn a_venue_can_be_created_in_its_time_zone_from_the_command_line() {
    let app = spawn_app().await;
    let out = admin(
        &app,
        &[
            "venue",
            "create",
            "chai-stall",
            "Chai Stall",
            "--time-zone",
            "asia/kolkata",
        ],
    )
    .await;
    assert!(out[0].contains("Asia/Kolkata"), "{out:?}");
    admin(
        &app,
        &[
            "user",
            "create",
            "chai@example.com",
            "--venue",
            "chai-stall",
            "--role",
            "owner",
            "--password",
            "a long enough password",
        ],
    )
    .await;
    let login: Value = app
        .try_login("chai@example.com", "a long enough password")
        .await
        .json()
        .await
        .unwrap();
    let snap: Value = app
        .client
        .get(app.url("/api/v1/venues/chai-stall/queues"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["time_zone"], "Asia/Kolkata");

    // An unknown zone is refused before anything is created.
    use clap::Parser;
    let cli = server::cli::Cli::try_parse_from([
        "fila",
        "venue",
        "create",
        "moon-bar",
        "Moon Bar",
        "--time-zone",
        "Moon/Tranquility",
    ])
    .unwrap();
    let err = server::cli::run_admin(&app.config, cli.command.unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown time zone"), "{err}");
    let resp = app.get("/api/v1/venues/moon-bar").await;
    assert_eq!(resp.status(), 404);
}
