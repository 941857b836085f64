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
//!   watchers need `--instances 3`, 100,000 `--instances 6`. `--interleave` (up to 9,750
//!   watchers) keeps both servers up and takes turns call by call, so that a noisy minute on
//!   a shared machine falls on both sides.
//! - `memory`: N idle watchers; each instance's RSS growth per watcher, against the same
//!   sockets held by that axum server in a process of its own.
//! - `slow-consumers`: fan-out where some watchers stop reading after their snapshot; the
//!   healthy ones' latency against an all-healthy run, and the server's RSS around the calls
//!   (`--interleave`: both runs' deployments up at once, taking turns call by call).
//! - `cross-instance` (2+ instances): watchers on instances 2..N, calls on instance 1, against
//!   everything on instance 1; and a Redis round trip.
//! - `reconnect-storm` (2+ instances): the instance holding every watcher is killed; the time
//!   until all of them are back, elsewhere, at their exact position; then one more call.

use anyhow::bail;
use clap::{Parser, Subcommand};
use mode::Mode;
use std::path::PathBuf;
use std::time::Duration;

mod baseline;
mod chart;
mod cross;
mod deploy;
mod fanout;
mod joins;
mod latency;
mod memory;
mod metrics;
mod mode;
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
        /// Repeat the burst and its baseline R times (a fresh deployment each time) and print
        /// the median ratio with its range: one run on a noisy machine decides nothing.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
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
        /// Start the baseline with Fila and take turns: a call on Fila, a broadcast on the
        /// baseline, each heard by every watcher before the next. Both sides are then timed
        /// over the same minutes of a noisy machine. Client sockets in this process only (it
        /// holds both sides': up to 9,750 watchers).
        #[arg(long)]
        interleave: bool,
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
        /// 300 by default: enough updates to fill a stalled phone's buffers, its own and the
        /// server's kernel send queue, so that the server meets the backpressure this scenario
        /// is about (30 updates fit in the phone's receive buffer alone).
        #[arg(long, default_value_t = 300)]
        calls: usize,
        /// Share of the watchers that stop reading after their snapshot.
        #[arg(long, default_value_t = 10)]
        slow_percent: usize,
        /// Both runs' deployments up at once, taking turns call by call (all healthy, with
        /// stalled watchers, ...), so that both are timed over the same minutes.
        #[arg(long)]
        interleave: bool,
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
    /// Internal: the baseline server (baseline-ws and baseline-http), in a process of its own.
    #[command(hide = true)]
    ServeBaseline,
    /// Internal: a fan-out client shard, driven by the harness through stdin and stdout.
    #[command(hide = true)]
    ClientShard,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.scenario {
        Scenario::ServeBaseline => return baseline::serve_child().await,
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
        Scenario::JoinBurst {
            joins,
            concurrency,
            rounds,
        } => {
            if joins == 0 || joins > 1_000_000 || concurrency == 0 || concurrency > 4096 {
                bail!("joins must be 1..=1000000 and concurrency 1..=4096");
            }
            if rounds == 0 || rounds > 20 {
                bail!("rounds must be 1..=20");
            }
            joins::join_burst(&cli.fila, mode, joins, concurrency, rounds).await
        }
        Scenario::FanOut {
            watchers,
            calls,
            client_shards,
            interleave,
            ref record,
        } => {
            if calls == 0 || calls > 1_000 {
                bail!("calls must be 1..=1000");
            }
            let shards = shard::plan(watchers, client_shards, MAX_FANOUT_WATCHERS);
            // The most sockets any one process holds (client, Fila instance or baseline): each
            // inherits this process's open-files limit.
            let most = fanout::check_size(watchers, shards, mode.instances(), MAX_FANOUT_WATCHERS)?;
            let most = if interleave {
                fanout::check_interleave(watchers, shards, MAX_FANOUT_WATCHERS)?
            } else {
                most
            };
            watchers::check_fd_limit(most)?;
            if let Some(path) = record {
                record::check_writable(path)?;
            }
            fanout::run(
                &cli.fila,
                mode,
                watchers,
                calls,
                shards,
                interleave,
                record.as_deref(),
            )
            .await
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
            interleave,
        } => {
            check_watchers(watchers, calls)?;
            if interleave {
                // Both runs' client sockets are in this process at once.
                if 2 * watchers > watchers::MAX_WATCHERS {
                    bail!(
                        "--interleave holds both runs' sockets in this process: watchers must \
                         be 1..={}",
                        watchers::MAX_WATCHERS / 2
                    );
                }
                watchers::check_fd_limit(2 * watchers)?;
            }
            if !(1..=50).contains(&slow_percent) {
                bail!("slow-percent must be 1..=50");
            }
            slow::run(&cli.fila, mode, watchers, calls, slow_percent, interleave).await
        }
        Scenario::CrossInstance { watchers, calls } => {
            check_watchers(watchers, calls)?;
            cross::run(&cli.fila, mode, watchers, calls).await
        }
        Scenario::ReconnectStorm { watchers } => {
            check_watchers(watchers, 1)?;
            storm::run(&cli.fila, mode, watchers).await
        }
        Scenario::ServeBaseline | Scenario::ClientShard | Scenario::Chart { .. } => {
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

pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The middle of `v` (the mean of the two middle values for an even count); `v` not empty.
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `3, 0, 5` (or `?` where an instance did not report).
pub(crate) fn show_counts(v: &[Option<u64>]) -> String {
    v.iter()
        .map(|c| c.map_or("?".to_owned(), |c| c.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts_in_any_order() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[1.0, 4.0]), 2.5);
        assert_eq!(median(&[0.61, 0.44, 0.52]), 0.52);
        assert_eq!(median(&[0.4, 0.6, 0.5, 0.3]), 0.45);
    }
}
