//! The slow-consumers scenario: fan-out where some phones stop reading their socket after the
//! snapshot (the TCP connection stays open, the app just never reads). The healthy watchers'
//! latency is compared with an all-healthy run of the same size in the same invocation, and
//! the server's memory is read before and after the calls: a ticket socket's task blocks on its
//! own send while the venue's event buffer is shared and fixed, and on lag it starts again from
//! a snapshot (`server/src/http/ws.rs`), so nothing should pile up per slow socket.

use crate::deploy::Deployment;
use crate::latency::{Calls, LATENCY_HEADER, Latencies, ratio, take_turns};
use crate::mode::Mode;
use crate::watchers::{Bar, Watcher, Watchers, kib, met, rss_per_instance};
use anyhow::bail;
use std::path::Path;
use std::time::{Duration, Instant};

/// Target from the issue: healthy p99 with slow consumers around, against all healthy.
const TARGET_RATIO: f64 = 1.1;
/// Longest wait for the stalled watchers, once they read again, to reach their position.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(20);
const SETTLE: Duration = Duration::from_secs(1);

/// Watcher `i` stalls: `percent` in every hundred, spread evenly (every 10th for 10 %).
fn stalls(i: usize, percent: usize) -> bool {
    i * percent % 100 < percent
}

struct Outcome {
    /// Of the watchers that read.
    latencies: Latencies,
    healthy: usize,
    stalled: usize,
    /// Per instance: RSS (KiB) with every watcher connected, before and after the calls.
    rss: Vec<(Option<u64>, Option<u64>)>,
    /// Per instance after the calls: what its kernel still holds for the phones.
    queued: Vec<Option<SendQueues>>,
    /// The stalled watchers once they read again: how many reached their exact position,
    /// how many had been closed by the server (a phone would reconnect), and how long it took.
    caught_up: usize,
    closed: usize,
    catch_up: Duration,
}

/// Bytes sent by one server but not yet acknowledged by the phones: data that the kernel
/// buffers outside the process's RSS (up to `net.ipv4.tcp_wmem` per socket) before the
/// server's own send blocks and its coalescing starts.
struct SendQueues {
    total: u64,
    sockets: usize,
    largest: u64,
}

/// The send queues of the established sockets on local port `port`, from `/proc/net/tcp`.
fn send_queues(port: u16) -> Option<SendQueues> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let mut q = SendQueues {
        total: 0,
        sockets: 0,
        largest: 0,
    };
    // `sl local_address rem_address st tx_queue:rx_queue …`, numbers in hex.
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(&"01"), Some(queues)) = (f.get(1), f.get(3), f.get(4)) else {
            continue;
        };
        let hex = |v: Option<&str>| v.and_then(|v| u64::from_str_radix(v, 16).ok());
        if hex(local.rsplit(':').next()) != Some(u64::from(port)) {
            continue;
        }
        let tx = hex(queues.split(':').next()).unwrap_or(0);
        if tx > 0 {
            q.total += tx;
            q.sockets += 1;
            q.largest = q.largest.max(tx);
        }
    }
    Some(q)
}

pub async fn run(
    bin: &Path,
    mode: &Mode,
    watchers: usize,
    calls: usize,
    percent: usize,
    interleave: bool,
) -> anyhow::Result<()> {
    let (healthy, slow) = if interleave {
        run_interleaved(bin, mode, watchers, calls, percent).await?
    } else {
        (
            run_once(bin, mode, watchers, calls, 0).await?,
            run_once(bin, mode, watchers, calls, percent).await?,
        )
    };

    println!(
        "slow consumers: {watchers} watchers of one queue, {calls} calls; in the second run \
         {} of them ({percent} %) stop reading after their snapshot; {}, one machine; a fresh \
         deployment per run{}",
        slow.stalled,
        mode.describe(),
        if interleave {
            ", both up at once, calls interleaved (all healthy, stalled, stalled, all healthy, \
             ...), each heard by every healthy watcher before the next"
        } else {
            ""
        }
    );
    let name = |o: &Outcome| {
        if o.stalled == 0 {
            mode.row("all healthy")
        } else {
            mode.row(&format!("{} stalled, {} healthy", o.stalled, o.healthy))
        }
    };
    println!("{LATENCY_HEADER}");
    for o in [&healthy, &slow] {
        println!("{}", o.latencies.row(&name(o)));
    }
    let r = ratio(slow.latencies.p99(), healthy.latencies.p99());
    println!(
        "ratio healthy p99 with stalled watchers / all healthy: {r:.2} (target <= \
         {TARGET_RATIO}: {})",
        met(r <= TARGET_RATIO)
    );
    println!(
        "| run | instance | RSS before calls KiB | RSS after calls KiB | growth KiB | kernel \
         send queues after calls: KiB, sockets, largest KiB |"
    );
    println!("|---|---|---|---|---|---|");
    for o in [&healthy, &slow] {
        for (i, ((a, b), q)) in o.rss.iter().zip(&o.queued).enumerate() {
            let growth = a
                .zip(*b)
                .map_or("?".to_owned(), |(a, b)| (b as i64 - a as i64).to_string());
            let queued = q.as_ref().map_or("?".to_owned(), |q| {
                format!(
                    "{:.1}, {}, {:.1}",
                    q.total as f64 / 1024.0,
                    q.sockets,
                    q.largest as f64 / 1024.0
                )
            });
            println!(
                "| {} | {} | {} | {} | {growth} | {queued} |",
                name(o),
                i + 1,
                kib(*a),
                kib(*b)
            );
        }
    }
    println!(
        "stalled watchers, reading again after the calls: {} of {} at their exact position \
         within {} ms; {} closed by the server",
        slow.caught_up,
        slow.stalled,
        slow.catch_up.as_millis(),
        slow.closed
    );
    println!(
        "correctness: in both runs every healthy watcher holds its exact position after \
         {calls} calls"
    );
    Ok(())
}

/// One run on a fresh deployment, removed afterwards whatever happened.
async fn run_once(
    bin: &Path,
    mode: &Mode,
    watchers: usize,
    calls: usize,
    percent: usize,
) -> anyhow::Result<Outcome> {
    let fila = Deployment::start(bin, mode).await?;
    let outcome = async {
        let mut side = Side::prepare(&fila, watchers, calls, percent).await?;
        for k in 1..=calls {
            side.call(k).await?;
        }
        side.finish(&fila).await
    }
    .await;
    fila.finish_with(outcome).await
}

/// Both runs at once on two fresh deployments, taking turns call by call, so that both are
/// timed over the same minutes of a noisy machine: `(all healthy, with stalled)`.
async fn run_interleaved(
    bin: &Path,
    mode: &Mode,
    watchers: usize,
    calls: usize,
    percent: usize,
) -> anyhow::Result<(Outcome, Outcome)> {
    let healthy = Deployment::start(bin, mode).await?;
    let slow = match Deployment::start(bin, mode).await {
        Ok(d) => d,
        Err(e) => return healthy.finish_with(Err(e)).await,
    };
    let both = async {
        let mut h = Side::prepare(&healthy, watchers, calls, 0).await?;
        let mut s = Side::prepare(&slow, watchers, calls, percent).await?;
        take_turns(calls, async |k| h.call(k).await, async |k| s.call(k).await).await?;
        anyhow::Ok((h.finish(&healthy).await?, s.finish(&slow).await?))
    }
    .await;
    let both = slow.finish_with(both).await;
    healthy.finish_with(both).await
}

/// One deployment's run: its watchers connected (some stalled), its calls timed.
struct Side {
    bar: Bar,
    seen: Watchers,
    calls: usize,
    percent: usize,
    n_healthy: usize,
    n_stalled: usize,
    /// Per instance, with every watcher connected and settled.
    before: Vec<Option<u64>>,
    sent: Calls,
}

impl Side {
    fn stalled(&self, i: usize) -> bool {
        stalls(i, self.percent)
    }

    async fn prepare(
        fila: &Deployment,
        watchers: usize,
        calls: usize,
        percent: usize,
    ) -> anyhow::Result<Self> {
        // The first `calls` tickets are called; every call moves every watcher up by one.
        let bar = Bar::join(fila, calls, watchers).await?;
        fila.converge().await?;
        // Watcher i on instance i % N, as in fan-out.
        let list = (0..watchers)
            .map(|i| Watcher {
                url: bar.live_url(fila.base(i), i),
                expect: Some(bar.position(i, 0)),
                stalled: stalls(i, percent),
                source: None,
            })
            .collect();
        let seen = Watchers::connect(list).await?;
        let n_stalled = (0..watchers).filter(|&i| stalls(i, percent)).count();
        tokio::time::sleep(SETTLE).await;
        Ok(Self {
            bar,
            seen,
            calls,
            percent,
            n_healthy: watchers - n_stalled,
            n_stalled,
            before: rss_per_instance(fila),
            sent: Calls::default(),
        })
    }

    /// The `k`th call next (from 1), once every healthy watcher heard of it (only they read).
    async fn call(&mut self, k: usize) -> anyhow::Result<()> {
        self.sent.call(&self.bar).await?;
        self.seen.wait_updates(k * self.n_healthy).await
    }

    /// Memory and send queues after the calls, every healthy watcher's position checked, then
    /// the stalled ones let read again.
    async fn finish(self, fila: &Deployment) -> anyhow::Result<Outcome> {
        let calls = self.calls;
        let healthy = |i: usize| !self.stalled(i);
        let latencies = self.seen.latencies(&self.sent.starts, healthy).await;
        tokio::time::sleep(SETTLE).await;
        let after = rss_per_instance(fila);
        let queued = fila
            .instances()
            .iter()
            .map(|p| send_queues(p.base.rsplit(':').next()?.parse().ok()?))
            .collect();
        let n = fila.instances().len();
        let bar = &self.bar;
        if let Some((i, p)) = self
            .seen
            .misplaced(healthy, |i| bar.position(i, calls))
            .await
            .first()
        {
            bail!(
                "healthy watcher {i} (instance {}) ended at {p:?}, expected {}",
                i % n + 1,
                bar.position(*i, calls)
            );
        }

        // The stalled phones read again: each must reach its exact position (or have been
        // closed, after which the app would reconnect and get a snapshot).
        let resumed = Instant::now();
        self.seen.resume();
        let (caught_up, closed) = loop {
            let (mut caught_up, mut closed, mut pending) = (0, 0, None);
            for (i, s) in self
                .seen
                .seen
                .iter()
                .enumerate()
                .filter(|(i, _)| self.stalled(*i))
            {
                let s = s.lock().await;
                if s.last_position == Some(bar.position(i, calls)) {
                    caught_up += 1;
                } else if s.ended {
                    closed += 1;
                } else {
                    pending.get_or_insert((i, s.last_position));
                }
            }
            let Some((i, p)) = pending else {
                break (caught_up, closed);
            };
            if resumed.elapsed() > CATCH_UP_TIMEOUT {
                bail!(
                    "stalled watcher {i} (instance {}), reading again, still at {p:?} after \
                     {CATCH_UP_TIMEOUT:?}, expected {}",
                    i % n + 1,
                    bar.position(i, calls)
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        Ok(Outcome {
            latencies,
            healthy: self.n_healthy,
            stalled: self.n_stalled,
            rss: self.before.into_iter().zip(after).collect(),
            queued,
            caught_up,
            closed,
            catch_up: resumed.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::stalls;

    #[test]
    fn every_tenth_stalls_at_ten_percent_and_none_at_zero() {
        let count = |percent| (0..1_000).filter(|&i| stalls(i, percent)).count();
        assert_eq!(count(10), 100);
        assert!((0..1_000).step_by(10).all(|i| stalls(i, 10)));
        assert_eq!(count(0), 0);
        assert_eq!(count(50), 500);
    }
}
