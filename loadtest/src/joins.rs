//! The join-burst scenario: `concurrency` clients send `joins` joins as fast as they can, to
//! Fila and then to the baseline-http route, and the run reports rates, latencies, the CPU
//! every process spent (Fila, the clients, a local MariaDB and Redis), and checks that every
//! acknowledged join is in the line at its exact position.

use crate::baseline::BaselineProcess;
use crate::deploy::Deployment;
use crate::metrics;
use crate::mode::Mode;
use crate::procfs::{cpu_secs, since};
use crate::{MAX_SCENARIO_TIME, median, ms, pct, show_counts};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

/// What the Fila side of a join burst measured.
struct JoinOutcome {
    run: BurstResult,
    positions: Vec<u64>,
    /// Distributed mode: the common log seq, how long the instances took to agree after the
    /// burst, and each instance's append conflicts and copies of the whole venue state.
    converged: Option<(u64, Duration)>,
    conflicts: Vec<Option<u64>>,
    /// Of those, appends the writer did not send: it had already seen a newer entry.
    skipped: Vec<Option<u64>>,
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
    /// Embedded mode: the SQLite transactions the burst took, and the commands they held.
    commits: Option<(u64, u64)>,
}

/// When MySQL history held the whole burst, and what the burst cost until then.
struct HistoryCatchUp {
    /// After the last join was acknowledged.
    after: Duration,
    /// Transactions per instance.
    writes: Vec<Option<u64>>,
    /// Entries per instance taken from its writers' memory, not parsed back from Redis.
    handed_over: Vec<Option<u64>>,
    /// CPU seconds from the burst's start until then: Fila (all instances), then each service.
    cpu: Option<f64>,
    services_cpu: Vec<(&'static str, f64)>,
}

/// `rounds` bursts, each against a fresh deployment and then the baseline; with more than
/// one, the ratios' median and range, so one noisy moment on a small machine decides nothing.
pub(crate) async fn join_burst(
    bin: &Path,
    mode: &Mode,
    joins: usize,
    concurrency: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let mut ratios = Vec::with_capacity(rounds);
    let mut cpu_per_join = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        let (ratio, cpu) = one_round(bin, mode, joins, concurrency).await?;
        ratios.push(ratio);
        cpu_per_join.extend(cpu);
        if rounds > 1 {
            println!();
        }
    }
    if rounds > 1 {
        // Sorted: the lowest and highest are at the ends.
        ratios.sort_by(f64::total_cmp);
        cpu_per_join.sort_by(f64::total_cmp);
        println!(
            "ratio fila/baseline joins/s over {rounds} rounds: median {:.2}, lowest {:.2}, \
             highest {:.2}; at least 0.5 in {} of {rounds}",
            median(&ratios),
            ratios[0],
            ratios[ratios.len() - 1],
            ratios.iter().filter(|r| **r >= 0.5).count()
        );
        if let (Some(lowest), Some(highest)) = (cpu_per_join.first(), cpu_per_join.last()) {
            println!(
                "fila server CPU per join over {} rounds: median {:.0} µs, lowest {lowest:.0}, \
                 highest {highest:.0}",
                cpu_per_join.len(),
                median(&cpu_per_join),
            );
        }
    }
    Ok(())
}

/// One burst against a fresh deployment, then one against the baseline, with the full
/// report. Returns the ratio of joins/s and Fila's CPU per join in µs (where measured).
async fn one_round(
    bin: &Path,
    mode: &Mode,
    joins: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let fila = Deployment::start(bin, mode).await?;
    let outcome = join_burst_fila(&fila, joins, concurrency).await;
    let outcome = fila.finish_with(outcome).await?;

    let base = BaselineProcess::start().await?;
    let (own_before, base_before) = (cpu_secs("self"), base.cpu_secs());
    let base_run = burst(vec![base.join_url()], joins, concurrency).await;
    let base_clients_cpu = since(cpu_secs("self"), own_before);
    let base_cpu = since(base.cpu_secs(), base_before);
    base.stop().await;

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
    let ratio = rate(fila_run) / rate(&base_run);
    println!("ratio fila/baseline joins/s: {ratio:.2}");
    if let Some((seq, took)) = outcome.converged {
        println!(
            "distributed: every instance at log seq {seq} {} ms after the burst; append \
             conflicts per instance: {} (not sent: {}); state copies: {}",
            took.as_millis(),
            show_counts(&outcome.conflicts),
            show_counts(&outcome.skipped),
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
    if let (Some(clients), Some(base_clients), Some(base)) =
        (outcome.clients_cpu, base_clients_cpu, base_cpu)
    {
        println!(
            "clients' CPU during the burst: {:.0} µs per join; baseline-http: server {:.0} \
             and clients {:.0} µs per request",
            per_join(clients),
            per_join(base),
            per_join(base_clients)
        );
    }
    if let Some((commits, commands)) = outcome.commits {
        println!(
            "SQLite transactions during the burst: {commits}, {:.1} commands per transaction",
            commands as f64 / commits.max(1) as f64
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
        let all = h.cpu.unwrap_or(0.0) + h.services_cpu.iter().map(|(_, c)| c).sum::<f64>();
        println!(
            "history: in MySQL {} ms after the burst, in {} transactions per instance ({} \
             entries taken from its writers' memory); CPU from the burst's start until then: \
             fila {}, {}; together {:.0} µs per join",
            h.after.as_millis(),
            show_counts(&h.writes),
            show_counts(&h.handed_over),
            h.cpu.map_or("?".to_owned(), |c| format!("{c:.2} s")),
            h.services_cpu
                .iter()
                .map(|(name, c)| format!("{name} {c:.2} s"))
                .collect::<Vec<_>>()
                .join(", "),
            per_join(all)
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
    Ok((ratio, outcome.server_cpu.map(per_join)))
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
    // CPU seconds used so far: the Fila instances together, each local service, this process.
    let fila_cpu = || fila.cpu_secs();
    let services = fila.service_pids();
    let services_now = || -> Vec<Option<f64>> {
        services
            .iter()
            .map(|(_, pid)| cpu_secs(&pid.to_string()))
            .collect()
    };
    // Embedded mode: the writer's counters (the demo's setup committed some already).
    let writer_counts = || async {
        let commits = fila.counts(metrics::WRITER_COMMITS).await;
        let commands = fila.counts(metrics::WRITER_COMMANDS).await;
        commits
            .first()
            .copied()
            .flatten()
            .zip(commands.first().copied().flatten())
    };
    let writer_before = writer_counts().await;
    let (fila_before, services_before, own_before) = (fila_cpu(), services_now(), cpu_secs("self"));
    let run = burst(urls, joins, concurrency).await;
    let burst_end = Instant::now();
    let clients_cpu = since(cpu_secs("self"), own_before);
    let server_cpu = since(fila_cpu(), fila_before);
    // Each service's CPU since the burst started.
    let services_spent = || -> Vec<(&'static str, f64)> {
        services
            .iter()
            .zip(services_now().into_iter().zip(&services_before))
            .filter_map(|((name, _), (now, before))| Some((*name, since(now, *before)?)))
            .collect()
    };
    let services_cpu = services_spent();
    let commits = match (writer_before, writer_counts().await) {
        (Some((c0, n0)), Some((c1, n1))) => Some((c1 - c0, n1 - n0)),
        _ => None,
    };
    let converged = fila.converge().await?;
    let history = match converged {
        Some((seq, _)) => {
            // Every entry projected once (a retry may count one twice: at least `seq`).
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let projected: u64 = fila.counts(metrics::PROJECTED).await.iter().flatten().sum();
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
                writes: fila.counts(metrics::HISTORY_WRITES).await,
                handed_over: fila.counts(metrics::HANDED_OVER).await,
                cpu: since(fila_cpu(), fila_before),
                services_cpu: services_spent(),
            })
        }
        None => None,
    };
    let (conflicts, skipped, state_copies) = if fila.is_distributed() {
        (
            fila.counts(metrics::APPEND_CONFLICTS).await,
            fila.counts(metrics::APPENDS_SKIPPED).await,
            fila.counts(metrics::STATE_COPIES).await,
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
        skipped,
        state_copies,
        redis_persistence: fila.redis_persistence().map(str::to_owned),
        server_cpu,
        services_cpu,
        clients_cpu,
        history,
        commits,
    })
}
