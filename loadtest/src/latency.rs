//! Timing the calls: when each call next was sent and answered, and the latencies the
//! watchers saw, as the scenarios print and record them.

use crate::watchers::{Bar, Watchers};
use crate::{ms, pct};
use std::time::{Duration, Instant};

/// When each call was sent, and how long its answer took: Fila answers a call once it is
/// durable and its events are handed to the sockets, so this is the part of a watcher's
/// latency that comes before the fan-out itself.
#[derive(Default)]
pub(crate) struct Calls {
    pub(crate) starts: Vec<Instant>,
    pub(crate) acks: Vec<Duration>,
}

impl Calls {
    /// Send one call next and time its answer.
    pub(crate) async fn call(&mut self, bar: &Bar) -> anyhow::Result<()> {
        let t0 = Instant::now();
        self.starts.push(t0);
        bar.call_next().await?;
        self.acks.push(t0.elapsed());
        Ok(())
    }

    /// `p50 / p99 / max` of the answers, in ms.
    pub(crate) fn acks_summary(&self) -> String {
        let mut a = self.acks.clone();
        a.sort();
        format!(
            "{} / {} / {}",
            ms(pct(&a, 0.50)),
            ms(pct(&a, 0.99)),
            ms(pct(&a, 1.0))
        )
    }
}

/// Call next `calls` times on instance 1; after each call, wait until `per_call` more updates
/// arrived.
pub(crate) async fn call_and_wait(
    bar: &Bar,
    watchers: &Watchers,
    calls: usize,
    per_call: usize,
) -> anyhow::Result<Calls> {
    let mut out = Calls::default();
    for k in 1..=calls {
        out.call(bar).await?;
        watchers.wait_updates(k * per_call).await?;
    }
    Ok(out)
}

/// `calls` calls on each of two sides taking turns, each call heard by every watcher before
/// the next: a, b, b, a, a, b, ... so that neither side always follows the other, and both
/// are timed over the same minutes of a noisy machine (`--interleave`).
pub(crate) async fn take_turns(
    calls: usize,
    mut a: impl AsyncFnMut(usize) -> anyhow::Result<()>,
    mut b: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for k in 1..=calls {
        if k % 2 == 1 {
            a(k).await?;
            b(k).await?;
        } else {
            b(k).await?;
            a(k).await?;
        }
    }
    Ok(())
}

pub(crate) struct Latencies {
    /// Every watcher's delay for every call.
    pub(crate) all: Vec<Duration>,
    /// Per call, the delay of the last watcher to hear of it.
    pub(crate) last: Vec<Duration>,
}

/// The header of the table [`Latencies::row`] fills.
pub(crate) const LATENCY_HEADER: &str = "| run | p50 ms | p99 ms | max ms | last watcher p50 ms | \
     last watcher max ms |\n|---|---|---|---|---|---|";

/// A run's figures in milliseconds, as [`Latencies::row`] prints them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) last_p50: f64,
    pub(crate) last_max: f64,
}

impl Latencies {
    pub(crate) fn p99(&self) -> Duration {
        pct(&self.all, 0.99)
    }

    pub(crate) fn summary(&self) -> Summary {
        let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        Summary {
            p50: ms(pct(&self.all, 0.50)),
            p99: ms(pct(&self.all, 0.99)),
            max: ms(pct(&self.all, 1.0)),
            last_p50: ms(pct(&self.last, 0.50)),
            last_max: ms(pct(&self.last, 1.0)),
        }
    }

    pub(crate) fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {} | {} | {} | {} | {} |",
            ms(pct(&self.all, 0.50)),
            ms(pct(&self.all, 0.99)),
            ms(pct(&self.all, 1.0)),
            ms(pct(&self.last, 0.50)),
            ms(pct(&self.last, 1.0)),
        )
    }
}

/// `a / b` for durations, with a guard against an empty baseline.
pub(crate) fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
