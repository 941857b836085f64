//! The fan-out scenario: how long until every watcher holds its new position after a call.
//!
//! Up to 19,500 watchers, the client sockets are this process's and the baseline is one
//! server process (as when the figures in docs/BENCHMARKS.md up to 19,000 were taken). Past
//! that, or with `--client-shards S`, the client sockets are spread over client shard
//! processes (see [`crate::shard`]), and the baseline over as many server processes as Fila
//! has instances, so that each side holds the same sockets in the same number of processes.
//!
//! Fila runs first and the baseline after it, unless `--interleave`: then both servers are up
//! at once and take turns call by call, so a noisy minute on a shared machine falls on both
//! sides, not on one (client sockets in this process only).

use crate::baseline::BaselineProcess;
use crate::deploy::Deployment;
use crate::latency::{Calls, LATENCY_HEADER, Latencies, call_and_wait, ratio, take_turns};
use crate::metrics::{APPEND_CONFLICTS, Timed};
use crate::mode::Mode;
use crate::procfs::since;
use crate::record;
use crate::shard::{self, Shards, Side};
use crate::show_counts;
use crate::watchers::{Bar, MAX_WATCHERS, Watcher, Watchers, rss_per_instance};
use anyhow::{Context, bail};
use std::path::Path;
use std::time::{Duration, Instant};

mod sharded;

/// Sockets an instance accepts beyond the watchers, when more watchers than Fila's default
/// `FILA_MAX_SOCKETS` are asked for (the harness raises the limit to fit them).
const SOCKET_SLACK: usize = 100;

/// Whether `watchers` fit: with `shards` = 0 (sockets in this process) up to `in_process_max`;
/// with client shards, at most [`shard::MAX_SHARD_WATCHERS`] sockets in any one process:
/// client shard, Fila instance (watcher i on instance i % N) or baseline process (as many as
/// instances). Returns that largest count of sockets in one process.
pub(crate) fn check_size(
    watchers: usize,
    shards: usize,
    instances: usize,
    in_process_max: usize,
) -> anyhow::Result<usize> {
    if watchers == 0 {
        bail!("watchers must be at least 1");
    }
    if shards == 0 {
        if watchers > in_process_max {
            bail!("watchers must be 1..={in_process_max} with the client sockets in this process");
        }
        return Ok(watchers);
    }
    let most = shard::MAX_SHARD_WATCHERS;
    if shards > shard::MAX_SHARDS || shards > watchers {
        bail!(
            "client shards must be 1..={} and at most one per watcher",
            shard::MAX_SHARDS
        );
    }
    if watchers.div_ceil(shards) > most {
        bail!(
            "{watchers} watchers need at least {} client shards of at most {most} sockets \
             (at most {} watchers in all)",
            watchers.div_ceil(most),
            shard::MAX_SHARDS * most
        );
    }
    if watchers.div_ceil(instances) > most {
        bail!(
            "{watchers} watchers need at least {} Fila instances of at most {most} sockets: \
             distributed mode with --instances {} (--mysql, --redis)",
            watchers.div_ceil(most),
            watchers.div_ceil(most)
        );
    }
    Ok(watchers.div_ceil(shards).max(watchers.div_ceil(instances)))
}

/// With `--interleave`, both sides' client sockets are in this process at once: `shards` must
/// be 0 and twice `watchers` at most `in_process_max`. Returns the sockets this process holds.
pub(crate) fn check_interleave(
    watchers: usize,
    shards: usize,
    in_process_max: usize,
) -> anyhow::Result<usize> {
    if shards != 0 {
        bail!("--interleave holds every client socket in this process: no client shards");
    }
    if 2 * watchers > in_process_max {
        bail!(
            "--interleave holds both sides' sockets in this process: watchers must be 1..={}",
            in_process_max / 2
        );
    }
    Ok(2 * watchers)
}

/// `shards`: 0 keeps the client sockets in this process (one baseline process); S ≥ 1 puts
/// them in S client shards and the baseline in as many processes as Fila has instances.
pub async fn run(
    bin: &Path,
    mode: &Mode,
    watchers: usize,
    calls: usize,
    shards: usize,
    interleave: bool,
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
    let base_processes = if shards == 0 { 1 } else { mode.instances() };
    let work = async {
        // Started first, so that a shard that cannot start fails the run before any setup.
        let mut clients = match shards {
            0 => None,
            s => Some(Shards::start(s).await?),
        };
        let fila = Deployment::start_with(bin, mode, &env).await?;
        let (outcome, base) = match clients.as_mut() {
            None => {
                // With `--interleave`, both servers up at once (killed on drop on failure).
                let mut both = match interleave {
                    true => Some(BaselineProcess::start().await?),
                    false => None,
                };
                let run = run_fila(&fila, watchers, calls, both.as_mut()).await;
                if let Some(b) = both {
                    b.stop().await;
                }
                let (outcome, base) = fila.finish_with(run).await?;
                let base = match base {
                    Some(taken) => taken,
                    None => baseline_in_process(watchers, calls).await?,
                };
                (outcome, base)
            }
            Some(c) => {
                let run = sharded::run_fila_sharded(&fila, watchers, calls, c).await;
                let outcome = fila.finish_with(run).await?;
                let base = sharded::baseline_sharded(c, base_processes, watchers, calls).await?;
                (outcome, base)
            }
        };
        if let Some(c) = clients {
            c.stop().await;
        }
        anyhow::Ok((outcome, base))
    };
    let (outcome, (base_lat, base_rss, base_cpu)) = if shards == 0 {
        work.await?
    } else {
        // On timeout the run is dropped, and with it the deployment, shards and baselines.
        tokio::time::timeout(shard::SHARDED_FANOUT_TIME, work)
            .await
            .with_context(|| {
                format!("the run took longer than {:?}", shard::SHARDED_FANOUT_TIME)
            })??
    };

    let fila_lat = &outcome.latencies;
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
    if interleave {
        println!(
            "clients: every socket in this process; baseline: one server process, all {watchers} \
             sockets, up with Fila's; calls interleaved (fila, baseline, baseline, fila, ...), \
             each heard by every watcher before the next"
        );
    } else if shards == 0 {
        println!(
            "clients: every socket in this process; baseline: one server process, all {watchers} \
             sockets"
        );
    } else {
        println!(
            "clients: {shards} client processes of ~{} sockets each, from {} loopback source \
             address(es) per side; baseline: {base_processes} server processes of ~{} sockets, \
             each told to broadcast through its stdin, one after the other, per call",
            watchers.div_ceil(shards),
            watchers.div_ceil(shard::PER_SOURCE_ADDR),
            watchers.div_ceil(base_processes),
        );
    }
    println!("{LATENCY_HEADER}");
    println!("{}", fila_lat.row(&mode.row("")));
    println!("{}", base_lat.row("baseline-ws"));
    println!(
        "ratio fila/baseline p99: {:.2}",
        ratio(fila_lat.p99(), base_lat.p99())
    );
    println!(
        "fila answered each call (applied, durable, handed to the sockets) in p50 / p99 / max \
         {} ms",
        outcome.calls.acks_summary()
    );
    if let Some(t) = outcome.timed {
        println!("of which, by instance 1's own clock: {}", t.describe());
    }
    if let (Some(f), Some(b)) = (outcome.calls_cpu, base_cpu) {
        // A figure that holds when latencies are noise: the work each call costs the servers.
        let per_call = |s: f64| s * 1e6 / calls.max(1) as f64;
        println!(
            "servers' CPU per call: fila {:.0} µs ({:.2} µs per watcher, all instances), \
             baseline-ws {:.0} µs ({:.2} µs per watcher)",
            per_call(f),
            per_call(f) / watchers.max(1) as f64,
            per_call(b),
            per_call(b) / watchers.max(1) as f64,
        );
    }
    let several = outcome.memory.len() > 1;
    for (i, m) in outcome.memory.iter().enumerate() {
        if let (Some(a), Some(b)) = (m.rss_before, m.rss_after) {
            let which = if several {
                format!(" (instance {}, {} watchers)", i + 1, m.watchers)
            } else {
                String::new()
            };
            println!(
                "fila server memory{which}: {:.1} KiB per connected watcher (RSS {a} -> {b} KiB; \
                 reads low where sockets reuse what the join setup freed: the memory scenario \
                 measures the cost of a watcher)",
                (b.saturating_sub(a)) as f64 / m.watchers.max(1) as f64
            );
        }
    }
    if let Some((a, b)) = base_rss {
        println!(
            "baseline server memory ({}): {:.1} KiB per socket (RSS {a} -> {b} KiB{})",
            if base_processes == 1 {
                "own process"
            } else {
                "own processes"
            },
            (b.saturating_sub(a)) as f64 / watchers as f64,
            if base_processes == 1 { "" } else { ", summed" }
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
            client_processes: shards.max(1),
            baseline_processes: base_processes,
            interleaved: interleave,
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
    /// CPU seconds the Fila instances used from the first call until every watcher heard
    /// the last one.
    calls_cpu: Option<f64>,
    calls: Calls,
    /// Instance 1's commits (embedded) or appends (distributed) during the calls.
    timed: Option<Timed>,
}

/// The Fila side of a run with the client sockets in this process. With `base`, the
/// baseline's watchers connect too and the calls are interleaved with its broadcasts, one
/// call each in turn, so that both sides are timed over the same stretch of the machine's
/// weather; the baseline's figures come back with Fila's.
async fn run_fila(
    fila: &Deployment,
    watchers: usize,
    calls: usize,
    base: Option<&mut BaselineProcess>,
) -> anyhow::Result<(Outcome, Option<BaselineRun>)> {
    // The first `calls` tickets will be called; the next `watchers` tickets are watched, so
    // every call moves every watcher up by exactly one.
    let bar = Bar::join(fila, calls, watchers).await?;
    // Every instance must know every ticket before its watchers connect.
    let converged = fila.converge().await?;
    // Watcher i connects to instance i % N, from a loopback address of its side's own: from
    // 127.0.0.1, the TIME_WAIT sockets of a few runs before used up its ephemeral ports.
    let list = (0..watchers)
        .map(|i| Watcher {
            url: bar.live_url(fila.base(i), i),
            expect: Some(bar.position(i, 0)),
            stalled: false,
            source: Some(shard::source_addr(Side::Fila, i)),
        })
        .collect();
    let rss_before = rss_per_instance(fila);
    let seen = Watchers::connect(list).await?;
    let memory = memory(rss_before, rss_per_instance(fila), watchers);
    let mut base = match base {
        Some(b) => Some(BaseSide::connect(b, watchers).await?),
        None => None,
    };
    let timed_before = fila.first_instance_timings().await;
    let cpu_before = fila.cpu_secs();
    let sent = match base.as_mut() {
        None => call_and_wait(&bar, &seen, calls, watchers).await?,
        Some(b) => {
            let mut sent = Calls::default();
            let fila_call = async |k| {
                sent.call(&bar).await?;
                seen.wait_updates(k * watchers).await
            };
            take_turns(calls, fila_call, async |k| b.call(k).await).await?;
            sent
        }
    };
    let calls_cpu = since(fila.cpu_secs(), cpu_before);
    let timed = timed_since(timed_before, fila.first_instance_timings().await);
    let latencies = seen.latencies(&sent.starts, |_| true).await;
    let n = fila.instances().len();
    check_positions(&seen.positions().await, |i| bar.position(i, calls), n)?;
    let base = match base {
        Some(b) => Some(b.finish().await),
        None => None,
    };
    let outcome = finish(fila, latencies, memory, converged, (calls_cpu, sent, timed)).await?;
    Ok((outcome, base))
}

fn timed_since(before: Option<Timed>, after: Option<Timed>) -> Option<Timed> {
    Some(after?.since(before?))
}

/// Each instance's memory around connecting its share of the watchers (i % N).
fn memory(before: Vec<Option<u64>>, after: Vec<Option<u64>>, watchers: usize) -> Vec<Memory> {
    let n = before.len().max(1);
    after
        .into_iter()
        .zip(before)
        .enumerate()
        .map(|(i, (after, before))| Memory {
            watchers: (watchers + n - 1 - i) / n,
            rss_before: before,
            rss_after: after,
        })
        .collect()
}

/// Correctness: watcher i (on instance i % `instances`) must be at `expected(i)` (it started
/// at position calls+i+1 and must now be at i+1).
fn check_positions(
    positions: &[Option<u64>],
    expected: impl Fn(usize) -> u64,
    instances: usize,
) -> anyhow::Result<()> {
    let wrong = positions
        .iter()
        .enumerate()
        .filter(|(i, p)| **p != Some(expected(*i)))
        .collect::<Vec<_>>();
    if let Some((i, p)) = wrong.first() {
        bail!(
            "{} of {} watchers not at their position; watcher {i} (instance {}) ended at \
             {p:?}, expected {}",
            wrong.len(),
            positions.len(),
            i % instances.max(1) + 1,
            expected(*i)
        );
    }
    Ok(())
}

async fn finish(
    fila: &Deployment,
    latencies: Latencies,
    memory: Vec<Memory>,
    converged: Option<(u64, Duration)>,
    (calls_cpu, calls, timed): (Option<f64>, Calls, Option<Timed>),
) -> anyhow::Result<Outcome> {
    let conflicts = if fila.is_distributed() {
        fila.counts(APPEND_CONFLICTS).await
    } else {
        Vec::new()
    };
    Ok(Outcome {
        latencies,
        memory,
        converged,
        conflicts,
        redis_persistence: fila.redis_persistence().map(str::to_owned),
        calls_cpu,
        calls,
        timed,
    })
}

/// The baseline's latencies, its server's RSS (summed over its processes) before and after
/// connecting, and the CPU seconds its servers used during the broadcasts.
type BaselineRun = (Latencies, Option<(u64, u64)>, Option<f64>);

/// The baseline: N sockets held by a minimal axum server in a process of its own; each
/// "call" broadcasts one pre-serialized frame of a ticket update's size (the harness tells it
/// to through a pipe).
async fn baseline_in_process(watchers: usize, calls: usize) -> anyhow::Result<BaselineRun> {
    let mut base = BaselineProcess::start().await?;
    let run = baseline(&mut base, watchers, calls).await;
    base.stop().await;
    run
}

async fn baseline(
    base: &mut BaselineProcess,
    watchers: usize,
    calls: usize,
) -> anyhow::Result<BaselineRun> {
    let mut side = BaseSide::connect(base, watchers).await?;
    for k in 1..=calls {
        side.call(k).await?;
    }
    Ok(side.finish().await)
}

/// The baseline server with its watchers connected (from this process), timing its calls.
struct BaseSide<'a> {
    process: &'a mut BaselineProcess,
    seen: Watchers,
    watchers: usize,
    rss: Option<(u64, u64)>,
    /// From the first call to the end (in an interleaved run, it idles during Fila's calls).
    cpu_before: Option<f64>,
    starts: Vec<Instant>,
}

impl<'a> BaseSide<'a> {
    async fn connect(process: &'a mut BaselineProcess, watchers: usize) -> anyhow::Result<Self> {
        let before = process.rss_kib();
        let list = (0..watchers)
            .map(|i| Watcher {
                url: format!("ws://{}/ws", process.addr),
                expect: None,
                stalled: false,
                source: Some(shard::source_addr(Side::Baseline, i)),
            })
            .collect();
        let seen = Watchers::connect(list).await?;
        let after = process.rss_kib();
        let cpu_before = process.cpu_secs();
        Ok(Self {
            process,
            seen,
            watchers,
            rss: before.zip(after),
            cpu_before,
            starts: Vec::new(),
        })
    }

    /// The `k`th broadcast (from 1), once every watcher heard it.
    async fn call(&mut self, k: usize) -> anyhow::Result<()> {
        self.starts.push(Instant::now());
        self.process.broadcast().await?;
        self.seen.wait_updates(k * self.watchers).await
    }

    async fn finish(self) -> BaselineRun {
        let cpu = since(self.process.cpu_secs(), self.cpu_before);
        (
            self.seen.latencies(&self.starts, |_| true).await,
            self.rss,
            cpu,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_holds_both_sides_in_this_process() {
        assert_eq!(check_interleave(1_000, 0, 19_500).unwrap(), 2_000);
        assert_eq!(check_interleave(9_750, 0, 19_500).unwrap(), 19_500);
        assert!(check_interleave(9_751, 0, 19_500).is_err());
        assert!(check_interleave(1_000, 2, 19_500).is_err());
    }

    #[test]
    fn sizes_that_fit_and_those_that_do_not() {
        let max = 19_500;
        assert_eq!(check_size(19_500, 0, 1, max).unwrap(), 19_500);
        assert!(check_size(19_501, 0, 3, max).is_err());
        assert!(check_size(0, 0, 1, max).is_err());
        // The sizes, with the default plan.
        let s = shard::plan(50_000, None, max);
        assert_eq!(check_size(50_000, s, 3, max).unwrap(), 16_667);
        let s = shard::plan(100_000, None, max);
        assert_eq!(check_size(100_000, s, 6, max).unwrap(), 16_667);
        // Too many for the instances: the error says how many are needed.
        let e = check_size(100_000, 6, 5, max).unwrap_err().to_string();
        assert!(e.contains("--instances 6"), "{e}");
        let e = check_size(30_000, 2, 1, max).unwrap_err().to_string();
        assert!(e.contains("--instances 2"), "{e}");
        // Forced shards at tiny N (the CI smoke run).
        assert_eq!(check_size(60, 2, 3, max).unwrap(), 30);
        assert!(check_size(60, 61, 3, max).is_err());
        assert!(check_size(60, shard::MAX_SHARDS + 1, 3, max).is_err());
        assert!(check_size(50_000, 2, 3, max).is_err());
    }

    #[test]
    fn positions_are_checked_one_by_one() {
        let expected = |i: usize| i as u64 + 1;
        check_positions(&[Some(1), Some(2), Some(3)], expected, 3).unwrap();
        let e = check_positions(&[Some(1), None, Some(4)], expected, 3)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("2 of 3 watchers"), "{e}");
        assert!(
            e.contains("watcher 1 (instance 2) ended at None, expected 2"),
            "{e}"
        );
    }
}
