//! The fan-out scenario: how long until every watcher holds its new position after a call.

use crate::{FilaProcess, MAX_SCENARIO_TIME, ms, pct};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Longest wait for one call to reach every watcher before the run is declared failed.
const PER_CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What each watcher records: when each update arrived, and the last position it saw.
struct Seen {
    at: Vec<Instant>,
    last_position: Option<u64>,
}

pub async fn run(bin: &PathBuf, watchers: usize, calls: usize) -> anyhow::Result<()> {
    let fila = FilaProcess::start(bin).await?;
    let client = reqwest::Client::new();
    let staff = fila.staff_token(&client).await?;
    // The first `calls` tickets will be called; the next `watchers` tickets are watched, so
    // every call moves every watcher up by exactly one.
    let join_url = format!("{}/api/v1/venues/demo/queues/bar/tickets", fila.base);
    let mut tokens = Vec::with_capacity(watchers);
    for i in 0..calls + watchers {
        let t: Value = client
            .post(&join_url)
            .json(&json!({"name": format!("Guest {i}"), "party_size": 2}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if i >= calls {
            tokens.push(t["token"].as_str().context("token")?.to_owned());
        }
    }
    let ws_base = fila.base.replace("http://", "ws://");
    let urls: Vec<String> = tokens
        .iter()
        .map(|t| format!("{ws_base}/api/v1/tickets/{t}/live"))
        .collect();
    let rss_before = fila.rss_kib();
    let (seen, counter) = connect_all(&urls, |_| true).await?;
    let rss_after = fila.rss_kib();
    let counter_id = {
        let snap: Value = client
            .get(format!("{}/api/v1/venues/demo/queues", fila.base))
            .bearer_auth(&staff)
            .send()
            .await?
            .json()
            .await?;
        snap["counters"][0]["id"].as_i64().context("counter")?
    };
    let call_url = format!("{}/api/v1/venues/demo/queues/bar/call-next", fila.base);
    let mut starts = Vec::with_capacity(calls);
    for k in 1..=calls {
        let t0 = Instant::now();
        starts.push(t0);
        client
            .post(&call_url)
            .bearer_auth(&staff)
            .json(&json!({"counter": counter_id}))
            .send()
            .await?
            .error_for_status()?;
        wait_for(&counter, k * watchers).await?;
    }
    let fila_lat = latencies(&seen, &starts).await;
    // Correctness: watcher i started at position calls+i+1 and must now be at i+1.
    for (i, s) in seen.iter().enumerate() {
        let s = s.lock().await;
        if s.last_position != Some(i as u64 + 1) {
            bail!(
                "watcher {i} ended at {:?}, expected {}",
                s.last_position,
                i + 1
            );
        }
    }
    drop(fila);

    let (base_lat, base_rss) = baseline(watchers, calls).await?;
    println!("fan-out: {watchers} watchers of one queue, {calls} calls, one instance, one machine");
    println!("| run | p50 ms | p99 ms | max ms | last watcher p50 ms | last watcher max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, l) in [("fila (embedded)", &fila_lat), ("baseline-ws", &base_lat)] {
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            ms(pct(&l.all, 0.50)),
            ms(pct(&l.all, 0.99)),
            ms(pct(&l.all, 1.0)),
            ms(pct(&l.last, 0.50)),
            ms(pct(&l.last, 1.0)),
        );
    }
    let ratio =
        pct(&fila_lat.all, 0.99).as_secs_f64() / pct(&base_lat.all, 0.99).as_secs_f64().max(1e-9);
    println!("ratio fila/baseline p99: {ratio:.2}");
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        println!(
            "fila server memory: {:.1} KiB per connected watcher (RSS {a} -> {b} KiB)",
            (b.saturating_sub(a)) as f64 / watchers as f64
        );
    }
    if let Some((a, b)) = base_rss {
        println!(
            "baseline memory (client and server together): {:.1} KiB per socket",
            (b.saturating_sub(a)) as f64 / watchers as f64
        );
    }
    println!("correctness: every watcher holds its exact position after {calls} calls");
    Ok(())
}

pub struct Latencies {
    /// Every watcher's delay for every call.
    all: Vec<Duration>,
    /// Per call, the delay of the last watcher to hear of it.
    last: Vec<Duration>,
}

async fn latencies(seen: &[Arc<Mutex<Seen>>], starts: &[Instant]) -> Latencies {
    let mut all = Vec::with_capacity(seen.len() * starts.len());
    let mut last = vec![Duration::ZERO; starts.len()];
    for s in seen {
        let s = s.lock().await;
        for (k, at) in s.at.iter().enumerate().take(starts.len()) {
            let d = at.saturating_duration_since(starts[k]);
            all.push(d);
            last[k] = last[k].max(d);
        }
    }
    all.sort();
    last.sort();
    Latencies { all, last }
}

async fn wait_for(counter: &AtomicUsize, target: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + PER_CALL_TIMEOUT;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            bail!(
                "only {} of {target} updates arrived within {PER_CALL_TIMEOUT:?}",
                counter.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

type Watchers = (Vec<Arc<Mutex<Seen>>>, Arc<AtomicUsize>);

/// Open every socket, skip each one's first message (the snapshot) and then record every
/// message that `counts` accepts.
async fn connect_all(urls: &[String], counts: fn(&Value) -> bool) -> anyhow::Result<Watchers> {
    let counter = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicUsize::new(0));
    let mut seen = Vec::with_capacity(urls.len());
    for url in urls {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .with_context(|| format!("connect {url}"))?;
        let s = Arc::new(Mutex::new(Seen {
            at: Vec::new(),
            last_position: None,
        }));
        seen.push(s.clone());
        let (counter, ready) = (counter.clone(), ready.clone());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + MAX_SCENARIO_TIME;
            let mut first = true;
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
                let now = Instant::now();
                let tokio_tungstenite::tungstenite::Message::Text(text) = msg else {
                    continue;
                };
                let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let mut s = s.lock().await;
                s.last_position = v["position"].as_u64().or(s.last_position);
                if first {
                    first = false;
                    ready.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if counts(&v) {
                    s.at.push(now);
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = ws.close(None).await;
        });
    }
    wait_for(&ready, urls.len()).await?;
    Ok((seen, counter))
}

/// The baseline: N sockets held by a minimal axum server in this process; each "call"
/// broadcasts one pre-serialized frame of a ticket update's size.
async fn baseline(
    watchers: usize,
    calls: usize,
) -> anyhow::Result<(Latencies, Option<(u64, u64)>)> {
    use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
    let (tx, _) = tokio::sync::broadcast::channel::<Utf8Bytes>(1024);
    let sender = tx.clone();
    let app = axum::Router::new().route(
        "/ws",
        axum::routing::get(move |ws: WebSocketUpgrade| {
            let mut rx = sender.subscribe();
            async move {
                ws.read_buffer_size(4096).write_buffer_size(0).on_upgrade(
                    move |mut socket| async move {
                        let hello = Utf8Bytes::from_static(r#"{"type":"snapshot"}"#);
                        if socket.send(Message::Text(hello)).await.is_err() {
                            return;
                        }
                        while let Ok(frame) = rx.recv().await {
                            if socket.send(Message::Text(frame)).await.is_err() {
                                break;
                            }
                        }
                    },
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let rss = || -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    let before = rss();
    let urls = vec![format!("ws://{addr}/ws"); watchers];
    let (seen, counter) = connect_all(&urls, |_| true).await?;
    let after = rss();
    // Same size as Fila's ticket update frame.
    let frame = r#"{"type":"update","offset":12345,"status":"waiting","position":1234,"eta_seconds":148080,"counter":null,"calls":0,"queue":"bar","queue_name":"Bar"}"#;
    let mut starts = Vec::with_capacity(calls);
    for k in 1..=calls {
        starts.push(Instant::now());
        let _ = tx.send(Utf8Bytes::from(frame));
        wait_for(&counter, k * watchers).await?;
    }
    Ok((latencies(&seen, &starts).await, before.zip(after)))
}
