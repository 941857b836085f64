//! Client shards: the fan-out's client sockets held by child processes of `fila-load`
//! (`fila-load client-shard`, hidden), so that N can go past what one process may open (20,000
//! files on the machines this was written for). The parent (the harness) starts the shards,
//! hands each a contiguous slice of the watchers, makes the calls, waits after each call until
//! every shard has heard its watchers' updates, and at the end collects when each update
//! arrived.
//!
//! The protocol is one JSON object a line: [`Command`]s on the child's stdin, one [`Reply`]
//! for each on its stdout (nothing else is written there; the child's stderr is the
//! harness's). The child exits when its stdin closes (the harness is gone), and in any case
//! after [`SHARDED_FANOUT_TIME`].
//!
//! Timing across processes. A call is timed in the parent, its arrivals in the shards, so the
//! two sides need one clock. Each process reads its timestamps as `Instant`s (the monotonic
//! clock, as the in-process path does), and converts them to nanoseconds since the Unix epoch
//! through one pair of readings `(Instant::now(), SystemTime::now())` taken when the process
//! starts ([`WallClock`]). On Linux, `SystemTime` is `CLOCK_REALTIME`, one kernel clock for
//! every process on the machine: it and the monotonic clock run at the same (NTP-adjusted)
//! rate, so their offset is constant unless the wall clock is *stepped* (settimeofday, an NTP
//! step). The conversion is therefore exact to within the time between the two readings
//! (well under a microsecond) in every process, and a step is caught: before reporting, each
//! process reads the pair again and refuses its figures if the offset moved by more than
//! [`MAX_CLOCK_STEP`]. (Sending raw monotonic readings would also work on Linux, but std
//! does not expose them without `unsafe`; the parent and the shards all run on this machine,
//! which is the premise of both.)

use crate::latency::Latencies;
use crate::watchers::{Watcher, Watchers};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Most watchers in one client shard: its sockets, plus stdin/stdout and the runtime's own
/// files, under the 20,000 open files a process may have here, with room to spare.
pub(crate) const MAX_SHARD_WATCHERS: usize = 18_000;
/// Most client shards (2 cores: a few processes are plenty; 8 × 18,000 = 144,000).
pub(crate) const MAX_SHARDS: usize = 8;
/// Sockets per source address: connect() slows down past ~14k connections from one address
/// to one destination, so each address carries far fewer (see `watchers::open_from`).
pub(crate) const PER_SOURCE_ADDR: usize = 4_000;
/// Joins in flight while setting up a sharded fan-out: its 50–100k tickets, at the 16 the
/// smaller runs use, took 84 s (50k) and over 300 s (100k, stopped) on this machine with
/// another engineer's build running; more in flight lets Fila batch more joins per append.
pub(crate) const SETUP_JOINS_IN_FLIGHT: usize = 64;
/// Bound on joining a sharded fan-out's tickets.
pub(crate) const SETUP_JOIN_TIME: Duration = Duration::from_secs(900);
/// No sharded fan-out (and no client shard) lasts longer than this: the worst case the other
/// bounds allow at 100,000 watchers is about joins ≤ 900 s, convergence ≤ 60 s, connecting
/// 2 × 100,000 sockets (~3–7k/s seen: under a minute) and 2 × 30 calls of at most 20 s each.
/// Runs take a few minutes, mostly joining; 30 minutes stops a stuck one.
pub(crate) const SHARDED_FANOUT_TIME: Duration = Duration::from_secs(1_800);
/// A larger move of the wall clock against the monotonic clock during a run voids it.
const MAX_CLOCK_STEP: Duration = Duration::from_millis(1);
/// Bound on connecting a shard's watchers (each socket is also bounded: 10 s).
const CONNECT_PHASE_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound on a shard's answer to anything but connect and wait.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which of the run's two sets of sockets an address is for: each set has addresses of its
/// own, so the baseline's sockets never wait for ports the Fila run's closed ones still hold
/// (`TIME_WAIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Fila = 0,
    Baseline = 1,
}

/// The source address of watcher `i`: 127.(77 + side).a.b, a new one every
/// [`PER_SOURCE_ADDR`] watchers (127.0.0.0/8 is all loopback on Linux, no setup needed). Away
/// from 127.0.0.1, which other programs on this machine use.
pub(crate) fn source_addr(side: Side, i: usize) -> Ipv4Addr {
    let k = i / PER_SOURCE_ADDR;
    // 250 × 250 addresses per side: far more than any allowed N needs.
    Ipv4Addr::new(
        127,
        77 + side as u8,
        (k / 250 % 250) as u8,
        (k % 250 + 1) as u8,
    )
}

/// How many client shards a run uses: `forced` if given (≥ 1), else none (0: the sockets stay
/// in the harness) up to `in_process_max` watchers, else as few as hold
/// [`MAX_SHARD_WATCHERS`] each.
pub(crate) fn plan(watchers: usize, forced: Option<usize>, in_process_max: usize) -> usize {
    match forced {
        Some(s) => s,
        None if watchers <= in_process_max => 0,
        None => watchers.div_ceil(MAX_SHARD_WATCHERS),
    }
}

/// Watchers `0..n` in `shards` contiguous slices whose sizes differ by at most one.
pub(crate) fn split(n: usize, shards: usize) -> Vec<Range<usize>> {
    let shards = shards.max(1);
    (0..shards)
        .map(|s| s * n / shards..(s + 1) * n / shards)
        .collect()
}

/// Converts this process's `Instant`s to nanoseconds since the Unix epoch (see the module
/// documentation for why that is sound across processes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallClock {
    instant: Instant,
    unix_ns: u64,
}

fn unix_ns_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl WallClock {
    pub(crate) fn new() -> Self {
        Self {
            instant: Instant::now(),
            unix_ns: unix_ns_now(),
        }
    }

    pub(crate) fn unix_ns(&self, t: Instant) -> u64 {
        match t.checked_duration_since(self.instant) {
            Some(after) => self.unix_ns + after.as_nanos() as u64,
            None => self.unix_ns - (self.instant - t).as_nanos() as u64,
        }
    }

    /// Fails if the wall clock moved against the monotonic clock since [`WallClock::new`].
    pub(crate) fn check_unstepped(&self) -> anyhow::Result<()> {
        let expected = self.unix_ns(Instant::now());
        let now = unix_ns_now();
        let step = now.abs_diff(expected);
        if step > MAX_CLOCK_STEP.as_nanos() as u64 {
            bail!(
                "the wall clock was stepped by {:.3} ms during the run: its cross-process \
                 timings are void, run it again",
                step as f64 / 1e6
            );
        }
        Ok(())
    }
}

/// Per-call and per-watcher delays from the calls' start times and each watcher's arrivals
/// (all in Unix nanoseconds; arrival `k` of a watcher answers call `k`).
pub(crate) fn latencies_from_unix_ns(starts: &[u64], arrivals: &[Vec<u64>]) -> Latencies {
    let mut all = Vec::with_capacity(arrivals.len() * starts.len());
    let mut last = vec![Duration::ZERO; starts.len()];
    for at in arrivals {
        for (k, t) in at.iter().enumerate().take(starts.len()) {
            let d = Duration::from_nanos(t.saturating_sub(starts[k]));
            all.push(d);
            last[k] = last[k].max(d);
        }
    }
    all.sort();
    last.sort();
    Latencies { all, last }
}

/// One watcher as a shard gets it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct ShardWatcher {
    pub(crate) url: String,
    pub(crate) expect: Option<u64>,
    pub(crate) source: Option<Ipv4Addr>,
}

/// What the harness asks of a shard.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Command {
    /// Open these sockets (closing any held), check each snapshot, then read on.
    Connect { watchers: Vec<ShardWatcher> },
    /// Answer once `updates` messages arrived in all, after the snapshots (bounded).
    Wait { updates: usize },
    /// When each watcher's messages arrived, and its last position.
    Report,
    /// Close every socket.
    Close,
}

/// What one watcher saw, for the report.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct WatcherReport {
    pub(crate) position: Option<u64>,
    /// When each message after the snapshot arrived, in Unix nanoseconds.
    pub(crate) at: Vec<u64>,
}

/// A shard's answer to one command.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub(crate) enum Reply {
    Connected { watchers: usize },
    Reached { updates: usize },
    Report { watchers: Vec<WatcherReport> },
    Closed,
    Error { message: String },
}

/// The child side (`fila-load client-shard`).
pub(crate) async fn serve_child() -> anyhow::Result<()> {
    let clock = WallClock::new();
    let deadline = tokio::time::Instant::now() + SHARDED_FANOUT_TIME;
    // A blocking read on a thread of its own (tokio's stdin is not among the features built).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut held: Option<Watchers> = None;
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        let reply = match serde_json::from_str::<Command>(&line) {
            Ok(cmd) => answer(cmd, &mut held, &clock)
                .await
                .unwrap_or_else(|e| Reply::Error {
                    message: format!("{e:#}"),
                }),
            Err(e) => Reply::Error {
                message: format!("not a command: {e}"),
            },
        };
        let mut text = serde_json::to_string(&reply)?;
        text.push('\n');
        // Blocking, but nothing else in this process runs while the harness waits for this.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

async fn answer(
    cmd: Command,
    held: &mut Option<Watchers>,
    clock: &WallClock,
) -> anyhow::Result<Reply> {
    match cmd {
        Command::Connect { watchers } => {
            *held = None;
            crate::watchers::check_fd_limit(watchers.len())?;
            let list = watchers
                .into_iter()
                .map(|w| Watcher {
                    url: w.url,
                    expect: w.expect,
                    stalled: false,
                    source: w.source,
                })
                .collect();
            let w = Watchers::connect_for(list, SHARDED_FANOUT_TIME).await?;
            let n = w.seen.len();
            *held = Some(w);
            Ok(Reply::Connected { watchers: n })
        }
        Command::Wait { updates } => {
            let w = held.as_ref().context("wait: no watchers connected")?;
            w.wait_updates(updates).await?;
            Ok(Reply::Reached {
                updates: w.updates(),
            })
        }
        Command::Report => {
            let w = held.as_ref().context("report: no watchers connected")?;
            clock.check_unstepped()?;
            let mut out = Vec::with_capacity(w.seen.len());
            for s in &w.seen {
                let s = s.lock().await;
                out.push(WatcherReport {
                    position: s.last_position,
                    at: s.at.iter().map(|t| clock.unix_ns(*t)).collect(),
                });
            }
            Ok(Reply::Report { watchers: out })
        }
        Command::Close => {
            *held = None;
            Ok(Reply::Closed)
        }
    }
}

/// One client shard, seen from the harness; killed on drop.
struct Shard {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
    /// The watchers it holds (global indices).
    range: Range<usize>,
}

impl Shard {
    async fn ask(&mut self, cmd: &Command, timeout: Duration) -> anyhow::Result<Reply> {
        let mut text = serde_json::to_string(cmd)?;
        text.push('\n');
        let exchange = async {
            self.stdin.write_all(text.as_bytes()).await?;
            self.stdin.flush().await?;
            let mut line = String::new();
            if self.stdout.read_line(&mut line).await? == 0 {
                bail!("it exited");
            }
            Ok(serde_json::from_str::<Reply>(&line)?)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(Reply::Error { message })) => bail!("{message}"),
            Ok(r) => r,
            Err(_) => bail!("no answer within {timeout:?}"),
        }
    }
}

/// The harness's client shards.
pub(crate) struct Shards {
    shards: Vec<Shard>,
    watchers: usize,
}

impl Shards {
    /// Start `count` client shards (idle until [`Shards::connect`]).
    pub(crate) async fn start(count: usize) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find fila-load's own binary")?;
        let mut shards = Vec::with_capacity(count);
        for _ in 0..count {
            let mut child = tokio::process::Command::new(&exe)
                .arg("client-shard")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("cannot start a client shard")?;
            let stdin = child.stdin.take().context("client shard stdin")?;
            let stdout = child.stdout.take().context("client shard stdout")?;
            shards.push(Shard {
                child,
                stdin,
                stdout: tokio::io::BufReader::new(stdout),
                range: 0..0,
            });
        }
        Ok(Self {
            shards,
            watchers: 0,
        })
    }

    pub(crate) fn count(&self) -> usize {
        self.shards.len()
    }

    /// Ask every shard at once; the first failure, naming its shard.
    async fn ask_all(
        &mut self,
        cmds: Vec<Command>,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Reply>> {
        let asks =
            self.shards
                .iter_mut()
                .zip(cmds)
                .enumerate()
                .map(|(s, (shard, cmd))| async move {
                    let range = shard.range.clone();
                    shard.ask(&cmd, timeout).await.with_context(|| {
                        format!(
                            "client shard {} of watchers {}..{}",
                            s + 1,
                            range.start,
                            range.end
                        )
                    })
                });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .collect()
    }

    /// Hand watcher `i` of `list` to the shard whose slice holds it (see [`split`]), and wait
    /// until every shard has connected its own and checked their snapshots.
    pub(crate) async fn connect(&mut self, list: Vec<ShardWatcher>) -> anyhow::Result<()> {
        let n = list.len();
        let ranges = split(n, self.shards.len());
        let mut list = list.into_iter();
        let mut cmds = Vec::with_capacity(ranges.len());
        for (shard, range) in self.shards.iter_mut().zip(&ranges) {
            shard.range = range.clone();
            cmds.push(Command::Connect {
                watchers: list.by_ref().take(range.len()).collect(),
            });
        }
        self.watchers = n;
        for (reply, range) in self
            .ask_all(cmds, CONNECT_PHASE_TIMEOUT)
            .await?
            .into_iter()
            .zip(ranges)
        {
            if reply
                != (Reply::Connected {
                    watchers: range.len(),
                })
            {
                bail!("a client shard answered {reply:?} to connect");
            }
        }
        Ok(())
    }

    /// Wait until every watcher has received `per_watcher` updates after its snapshot.
    pub(crate) async fn wait_updates(&mut self, per_watcher: usize) -> anyhow::Result<()> {
        let cmds = self
            .shards
            .iter()
            .map(|s| Command::Wait {
                updates: s.range.len() * per_watcher,
            })
            .collect();
        // Each shard bounds its own wait (PER_CALL_TIMEOUT); this one only covers a lost shard.
        self.ask_all(cmds, crate::watchers::PER_CALL_TIMEOUT + REPLY_TIMEOUT)
            .await?;
        Ok(())
    }

    /// Every watcher's report, in the order [`Shards::connect`] got them.
    pub(crate) async fn report(&mut self) -> anyhow::Result<Vec<WatcherReport>> {
        let cmds = self.shards.iter().map(|_| Command::Report).collect();
        let mut out = Vec::with_capacity(self.watchers);
        for (reply, shard) in self
            .ask_all(cmds, REPLY_TIMEOUT)
            .await?
            .into_iter()
            .zip(&self.shards)
        {
            match reply {
                Reply::Report { watchers } if watchers.len() == shard.range.len() => {
                    out.extend(watchers)
                }
                r => bail!("a client shard answered {r:?} to report"),
            }
        }
        Ok(out)
    }

    /// Close every socket the shards hold.
    pub(crate) async fn close(&mut self) -> anyhow::Result<()> {
        let cmds = self.shards.iter().map(|_| Command::Close).collect();
        self.ask_all(cmds, REPLY_TIMEOUT).await?;
        self.watchers = 0;
        Ok(())
    }

    /// Stop every shard.
    pub(crate) async fn stop(mut self) {
        for s in &mut self.shards {
            let _ = s.child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_every_watcher_once_evenly() {
        for (n, s) in [(100_000, 6), (50_000, 3), (60, 2), (7, 3), (3, 3), (1, 1)] {
            let r = split(n, s);
            assert_eq!(r.len(), s);
            assert_eq!(r[0].start, 0);
            assert_eq!(r[s - 1].end, n);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
            let (lo, hi) = (
                r.iter().map(|r| r.len()).min().unwrap(),
                r.iter().map(|r| r.len()).max().unwrap(),
            );
            assert!(hi - lo <= 1, "{n} over {s}: {r:?}");
        }
        assert_eq!(split(100_000, 6)[5].len(), 16_667);
    }

    #[test]
    fn plan_shards() {
        assert_eq!(plan(19_500, None, 19_500), 0);
        assert_eq!(plan(19_501, None, 19_500), 2);
        assert_eq!(plan(50_000, None, 19_500), 3);
        assert_eq!(plan(100_000, None, 19_500), 6);
        assert_eq!(plan(108_000, None, 19_500), 6);
        assert_eq!(plan(60, Some(2), 19_500), 2);
        for n in [19_501, 50_000, 100_000, 144_000] {
            let s = plan(n, None, 19_500);
            assert!(split(n, s).iter().all(|r| r.len() <= MAX_SHARD_WATCHERS));
        }
    }

    #[test]
    fn source_addresses_are_loopback_spread_and_per_side() {
        use std::collections::HashMap;
        for side in [Side::Fila, Side::Baseline] {
            let mut per: HashMap<Ipv4Addr, usize> = HashMap::new();
            for i in 0..144_000 {
                let a = source_addr(side, i);
                assert!(a.is_loopback() && a != Ipv4Addr::LOCALHOST, "{a}");
                assert_ne!(a.octets()[3], 0);
                *per.entry(a).or_default() += 1;
            }
            assert_eq!(per.len(), 36);
            assert!(per.values().all(|&n| n <= PER_SOURCE_ADDR));
        }
        assert_eq!(source_addr(Side::Fila, 0), Ipv4Addr::new(127, 77, 0, 1));
        assert_eq!(source_addr(Side::Fila, 3_999), Ipv4Addr::new(127, 77, 0, 1));
        assert_eq!(source_addr(Side::Fila, 4_000), Ipv4Addr::new(127, 77, 0, 2));
        assert_eq!(source_addr(Side::Baseline, 0), Ipv4Addr::new(127, 78, 0, 1));
        // Past 250 addresses the third octet moves on, the fourth never is 0.
        assert_eq!(
            source_addr(Side::Fila, 250 * PER_SOURCE_ADDR),
            Ipv4Addr::new(127, 77, 1, 1)
        );
    }

    #[test]
    fn wall_clock_keeps_monotonic_differences() {
        let c = WallClock::new();
        let t = Instant::now();
        let later = t + Duration::from_millis(5);
        assert_eq!(c.unix_ns(later) - c.unix_ns(t), 5_000_000);
        // Before the anchor too.
        if let Some(earlier) = c.instant.checked_sub(Duration::from_micros(3)) {
            assert_eq!(c.unix_ns(c.instant) - c.unix_ns(earlier), 3_000);
        }
        // Close to the wall clock now (a test machine's clock is not stepped mid-test).
        assert!(c.unix_ns(Instant::now()).abs_diff(unix_ns_now()) < 1_000_000);
        c.check_unstepped().unwrap();
        // A clock whose anchor is 5 ms off looks stepped.
        let off = WallClock {
            unix_ns: c.unix_ns - 5_000_000,
            ..c
        };
        let e = off.check_unstepped().unwrap_err();
        assert!(e.to_string().contains("stepped"), "{e}");
    }

    #[test]
    fn latencies_per_call_and_last_watcher() {
        let ms = |m: u64| m * 1_000_000;
        let starts = [ms(1_000), ms(2_000)];
        // Two watchers; the second heard call 1 at +30 ms and call 2 at +10 ms.
        let arrivals = vec![
            vec![ms(1_010), ms(2_005)],
            vec![ms(1_030), ms(2_010), ms(9_999)],
        ];
        let l = latencies_from_unix_ns(&starts, &arrivals);
        let d = Duration::from_millis;
        assert_eq!(l.all, vec![d(5), d(10), d(10), d(30)]);
        assert_eq!(l.last, vec![d(10), d(30)]);
        // An arrival stamped before its call (cannot happen unless clocks disagree) counts 0.
        let l = latencies_from_unix_ns(&[ms(5)], &[vec![ms(4)]]);
        assert_eq!(l.all, vec![Duration::ZERO]);
    }

    #[test]
    fn protocol_lines_round_trip() {
        let cmd = Command::Connect {
            watchers: vec![ShardWatcher {
                url: "ws://127.0.0.1:1/x".into(),
                expect: Some(3),
                source: Some(Ipv4Addr::new(127, 77, 0, 1)),
            }],
        };
        let text = serde_json::to_string(&cmd).unwrap();
        assert!(text.starts_with(r#"{"op":"connect""#), "{text}");
        assert!(!text.contains('\n'));
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), cmd);
        let r = Reply::Report {
            watchers: vec![WatcherReport {
                position: None,
                at: vec![u64::MAX],
            }],
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), r);
        assert_eq!(
            serde_json::to_string(&Command::Wait { updates: 7 }).unwrap(),
            r#"{"op":"wait","updates":7}"#
        );
    }
}
