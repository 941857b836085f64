//! Distributed mode: many stateless instances, Redis for the live log and fan-out, MySQL for
//! accounts and history.
//!
//! # The log (per venue)
//! - `{p}:v:{id}:log`: a Redis Stream of [`Entry`]s, seq gap-free from 1. An entry is one
//!   accepted command with what it did (events, tickets after). One stream item holds one
//!   append's entries (`write_item`), with the explicit id `0-<seq of its last entry>`.
//! - `{p}:v:{id}:seq`: the last seq. The append script checks it (compare-and-set), adds the
//!   item, advances it and PUBLISHes the same text on `{p}:v:{id}:live` (see
//!   `read_message`), all in one atomic step.
//! - `{p}:v:{id}:snap` / `snapseq`: a `Snapshot` of the venue state at some seq, so an
//!   instance starts without replaying history; `{p}:v:{id}:epoch` names the log's lifetime.
//! - `{p}:v:{id}:dead`: dead letters of the history projector.
//!
//! # How a command runs (see `writer.rs`)
//! The venue's writer on the instance that took the request applies the command to a copy of
//! the state at seq N (the engine is pure), then appends "entries N+1.. if seq is still N".
//! Success means durable and ordered: only then does the caller get an answer. If another
//! instance appended first, it catches up from the log and tries again, so every command is
//! applied to the state it was recorded against, on every instance: call-next can never call
//! the same ticket twice, whichever instances the counters use.
//!
//! Every instance applies every entry of the venues it serves (`follow`), from pub/sub,
//! filling gaps from the stream and resyncing from a snapshot when the stream no longer has
//! them (trimmed) or the epoch changed (Redis lost its data).

mod append;
mod catch_up;
pub mod dead_letters;
mod entry;
mod follow;
mod own;
pub mod projector;
mod snapshot;
mod trim;
mod writer;

pub(crate) use append::Appended;
use append::{APPEND, RELEASE_TURN};
pub use entry::{Did, Entry, Logged, parse_entries, read_item};
pub(crate) use entry::{Message, read_message, seq_of_id, write_item};
use snapshot::{SNAPSHOT_IDLE, snapshot_after_batch, snapshot_due};

use crate::store::{HistoryEntry, MySqlStore};
use crate::venues::VenueHandle;
use anyhow::Context;
use app::domain::VenueState;
use fred::prelude::*;
use fred::types::scripts::Script;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Log stream items read per round trip when catching up: an item holds one append, up to
/// `writer::MAX_BATCH` entries.
const READ_CHUNK: u64 = 200;

/// The consumer group of the history projector.
pub const HISTORY_GROUP: &str = "history";

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    seq: u64,
    at: i64,
    epoch: String,
    state: VenueState,
}

/// A [`Snapshot`]'s JSON around a state already serialized (`state`), sized up front: the
/// state of a long line is megabytes, and `format!` grew its buffer by doubling.
fn snapshot_json(seq: u64, at: i64, epoch: &str, state: &str) -> serde_json::Result<String> {
    use std::fmt::Write;
    let epoch = serde_json::to_string(epoch)?;
    let mut json = String::with_capacity(state.len() + epoch.len() + 64);
    let _ = write!(
        json,
        "{{\"seq\":{seq},\"at\":{at},\"epoch\":{epoch},\"state\":"
    );
    json.push_str(state);
    json.push('}');
    Ok(json)
}

/// Counters for `/metrics`.
#[derive(Default, Debug)]
pub struct Metrics {
    pub appended: AtomicU64,
    pub append_conflicts: AtomicU64,
    /// Conflicts seen before sending the append (also counted in `append_conflicts`).
    pub appends_skipped: AtomicU64,
    /// Times this instance's writers claimed the next append after losing the race again and
    /// again, and times they waited because another instance's writer had claimed it.
    pub turns_claimed: AtomicU64,
    pub turn_waits: AtomicU64,
    /// Times a venue's writer copied the whole venue state (see `writer::Scratch`).
    pub state_copies: AtomicU64,
    pub resyncs: AtomicU64,
    pub projected: AtomicU64,
    /// Of those, entries the projector took from this instance's writers, not from the log.
    pub handed_over: AtomicU64,
    /// Transactions the history projector committed (each holds one venue's batch).
    pub history_writes: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub projector_retries: AtomicU64,
    /// Round trip of each append script, won or lost: what a command waits for in Redis.
    pub append_time: crate::metrics::Histogram,
}

/// First use of a venue's log: KEYS epoch, snap, snapseq, seq, log; ARGV epoch, snapshot, group.
/// Returns the snapshot that is there (ours, or the one another instance made first).
const INIT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[3], '0')
  redis.call('SET', KEYS[4], '0')
end
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[5], ARGV[3], '0', 'MKSTREAM')
return redis.call('GET', KEYS[2])
"#;

/// Keep the newest snapshot: KEYS snap, snapseq; ARGV seq, snapshot.
const SNAPSHOT: &str = r#"
local cur = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[1])
  return 1
end
return 0
"#;

pub struct Dist {
    /// Commands (never blocking ones: the projector has its own connection).
    pub(crate) redis: Client,
    subscriber: fred::clients::SubscriberClient,
    pub mysql: MySqlStore,
    prefix: String,
    /// This instance's name in the projector's consumer group.
    pub instance: String,
    pub metrics: Metrics,
    /// Loaded venues by id, for the follower.
    by_id: RwLock<HashMap<i64, Arc<VenueHandle>>>,
    stopping: tokio::sync::watch::Receiver<bool>,
    nonces: AtomicU64,
    append: Script,
    release_turn: Script,
    init: Script,
    snapshot: Script,
    /// This instance's appends, until its projector takes them.
    own: Mutex<own::OwnAppends>,
    /// Woken when three quarters of what `own` may keep wait: a projector waiting out a rush
    /// writes then, before its own entries stop fitting and must be parsed back from Redis.
    pub(crate) own_filling: tokio::sync::Notify,
    /// Test hook: history writes of (venue id, seq) fail this many more times.
    pub(crate) inject_failures: Mutex<HashMap<(i64, u64), u32>>,
    /// Test hook: the follower drops pub/sub messages (as if they were late).
    pub(crate) drop_messages: std::sync::atomic::AtomicBool,
}

/// How long startup waits for Redis before giving up with a clear message.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn redis_builder(url: &str) -> anyhow::Result<Builder> {
    let config =
        Config::from_url(url).with_context(|| format!("REDIS_URL {url:?} is not valid"))?;
    let mut b = Builder::from_config(config);
    b.with_connection_config(|c| {
        c.connection_timeout = CONNECT_TIMEOUT;
        c.internal_command_timeout = CONNECT_TIMEOUT;
        // A command is sent once: a lost reply is resolved by reading the log (see writer).
        c.max_command_attempts = 1;
    })
    .with_performance_config(|p| {
        p.default_command_timeout = Duration::from_secs(10);
        p.broadcast_channel_capacity = 4096;
    })
    .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2));
    Ok(b)
}

pub(crate) async fn redis_connect(b: &Builder, url: &str) -> anyhow::Result<Client> {
    let client = b.build()?;
    connect_within(client.init(), url).await?;
    Ok(client)
}

async fn connect_within<T>(
    init: impl Future<Output = Result<T, fred::error::Error>>,
    url: &str,
) -> anyhow::Result<T> {
    let shown = url.rsplit('@').next().unwrap_or(url);
    match tokio::time::timeout(CONNECT_TIMEOUT, init).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => anyhow::bail!("cannot reach Redis at {shown}: {e}"),
        Err(_) => anyhow::bail!(
            "cannot reach Redis at {shown}: no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

impl Dist {
    /// Connect to Redis (commands and pub/sub) and check it answers; `mysql` is already open.
    pub async fn connect(
        redis_url: &str,
        prefix: &str,
        mysql: MySqlStore,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Self>> {
        let builder = redis_builder(redis_url)?;
        let redis = redis_connect(&builder, redis_url).await?;
        let _: String = redis
            .ping(None)
            .await
            .with_context(|| format!("Redis at {redis_url} did not answer PING"))?;
        let subscriber = builder.build_subscriber_client()?;
        connect_within(subscriber.init(), redis_url).await?;
        let instance = format!("{}-{}", hostname(), crate::secrets::random_hex(6));
        Ok(Arc::new(Self {
            redis,
            subscriber,
            mysql,
            prefix: prefix.to_owned(),
            instance,
            metrics: Metrics::default(),
            by_id: RwLock::new(HashMap::new()),
            stopping,
            nonces: AtomicU64::new(0),
            append: Script::from_lua(APPEND),
            release_turn: Script::from_lua(RELEASE_TURN),
            init: Script::from_lua(INIT),
            snapshot: Script::from_lua(SNAPSHOT),
            own: Mutex::default(),
            own_filling: tokio::sync::Notify::new(),
            inject_failures: Mutex::new(HashMap::new()),
            drop_messages: Default::default(),
        }))
    }

    /// Called once by `Venues::start_distributed`; starts the follower.
    pub(crate) fn attach(self: &Arc<Self>) {
        tokio::spawn(follow::run(self.clone()));
    }

    pub(crate) fn key(&self, venue_id: i64, what: &str) -> String {
        format!("{}:v:{venue_id}:{what}", self.prefix)
    }

    fn channel(&self, venue_id: i64) -> String {
        self.key(venue_id, "live")
    }

    /// The venue id a pub/sub channel belongs to.
    fn venue_of_channel(&self, channel: &str) -> Option<i64> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix(":v:")?
            .strip_suffix(":live")?
            .parse()
            .ok()
    }

    pub(crate) fn handle(&self, venue_id: i64) -> Option<Arc<VenueHandle>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&venue_id)
            .cloned()
    }

    pub(crate) fn handles(&self) -> Vec<Arc<VenueHandle>> {
        let map = self.by_id.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// Keep an append of this instance's for its projector (see `own.rs`).
    fn keep_own(&self, venue_id: i64, last: u64, prefix: String, entries: Vec<HistoryEntry>) {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        own.keep(venue_id, last, prefix, entries);
        if own.len() >= own::FILLING {
            self.own_filling.notify_one();
        }
    }

    /// Three quarters of what `own` may keep wait for the projector.
    fn own_filling_up(&self) -> bool {
        self.own.lock().unwrap_or_else(|e| e.into_inner()).len() >= own::FILLING
    }

    /// The entries of the venue's log item `last`, text `text`, if this instance appended it
    /// and still keeps it.
    fn take_own(&self, venue_id: i64, last: u64, text: &str) -> Option<Vec<HistoryEntry>> {
        self.own
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(venue_id, last, text)
    }

    pub(crate) fn next_nonce(&self) -> String {
        format!(
            "{}:{}",
            self.instance,
            self.nonces.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Load a venue: subscribe to its channel, take the snapshot (making the first one from
    /// MySQL's configuration if the log is new), catch up from the log, start its writer.
    pub(crate) async fn load_venue(
        self: &Arc<Self>,
        slug: &str,
    ) -> anyhow::Result<Option<Arc<VenueHandle>>> {
        let Some(seed) = self.mysql.load_venue(slug).await? else {
            return Ok(None);
        };
        let id = seed.id;
        // Subscribe first: entries published from now on reach us, and the catch-up below
        // covers everything before. Applying is idempotent, so overlap is harmless.
        self.subscriber
            .subscribe(self.channel(id))
            .await
            .context("cannot subscribe to the venue's channel")?;
        let snap = self.init_log(seed).await?;
        let handle = VenueHandle::new(snap.state);
        handle.log_seq.store(snap.seq, Ordering::Release);
        handle.log_at.store(snap.at, Ordering::Release);
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, handle.clone());
        self.catch_up(&handle).await?;
        writer::start(self.clone(), handle.clone(), self.stopping.clone());
        Ok(Some(handle))
    }

    /// The venue's current snapshot, creating the log (epoch, seq 0, consumer group) first.
    async fn init_log(&self, seed: VenueState) -> anyhow::Result<Snapshot> {
        let id = seed.id;
        let first = Snapshot {
            seq: 0,
            at: 0,
            epoch: crate::secrets::random_hex(8),
            state: seed,
        };
        let keys = vec![
            self.key(id, "epoch"),
            self.key(id, "snap"),
            self.key(id, "snapseq"),
            self.key(id, "seq"),
            self.key(id, "log"),
        ];
        let args = vec![serde_json::to_string(&first)?, HISTORY_GROUP.to_owned()];
        let args = std::iter::once(first.epoch.clone())
            .chain(args)
            .collect::<Vec<_>>();
        let json: String = self
            .init
            .evalsha_with_reload(&self.redis, keys, args)
            .await
            .context("cannot initialise the venue's log in Redis")?;
        serde_json::from_str(&json).context("the venue snapshot in Redis is unreadable")
    }

    /// The newest snapshot of a venue.
    async fn load_snapshot(&self, venue_id: i64) -> anyhow::Result<Option<Snapshot>> {
        let json: Option<String> = self.redis.get(self.key(venue_id, "snap")).await?;
        json.map(|j| serde_json::from_str(&j).context("the venue snapshot in Redis is unreadable"))
            .transpose()
    }

    /// Store a snapshot of venue `id`'s state at `seq` (if newer than the stored one), then
    /// trim the log behind both it and the history projector. `state` is the state's JSON: the
    /// writer serializes its own copy in place rather than cloning it for this task (a clone of
    /// 16,000 tickets cost about half as much again as writing them out).
    pub(crate) async fn write_snapshot(
        &self,
        id: i64,
        state: String,
        seq: u64,
        at: i64,
    ) -> anyhow::Result<()> {
        let epoch: Option<String> = self.redis.get(self.key(id, "epoch")).await?;
        let Some(epoch) = epoch else { return Ok(()) };
        let json = snapshot_json(seq, at, &epoch, &state)?;
        let _: i64 = self
            .snapshot
            .evalsha_with_reload(
                &self.redis,
                vec![self.key(id, "snap"), self.key(id, "snapseq")],
                vec![seq.to_string(), json],
            )
            .await?;
        self.trim(id).await
    }

    /// `XRANGE key start end COUNT count`, as Redis answers it.
    pub(crate) async fn xrange(
        &self,
        key: String,
        start: &str,
        end: &str,
        count: u64,
    ) -> anyhow::Result<Value> {
        Ok(self
            .redis
            .custom(
                fred::cmd!("XRANGE"),
                vec![
                    key,
                    start.to_owned(),
                    end.to_owned(),
                    "COUNT".into(),
                    count.to_string(),
                ],
            )
            .await?)
    }

    /// Log entries after `after`, oldest first, from at most `items` stream items, each read
    /// as a `T` (the whole [`Entry`], or only what a reader needs of it).
    pub(crate) async fn read_after<T: serde::de::DeserializeOwned>(
        &self,
        venue_id: i64,
        after: u64,
        items: u64,
    ) -> anyhow::Result<Read<T>> {
        let raw = self
            .xrange(
                self.key(venue_id, "log"),
                &format!("(0-{after}"),
                "+",
                items,
            )
            .await?;
        let raw = parse_entries(raw)?;
        let full = raw.len() as u64 >= items;
        let mut entries = Vec::new();
        for (_, text) in raw {
            entries.extend(read_item(&text, after)?);
        }
        Ok(Read { entries, full })
    }

    /// The venue's last log seq in Redis (`None`: Redis has lost the venue's log).
    pub(crate) async fn seq_of(&self, venue_id: i64) -> anyhow::Result<Option<u64>> {
        Ok(self.redis.get(self.key(venue_id, "seq")).await?)
    }

    /// Dead letters of a venue's history, oldest first: (stream id, error, entry JSON).
    pub async fn dead_letters(&self, venue_id: i64) -> anyhow::Result<Vec<DeadLetter>> {
        dead_letters::list(self, venue_id).await
    }

    /// Write a dead letter to history again; on success it leaves the dead-letter stream.
    pub async fn replay_dead_letter(&self, venue_id: i64, id: &str) -> anyhow::Result<bool> {
        dead_letters::replay(self, venue_id, id).await
    }

    /// Test hook: the follower drops every pub/sub message while `on` (the once-a-second
    /// check still catches up), as if messages were slow to arrive.
    pub fn drop_messages(&self, on: bool) {
        self.drop_messages.store(on, Ordering::Relaxed);
    }

    /// Test hook: make the history write of one entry fail `times` more times.
    pub fn inject_history_failures(&self, venue_id: i64, seq: u64, times: u32) {
        self.inject_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((venue_id, seq), times);
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let _: String = self.redis.ping(None).await?;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.subscriber.quit().await;
        let _ = self.redis.quit().await;
    }
}

/// A history entry the projector gave up on.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub seq: u64,
    pub error: String,
    pub failures: u32,
    pub entry: String,
}

/// What [`Dist::read_after`] read.
pub(crate) struct Read<T> {
    pub entries: Vec<T>,
    /// It read as many items as it was allowed: more may follow.
    pub full: bool,
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "fila".into())
}

/// `[k, v, k, v…]` (or a RESP3 map) as strings.
pub(super) fn flat_map(v: Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Value::Map(m) = v {
        for (k, v) in m.inner() {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_string()) {
                out.insert(k.to_string(), v);
            }
        }
        return out;
    }
    let mut it = v.into_array().into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if let (Some(k), Some(v)) = (k.as_string(), v.as_string()) {
            out.insert(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_written_around_serialized_state_reads_back_whole() {
        let mut state = VenueState::new(4, "joes", "Joe's \"Bar\"");
        state.next_ticket_id = 12;
        let json = serde_json::to_string(&state).unwrap();
        let text = snapshot_json(40, 1_700, "ep\"1", &json).unwrap();
        let snap: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (snap.seq, snap.at, snap.epoch.as_str()),
            (40, 1_700, "ep\"1")
        );
        assert_eq!(snap.state, state);
    }
}
