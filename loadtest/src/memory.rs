//! The memory scenario: what an idle ticket watcher costs a Fila instance, in resident memory,
//! next to the same sockets held by the minimal axum baseline in a process of its own.

use crate::baseline::BaselineProcess;
use crate::deploy::Deployment;
use crate::mode::Mode;
use crate::watchers::{Bar, Watcher, Watchers, kib, met, rss_per_instance};
use anyhow::bail;
use std::path::Path;
use std::time::Duration;

/// Targets from the issue: per idle watcher, and against the baseline's per-socket figure.
const TARGET_KIB: f64 = 16.0;
const TARGET_RATIO: f64 = 1.25;
/// Pause after the last snapshot before RSS is read, so in-flight work has finished.
const SETTLE: Duration = Duration::from_secs(1);

/// One server process's RSS (KiB) as the watchers connect, in two halves, and its share.
struct Growth {
    /// Its watchers in the first half and in the second.
    first: usize,
    second: usize,
    before: Option<u64>,
    /// With the first half connected.
    half: Option<u64>,
    /// With every watcher connected.
    all: Option<u64>,
    /// After holding them idle.
    held: Option<u64>,
}

fn per(from: Option<u64>, to: Option<u64>, watchers: usize) -> Option<f64> {
    let (a, b) = (from?, to?);
    (watchers > 0).then(|| b.saturating_sub(a) as f64 / watchers as f64)
}

impl Growth {
    /// Per watcher, from before the first one to after the hold. Includes the process's fixed
    /// costs and, on Fila's side, memory that the setup (joins, log) freed and sockets reused.
    fn overall(&self) -> Option<f64> {
        per(self.before, self.held, self.first + self.second)
    }

    /// Per watcher of the second half only: what one more watcher costs once fixed costs are
    /// paid and freed memory is used up. The like-for-like figure between processes.
    fn marginal(&self) -> Option<f64> {
        per(self.half, self.all, self.second)
    }

    fn show(v: Option<f64>) -> String {
        v.map_or("?".to_owned(), |k| format!("{k:.1}"))
    }
}

/// The largest of some figures (`None` if there are none).
fn worst(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    v.flatten().reduce(f64::max)
}

pub async fn run(bin: &Path, mode: &Mode, watchers: usize, hold: Duration) -> anyhow::Result<()> {
    let fila = Deployment::start(bin, mode).await?;
    let outcome = run_fila(&fila, watchers, hold).await;
    let fila_growth = fila.finish_with(outcome).await?;
    let base = BaselineProcess::start().await?;
    let base_growth = run_baseline(&base, watchers, hold).await;
    base.stop().await;
    let base_growth = base_growth?;

    let h = hold.as_secs();
    println!(
        "memory: {watchers} idle ticket watchers, connected in two halves, {}, one machine; \
         held {h} s",
        mode.describe()
    );
    println!(
        "| run | instance | watchers | RSS before KiB | half connected KiB | all connected KiB \
         | after {h} s KiB | KiB per watcher | KiB per watcher, second half |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let rows = fila_growth
        .iter()
        .enumerate()
        .map(|(i, g)| (mode.row(""), (i + 1).to_string(), g))
        .chain([(
            "baseline-ws (own process)".to_owned(),
            "-".to_owned(),
            &base_growth,
        )]);
    for (name, instance, g) in rows {
        println!(
            "| {name} | {instance} | {} | {} | {} | {} | {} | {} | {} |",
            g.first + g.second,
            kib(g.before),
            kib(g.half),
            kib(g.all),
            kib(g.held),
            Growth::show(g.overall()),
            Growth::show(g.marginal()),
        );
    }
    let fila_worst = worst(fila_growth.iter().flat_map(|g| [g.overall(), g.marginal()]));
    let fila_marginal = worst(fila_growth.iter().map(Growth::marginal));
    match (fila_worst, fila_marginal, base_growth.marginal()) {
        (Some(w), Some(m), Some(b)) => {
            let r = m / b.max(1e-9);
            println!(
                "worst figure of any instance: {w:.1} KiB per idle watcher (target <= \
                 {TARGET_KIB}: {}); second half, worst instance against baseline-ws: {m:.1} / \
                 {b:.1} KiB = {r:.2} (target <= {TARGET_RATIO}: {})",
                met(w <= TARGET_KIB),
                met(r <= TARGET_RATIO)
            );
        }
        _ => println!("RSS could not be read (no /proc?): no per-watcher figure"),
    }
    println!(
        "correctness: every watcher got its exact position in its snapshot and was still \
         connected after {h} s"
    );
    Ok(())
}

/// Connect `list` in two halves, reading `rss()` (one figure per server process) before,
/// between and after, and again after `hold`; every watcher must still be connected then.
async fn measure(
    mut list: Vec<Watcher>,
    rss: impl Fn() -> Vec<Option<u64>>,
    hold: Duration,
) -> anyhow::Result<[Vec<Option<u64>>; 4]> {
    let second = list.split_off(list.len() / 2);
    tokio::time::sleep(SETTLE).await;
    let before = rss();
    let a = Watchers::connect(list).await?;
    tokio::time::sleep(SETTLE).await;
    let half = rss();
    let b = Watchers::connect(second).await?;
    tokio::time::sleep(SETTLE).await;
    let all = rss();
    tokio::time::sleep(hold).await;
    let held = rss();
    let dropped = a.ended(|_| true).await + b.ended(|_| true).await;
    if dropped > 0 {
        bail!("{dropped} idle watchers lost their connection");
    }
    Ok([before, half, all, held])
}

async fn run_fila(
    fila: &Deployment,
    watchers: usize,
    hold: Duration,
) -> anyhow::Result<Vec<Growth>> {
    let bar = Bar::join(fila, 0, watchers).await?;
    // Every instance must know every ticket before its watchers connect.
    fila.converge().await?;
    // Watcher i on instance i % N.
    let list = (0..watchers)
        .map(|i| Watcher {
            url: bar.live_url(fila.base(i), i),
            expect: Some(bar.position(i, 0)),
            stalled: false,
            source: None,
        })
        .collect();
    let [before, half, all, held] = measure(list, || rss_per_instance(fila), hold).await?;
    let n = fila.instances().len();
    // Watchers i < first_half are the first half; instance k has those with i % n == k.
    let first_half = watchers / 2;
    let share = |count: usize, k: usize| (count + n - 1 - k) / n;
    Ok((0..n)
        .map(|k| Growth {
            first: share(first_half, k),
            second: share(watchers, k) - share(first_half, k),
            before: before[k],
            half: half[k],
            all: all[k],
            held: held[k],
        })
        .collect())
}

async fn run_baseline(
    base: &BaselineProcess,
    watchers: usize,
    hold: Duration,
) -> anyhow::Result<Growth> {
    let list = (0..watchers)
        .map(|_| Watcher {
            url: format!("ws://{}/ws", base.addr),
            expect: None,
            stalled: false,
            source: None,
        })
        .collect();
    let [before, half, all, held] = measure(list, || vec![base.rss_kib()], hold).await?;
    Ok(Growth {
        first: watchers / 2,
        second: watchers - watchers / 2,
        before: before[0],
        half: half[0],
        all: all[0],
        held: held[0],
    })
}
