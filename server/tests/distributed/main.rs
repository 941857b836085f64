//! Distributed mode against the real MariaDB and Redis: several instances, one log.

mod faults;
#[path = "../common/fila_process.rs"]
mod fila_process;
mod helpers;
mod items;
mod timely;

use futures_util::StreamExt;
use helpers::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn watch(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ticket socket connects");
    ws
}

/// Read messages until one satisfies `done` (the socket's latest view), or fail after 10 s.
async fn until(ws: &mut Ws, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("socket open")
            .expect("socket message");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if done(&v) {
                return v;
            }
        }
    }
}

/// Guarantee 1: joins, watchers and calls spread over three instances; every watcher ends at
/// the right position and status, every instance agrees, and MySQL history is the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_agree_and_history_matches_the_log() {
    let cluster = Cluster::start(3).await;
    // 30 joins, concurrently, round-robin over the instances.
    let joins = futures_util::future::join_all((0..30).map(|i| {
        let c = &cluster;
        async move { c.join(i, "bar", &format!("Guest {i}")).await }
    }))
    .await;
    let mut tokens = Vec::new();
    for (status, body) in &joins {
        assert_eq!(*status, 201, "join accepted: {body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    // Numbers are unique across instances.
    let numbers: HashSet<_> = joins.iter().map(|(_, b)| b["number"].clone()).collect();
    assert_eq!(numbers.len(), 30, "no number handed out twice");

    // Each ticket is watched on an instance other than the one it joined on.
    let mut sockets = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let mut ws = watch(
            &cluster
                .at(i + 1)
                .ws_url(&format!("/api/v1/tickets/{t}/live")),
        )
        .await;
        until(&mut ws, "snapshot", |v| v["type"] == "snapshot").await;
        sockets.push(ws);
    }
    // Ten calls, from the three instances, to different counters.
    let counters = ["Bar 1", "Bar 2", "Table 4"];
    for k in 0..10 {
        let (status, body) = cluster
            .staff_post(
                k,
                "/api/v1/venues/demo/queues/bar/call-next",
                json!({"counter": counters[k % 3]}),
            )
            .await;
        assert_eq!(status, 200, "call-next on instance {}: {body}", k % 3);
    }
    let seq = cluster.converged().await;
    assert!(
        seq >= 40,
        "30 joins and 10 calls are in the log (seq {seq})"
    );

    // Every instance says the same about every ticket, and it is what the engine says:
    // the ten first in line (lowest numbers) were called, the rest stand at 1..20.
    let mut seen = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let views: Vec<Value> =
            futures_util::future::join_all((0..3).map(|k| cluster.ticket(k, t))).await;
        for v in &views[1..] {
            assert_eq!(
                v["status"], views[0]["status"],
                "ticket {i} agrees: {views:?}"
            );
            assert_eq!(
                v["position"], views[0]["position"],
                "ticket {i} agrees: {views:?}"
            );
        }
        seen.push(views[0].clone());
    }
    seen.sort_by_key(|v| v["number"].as_str().unwrap().to_owned());
    let mut called = 0;
    for (k, v) in seen.iter().enumerate() {
        if k < 10 {
            assert_eq!(v["status"], "called", "{v}");
            called += 1;
        } else {
            assert_eq!(v["status"], "waiting", "{v}");
            assert_eq!(v["position"], k as u64 - 9, "{v}");
        }
    }
    assert_eq!(called, 10, "exactly ten tickets were called");
    // And every phone converged to it, wherever it is connected.
    for (ws, t) in sockets.iter_mut().zip(&tokens) {
        let truth = cluster.ticket(0, t).await;
        until(ws, "the final position", |v| {
            v["status"] == truth["status"] && v["position"] == truth["position"]
        })
        .await;
    }

    // MySQL history is exactly the log: same events, same offsets, once each.
    let entries = log_entries(&cluster.redis, &cluster.prefix).await;
    let log_events: Vec<Value> = entries
        .iter()
        .flat_map(|e| e["events"].as_array().unwrap().clone())
        .collect();
    history_caught_up(&cluster, log_events.len() as u64, Duration::from_secs(20)).await;
    let (status, history) = cluster
        .staff_get(2, "/api/v1/venues/demo/audit?limit=500")
        .await;
    assert_eq!(status, 200);
    let mut by_offset: BTreeMap<u64, Value> = BTreeMap::new();
    for h in history.as_array().unwrap() {
        assert!(
            by_offset
                .insert(h["offset"].as_u64().unwrap(), h["event"].clone())
                .is_none(),
            "offset written once"
        );
    }
    assert_eq!(by_offset.len(), log_events.len());
    for e in &log_events {
        let mut body = e.clone();
        let obj = body.as_object_mut().unwrap();
        let offset = obj.remove("offset").unwrap().as_u64().unwrap();
        obj.remove("at");
        assert_eq!(
            by_offset.get(&offset),
            Some(&body),
            "event {offset} in MySQL"
        );
    }
    // Projectors were given other instances' items too, and read those from the log's text
    // (a lone instance takes all of its own from memory: `timely.rs`).
    // (Counted as handed over before the write, as projected after it.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (mut handed_over, mut projected) = (0, 0);
        for i in 0..3 {
            let m = &cluster.at(i).dist.metrics;
            handed_over += m.handed_over.load(std::sync::atomic::Ordering::Relaxed);
            projected += m.projected.load(std::sync::atomic::Ordering::Relaxed);
        }
        if handed_over < projected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{handed_over} of {projected} entries handed over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await;
}

/// Call next from 8 counters on 3 instances at once: every ticket is called exactly once,
/// in queue order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_counters_on_three_instances_call_each_ticket_once_in_order() {
    let cluster = Cluster::start(3).await;
    // Four more counters (the demo has four), added through the API on different instances;
    // each is live on all three.
    for (k, name) in ["Desk 5", "Desk 6", "Desk 7", "Desk 8"].iter().enumerate() {
        let (status, body) = cluster
            .staff_post(k, "/api/v1/venues/demo/counters", json!({ "name": name }))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    cluster.converged().await;
    const N: usize = 80;
    let mut numbers = Vec::new();
    for i in 0..N {
        let (status, body) = cluster.join(i, "bar", &format!("P{i}")).await;
        assert_eq!(status, 201, "{body}");
        numbers.push(body["number"].as_str().unwrap().to_owned());
    }
    let counters = [
        "Bar 1", "Bar 2", "Table 4", "Table 7", "Desk 5", "Desk 6", "Desk 7", "Desk 8",
    ];
    let calls = futures_util::future::join_all(counters.iter().enumerate().map(|(k, counter)| {
        let c = &cluster;
        async move {
            let mut got = Vec::new();
            loop {
                let (status, body) = c
                    .staff_post(
                        k,
                        "/api/v1/venues/demo/queues/bar/call-next",
                        json!({"counter": counter}),
                    )
                    .await;
                match status {
                    200 => got.push(body["number"].as_str().unwrap().to_owned()),
                    409 => return got,
                    other => panic!("call-next answered {other}: {body}"),
                }
            }
        }
    }))
    .await;
    let all: Vec<&String> = calls.iter().flatten().collect();
    assert_eq!(all.len(), N, "every ticket called");
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        N,
        "no ticket called twice"
    );
    assert!(
        calls.iter().filter(|c| !c.is_empty()).count() >= 4,
        "the counters really competed: {:?}",
        calls.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // In queue order: the log's call events name the tickets in join order.
    cluster.converged().await;
    let called_in_log: Vec<String> = log_entries(&cluster.redis, &cluster.prefix)
        .await
        .iter()
        .flat_map(|e| e["events"].as_array().unwrap().clone())
        .filter(|e| e["type"] == "called")
        .map(|e| e["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(called_in_log, numbers, "called in the order they joined");
    cluster.stop().await;
}

/// Guarantee 5: a history write that fails 3 times goes to the dead-letter stream (and
/// `/metrics`), the entries behind it are written anyway, and replay writes it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_history_entry_is_dead_lettered_and_replays_once() {
    let cluster = Cluster::start(2).await;
    let (s, _) = cluster.join(0, "bar", "Before").await;
    assert_eq!(s, 201);
    let seq = cluster.converged().await;
    // The next entry fails on every instance's projector, 3 times in all.
    for inst in &cluster.instances {
        inst.dist.inject_history_failures(1, seq + 1, 3);
    }
    let (s, poisoned) = cluster.join(1, "bar", "Poisoned").await;
    assert_eq!(s, 201, "the join itself is not affected");
    let (s, _) = cluster.join(0, "bar", "After").await;
    assert_eq!(s, 201);

    // It shows up as a dead letter, for managers and owners, and in /metrics.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let letters = loop {
        let (status, body) = cluster
            .staff_get(0, "/api/v1/venues/demo/dead-letters")
            .await;
        assert_eq!(status, 200, "{body}");
        if !body.as_array().unwrap().is_empty() {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let letters = letters.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["seq"], seq + 1);
    assert_eq!(letters[0]["failures"], 3);
    let metrics = metrics_text(&cluster.client, cluster.at(1))
        .await
        .expect("/metrics");
    assert_eq!(
        metric(&metrics, "fila_dead_letters{venue=\"demo\"}"),
        Some(1),
        "{metrics}"
    );

    // The entry behind it was not blocked: its events are in MySQL, the poisoned one's not.
    let mut db = cluster.mysql().await;
    let joined_ticket = poisoned["id"].as_i64().unwrap();
    let count_for = |t: i64| {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM events WHERE venue_id = 1 AND ticket_id = ?",
        )
        .bind(t)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count_for(joined_ticket + 1)
        .fetch_one(&mut db)
        .await
        .unwrap()
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entry after it was held up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count_for(joined_ticket).fetch_one(&mut db).await.unwrap(),
        0
    );

    // Replay writes it, once; replaying again finds nothing.
    let path = format!(
        "/api/v1/venues/demo/dead-letters/{}/replay",
        letters[0]["id"].as_str().unwrap()
    );
    let (status, body) = cluster.staff_post(1, &path, json!({})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        count_for(joined_ticket).fetch_one(&mut db).await.unwrap(),
        1
    );
    let (status, _) = cluster.staff_post(0, &path, json!({})).await;
    assert_eq!(status, 404);
    let (_, body) = cluster
        .staff_get(1, "/api/v1/venues/demo/dead-letters")
        .await;
    assert_eq!(body, json!([]));
    let entries = log_entries(&cluster.redis, &cluster.prefix).await;
    let events: usize = entries
        .iter()
        .map(|e| e["events"].as_array().unwrap().len())
        .sum();
    history_caught_up(&cluster, events as u64, Duration::from_secs(10)).await;
    cluster.stop().await;
}

/// Settings travel through the log like any other change: made on one instance, every
/// instance applies them, including a queue's hours, the venue's time zone and removals.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_changed_on_one_instance_hold_on_all() {
    let cluster = Cluster::start(3).await;
    let (status, body) = cluster
        .staff_post(
            0,
            "/api/v1/venues/demo/time-zone",
            json!({"time_zone": "America/Sao_Paulo"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Hours that never include now: three days after today in UTC, which in São Paulo
    // (UTC-3, today or yesterday there) is always a day or more ahead.
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let utc_days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday (Monday = 0).
    let later = days[((utc_days + 3 + 3) % 7) as usize];
    let (status, body) = cluster
        .staff_post(
            1,
            "/api/v1/venues/demo/queues/tables-large/settings",
            json!({"name": "Big tables", "prefix": "G",
                   "open_hours": [{"day": later, "open": "04:00", "close": "04:01"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = cluster
        .staff_post(
            2,
            "/api/v1/venues/demo/counters/Table%207",
            json!({"name": "Window table"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = cluster
        .staff_delete(2, "/api/v1/venues/demo/queues/tables-small")
        .await;
    assert_eq!(status, 204, "{body}");
    cluster.converged().await;
    for i in 0..3 {
        let (status, snap) = cluster.staff_get(i, "/api/v1/venues/demo/queues").await;
        assert_eq!(status, 200);
        assert_eq!(snap["time_zone"], "America/Sao_Paulo", "instance {i}");
        let slugs: Vec<&str> = snap["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["slug"].as_str().unwrap())
            .collect();
        assert_eq!(slugs, ["bar", "tables-large"], "instance {i}");
        assert_eq!(snap["queues"][1]["name"], "Big tables");
        assert_eq!(snap["queues"][1]["open_hours"][0]["day"], later);
        let counters: Vec<&str> = snap["counters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            counters.contains(&"Window table"),
            "instance {i}: {counters:?}"
        );
        // A join outside the hours is refused wherever it lands.
        let (status, body) = cluster.join(i, "tables-large", "Late").await;
        assert_eq!(status, 409, "instance {i}: {body}");
        assert_eq!(body["error"]["code"], "outside_open_hours");
        let (status, _) = cluster.join(i, "tables-small", "Gone").await;
        assert_eq!(status, 404, "instance {i}");
    }
    cluster.stop().await;
}

/// Redis loses the venue entirely (no persistence, flushed): the new epoch, seeded from MySQL,
/// still has a paused queue paused and a queue's limit, not only names and tickets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queues_status_and_limit_survive_redis_losing_the_venue() {
    let cluster = Cluster::start(2).await;
    let (status, body) = cluster
        .staff_post(0, "/api/v1/venues/demo/queues/bar/pause", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = cluster
        .staff_post(
            1,
            "/api/v1/venues/demo/queues/tables-small/limit",
            json!({"max_waiting": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = cluster.join(0, "tables-small", "Only one").await;
    assert_eq!(status, 201, "{body}");
    let offset = cluster.converged().await;
    history_caught_up(&cluster, offset, Duration::from_secs(30)).await;

    delete_redis_prefix(&cluster.redis, &cluster.prefix).await;
    // A join that is accepted goes to the log, finds it gone and starts a new epoch from MySQL
    // (refused joins never reach Redis). Then every instance must refuse for the right
    // reasons; until it has followed the new epoch it may still answer from the old state.
    for i in 0..2 {
        let (status, body) = cluster.join(i, "tables-large", "Appends").await;
        assert_eq!(status, 201, "instance {i}: {body}");
    }
    let (status, seen) = cluster.staff_get(0, "/api/v1/venues/demo/queues").await;
    assert_eq!(status, 200);
    let large = seen["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["slug"] == "tables-large")
        .unwrap()
        .clone();
    assert_eq!(
        large["waiting"], 2,
        "both joins are in the new epoch: {large}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for i in 0..2 {
        loop {
            let (bar, bar_body) = cluster.join(i, "bar", "Paused?").await;
            let (small, small_body) = cluster.join(i, "tables-small", "Full?").await;
            if bar == 409 && small == 409 {
                assert_eq!(bar_body["error"]["code"], "queue_paused", "instance {i}");
                assert_eq!(small_body["error"]["code"], "queue_full", "instance {i}");
                break;
            }
            assert!(
                bar != 201 && small != 201,
                "instance {i} accepted a join the settings forbid: {bar_body} {small_body}"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "instance {i}: {bar} {bar_body} / {small} {small_body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    cluster.stop().await;
}

/// Three instances taking joins for one venue at once: each venue writer keeps its own copy
/// of the venue, replaying the entries the others appended and taking back a batch of joins
/// that lost the race, instead of copying the whole state again for each batch. A copy is
/// always correct, so only the count shows whether the catch-up works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_on_three_instances_catch_up_instead_of_copying_the_venue() {
    use std::sync::atomic::Ordering;
    let cluster = Cluster::start(3).await;
    let counts = |c: &Cluster| -> Vec<(u64, u64)> {
        (0..3)
            .map(|i| {
                let m = &c.at(i).dist.metrics;
                (
                    m.state_copies.load(Ordering::Relaxed),
                    m.append_conflicts.load(Ordering::Relaxed),
                )
            })
            .collect()
    };
    let before = counts(&cluster);
    // Ten waves of 30 joins at once, round-robin over the instances: in every wave each
    // writer finds that the others have appended since its last batch.
    let mut numbers = HashSet::new();
    for wave in 0..10 {
        let joins = futures_util::future::join_all((0..30).map(|k| {
            let c = &cluster;
            async move { c.join(k, "bar", &format!("Guest {wave}-{k}")).await }
        }))
        .await;
        for (status, body) in joins {
            assert_eq!(status, 201, "join accepted: {body}");
            numbers.insert(body["number"].clone());
        }
    }
    assert_eq!(numbers.len(), 300, "no number handed out twice");
    cluster.converged().await;
    let after = counts(&cluster);
    for (i, ((c0, k0), (c1, k1))) in before.iter().zip(&after).enumerate() {
        // The first batch of each writer copies the venue; nothing after it should.
        assert!(
            c1 - c0 <= 2,
            "instance {i} copied the venue {} times for 300 joins ({} append conflicts)",
            c1 - c0,
            k1 - k0
        );
    }
    // And the copies kept are right: every instance shows the same line, 1..300.
    for i in 0..3 {
        let (_, body) = cluster.join(i, "bar", &format!("Last {i}")).await;
        assert_eq!(body["position"], 301 + i as u64, "instance {i}: {body}");
    }
    cluster.stop().await;
}
