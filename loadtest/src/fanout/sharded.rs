//! The fan-out past 19,500 watchers (or with `--client-shards S`): the client sockets in
//! client shard processes (see [`crate::shard`]), Fila's watchers and the baseline's each
//! spread over as many server processes as Fila has instances, with arrival times taken on
//! the shards' shared clock.

use super::{BaselineRun, Outcome, check_positions, finish, memory, timed_since};
use crate::baseline::BaselineProcess;
use crate::deploy::Deployment;
use crate::latency::Calls;
use crate::procfs::since;
use crate::shard::{self, ShardWatcher, Shards, Side, WallClock, latencies_from_unix_ns};
use crate::watchers::{Bar, rss_per_instance};
use anyhow::bail;
use std::time::Instant;

/// [`run_fila`](super::run_fila) with the client sockets in the client shards: the same
/// steps, except that each watcher also connects from a source address of its own (see
/// [`shard::source_addr`]) and that the call times are this process's, converted to the
/// shards' shared clock.
pub(super) async fn run_fila_sharded(
    fila: &Deployment,
    watchers: usize,
    calls: usize,
    shards: &mut Shards,
) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    let bar = Bar::join_with(
        fila,
        calls,
        watchers,
        shard::SETUP_JOINS_IN_FLIGHT,
        shard::SETUP_JOIN_TIME,
    )
    .await?;
    let joined = t0.elapsed();
    let converged = fila.converge().await?;
    eprintln!(
        "fan-out: {} tickets joined in {:.0} s ({:.0}/s), every instance agrees {:.0} s later",
        calls + watchers,
        joined.as_secs_f64(),
        (calls + watchers) as f64 / joined.as_secs_f64().max(1e-3),
        (t0.elapsed() - joined).as_secs_f64()
    );
    let list = (0..watchers)
        .map(|i| ShardWatcher {
            url: bar.live_url(fila.base(i), i),
            expect: Some(bar.position(i, 0)),
            source: Some(shard::source_addr(Side::Fila, i)),
        })
        .collect();
    let rss_before = rss_per_instance(fila);
    let t0 = Instant::now();
    shards.connect(list).await?;
    eprintln!(
        "fan-out: {watchers} watchers connected to fila through {} client processes, {:.0} s",
        shards.count(),
        t0.elapsed().as_secs_f64()
    );
    let memory = memory(rss_before, rss_per_instance(fila), watchers);
    let clock = WallClock::new();
    let timed_before = fila.first_instance_timings().await;
    let cpu_before = fila.cpu_secs();
    let mut sent = Calls::default();
    for k in 1..=calls {
        sent.call(&bar).await?;
        shards.wait_updates(k).await?;
    }
    let calls_cpu = since(fila.cpu_secs(), cpu_before);
    let timed = timed_since(timed_before, fila.first_instance_timings().await);
    eprintln!(
        "fan-out: {calls} calls heard by every fila watcher, {:.0} s",
        clock_elapsed(&sent.starts)
    );
    clock.check_unstepped()?;
    let report = shards.report().await?;
    shards.close().await?;
    let starts: Vec<u64> = sent.starts.iter().map(|t| clock.unix_ns(*t)).collect();
    let (positions, arrivals): (Vec<_>, Vec<_>) =
        report.into_iter().map(|r| (r.position, r.at)).unzip();
    let latencies = latencies_from_unix_ns(&starts, &arrivals);
    if positions.len() != watchers {
        bail!("{} watchers reported, {watchers} expected", positions.len());
    }
    let n = fila.instances().len();
    check_positions(&positions, |i| bar.position(i, calls), n)?;
    finish(fila, latencies, memory, converged, (calls_cpu, sent, timed)).await
}

/// Seconds since the first call.
fn clock_elapsed(starts: &[Instant]) -> f64 {
    starts.first().map_or(0.0, |t| t.elapsed().as_secs_f64())
}

/// The baseline spread like Fila: `processes` baseline servers (one per Fila instance),
/// watcher i on server i % P, held by the same client shards. A "call" writes one line to
/// each server's stdin, one after the other, timed from before the first write: what makes
/// Fila's instances hear of a call (Redis pub/sub from instance 1) is part of Fila's figure,
/// and a pipe write per process (a few µs) is the baseline's cheapest equivalent.
pub(super) async fn baseline_sharded(
    shards: &mut Shards,
    processes: usize,
    watchers: usize,
    calls: usize,
) -> anyhow::Result<BaselineRun> {
    let mut bases = Vec::with_capacity(processes);
    for _ in 0..processes {
        // Those already started are killed on drop if this fails.
        bases.push(BaselineProcess::start().await?);
    }
    let run = baseline_sharded_run(shards, &mut bases, watchers, calls).await;
    for b in bases {
        b.stop().await;
    }
    run
}

async fn baseline_sharded_run(
    shards: &mut Shards,
    bases: &mut [BaselineProcess],
    watchers: usize,
    calls: usize,
) -> anyhow::Result<BaselineRun> {
    let rss = |bases: &[BaselineProcess]| bases.iter().map(|b| b.rss_kib()).sum::<Option<u64>>();
    let before = rss(bases);
    let list = (0..watchers)
        .map(|i| ShardWatcher {
            url: format!("ws://{}/ws", bases[i % bases.len()].addr),
            expect: None,
            source: Some(shard::source_addr(Side::Baseline, i)),
        })
        .collect();
    let t0 = Instant::now();
    shards.connect(list).await?;
    eprintln!(
        "fan-out: {watchers} watchers connected to {} baseline processes, {:.0} s",
        bases.len(),
        t0.elapsed().as_secs_f64()
    );
    let after = rss(bases);
    let cpu = |bases: &[BaselineProcess]| bases.iter().map(|b| b.cpu_secs()).sum::<Option<f64>>();
    let cpu_before = cpu(bases);
    let clock = WallClock::new();
    let mut starts = Vec::with_capacity(calls);
    for k in 1..=calls {
        starts.push(Instant::now());
        for b in bases.iter_mut() {
            b.broadcast().await?;
        }
        shards.wait_updates(k).await?;
    }
    let cpu = since(cpu(bases), cpu_before);
    eprintln!(
        "fan-out: {calls} broadcasts heard by every baseline watcher, {:.0} s",
        clock_elapsed(&starts)
    );
    clock.check_unstepped()?;
    let report = shards.report().await?;
    shards.close().await?;
    let starts: Vec<u64> = starts.iter().map(|t| clock.unix_ns(*t)).collect();
    let arrivals: Vec<Vec<u64>> = report.into_iter().map(|r| r.at).collect();
    Ok((
        latencies_from_unix_ns(&starts, &arrivals),
        before.zip(after),
        cpu,
    ))
}
