//! One log item per append: when history refuses some entries of an append, the others are
//! written, only the refused ones become dead letters, and the item is done with.

use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;

/// Joins arriving together are one append, one log item. History refuses every second one:
/// their item-mates still reach MySQL, each refused entry becomes its own dead letter after
/// three deliveries, and no item is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_refusing_part_of_an_append_dead_letters_that_part_only() {
    const JOINS: u64 = 48;
    let cluster = Cluster::start(1).await;
    let seq = cluster.converged().await;
    let refused = |s: u64| s > seq && (s - seq) % 2 == 1;
    for s in (seq + 1..=seq + JOINS).filter(|&s| refused(s)) {
        cluster.at(0).dist.inject_history_failures(1, s, 3);
    }
    let names: Vec<String> = (0..JOINS).map(|i| format!("Guest {i}")).collect();
    let joins =
        futures_util::future::join_all(names.iter().map(|n| cluster.join(0, "bar", n))).await;
    assert!(joins.iter().all(|(s, _)| *s == 201), "{joins:?}");

    // What this test is about: some item holds more than one entry, so it mixes refused ones
    // with written ones.
    let items = log_items(&cluster.redis, &cluster.prefix).await;
    assert!(
        items.iter().any(|i| i.len() > 1),
        "48 concurrent joins were appended one by one: {} items",
        items.len()
    );
    let seq_of = |e: &Value| e["seq"].as_u64().unwrap();
    let appends = items
        .iter()
        .filter(|i| i.iter().any(|e| seq_of(e) > seq))
        .count() as u64;
    let entries: Vec<Value> = items.into_iter().flatten().collect();
    let events_of = |e: &Value| e["events"].as_array().unwrap().len() as i64;
    let kept: i64 = entries
        .iter()
        .filter(|e| !refused(seq_of(e)))
        .map(events_of)
        .sum();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let (status, body) = cluster
            .staff_get(0, "/api/v1/venues/demo/dead-letters")
            .await;
        assert_eq!(status, 200, "{body}");
        let letters = body.as_array().unwrap().clone();
        if letters.len() as u64 >= JOINS / 2 {
            break letters;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} dead letters of {}",
            letters.len(),
            JOINS / 2
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut dead: Vec<u64> = letters.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    dead.sort();
    let want: Vec<u64> = (seq + 1..=seq + JOINS).filter(|&s| refused(s)).collect();
    assert_eq!(dead, want);
    assert!(letters.iter().all(|l| l["failures"] == 3), "{letters:?}");
    // Each letter holds its own entry, not its whole item.
    for l in &letters {
        assert_eq!(l["entry"]["seq"], l["seq"], "{l}");
    }

    // History holds every other entry's events, and none of the refused ones'.
    let mut db = cluster.mysql().await;
    let in_history: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE venue_id = 1")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(in_history, kept);

    // Nothing is left pending in the projector's group, and `/metrics` counted each written
    // entry once, though the refused ones' item-mates were written on every delivery.
    let pending = || async {
        let raw = redis_command(
            &cluster.redis,
            "XPENDING",
            vec![
                format!("{}:v:1:log", cluster.prefix),
                server::dist::HISTORY_GROUP.into(),
            ],
        )
        .await;
        raw.into_array().first().and_then(|v| v.as_u64())
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pending().await != Some(0) {
        assert!(tokio::time::Instant::now() < deadline, "items left pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = metrics_text(&cluster.client, cluster.at(0))
        .await
        .expect("/metrics");
    assert_eq!(
        metric(&metrics, "fila_history_projected_total"),
        Some(entries.len() as u64 - JOINS / 2),
        "{metrics}"
    );
    // Each of those appends was timed (one instance: no lost races, no extra round trips).
    let timed = metric(&metrics, "fila_log_append_seconds_count").expect("append histogram");
    assert!(
        timed >= appends,
        "{timed} appends timed, {appends} items since {seq}"
    );
    assert_eq!(
        metric(&metrics, "fila_log_append_seconds_bucket{le=\"+Inf\"}"),
        Some(timed)
    );
    cluster.stop().await;
}
