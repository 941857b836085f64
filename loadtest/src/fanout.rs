//! The fan-out scenario: how long until every watcher holds its new position after a call.

use crate::baseline::BaselineProcess;
use crate::deploy::{Deployment, Mode};
use crate::record;
use crate::show_counts;
use crate::watchers::{
    Bar, LATENCY_HEADER, Latencies, MAX_WATCHERS, Watcher, Watchers, call_and_wait, ratio,
    rss_per_instance,
};
use anyhow::bail;
use std::path::Path;
use std::time::{Duration, Instant};

/// Sockets an instance accepts beyond the watchers, when more watchers than Fila's default
/// `FILA_MAX_SOCKETS` are asked for (the harness raises the limit to fit them).
const SOCKET_SLACK: usize = 100;

pub async fn run(
    bin: &Path,
    mode: &Mode,
    watchers: usize,
    calls: usize,
    record_to: Option<&Path>,
) -> anyhow::Result<()> {
    // Above Fila's default socket limit, raise it for this run (only then, so that every
    // other run measures the default configuration).
    let per_instance = watchers.div_ceil(mode.instances());
    let env = if per_instance > MAX_WATCHERS {
        vec![(
            "FILA_MAX_SOCKETS",
            (per_instance + SOCKET_SLACK).to_string(),
        )]
    } else {
        Vec::new()
    };
    let load_before = record::load_average();
    let fila = Deployment::start_with(bin, mode, &env).await?;
    // Explicit finally: the deployment is removed whether the run succeeded or not.
    let outcome = run_fila(&fila, watchers, calls).await;
    let cleanup = fila.finish().await;
    let outcome = outcome?;
    cleanup?;

    let fila_lat = &outcome.latencies;
    let mut base = BaselineProcess::start().await?;
    let base_run = baseline(&mut base, watchers, calls).await;
    base.stop().await;
    let (base_lat, base_rss) = base_run?;
    println!(
        "fan-out: {watchers} watchers of one queue, {calls} calls, {}, one machine",
        mode.describe()
    );
    if !env.is_empty() {
        println!(
            "FILA_MAX_SOCKETS raised to {} for this run",
            per_instance + SOCKET_SLACK
        );
    }
    println!("{LATENCY_HEADER}");
    println!("{}", fila_lat.row(&mode.row("")));
    println!("{}", base_lat.row("baseline-ws"));
    println!(
        "ratio fila/baseline p99: {:.2}",
        ratio(fila_lat.p99(), base_lat.p99())
    );
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
            "baseline server memory (own process): {:.1} KiB per socket (RSS {a} -> {b} KiB)",
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
    if let Some(path) = record_to {
        let run = record::FanOutRun {
            watchers,
            calls,
            mode: mode.clone(),
            fila_row: mode.row(""),
            fila: fila_lat.summary(),
            baseline: base_lat.summary(),
            load_before,
        };
        record::append(path, &run.to_json())?;
        println!("recorded in {}", path.display());
    }
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
    // The first `calls` tickets will be called; the next `watchers` tickets are watched, so
    // every call moves every watcher up by exactly one.
    let bar = Bar::join(fila, calls, watchers).await?;
    // Every instance must know every ticket before its watchers connect.
    let converged = fila.converge().await?;
    // Watcher i connects to instance i % N.
    let list = (0..watchers)
        .map(|i| Watcher {
            url: bar.live_url(fila.base(i), i),
            expect: Some(bar.position(i, 0)),
            stalled: false,
        })
        .collect();
    let n = fila.instances().len();
    let rss_before = rss_per_instance(fila);
    let seen = Watchers::connect(list).await?;
    let memory = rss_per_instance(fila)
        .into_iter()
        .zip(rss_before)
        .enumerate()
        .map(|(i, (after, before))| Memory {
            watchers: (watchers + n - 1 - i) / n,
            rss_before: before,
            rss_after: after,
        })
        .collect();
    let starts = call_and_wait(&bar, &seen, calls, watchers).await?;
    let latencies = seen.latencies(&starts, |_| true).await;
    // Correctness: watcher i started at position calls+i+1 and must now be at i+1.
    if let Some((i, p)) = seen
        .misplaced(|_| true, |i| bar.position(i, calls))
        .await
        .first()
    {
        bail!(
            "watcher {i} (instance {}) ended at {p:?}, expected {}",
            i % n + 1,
            bar.position(*i, calls)
        );
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

/// The baseline: N sockets held by a minimal axum server in a process of its own; each
/// "call" broadcasts one pre-serialized frame of a ticket update's size (the harness tells it
/// to through a pipe). Returns the latencies and the server's RSS before and after connecting.
async fn baseline(
    base: &mut BaselineProcess,
    watchers: usize,
    calls: usize,
) -> anyhow::Result<(Latencies, Option<(u64, u64)>)> {
    let before = base.rss_kib();
    let list = (0..watchers)
        .map(|_| Watcher {
            url: format!("ws://{}/ws", base.addr),
            expect: None,
            stalled: false,
        })
        .collect();
    let seen = Watchers::connect(list).await?;
    let after = base.rss_kib();
    let mut starts = Vec::with_capacity(calls);
    for k in 1..=calls {
        starts.push(Instant::now());
        base.broadcast().await?;
        seen.wait_updates(k * watchers).await?;
    }
    Ok((seen.latencies(&starts, |_| true).await, before.zip(after)))
}
