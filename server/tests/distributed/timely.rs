//! When things reach where they are needed: history gathered into few transactions while a
//! burst lasts, and what one instance acknowledged (a join, a call, a new queue) holding on
//! another the moment it is answered.

use crate::helpers::*;
use crate::{until, watch};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// While entries keep coming, the history projector writes them at most once per
/// [`GATHER`](server::dist::projector::GATHER), not once per append: a steady stream of
/// joins, each its own append, becomes a few large transactions (fewer still if they come as
/// a rush, [`RUSH_GATHER`](server::dist::projector::RUSH_GATHER) apart). History still holds
/// every one of them, and a join after a quiet spell reaches history without waiting for
/// others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_gathers_a_stream_of_appends_into_few_transactions() {
    use server::dist::projector::{GATHER, RUSH_GATHER};
    let cluster = Cluster::start(1).await;
    let writes = |c: &Cluster| c.at(0).dist.metrics.history_writes.load(Ordering::Relaxed);
    let mut conn = cluster.mysql().await;
    let events_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE venue_id = 1")
        .fetch_one(&mut conn)
        .await
        .expect("count events");
    let before = writes(&cluster);
    let started = tokio::time::Instant::now();
    for k in 0..100 {
        let (status, body) = cluster.join(0, "bar", &format!("Guest {k}")).await;
        assert_eq!(status, 201, "join accepted: {body}");
    }
    let took = started.elapsed();
    history_caught_up(
        &cluster,
        events_before as u64 + 100,
        Duration::from_secs(20),
    )
    .await;
    let written = writes(&cluster) - before;
    // One transaction per GATHER at most, plus the first and the last.
    let allowed = (took.as_millis() / GATHER.as_millis()) as u64 + 3;
    assert!(
        written <= allowed,
        "100 joins in {took:?} took {written} history transactions (at most {allowed})"
    );
    // A quiet spell (longer than the pause a rush leaves behind), then one join: written
    // without waiting for more.
    tokio::time::sleep(RUSH_GATHER + GATHER * 4).await;
    let (status, _) = cluster.join(0, "bar", "Alone").await;
    assert_eq!(status, 201);
    history_caught_up(&cluster, events_before as u64 + 101, GATHER * 40).await;
    // A lone instance appended every entry itself: its projector took them all from its
    // writer, none from the log's text (see `dist/own.rs`).
    // (Entries are counted as handed over before their write, as projected after it, which
    // may come a moment after the commit `history_caught_up` saw.)
    let m = &cluster.at(0).dist.metrics;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let projected = m.projected.load(Ordering::Relaxed);
        if projected >= 101 && m.handed_over.load(Ordering::Relaxed) == projected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{m:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await;
}

/// A customer joins through one instance and their phone's next request lands on another,
/// before that one has the join's pub/sub message: it reads the log instead of answering
/// "no such ticket". (Messages are dropped here; the once-a-second check would catch up
/// later, too late for the phone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_joined_on_one_instance_is_found_at_once_on_another() {
    let cluster = Cluster::start(2).await;
    cluster.converged().await;
    cluster.at(1).dist.drop_messages(true);
    for k in 0..3 {
        let (status, body) = cluster.join(0, "bar", &format!("Guest {k}")).await;
        assert_eq!(status, 201, "join accepted: {body}");
        let token = body["token"].as_str().unwrap();
        let r = cluster
            .client
            .get(cluster.at(1).url(&format!("/api/v1/tickets/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "ticket {k} found on the other instance"
        );
        let seen: Value = r.json().await.unwrap();
        assert_eq!(seen["position"], k + 1, "{seen}");
        assert_eq!(seen["number"], body["number"]);
    }
    // So does the ticket page a phone is sent to right after joining: rendered with the
    // ticket, not left to load it afterwards.
    let (_, body) = cluster.join(0, "bar", "Page").await;
    let token = body["token"].as_str().unwrap();
    let number = body["number"].as_str().unwrap();
    let html = cluster
        .client
        .get(cluster.at(1).url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(number),
        "the page shows ticket {number}: {html}"
    );
    // The socket and the holder's cancel take the same path.
    let (_, body) = cluster.join(0, "bar", "Socket").await;
    let token = body["token"].as_str().unwrap().to_owned();
    let mut ws = watch(
        &cluster
            .at(1)
            .ws_url(&format!("/api/v1/tickets/{token}/live")),
    )
    .await;
    let snap = until(&mut ws, "snapshot", |v| v["type"] == "snapshot").await;
    assert_eq!(snap["position"], 5, "{snap}");
    let (_, body) = cluster.join(0, "bar", "Leaves").await;
    let token = body["token"].as_str().unwrap();
    let r = cluster
        .client
        .delete(cluster.at(1).url(&format!("/api/v1/tickets/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "cancelled on the other instance");
    cluster.at(1).dist.drop_messages(false);
    cluster.stop().await;
}

/// What one instance has just acknowledged holds on another at once, though that one has not
/// had the pub/sub message (dropped here): staff there call the customer who has just
/// joined (not "nobody waiting": a refusal is answered only after a look at the log's head);
/// a ticket, its page, the venue and the staff picture read there show the call, the serve
/// and the join; a queue and a counter added elsewhere can be joined and called to.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_one_instance_acknowledged_holds_on_another_at_once() {
    let cluster = Cluster::start(2).await;
    while call_next(&cluster, 0, "bar", "Bar 1").await.0 == 200 {}
    cluster.converged().await;
    cluster.at(0).dist.drop_messages(true);
    cluster.at(1).dist.drop_messages(true);
    let waiting = |v: &Value| {
        v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["slug"] == "bar")
            .unwrap()["waiting"]
            .clone()
    };
    for k in 0..2 {
        // Each look below is at something the other instance has not seen yet.
        let joined = join_here_call_there(&cluster, &format!("Guest {k}"), "Bar 2").await;
        let seen = cluster.ticket(0, joined["token"].as_str().unwrap()).await;
        assert_eq!(
            seen["status"], "called",
            "guest {k} read back where they joined: {seen}"
        );
        assert_eq!(seen["counter"], "Bar 2", "{seen}");
        // Served on the other instance; the ticket's page, where it was just read, shows it.
        let id = joined["id"].as_u64().unwrap();
        let path = format!("/api/v1/venues/demo/tickets/{id}/serve");
        let (status, body) = cluster.staff_post(1, &path, serde_json::json!({})).await;
        assert_eq!(status, 200, "{body}");
        let token = joined["token"].as_str().unwrap();
        let page = cluster
            .client
            .get(cluster.at(0).url(&format!("/t/{token}")));
        let html = page.send().await.unwrap().text().await.unwrap();
        assert!(
            html.contains(r#"data-status="served""#),
            "guest {k}'s page where they joined shows them served: {html}"
        );
        assert_eq!(cluster.join(0, "bar", &format!("Second {k}")).await.0, 201);
        let (_, venue) = cluster.staff_get(1, "/api/v1/venues/demo").await;
        assert_eq!(waiting(&venue), 1, "seen from the other instance: {venue}");
        assert_eq!(cluster.join(0, "bar", &format!("Third {k}")).await.0, 201);
        let (_, staff) = cluster.staff_get(1, "/api/v1/venues/demo/queues").await;
        assert!(
            staff.to_string().contains(&format!("Third {k}")),
            "the staff picture there has the third guest: {staff}"
        );
        while call_next(&cluster, 0, "bar", "Bar 1").await.0 == 200 {}
    }
    let (status, body) = cluster
        .staff_post(
            0,
            "/api/v1/venues/demo/queues",
            serde_json::json!({"slug": "popup", "name": "Pop-up", "prefix": "P"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, joined) = cluster.join(1, "popup", "First").await;
    assert_eq!(
        status, 201,
        "the new queue is there on the other instance: {joined}"
    );
    let (status, body) = cluster
        .staff_post(
            0,
            "/api/v1/venues/demo/counters",
            serde_json::json!({"name": "Stand"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, called) = call_next(&cluster, 1, "popup", "Stand").await;
    assert_eq!(
        status, 200,
        "the new counter is there on the other instance: {called}"
    );
    assert_eq!(called["number"], joined["number"], "{called}");
    cluster.at(0).dist.drop_messages(false);
    cluster.at(1).dist.drop_messages(false);
    cluster.stop().await;
}

/// The same while the other instance keeps up by itself, in a burst of joins on both: its
/// follower may apply the join between the request's look in memory and its check of the
/// log, which then has nothing newer. Both looks come before the answer: the ticket is
/// found, and its socket is a live one. (It was "no such ticket", or, once history had it,
/// a snapshot and a close, as for a ticket finished on an earlier day.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_joined_on_one_instance_is_found_on_another_in_a_burst() {
    let cluster = Arc::new(Cluster::start(2).await);
    let rush = Rush::start(&cluster, "bar");
    for k in 0..150 {
        let (status, body) = cluster.join(0, "bar", &format!("Probe {k}")).await;
        assert_eq!(status, 201, "join accepted: {body}");
        let seen = cluster.ticket(1, body["token"].as_str().unwrap()).await;
        assert_eq!(
            seen["number"], body["number"],
            "probe {k} on the other instance: {seen}"
        );
        let (status, body) = cluster.join(0, "bar", &format!("Watcher {k}")).await;
        assert_eq!(status, 201, "join accepted: {body}");
        let token = body["token"].as_str().unwrap();
        let mut ws = watch(
            &cluster
                .at(1)
                .ws_url(&format!("/api/v1/tickets/{token}/live")),
        )
        .await;
        until(&mut ws, "snapshot", |v| v["type"] == "snapshot").await;
        // A live socket stays open; the other kind closes right after its snapshot.
        use futures_util::StreamExt;
        let next = tokio::time::timeout(Duration::from_millis(30), ws.next()).await;
        assert!(next.is_err(), "watcher {k}'s socket stays open: {next:?}");
    }
    rush.stop().await;
    Arc::into_inner(cluster).unwrap().stop().await;
}

/// Staff on one instance call the next customer the moment another instance acknowledged
/// their join, while a rush of joins goes on through both. The call is answered, with that
/// customer. It was "could not save right now" in the first hundred or so: a call cannot be
/// taken back like a join, so each retry copied the whole venue, and the other instance
/// appended every time meanwhile; after 64 lost races the call was refused. Now a writer that
/// keeps losing claims the next append (`dist::writer::CLAIM_AFTER`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_on_one_instance_is_answered_during_a_rush_on_both() {
    let cluster = Arc::new(Cluster::start(2).await);
    // Nobody left waiting at the bar.
    while call_next(&cluster, 0, "bar", "Bar 1").await.0 == 200 {}
    let rush = Rush::start(&cluster, "tables-large");
    for k in 0..150 {
        join_here_call_there(&cluster, &format!("Probe {k}"), "Bar 1").await;
    }
    rush.stop().await;
    Arc::into_inner(cluster).unwrap().stop().await;
}

/// A resync (after a divergence, or a log the instance could not follow) replaces the venue's
/// state with its latest snapshot caught up from the log. A phone watching a ticket joined
/// after that snapshot keeps its socket through it: a fresh snapshot with its position, then
/// the next call. Before, the state was replaced by the bare snapshot first, the socket found
/// no such ticket and closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resync_keeps_the_socket_of_a_ticket_newer_than_the_snapshot() {
    let cluster = Cluster::start(1).await;
    let (status, watched) = cluster.join(0, "bar", "Watcher").await;
    assert_eq!(status, 201, "{watched}");
    let token = watched["token"].as_str().unwrap();
    let mut ws = watch(
        &cluster
            .at(0)
            .ws_url(&format!("/api/v1/tickets/{token}/live")),
    )
    .await;
    until(&mut ws, "the first snapshot", |v| v["type"] == "snapshot").await;
    for round in 0..3 {
        cluster.at(0).dist.resync_all().await.expect("resync");
        let v = until(&mut ws, "the snapshot after the resync", |v| {
            v["type"] == "snapshot"
        })
        .await;
        assert_eq!(v["position"], 1, "round {round}: {v}");
    }
    let (status, body) = call_next(&cluster, 0, "bar", "Bar 2").await;
    assert_eq!(status, 200, "{body}");
    until(&mut ws, "the call", |v| v["status"] == "called").await;
    cluster.stop().await;
}

/// A snapshot that comes due while joins keep arriving is not written by the batch that
/// passed the snapshot point (every caller would wait on it) but once the venue goes quiet:
/// soon after the last join, at the log's newest seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_due_in_a_rush_is_written_once_the_venue_goes_quiet() {
    let cluster = Cluster::start(1).await;
    let snapseq = || async {
        let v = redis_command(
            &cluster.redis,
            "GET",
            vec![format!("{}:v:1:snapseq", cluster.prefix)],
        )
        .await;
        v.as_string()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = cluster.converged().await;
    // 1,200 joins from 48 clients at once: past the first snapshot point (1,024 entries).
    let joins = futures_util::future::join_all((0..48).map(|c| {
        let cluster = &cluster;
        async move {
            for k in 0..25 {
                let (status, body) = cluster.join(0, "bar", &format!("Guest {c}-{k}")).await;
                assert_eq!(status, 201, "join accepted: {body}");
            }
        }
    }));
    joins.await;
    let seq = cluster.converged().await;
    assert!(seq >= before + 1_200, "the log went from {before} to {seq}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let at = snapseq().await;
        if at == seq {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "snapshot at seq {at} 10 s after the last join, the log at {seq}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

/// `name` joins the bar through instance 0, and the next at the bar is called to `counter`
/// through instance 1 at once: that must be `name`. Returns the join's answer.
async fn join_here_call_there(c: &Cluster, name: &str, counter: &str) -> Value {
    let (status, joined) = c.join(0, "bar", name).await;
    assert_eq!(status, 201, "{name} joins: {joined}");
    let (status, called) = call_next(c, 1, "bar", counter).await;
    assert_eq!(status, 200, "{name} called on the other instance: {called}");
    assert_eq!(called["number"], joined["number"], "{name}: {called}");
    joined
}

/// Call the next in `queue` to `counter`, on instance `i`: (status, body).
async fn call_next(c: &Cluster, i: usize, queue: &str, counter: &str) -> (u16, Value) {
    let path = format!("/api/v1/venues/demo/queues/{queue}/call-next");
    c.staff_post(i, &path, serde_json::json!({"counter": counter}))
        .await
}

/// Four clients joining `queue` as fast as they are answered, spread over the instances,
/// until stopped.
struct Rush {
    running: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Rush {
    fn start(cluster: &Arc<Cluster>, queue: &'static str) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let clients = (0..4)
            .map(|w| {
                let (c, running) = (cluster.clone(), running.clone());
                tokio::spawn(async move {
                    let mut k = w;
                    while running.load(Ordering::Relaxed) {
                        c.join(k, queue, &format!("Burst {k}")).await;
                        k += 4;
                    }
                })
            })
            .collect();
        Self { running, clients }
    }

    async fn stop(self) {
        self.running.store(false, Ordering::Relaxed);
        for c in self.clients {
            c.await.unwrap();
        }
    }
}
