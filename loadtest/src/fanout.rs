//! The fan-out scenario: how long until every watcher holds its new position after a call.

use crate::deploy::{Deployment, Mode};
use crate::{MAX_SCENARIO_TIME, ms, pct, show_counts};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::Path;
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

pub async fn run(bin: &Path, mode: &Mode, watchers: usize, calls: usize) -> anyhow::Result<()> {
    let fila = Deployment::start(bin, mode).await?;
    // Explicit finally: the deployment is removed whether the run succeeded or not.
    let outcome = run_fila(&fila, watchers, calls).await;
    let cleanup = fila.finish().await;
    let outcome = outcome?;
    cleanup?;

    let fila_lat = &outcome.latencies;
    let (base_lat, base_rss) = baseline(watchers, calls).await?;
    println!(
        "fan-out: {watchers} watchers of one queue, {calls} calls, {}, one machine",
        mode.describe()
    );
    println!("| run | p50 ms | p99 ms | max ms | last watcher p50 ms | last watcher max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, l) in [
        (mode.row(""), fila_lat),
        ("baseline-ws".to_owned(), &base_lat),
    ] {
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
    let several = outcome.memory.len() > 1;
    for (i, m) in outcome.memory.iter().enumerate() {
        if let (Some(a), Some(b)) = (m.rss_before, m.rss_after) {
            let which = if several {
                format!(" (instance {}, {} watchers)", i + 1, m.watchers)
            } else {
                String::new()
            };
            println!(
                "fila server memory{which}: {:.1} KiB per connected watcher (RSS {a} -> {b} KiB)",
                (b.saturating_sub(a)) as f64 / m.watchers.max(1) as f64
            );
        }
    }
    if let Some((a, b)) = base_rss {
        println!(
            "baseline memory (client and server together): {:.1} KiB per socket",
            (b.saturating_sub(a)) as f64 / watchers as f64
        );
    }
    if let Some((seq, _)) = outcome.converged {
        println!(
            "distributed: watchers round-robin over the instances, calls on instance 1; log seq \
             {seq} before the calls; append conflicts per instance: {}",
            show_counts(&outcome.conflicts)
        );
    }
    if let Some(p) = &outcome.redis_persistence {
        println!("redis persistence: {p}");
    }
    println!("correctness: every watcher holds its exact position after {calls} calls");
    Ok(())
}

/// One instance's memory around connecting its share of the watchers.
struct Memory {
    watchers: usize,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
}

struct Outcome {
    latencies: Latencies,
    memory: Vec<Memory>,
    converged: Option<(u64, Duration)>,
    conflicts: Vec<Option<u64>>,
    redis_persistence: Option<String>,
}

async fn run_fila(fila: &Deployment, watchers: usize, calls: usize) -> anyhow::Result<Outcome> {
    let first = fila.first();
    let client = reqwest::Client::new();
    let staff = first.staff_token(&client).await?;
    // The first `calls` tickets will be called; the next `watchers` tickets are watched, so
    // every call moves every watcher up by exactly one.
    let join_url = format!("{}/api/v1/venues/demo/queues/bar/tickets", first.base);
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
    // Every instance must know every ticket before its watchers connect.
    let converged = fila.converge().await?;
    // Watcher i connects to instance i % N.
    let urls: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ws_base = fila.base(i).replace("http://", "ws://");
            format!("{ws_base}/api/v1/tickets/{t}/live")
        })
        .collect();
    let n = fila.instances().len();
    let rss_before: Vec<_> = fila.instances().iter().map(|p| p.rss_kib()).collect();
    let (seen, counter) = connect_all(&urls, |_| true).await?;
    let memory = fila
        .instances()
        .iter()
        .zip(rss_before)
        .enumerate()
        .map(|(i, (p, before))| Memory {
            watchers: (watchers + n - 1 - i) / n,
            rss_before: before,
            rss_after: p.rss_kib(),
        })
        .collect();
    let counter_id = {
        let snap: Value = client
            .get(format!("{}/api/v1/venues/demo/queues", first.base))
            .bearer_auth(&staff)
            .send()
            .await?
            .json()
            .await?;
        snap["counters"][0]["id"].as_i64().context("counter")?
    };
    let call_url = format!("{}/api/v1/venues/demo/queues/bar/call-next", first.base);
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
    let latencies = latencies(&seen, &starts).await;
    // Correctness: watcher i started at position calls+i+1 and must now be at i+1.
    for (i, s) in seen.iter().enumerate() {
        let s = s.lock().await;
        if s.last_position != Some(i as u64 + 1) {
            bail!(
                "watcher {i} (instance {}) ended at {:?}, expected {}",
                i % n + 1,
                s.last_position,
                i + 1
            );
        }
    }
    let conflicts = if fila.is_distributed() {
        fila.append_conflicts().await
    } else {
        Vec::new()
    };
    Ok(Outcome {
        latencies,
        memory,
        converged,
        conflicts,
        redis_persistence: fila.redis_persistence().map(str::to_owned),
    })
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
