//! The fan-out scenario: how long until every watcher holds its new position after a call.

use crate::baseline;
use crate::deploy::{Deployment, Mode, rss_kib};
use crate::show_counts;
use crate::watchers::{
    Bar, LATENCY_HEADER, Latencies, Watcher, Watchers, call_and_wait, ratio, rss_per_instance,
};
use anyhow::bail;
use std::path::Path;
use std::time::{Duration, Instant};

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

/// The baseline: N sockets held by a minimal axum server in this process; each "call"
/// broadcasts one pre-serialized frame of a ticket update's size.
async fn baseline(
    watchers: usize,
    calls: usize,
) -> anyhow::Result<(Latencies, Option<(u64, u64)>)> {
    let (app, tx) = baseline::ws_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let before = rss_kib("self");
    let list = (0..watchers)
        .map(|_| Watcher {
            url: format!("ws://{addr}/ws"),
            expect: None,
            stalled: false,
        })
        .collect();
    let seen = Watchers::connect(list).await?;
    let after = rss_kib("self");
    let mut starts = Vec::with_capacity(calls);
    for k in 1..=calls {
        starts.push(Instant::now());
        let _ = tx.send(baseline::UPDATE_FRAME.into());
        seen.wait_updates(k * watchers).await?;
    }
    Ok((seen.latencies(&starts, |_| true).await, before.zip(after)))
}
