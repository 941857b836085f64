//! `fila-load`: load scenarios against a real Fila process, each next to a baseline run in the
//! same invocation, so the figure that matters is the ratio (this machine is small and noisy).
//!
//! Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
//!
//! Every scenario runs against embedded mode (one process, SQLite; the default) or, with
//! `--mysql`, `--redis` and `--instances N`, against distributed mode: N processes sharing a
//! fresh MySQL/MariaDB database and a fresh Redis key prefix, both removed afterwards
//! (`cross-instance` and `reconnect-storm` need distributed mode with 2 or more instances).
//!
//! - `join-burst`: N joins from C concurrent clients, as fast as they are acknowledged (spread
//!   round-robin over the instances); then checks, on instance 1 once every instance has
//!   applied the same log, that every one is there with positions exactly 1..N. Baseline: the
//!   same client loop against a trivial axum JSON route in this process.
//! - `fan-out`: N phones watch their tickets over `/api/v1/tickets/{token}/live` (connected
//!   round-robin over the instances); staff call next K times on instance 1; for each call,
//!   the time until each watcher holds its new position.
//!   Baseline: an axum server in a process of its own that holds N sockets and broadcasts one
//!   pre-serialized frame of the same size per "call". `--record FILE` appends the figures
//!   to a results file, and `chart` draws such a file as an SVG. Past 19,500 watchers (or with
//!   `--client-shards S`) the client sockets are held by client shards, child processes of
//!   this one (`fila-load client-shard`) of at most 18,000 sockets each, and the baseline is
//!   spread over as many server processes as there are Fila instances (see `shard.rs`): 50,000
//!   watchers need `--instances 3`, 100,000 `--instances 6`.
//! - `memory`: N idle watchers; each instance's RSS growth per watcher, against the same
//!   sockets held by that axum server in a process of its own.
//! - `slow-consumers`: fan-out where some watchers stop reading after their snapshot; the
//!   healthy ones' latency against an all-healthy run, and the server's RSS around the calls.
//! - `cross-instance` (2+ instances): watchers on instances 2..N, calls on instance 1, against
//!   everything on instance 1; and a Redis round trip.
//! - `reconnect-storm` (2+ instances): the instance holding every watcher is killed; the time
//!   until all of them are back, elsewhere, at their exact position; then one more call.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use deploy::{Deployment, Mode};
use procfs::cpu_secs;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod baseline;
mod chart;
mod cross;
mod deploy;
mod fanout;
mod memory;
mod procfs;
mod record;
mod resp;
mod shard;
mod slow;
mod storm;
mod watchers;

/// Most fan-out watchers with the client sockets in this process: each is one socket in this
/// process (client side), one in Fila's and then one in the baseline's, and all three
/// processes inherit the same open-files limit (20,000 on the machines this was written for);
/// above 15,000 the harness raises Fila's `FILA_MAX_SOCKETS` for the run. Past this, client
/// shards hold the client sockets (see `shard.rs`).
const MAX_FANOUT_WATCHERS: usize = 19_500;

/// No scenario runs longer than this, whatever it was asked.
pub(crate) const MAX_SCENARIO_TIME: Duration = Duration::from_secs(300);

#[derive(Parser)]
#[command(
    name = "fila-load",
    about = "Load scenarios for Fila, each with a baseline"
)]
struct Cli {
    /// The `fila` binary to start (release build recommended).
    #[arg(long, default_value = "target/release/fila")]
    fila: PathBuf,
    /// Distributed mode: a MySQL/MariaDB server on this machine, without a database
    /// (`mysql://root@127.0.0.1:3306`); each run creates `fila_load_<hex>` and drops it.
    #[arg(long, value_name = "SERVER_URL")]
    mysql: Option<String>,
    /// Distributed mode: Redis on this machine (`redis://127.0.0.1:6379`); each run uses the
    /// key prefix `fila-load-<hex>` and deletes its keys afterwards.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// Fila processes to start in distributed mode (1..=6).
    #[arg(long, default_value_t = 1)]
    instances: usize,
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
        /// Hold the client sockets in S child processes (and spread the baseline over as many
        /// server processes as Fila has instances). Default: in this process up to 19,500
        /// watchers, else as few shards as hold 18,000 sockets each.
        #[arg(long, value_name = "S")]
        client_shards: Option<usize>,
        /// Append this run's figures to FILE (one JSON object a line) for `chart`.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Draw the fan-out runs recorded with `fan-out --record` as an SVG chart: latency
    /// against N, one line per Fila mode and one for the baseline. Starts nothing.
    Chart {
        /// The results file `fan-out --record` appended to.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Where to write the SVG.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Which figure of each run to draw.
        #[arg(long, value_enum, default_value_t = chart::Metric::P99)]
        metric: chart::Metric,
        #[arg(long)]
        title: Option<String>,
        /// Latency on a log scale (for N spanning 1,000 to 100,000, where a linear axis
        /// flattens the small N).
        #[arg(long)]
        log_y: bool,
    },
    /// Resident memory per idle watcher, against a baseline server holding the same sockets.
    Memory {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        /// How long the idle sockets are held before RSS is read again (Fila pings every 20 s).
        #[arg(long, default_value_t = 25)]
        hold_secs: u64,
    },
    /// Fan-out with watchers that stop reading, against an all-healthy run.
    SlowConsumers {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        #[arg(long, default_value_t = 30)]
        calls: usize,
        /// Share of the watchers that stop reading after their snapshot.
        #[arg(long, default_value_t = 10)]
        slow_percent: usize,
    },
    /// Watchers on other instances than the calls, against all on one (--instances >= 2).
    CrossInstance {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        #[arg(long, default_value_t = 30)]
        calls: usize,
    },
    /// Kill the instance holding every watcher; time until all are back (--instances >= 2).
    ReconnectStorm {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
    },
    /// Internal: the memory scenario's baseline server, in a process of its own.
    #[command(hide = true)]
    ServeBaselineWs,
    /// Internal: a fan-out client shard, driven by the harness through stdin and stdout.
    #[command(hide = true)]
    ClientShard,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.scenario {
        Scenario::ServeBaselineWs => return baseline::serve_child().await,
        Scenario::ClientShard => return shard::serve_child().await,
        Scenario::Chart {
            input,
            output,
            metric,
            title,
            log_y,
        } => return chart::run(input, output, *metric, title.as_deref(), *log_y),
        _ => {}
    }
    let mode = Mode::from_options(cli.mysql.clone(), cli.redis.clone(), cli.instances)?;
    // On Ctrl-C the scenario is dropped, and with it its deployment, which cleans up.
    tokio::select! {
        r = run(&cli, &mode) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted (processes, database and keys removed)"),
    }
}

async fn run(cli: &Cli, mode: &Mode) -> anyhow::Result<()> {
    match cli.scenario {
        Scenario::JoinBurst { joins, concurrency } => {
            if joins == 0 || joins > 1_000_000 || concurrency == 0 || concurrency > 4096 {
                bail!("joins must be 1..=1000000 and concurrency 1..=4096");
            }
            join_burst(&cli.fila, mode, joins, concurrency).await
        }
        Scenario::FanOut {
            watchers,
            calls,
            client_shards,
            ref record,
        } => {
            if calls == 0 || calls > 1_000 {
                bail!("calls must be 1..=1000");
            }
            let shards = shard::plan(watchers, client_shards, MAX_FANOUT_WATCHERS);
            // The most sockets any one process holds (client, Fila instance or baseline): each
            // inherits this process's open-files limit.
            let most = fanout::check_size(watchers, shards, mode.instances(), MAX_FANOUT_WATCHERS)?;
            watchers::check_fd_limit(most)?;
            if let Some(path) = record {
                record::check_writable(path)?;
            }
            fanout::run(&cli.fila, mode, watchers, calls, shards, record.as_deref()).await
        }
        Scenario::Memory {
            watchers,
            hold_secs,
        } => {
            check_watchers(watchers, 1)?;
            if hold_secs > 120 {
                bail!("hold-secs must be 0..=120");
            }
            memory::run(&cli.fila, mode, watchers, Duration::from_secs(hold_secs)).await
        }
        Scenario::SlowConsumers {
            watchers,
            calls,
            slow_percent,
        } => {
            check_watchers(watchers, calls)?;
            if !(1..=50).contains(&slow_percent) {
                bail!("slow-percent must be 1..=50");
            }
            slow::run(&cli.fila, mode, watchers, calls, slow_percent).await
        }
        Scenario::CrossInstance { watchers, calls } => {
            check_watchers(watchers, calls)?;
            cross::run(&cli.fila, mode, watchers, calls).await
        }
        Scenario::ReconnectStorm { watchers } => {
            check_watchers(watchers, 1)?;
            storm::run(&cli.fila, mode, watchers).await
        }
        Scenario::ServeBaselineWs | Scenario::ClientShard | Scenario::Chart { .. } => {
            unreachable!("handled in main")
        }
    }
}

/// Bounds shared by the watcher scenarios, and this process's open-files limit.
fn check_watchers(watchers: usize, calls: usize) -> anyhow::Result<()> {
    if watchers == 0 || watchers > watchers::MAX_WATCHERS || calls == 0 || calls > 1_000 {
        bail!(
            "watchers must be 1..={} and calls 1..=1000",
            watchers::MAX_WATCHERS
        );
    }
    watchers::check_fd_limit(watchers)
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
    /// What the first failed request got, for the report.
    first_error: Option<String>,
}

/// `concurrency` clients share `total` requests; each must succeed. Request `i` goes to
/// `urls[i % urls.len()]` (round-robin over the instances).
async fn burst(urls: Vec<String>, total: usize, concurrency: usize) -> BurstResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("http client");
    let urls = Arc::new(urls);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + MAX_SCENARIO_TIME;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, next, urls) = (client.clone(), next.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let t0 = Instant::now();
                let r = client
                    .post(&urls[i % urls.len()])
                    .json(&json!({"name": format!("Guest {i}"), "party_size": 2}))
                    .send()
                    .await;
                latencies.push(t0.elapsed());
                let error = match r {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        Some(format!(
                            "{status}: {}",
                            body.chars().take(200).collect::<String>()
                        ))
                    }
                    Err(e) => Some(format!("{e}")),
                };
                if let Some(e) = error {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut all = Vec::with_capacity(total);
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.expect("client task");
        all.extend(l);
        errors += e;
        first_error = first_error.or(f);
    }
    all.sort();
    BurstResult {
        elapsed: start.elapsed(),
        latencies: all,
        errors,
        first_error,
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

/// What the Fila side of a join burst measured.
struct JoinOutcome {
    run: BurstResult,
    positions: Vec<u64>,
    /// Distributed mode: the common log seq, how long the instances took to agree after the
    /// burst, and each instance's append conflicts and copies of the whole venue state.
    converged: Option<(u64, Duration)>,
    conflicts: Vec<Option<u64>>,
    state_copies: Vec<Option<u64>>,
    redis_persistence: Option<String>,
    /// CPU seconds the Fila processes (all instances) used during the burst: a figure that
    /// holds when the machine's speed drifts, unlike joins/s.
    server_cpu: Option<f64>,
    /// Distributed mode: CPU seconds the local MariaDB and Redis used during the burst.
    services_cpu: Vec<(&'static str, f64)>,
    /// CPU seconds this process (the clients) used during the burst.
    clients_cpu: Option<f64>,
    /// Distributed mode: the history projection, which runs behind the burst.
    history: Option<HistoryCatchUp>,
}

/// When MySQL history held the whole burst, and what the burst cost until then.
struct HistoryCatchUp {
    /// After the last join was acknowledged.
    after: Duration,
    /// Transactions per instance.
    writes: Vec<Option<u64>>,
    /// CPU seconds from the burst's start until then: Fila (all instances), then each service.
    cpu: Option<f64>,
    services_cpu: Vec<(&'static str, f64)>,
}

async fn join_burst(
    bin: &Path,
    mode: &Mode,
    joins: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let fila = Deployment::start(bin, mode).await?;
    // Explicit finally: the deployment is removed whether the run succeeded or not.
    let outcome = join_burst_fila(&fila, joins, concurrency).await;
    let cleanup = fila.finish().await;
    let outcome = outcome?;
    cleanup?;

    let base_url = baseline_http().await?;
    let own_before = cpu_secs("self");
    let base_run = burst(vec![base_url], joins, concurrency).await;
    // The baseline's server runs in this process: its CPU is the clients' and the server's.
    let base_cpu = cpu_secs("self").zip(own_before).map(|(a, b)| a - b);

    let fila_run = &outcome.run;
    let positions = &outcome.positions;
    let acked = joins - fila_run.errors;
    let exact = positions.len() == acked
        && positions
            .iter()
            .enumerate()
            .all(|(i, p)| *p == i as u64 + 1);
    let rate = |r: &BurstResult| r.latencies.len() as f64 / r.elapsed.as_secs_f64();
    println!(
        "join burst: {joins} joins, {concurrency} concurrent clients, {}, one machine",
        mode.describe()
    );
    println!("| run | total s | joins/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (name, r) in [
        (mode.row("durable"), fila_run),
        ("baseline-http".to_owned(), &base_run),
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
        rate(fila_run) / rate(&base_run)
    );
    if let Some((seq, took)) = outcome.converged {
        println!(
            "distributed: every instance at log seq {seq} {} ms after the burst; append \
             conflicts per instance: {}; state copies: {}",
            took.as_millis(),
            show_counts(&outcome.conflicts),
            show_counts(&outcome.state_copies)
        );
    }
    let per_join = |cpu: f64| cpu * 1e6 / joins as f64;
    if let Some(cpu) = outcome.server_cpu {
        println!(
            "fila server CPU during the burst: {cpu:.2} s, {:.0} µs per join (all instances)",
            per_join(cpu)
        );
    }
    if let (Some(clients), Some(base)) = (outcome.clients_cpu, base_cpu) {
        println!(
            "clients' CPU during the burst: {:.0} µs per join; baseline-http, clients and \
             server together: {:.0} µs per request",
            per_join(clients),
            per_join(base)
        );
    }
    if !outcome.services_cpu.is_empty() {
        let each: Vec<String> = outcome
            .services_cpu
            .iter()
            .map(|(name, cpu)| format!("{name} {cpu:.2} s ({:.0} µs per join)", per_join(*cpu)))
            .collect();
        println!("services' CPU during the burst: {}", each.join(", "));
    }
    if let Some(h) = &outcome.history {
        let all: f64 = h.cpu.unwrap_or(0.0) + h.services_cpu.iter().map(|(_, c)| c).sum::<f64>();
        println!(
            "history: in MySQL {} ms after the burst, in {} transactions per instance; CPU \
             from the burst's start until then: fila {}, {}; together {:.0} µs per join",
            h.after.as_millis(),
            show_counts(&h.writes),
            h.cpu.map_or("?".to_owned(), |c| format!("{c:.2} s")),
            h.services_cpu
                .iter()
                .map(|(name, c)| format!("{name} {c:.2} s"))
                .collect::<Vec<_>>()
                .join(", "),
            all * 1e6 / joins as f64
        );
    }
    if let Some(p) = &outcome.redis_persistence {
        println!("redis persistence: {p}");
    }
    if let Some(e) = &fila_run.first_error {
        println!("first error: {e}");
    }
    println!(
        "correctness: {acked} acknowledged, {} waiting, positions 1..N exact: {exact}",
        positions.len()
    );
    if !exact || fila_run.errors > 0 {
        bail!("join burst lost or misplaced joins");
    }
    Ok(())
}

/// The burst against Fila, and the queue as instance 1 sees it once all instances agree.
async fn join_burst_fila(
    fila: &Deployment,
    joins: usize,
    concurrency: usize,
) -> anyhow::Result<JoinOutcome> {
    let urls = (0..fila.instances().len())
        .map(|i| format!("{}/api/v1/venues/demo/queues/bar/tickets", fila.base(i)))
        .collect();
    let cpu = || -> Option<f64> { fila.instances().iter().map(|i| i.cpu_secs()).sum() };
    let services = fila.service_pids();
    let services_cpu = || -> Vec<Option<f64>> {
        services
            .iter()
            .map(|(_, pid)| cpu_secs(&pid.to_string()))
            .collect()
    };
    let cpu_before = cpu();
    let services_before = services_cpu();
    let own_before = cpu_secs("self");
    let run = burst(urls, joins, concurrency).await;
    let burst_end = Instant::now();
    let clients_cpu = cpu_secs("self").zip(own_before).map(|(a, b)| a - b);
    let server_cpu = cpu().zip(cpu_before).map(|(after, before)| after - before);
    let services_since = |before: &[Option<f64>]| -> Vec<(&'static str, f64)> {
        services
            .iter()
            .zip(services_cpu().into_iter().zip(before))
            .filter_map(|((name, _), (after, before))| Some((*name, after? - (*before)?)))
            .collect()
    };
    let services_cpu_burst = services_since(&services_before);
    let converged = fila.converge().await?;
    let history = match converged {
        Some((seq, _)) => {
            // Every entry projected once (a retry may count one twice: at least `seq`).
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let projected: u64 = fila.counts(deploy::PROJECTED).await.iter().flatten().sum();
                if projected >= seq {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "history holds {projected} of {seq} log entries a minute after the burst"
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Some(HistoryCatchUp {
                after: burst_end.elapsed(),
                writes: fila.counts(deploy::HISTORY_WRITES).await,
                cpu: cpu().zip(cpu_before).map(|(after, before)| after - before),
                services_cpu: services_since(&services_before),
            })
        }
        None => None,
    };
    let services_cpu = services_cpu_burst;
    let (conflicts, state_copies) = if fila.is_distributed() {
        (
            fila.counts(deploy::APPEND_CONFLICTS).await,
            fila.counts(deploy::STATE_COPIES).await,
        )
    } else {
        Default::default()
    };

    // Correctness: every acknowledged join is there, positions exactly 1..N.
    let client = reqwest::Client::new();
    let first = fila.first();
    let token = first.staff_token(&client).await?;
    let snap: Value = client
        .get(format!("{}/api/v1/venues/demo/queues", first.base))
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
    let positions = bar["tickets"]
        .as_array()
        .context("tickets")?
        .iter()
        .filter_map(|t| t["position"].as_u64())
        .collect();
    Ok(JoinOutcome {
        run,
        positions,
        converged,
        conflicts,
        state_copies,
        redis_persistence: fila.redis_persistence().map(str::to_owned),
        server_cpu,
        services_cpu,
        clients_cpu,
        history,
    })
}

/// `3, 0, 5` (or `?` where an instance did not report).
pub(crate) fn show_counts(v: &[Option<u64>]) -> String {
    v.iter()
        .map(|c| c.map_or("?".to_owned(), |c| c.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}
