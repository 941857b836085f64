//! Ticket watchers, shared by the scenarios: the tickets they watch (joined on instance 1), their
//! sockets on `/api/v1/tickets/{token}/live`, staff calling next, and what arrived when
//! (timed in [`crate::latency`]).

use crate::MAX_SCENARIO_TIME;
use crate::deploy::Deployment;
use crate::latency::Latencies;
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Longest wait for one call to reach every watcher before the run is declared failed.
pub(crate) const PER_CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Most watchers a scenario opens: an instance accepts 15,000 sockets by default
/// (`FILA_MAX_SOCKETS`), and some scenarios put every watcher on one instance.
pub(crate) const MAX_WATCHERS: usize = 15_000;
/// Bound on each HTTP request while setting up (a join, a call).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on opening one socket and on waiting for its first message.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Sockets opened (and tickets joined) at once while setting up: one at a time takes long at
/// 10k; all at once would only measure the servers' accept queues, which is not the point there.
pub(crate) const SETUP_CONCURRENCY: usize = 16;
/// The harness's read buffer per socket (tungstenite allocates 128 KiB per socket by default).
const CLIENT_READ_BUFFER: usize = 4 * 1024;
/// Open files this process needs besides its watchers' sockets (HTTP, MySQL, Redis, slack).
const FD_SLACK: u64 = 256;

/// Refuse early, with the fix, when this process may not open `sockets` more files. (Fila
/// instances and the baseline process inherit the same limit.)
pub(crate) fn check_fd_limit(sockets: usize) -> anyhow::Result<()> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return Ok(()); // Not Linux: the connect errors will say it.
    };
    let fields: Vec<&str> = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let (Some(soft), hard) = (
        fields.first().and_then(|s| s.parse::<u64>().ok()),
        fields.get(1).copied().unwrap_or("?"),
    ) else {
        return Ok(()); // "unlimited"
    };
    let need = sockets as u64 + FD_SLACK;
    if soft < need {
        bail!(
            "{sockets} sockets need about {need} open files in this process, but its limit is \
             {soft} (hard limit {hard}): raise it first, e.g. `ulimit -n {need}`"
        );
    }
    Ok(())
}

/// The demo venue's `bar` queue of a fresh deployment: `ahead` tickets that are only there to
/// be called, then one watched ticket per watcher, all joined on instance 1. Watcher `i` starts
/// at position `ahead + i + 1`, and each call moves every watcher up by exactly one.
pub(crate) struct Bar {
    client: reqwest::Client,
    staff: String,
    counter: i64,
    call_url: String,
    ahead: usize,
    /// The watched tickets' tokens, in queue order.
    tokens: Vec<String>,
}

impl Bar {
    pub(crate) async fn join(
        fila: &Deployment,
        ahead: usize,
        watched: usize,
    ) -> anyhow::Result<Self> {
        Self::join_with(fila, ahead, watched, SETUP_CONCURRENCY, MAX_SCENARIO_TIME).await
    }

    /// [`Bar::join`] with `concurrency` joins in flight, all done within `bound`.
    pub(crate) async fn join_with(
        fila: &Deployment,
        ahead: usize,
        watched: usize,
        concurrency: usize,
        bound: Duration,
    ) -> anyhow::Result<Self> {
        let first = fila.first();
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("http client")?;
        let staff = first.staff_token(&client).await?;
        let join_url = format!("{}/api/v1/venues/demo/queues/bar/tickets", first.base);
        let total = ahead + watched;
        // Joined a few at a time; each reply says where its ticket landed, which orders them.
        let joins = futures_util::stream::iter(0..total)
            .map(|i| {
                let (client, url) = (client.clone(), join_url.clone());
                async move {
                    let t: Value = client
                        .post(&url)
                        .json(&json!({"name": format!("Guest {i}"), "party_size": 2}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let position = t["position"].as_u64().context("join: no position")?;
                    Ok((position, t["token"].as_str().context("token")?.to_owned()))
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<anyhow::Result<(u64, String)>>>();
        let replies = tokio::time::timeout(bound, joins)
            .await
            .with_context(|| format!("{total} joins took longer than {bound:?}"))?;
        let mut by_position: Vec<Option<String>> = vec![None; total];
        for r in replies {
            let (position, token) = r?;
            match by_position.get_mut((position as usize).wrapping_sub(1)) {
                Some(slot @ None) => *slot = Some(token),
                _ => bail!("{total} joins into an empty queue, yet one got position {position}"),
            }
        }
        let tokens = by_position.into_iter().skip(ahead).flatten().collect();
        let snap: Value = client
            .get(format!("{}/api/v1/venues/demo/queues", first.base))
            .bearer_auth(&staff)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let counter = snap["counters"][0]["id"].as_i64().context("counter")?;
        Ok(Self {
            client,
            staff,
            counter,
            call_url: format!("{}/api/v1/venues/demo/queues/bar/call-next", first.base),
            ahead,
            tokens,
        })
    }

    /// Staff call the next ticket, on instance 1.
    pub(crate) async fn call_next(&self) -> anyhow::Result<()> {
        self.client
            .post(&self.call_url)
            .bearer_auth(&self.staff)
            .json(&json!({"counter": self.counter}))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Where watcher `i` stands after `calls` calls.
    pub(crate) fn position(&self, i: usize, calls: usize) -> u64 {
        (self.ahead + i + 1 - calls) as u64
    }

    pub(crate) fn token(&self, i: usize) -> &str {
        &self.tokens[i]
    }

    /// Watcher `i`'s socket URL on the instance at `base` (`http://…`).
    pub(crate) fn live_url(&self, base: &str, i: usize) -> String {
        live_url(base, &self.tokens[i])
    }
}

pub(crate) fn live_url(base: &str, token: &str) -> String {
    let ws_base = base.replacen("http://", "ws://", 1);
    format!("{ws_base}/api/v1/tickets/{token}/live")
}

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Open a WebSocket to `ws://127.0.0.1:port/…`. `recv_buffer` shrinks this end's kernel
/// receive buffer, so that a phone that stops reading pushes back on the server after a few
/// KiB rather than the few MiB Linux would otherwise buffer for it.
pub(crate) async fn open(url: &str, recv_buffer: Option<u32>) -> anyhow::Result<Ws> {
    open_from(url, recv_buffer, None).await
}

/// [`open`] from the loopback address `source` (any of 127.0.0.0/8 is this machine's) rather
/// than the kernel's choice, 127.0.0.1: past ~14k connections from one source address to one
/// destination, picking a free ephemeral port gets slow, so the sharded fan-out spreads its
/// sockets over several source addresses (see `shard::source_addr`).
pub(crate) async fn open_from(
    url: &str,
    recv_buffer: Option<u32>,
    source: Option<Ipv4Addr>,
) -> anyhow::Result<Ws> {
    let addr: SocketAddr = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("not a ws://127.0.0.1:port/ URL: {url}"))?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    if let Some(ip) = source {
        // Port 0: the kernel picks one that is free for this source address.
        socket
            .bind(SocketAddr::from((ip, 0)))
            .with_context(|| format!("cannot bind a client socket to {ip}"))?;
    }
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let handshake = async {
        let stream = socket.connect(addr).await?;
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
        anyhow::Ok(ws)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .context("no answer")?
}

/// What a ticket socket says first.
pub(crate) enum First {
    /// The snapshot, with the position in it (none in the baseline's greeting).
    Snapshot(Option<u64>),
    /// Closed at once with 1013 ("try again"): the instance is at its socket limit.
    TryAgain,
}

pub(crate) async fn first_message(ws: &mut Ws) -> anyhow::Result<First> {
    // Bounded: a ping or two may come before the snapshot, not more.
    for _ in 0..4 {
        let msg = tokio::time::timeout(CONNECT_TIMEOUT, ws.next())
            .await
            .context("no snapshot")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                return Ok(First::Snapshot(v["position"].as_u64()));
            }
            Some(Ok(Message::Close(Some(f)))) if f.code == CloseCode::Again => {
                return Ok(First::TryAgain);
            }
            Some(Ok(Message::Close(f))) => bail!("closed before the snapshot: {f:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed before the snapshot"),
        }
    }
    bail!("no snapshot among the first messages")
}

/// What each watcher records after its snapshot.
#[derive(Default)]
pub(crate) struct Seen {
    /// When each later message arrived.
    pub(crate) at: Vec<Instant>,
    pub(crate) last_position: Option<u64>,
    /// The connection ended (closed by the server, or broken).
    pub(crate) ended: bool,
}

/// How one watcher behaves.
pub(crate) struct Watcher {
    pub(crate) url: String,
    /// The position its snapshot must show (`None`: not checked, e.g. the baseline).
    pub(crate) expect: Option<u64>,
    /// Reads its snapshot, then leaves the socket alone (open, unread) until `resume`.
    pub(crate) stalled: bool,
    /// The loopback address to connect from (`None`: the kernel's choice, 127.0.0.1).
    pub(crate) source: Option<Ipv4Addr>,
}

/// Kernel receive buffer of a stalled watcher's socket (Linux doubles it and keeps a floor).
const STALLED_RECV_BUFFER: u32 = 4 * 1024;

/// Connected watchers, each read by a task of its own; the sockets close on drop.
pub(crate) struct Watchers {
    pub(crate) seen: Vec<Arc<Mutex<Seen>>>,
    /// Messages received after the snapshots, by every watcher that reads.
    updates: Arc<AtomicUsize>,
    resume: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Watchers {
    /// Open every socket, check each snapshot, then read on (or stall) in the background
    /// (for at most [`MAX_SCENARIO_TIME`]).
    pub(crate) async fn connect(list: Vec<Watcher>) -> anyhow::Result<Self> {
        Self::connect_for(list, MAX_SCENARIO_TIME).await
    }

    /// [`Watchers::connect`], with each socket read for at most `read_for`.
    pub(crate) async fn connect_for(
        list: Vec<Watcher>,
        read_for: Duration,
    ) -> anyhow::Result<Self> {
        let (resume, _) = watch::channel(false);
        let mut w = Self {
            seen: Vec::with_capacity(list.len()),
            updates: Arc::new(AtomicUsize::new(0)),
            resume,
            tasks: Vec::with_capacity(list.len()),
        };
        let mut opened = futures_util::stream::iter(list.into_iter().enumerate())
            .map(|(i, watcher)| async move {
                let recv_buffer = watcher.stalled.then_some(STALLED_RECV_BUFFER);
                let url = &watcher.url;
                let mut ws = open_from(url, recv_buffer, watcher.source)
                    .await
                    .with_context(|| format!("watcher {i}: connect {url}"))?;
                let first = first_message(&mut ws)
                    .await
                    .with_context(|| format!("watcher {i} on {url}"))?;
                anyhow::Ok((i, watcher, ws, first))
            })
            .buffered(SETUP_CONCURRENCY);
        while let Some(r) = opened.next().await {
            let (i, watcher, ws, first) = r?;
            let position = match first {
                First::Snapshot(p) => p,
                First::TryAgain => bail!(
                    "watcher {i} refused with 1013 by {}: at its socket limit \
                     (FILA_MAX_SOCKETS, 15000 by default)",
                    watcher.url
                ),
            };
            if watcher.expect.is_some() && position != watcher.expect {
                bail!(
                    "watcher {i}: snapshot at position {position:?}, expected {:?}",
                    watcher.expect
                );
            }
            let seen = Arc::new(Mutex::new(Seen {
                last_position: position,
                ..Seen::default()
            }));
            w.seen.push(seen.clone());
            let stall = watcher.stalled.then(|| w.resume.subscribe());
            w.tasks.push(tokio::spawn(read(
                ws,
                seen,
                w.updates.clone(),
                stall,
                read_for,
            )));
        }
        Ok(w)
    }

    /// Let the stalled watchers read again.
    pub(crate) fn resume(&self) {
        let _ = self.resume.send(true);
    }

    /// How many messages arrived after the snapshots, by every watcher that reads.
    pub(crate) fn updates(&self) -> usize {
        self.updates.load(Ordering::Relaxed)
    }

    /// Each watcher's last position (in the order they were given).
    pub(crate) async fn positions(&self) -> Vec<Option<u64>> {
        let mut out = Vec::with_capacity(self.seen.len());
        for s in &self.seen {
            out.push(s.lock().await.last_position);
        }
        out
    }

    /// Wait (at most [`PER_CALL_TIMEOUT`]) until `target` messages arrived in all.
    pub(crate) async fn wait_updates(&self, target: usize) -> anyhow::Result<()> {
        wait_for(&self.updates, target).await
    }

    /// The delays of the watchers `include` picks, against the calls made at `starts`.
    pub(crate) async fn latencies(
        &self,
        starts: &[Instant],
        include: impl Fn(usize) -> bool,
    ) -> Latencies {
        let mut all = Vec::with_capacity(self.seen.len() * starts.len());
        let mut last = vec![Duration::ZERO; starts.len()];
        for (i, s) in self.seen.iter().enumerate() {
            if !include(i) {
                continue;
            }
            let s = s.lock().await;
            for (k, at) in s.at.iter().enumerate().take(starts.len()) {
                let d = at.saturating_duration_since(starts[k]);
                all.push(d);
                last[k] = last[k].max(d);
            }
        }
        all.sort();
        last.sort();
        Latencies { all, last }
    }

    /// Among the watchers `include` picks, those not at `expected(i)`: `(i, position)`.
    pub(crate) async fn misplaced(
        &self,
        include: impl Fn(usize) -> bool,
        expected: impl Fn(usize) -> u64,
    ) -> Vec<(usize, Option<u64>)> {
        let mut out = Vec::new();
        for (i, s) in self.seen.iter().enumerate() {
            if include(i) {
                let p = s.lock().await.last_position;
                if p != Some(expected(i)) {
                    out.push((i, p));
                }
            }
        }
        out
    }

    /// How many of the watchers `include` picks lost their connection.
    pub(crate) async fn ended(&self, include: impl Fn(usize) -> bool) -> usize {
        let mut n = 0;
        for (i, s) in self.seen.iter().enumerate() {
            if include(i) && s.lock().await.ended {
                n += 1;
            }
        }
        n
    }
}

/// One watcher's reader: after the snapshot, records every text message until the socket ends.
async fn read(
    mut ws: Ws,
    seen: Arc<Mutex<Seen>>,
    updates: Arc<AtomicUsize>,
    stall: Option<watch::Receiver<bool>>,
    read_for: Duration,
) {
    let deadline = tokio::time::Instant::now() + read_for;
    if let Some(mut resume) = stall {
        // A phone whose app stopped reading: the connection stays open, nothing is read.
        let _ = tokio::time::timeout_at(deadline, resume.wait_for(|r| *r)).await;
    }
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        let now = Instant::now();
        let Message::Text(text) = msg else {
            continue;
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        let mut s = seen.lock().await;
        s.last_position = v["position"].as_u64().or(s.last_position);
        s.at.push(now);
        updates.fetch_add(1, Ordering::Relaxed);
    }
    seen.lock().await.ended = true;
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

pub(crate) async fn wait_for(counter: &AtomicUsize, target: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + PER_CALL_TIMEOUT;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            bail!(
                "only {} of {target} updates arrived within {PER_CALL_TIMEOUT:?}",
                counter.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

/// Each instance's resident memory, in KiB.
pub(crate) fn rss_per_instance(fila: &Deployment) -> Vec<Option<u64>> {
    fila.instances().iter().map(|p| p.rss_kib()).collect()
}

/// How a figure compares with its target.
pub(crate) fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// `12345` or `?`.
pub(crate) fn kib(v: Option<u64>) -> String {
    v.map_or("?".to_owned(), |v| v.to_string())
}
