//! `fila-load`: load scenarios against a real Fila process, each next to a baseline run in the
//! same invocation, so the figure that matters is the ratio (this machine is small and noisy).
//!
//! Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
//!
//! - `join-burst`: N joins from C concurrent clients, as fast as they are acknowledged; then
//!   checks every one is there with positions exactly 1..N. Baseline: the same client loop
//!   against a trivial axum JSON route in this process.
//! - `fan-out`: N phones watch their tickets over `/api/v1/tickets/{token}/live`; staff call
//!   next K times; for each call, the time until each watcher holds its new position.
//!   Baseline: an axum server in this process that holds N sockets and broadcasts one
//!   pre-serialized frame of the same size per "call".

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod fanout;

/// No scenario runs longer than this, whatever it was asked.
pub(crate) const MAX_SCENARIO_TIME: Duration = Duration::from_secs(300);
const OWNER_PASSWORD: &str = "load-test-owner-password";

#[derive(Parser)]
#[command(
    name = "fila-load",
    about = "Load scenarios for Fila, each with a baseline"
)]
struct Cli {
    /// The `fila` binary to start (release build recommended).
    #[arg(long, default_value = "target/release/fila")]
    fila: PathBuf,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Durable joins as fast as they are acknowledged.
    JoinBurst {
        #[arg(long, default_value_t = 20_000)]
        joins: usize,
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
    },
    /// Live positions pushed to N watchers, K calls.
    FanOut {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        #[arg(long, default_value_t = 30)]
        calls: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.scenario {
        Scenario::JoinBurst { joins, concurrency } => {
            if joins == 0 || joins > 1_000_000 || concurrency == 0 || concurrency > 4096 {
                bail!("joins must be 1..=1000000 and concurrency 1..=4096");
            }
            join_burst(&cli.fila, joins, concurrency).await
        }
        Scenario::FanOut { watchers, calls } => {
            // Client and server sockets share this machine's 20k open files per process.
            if watchers == 0 || watchers > 9_000 || calls == 0 || calls > 1_000 {
                bail!("watchers must be 1..=9000 and calls 1..=1000");
            }
            fanout::run(&cli.fila, watchers, calls).await
        }
    }
}

/// A Fila process on a free loopback port with a fresh database; killed on drop.
pub(crate) struct FilaProcess {
    child: tokio::process::Child,
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl FilaProcess {
    pub(crate) async fn start(bin: &PathBuf) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let child = tokio::process::Command::new(bin)
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/fila.db", dir.path().display()),
            )
            .env("FILA_ADDR", format!("127.0.0.1:{port}"))
            .env("FILA_DEMO_OWNER_PASSWORD", OWNER_PASSWORD)
            .env("FILA_JOIN_RATE_PER_IP", "100000000")
            .env("FILA_JOIN_RATE_PER_VENUE", "100000000")
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(Self {
                    child,
                    base,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("fila did not become ready on {base}")
    }

    pub(crate) async fn staff_token(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let r: Value = client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": "owner@demo.fila", "password": OWNER_PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(r["token"].as_str().context("token")?.to_owned())
    }

    /// Resident memory of the server process, in KiB.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The baseline: a trivial axum JSON route in this process.
async fn baseline_http() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/join",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            axum::Json(json!({"ok": true, "name": body["name"], "position": 1}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/join"))
}

struct BurstResult {
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

/// `concurrency` clients share `total` requests; each request must succeed.
async fn burst(url: String, total: usize, concurrency: usize) -> BurstResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("http client");
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + MAX_SCENARIO_TIME;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, next, url) = (client.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let t0 = Instant::now();
                let ok = client
                    .post(&url)
                    .json(&json!({"name": format!("Guest {i}"), "party_size": 2}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(t0.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    all.sort();
    BurstResult {
        elapsed: start.elapsed(),
        latencies: all,
        errors,
    }
}

pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn join_burst(bin: &PathBuf, joins: usize, concurrency: usize) -> anyhow::Result<()> {
    let fila = FilaProcess::start(bin).await?;
    let url = format!("{}/api/v1/venues/demo/queues/bar/tickets", fila.base);
    let fila_run = burst(url, joins, concurrency).await;

    // Correctness: every acknowledged join is there, positions exactly 1..N.
    let client = reqwest::Client::new();
    let token = fila.staff_token(&client).await?;
    let snap: Value = client
        .get(format!("{}/api/v1/venues/demo/queues", fila.base))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let bar = snap["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["slug"] == "bar"))
        .context("bar queue")?;
    let positions: Vec<u64> = bar["tickets"]
        .as_array()
        .context("tickets")?
        .iter()
        .filter_map(|t| t["position"].as_u64())
        .collect();
    let acked = joins - fila_run.errors;
    let exact = positions.len() == acked
        && positions
            .iter()
            .enumerate()
            .all(|(i, p)| *p == i as u64 + 1);
    drop(fila);

    let base_url = baseline_http().await?;
    let base_run = burst(base_url, joins, concurrency).await;

    let rate = |r: &BurstResult| r.latencies.len() as f64 / r.elapsed.as_secs_f64();
    println!("join burst: {joins} joins, {concurrency} concurrent clients, one machine");
    println!("| run | total s | joins/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (name, r) in [
        ("fila (embedded, durable)", &fila_run),
        ("baseline-http", &base_run),
    ] {
        println!(
            "| {name} | {:.2} | {:.0} | {} | {} | {} | {} |",
            r.elapsed.as_secs_f64(),
            rate(r),
            ms(pct(&r.latencies, 0.50)),
            ms(pct(&r.latencies, 0.99)),
            ms(pct(&r.latencies, 1.0)),
            r.errors
        );
    }
    println!(
        "ratio fila/baseline joins/s: {:.2}",
        rate(&fila_run) / rate(&base_run)
    );
    println!(
        "correctness: {acked} acknowledged, {} waiting, positions 1..N exact: {exact}",
        positions.len()
    );
    if !exact || fila_run.errors > 0 {
        bail!("join burst lost or misplaced joins");
    }
    Ok(())
}
