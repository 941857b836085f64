//! The live venues of this instance: their state in memory, the writer that makes every
//! command durable before it is acknowledged, and the channels that tell sockets about it.
//!
//! Architecture invariant: the state lock is a std `RwLock` held only for in-memory work,
//! never across an `.await`; storage I/O happens in the writer task with no lock held.
//!
//! Embedded mode: one writer task for all venues (`writer.rs`) commits to SQLite.
//! Distributed mode: one writer per venue appends to the Redis log (`crate::dist`), and every
//! instance applies the log in order with `VenueHandle::apply_logged`.

mod recent;
pub mod time_zone;
pub mod views;
pub mod writer;

use crate::dist::{Dist, Logged};
use crate::store::{SqliteStore, Store};
use app::domain::engine::Outcome;
use app::domain::state::FastMap;
use app::domain::{
    Command, DomainError, EventEnvelope, Ticket, TicketId, TicketStatus, VenueState,
};
use axum::extract::ws::Utf8Bytes;
use recent::RecentEntries;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Events buffered per venue for ticket sockets. A socket that falls further behind than this
/// gets `Lagged` and resynchronises from a fresh snapshot instead of reading a backlog.
pub const EVENT_BUFFER: usize = 4096;

/// Commands waiting for the writer. Past this, callers wait: back-pressure, not memory growth.
pub const WRITE_QUEUE: usize = 8192;

/// Every waiting ticket's position, and the state generation it was worked out for.
type PositionTable = (u64, Arc<FastMap<TicketId, u32>>);

/// What ticket sockets hear from their venue, in order.
///
/// One channel carries all of it, so a socket waits on one thing (besides its peer and its
/// ping): with 100,000 watchers, every extra waker registered per delivered update shows.
#[derive(Clone, Debug)]
pub enum Live {
    /// A committed event, in offset order.
    Event(Arc<EventEnvelope>),
    /// The state was replaced wholesale (a distributed-mode resync): start again from a
    /// fresh snapshot instead of waiting for the next event.
    Reload,
    /// The server is stopping: close, so the client reconnects (elsewhere, or here later).
    Stop,
}

pub struct VenueHandle {
    pub id: i64,
    pub slug: String,
    state: RwLock<VenueState>,
    /// Bumped each time the state's write lock is taken (so, under it): a reader holding the
    /// read lock sees the generation of exactly the state it reads.
    generation: AtomicU64,
    /// Every waiting ticket's position, for one generation: see [`VenueHandle::position_of`].
    positions: Mutex<Option<PositionTable>>,
    /// Every committed event, in offset order, and reloads, for ticket sockets.
    pub events: broadcast::Sender<Live>,
    /// The offset of the newest committed event, for screens that redraw the whole picture.
    pub changed: watch::Sender<u64>,
    /// Serialized snapshots by offset, so N screens cost one serialization per change.
    pub(crate) display_frame: Mutex<Option<(u64, Utf8Bytes)>>,
    pub(crate) staff_frame: Mutex<Option<(u64, Utf8Bytes)>>,
    /// Bumped when the state was replaced wholesale (a resync from a snapshot), under the
    /// state's write lock.
    pub(crate) reloads: AtomicU64,
    /// Distributed mode: the last log entry applied and its time. Changed only while the
    /// state's write lock is held, so they always describe the state under the lock.
    pub(crate) log_seq: AtomicU64,
    pub(crate) log_at: AtomicI64,
    /// Distributed mode: the last entries applied, oldest first; changed under the state's
    /// write lock, like `log_seq`.
    recent: Mutex<RecentEntries>,
    /// Distributed mode: this venue's writer on this instance.
    pub(crate) log_writer: OnceLock<mpsc::Sender<WriteRequest>>,
    /// Distributed mode: how the text of the append this venue's writer is waiting on
    /// starts, if it is waiting on one (see `dist/own.rs`).
    pub(crate) appending: watch::Sender<Option<String>>,
}

impl VenueHandle {
    pub(crate) fn new(state: VenueState) -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (changed, _) = watch::channel(state.offset);
        Arc::new(Self {
            id: state.id,
            slug: state.slug.clone(),
            state: RwLock::new(state),
            generation: AtomicU64::new(0),
            positions: Mutex::new(None),
            events,
            changed,
            display_frame: Mutex::new(None),
            staff_frame: Mutex::new(None),
            reloads: AtomicU64::new(0),
            log_seq: AtomicU64::new(0),
            log_at: AtomicI64::new(0),
            recent: Mutex::new(RecentEntries::default()),
            log_writer: OnceLock::new(),
            appending: watch::Sender::new(None),
        })
    }

    /// The last log entry applied (distributed mode).
    pub fn log_seq(&self) -> u64 {
        self.log_seq.load(Ordering::Acquire)
    }

    /// Replace the whole state (a resync), and tell every socket to start again from it.
    ///
    /// The snapshot may be older than the state it replaces; the log entries after it are
    /// replayed next and give the same offsets again (the engine is deterministic), and the
    /// sockets start from a fresh snapshot rather than trusting offsets across the reload.
    pub(crate) fn replace(&self, fresh: VenueState, seq: u64, at: i64) {
        let mut state = self.write();
        *state = fresh;
        self.log_seq.store(seq, Ordering::Release);
        self.log_at.store(at, Ordering::Release);
        // Under the lock, with the state: the distributed writer trusts its own copy of the
        // state only while seq and this count are what it saw (`dist::writer::Scratch`), and
        // sockets hear of it after every event of the state it replaces.
        self.reloads.fetch_add(1, Ordering::AcqRel);
        self.recent_entries().clear();
        let _ = self.events.send(Live::Reload);
        let offset = state.offset;
        drop(state);
        self.forget_pictures();
        self.changed.send_replace(offset);
    }

    /// Apply log entries in order (distributed mode). Entries already applied are skipped, so
    /// the writer and the follower may both hand in the same ones. Events go out to sockets
    /// under the lock, so they leave in offset order whoever applied them.
    pub(crate) fn apply_logged(&self, entries: Vec<Logged>) -> Applied {
        let mut state = self.write();
        let mut seq = self.log_seq.load(Ordering::Acquire);
        let mut last_offset = None;
        let mut recent = self.recent_entries();
        for e in entries {
            if e.seq <= seq {
                continue;
            }
            if e.seq != seq + 1 {
                return Applied::Gap { have: seq };
            }
            let before = state.offset;
            let Some(events) = e.replay(&mut state) else {
                // The state was not the one the entry was made against: resync rather than
                // serve a wrong picture.
                tracing::error!(venue = %self.slug, seq = e.seq, before, "log entry does not replay; resyncing");
                return Applied::Diverged;
            };
            for ev in events {
                last_offset = Some(ev.offset);
                let _ = self.events.send(Live::Event(Arc::new(ev)));
            }
            seq = e.seq;
            self.log_seq.store(seq, Ordering::Release);
            self.log_at.store(e.at, Ordering::Release);
            // The command moves to the kept entries: no second copy of it.
            recent.push(e);
        }
        drop(recent);
        drop(state);
        if let Some(o) = last_offset {
            self.changed.send_replace(o);
        }
        Applied::Upto(seq)
    }

    /// Bring `copy`, this venue's state as it was at log entry `from`, up to entry `to`: see
    /// [`RecentEntries::replay`]. The caller holds the state's read lock, so `to` is the
    /// venue's `log_seq`.
    pub(crate) fn replay_recent(&self, copy: &mut VenueState, from: u64, to: u64) -> bool {
        self.recent_entries().replay(copy, from, to)
    }

    fn recent_entries(&self) -> std::sync::MutexGuard<'_, RecentEntries> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the state. A poisoned lock means a panic mid-apply, which the engine's tests rule
    /// out; carrying on with the inner value beats taking the whole venue down.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, VenueState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Drop cached screen pictures (after a reload they may describe refused state).
    pub(crate) fn forget_pictures(&self) {
        *self.display_frame.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.staff_frame.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Tell this venue's ticket sockets that the server is stopping.
    pub(crate) fn stop_sockets(&self) {
        let _ = self.events.send(Live::Stop);
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, VenueState> {
        let guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        guard
    }

    /// A waiting ticket's position in `state`, which must be this venue's state under its read
    /// lock. Counting a line is O(its length); when many sockets connect at once (a stadium
    /// opening its queue, an instance's watchers reconnecting elsewhere) and each counted its
    /// own, N watchers of one line cost O(N × N). Instead every waiting ticket's position is
    /// worked out in one pass and kept until the state next changes.
    pub fn position_of(&self, state: &VenueState, t: &Ticket) -> Option<u32> {
        if t.status != TicketStatus::Waiting {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut cache = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        let table = match &*cache {
            Some((g, table)) if *g == generation => table.clone(),
            _ => {
                let waiting = state.queues.values().map(|q| q.waiting.len()).sum();
                let mut table = FastMap::with_capacity_and_hasher(waiting, Default::default());
                for q in state.queues.values() {
                    for (i, id) in q.waiting.values().enumerate() {
                        table.insert(*id, i as u32 + 1);
                    }
                }
                let table = Arc::new(table);
                *cache = Some((generation, table.clone()));
                table
            }
        };
        drop(cache);
        table.get(&t.id).copied()
    }
}

/// What [`VenueHandle::apply_logged`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Everything handed in is applied; the venue is at this entry.
    Upto(u64),
    /// The entries start after the next one: the missing ones must be read from the log.
    Gap { have: u64 },
    /// An entry did not replay as recorded: reload from a snapshot.
    Diverged,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Storage refused the batch: nothing was changed.
    #[error("storage is unavailable: {0:#}")]
    Storage(anyhow::Error),
    #[error("the server is shutting down")]
    ShuttingDown,
}

pub(crate) struct WriteRequest {
    pub(crate) venue: Arc<VenueHandle>,
    pub(crate) cmd: Command,
    pub(crate) actor: Option<i64>,
    pub(crate) reply: oneshot::Sender<Result<Outcome, ExecError>>,
}

enum Backend {
    Embedded(mpsc::Sender<WriteRequest>, Arc<writer::Metrics>),
    Distributed(Arc<Dist>),
}

/// All venues this instance serves.
pub struct Venues {
    map: RwLock<HashMap<String, Arc<VenueHandle>>>,
    /// Loading a venue takes this, so two requests never load the same venue twice.
    loading: tokio::sync::Mutex<()>,
    store: Store,
    backend: Backend,
}

impl Venues {
    /// Embedded mode: load every venue and start the writer task. Once `stopping` turns true
    /// the writer refuses new commands, commits the ones already queued, and ends.
    pub async fn start(
        store: SqliteStore,
        stopping: watch::Receiver<bool>,
    ) -> anyhow::Result<(Arc<Self>, tokio::task::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let mut map = HashMap::new();
        for slug in store.venue_slugs().await? {
            if let Some(state) = store.load_venue(&slug).await? {
                map.insert(slug, VenueHandle::new(state));
            }
        }
        let metrics = Arc::new(writer::Metrics::default());
        let writer = tokio::spawn(writer::run(store.clone(), rx, stopping, metrics.clone()));
        Ok((
            Arc::new(Self {
                map: RwLock::new(map),
                loading: tokio::sync::Mutex::new(()),
                store: Store::Sqlite(store),
                backend: Backend::Embedded(tx, metrics),
            }),
            writer,
        ))
    }

    /// Distributed mode: venues are loaded from Redis (snapshot + log) when first asked for.
    pub async fn start_distributed(dist: Arc<Dist>) -> anyhow::Result<Arc<Self>> {
        let venues = Arc::new(Self {
            map: RwLock::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
            store: Store::MySql(dist.mysql.clone()),
            backend: Backend::Distributed(dist.clone()),
        });
        dist.attach();
        for slug in venues.store.venue_slugs().await? {
            venues.get(&slug).await?;
        }
        Ok(venues)
    }

    /// Every venue this instance has loaded.
    pub fn loaded(&self) -> Vec<Arc<VenueHandle>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// A venue by slug if this instance has it in memory (no storage read).
    pub fn loaded_venue(&self, slug: &str) -> Option<Arc<VenueHandle>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(slug).cloned()
    }

    /// A venue by slug, loading it if it was created (by the CLI) after startup.
    pub async fn get(&self, slug: &str) -> anyhow::Result<Option<Arc<VenueHandle>>> {
        if let Some(v) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(slug) {
            return Ok(Some(v.clone()));
        }
        let _loading = self.loading.lock().await;
        if let Some(v) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(slug) {
            return Ok(Some(v.clone()));
        }
        let handle = match &self.backend {
            Backend::Embedded(..) => match self.store.load_venue(slug).await? {
                Some(state) => VenueHandle::new(state),
                None => return Ok(None),
            },
            Backend::Distributed(dist) => match dist.load_venue(slug).await? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        Ok(Some(map.entry(slug.to_owned()).or_insert(handle).clone()))
    }

    /// The venue holding a ticket token, if the ticket is in memory.
    pub fn find_token(&self, token: &str) -> Option<(Arc<VenueHandle>, TicketId)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.values().find_map(|v| {
            let id = *v.read().tokens.get(token)?;
            Some((v.clone(), id))
        })
    }

    /// Apply a command; returns once its events are durable (or it was refused).
    pub async fn execute(
        &self,
        venue: &Arc<VenueHandle>,
        cmd: Command,
        actor: Option<i64>,
    ) -> Result<Outcome, ExecError> {
        let (reply, rx) = oneshot::channel();
        let req = WriteRequest {
            venue: venue.clone(),
            cmd,
            actor,
            reply,
        };
        let writer = match &self.backend {
            Backend::Embedded(w, _) => w,
            Backend::Distributed(_) => venue.log_writer.get().ok_or(ExecError::ShuttingDown)?,
        };
        writer
            .send(req)
            .await
            .map_err(|_| ExecError::ShuttingDown)?;
        rx.await.map_err(|_| ExecError::ShuttingDown)?
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The distributed-mode services, if this instance runs in that mode.
    pub fn dist(&self) -> Option<&Arc<Dist>> {
        match &self.backend {
            Backend::Distributed(d) => Some(d),
            Backend::Embedded(..) => None,
        }
    }

    /// Embedded mode: what the writer has committed so far.
    pub fn writer_metrics(&self) -> Option<&writer::Metrics> {
        match &self.backend {
            Backend::Embedded(_, m) => Some(m),
            Backend::Distributed(_) => None,
        }
    }
}

#[cfg(test)]
mod position_table_tests {
    use super::*;
    use app::domain::{Counter, CounterId, CustomerName, PartySize, QueueId, QueueState};

    fn join(v: &VenueHandle, queue: QueueId, n: u32) {
        let mut st = v.write();
        app::domain::apply(
            &mut st,
            Command::Join {
                queue,
                name: CustomerName::parse("Ana").unwrap(),
                party_size: PartySize::parse(2).unwrap(),
                notes: None,
                token: format!("token-{}-{n}", queue.0),
                walk_in: false,
            },
            1_000 + i64::from(n),
        )
        .unwrap();
    }

    /// The table agrees with counting the line, in every queue, after every kind of change.
    #[test]
    fn positions_from_the_table_are_the_counted_ones_after_each_change() {
        let (bar, tables, desk) = (QueueId(1), QueueId(2), CounterId(1));
        let mut state = VenueState::new(1, "joes", "Joe's");
        state
            .queues
            .insert(bar, QueueState::new(bar, "bar", "Bar", "A"));
        state
            .queues
            .insert(tables, QueueState::new(tables, "tables", "Tables", "T"));
        state.counters.insert(
            desk,
            Counter {
                id: desk,
                name: "Desk".into(),
            },
        );
        let v = VenueHandle::new(state);
        let check = |what: &str| {
            let st = v.read();
            for t in st.tickets.values() {
                assert_eq!(
                    v.position_of(&st, t),
                    st.position(t),
                    "{what}: ticket {}",
                    t.id.0
                );
            }
        };
        for n in 0..6 {
            join(&v, bar, n);
            join(&v, tables, n);
            check("after a join");
        }
        for _ in 0..2 {
            let mut st = v.write();
            app::domain::apply(
                &mut st,
                Command::CallNext {
                    queue: bar,
                    counter: desk,
                },
                5_000,
            )
            .unwrap();
            drop(st);
            check("after a call");
        }
        let third = v.read().waiting_tickets(tables).nth(2).unwrap().id;
        let mut st = v.write();
        app::domain::apply(&mut st, Command::Cancel { ticket: third }, 6_000).unwrap();
        drop(st);
        check("after a cancel");
        // A wholesale replacement (a resync) with the same offset but another line.
        let mut other = v.read().clone();
        let first = other.waiting_tickets(bar).next().unwrap().id;
        app::domain::apply(&mut other, Command::Cancel { ticket: first }, 7_000).unwrap();
        other.offset = v.read().offset;
        v.replace(other, 0, 7_000);
        check("after a replacement");
    }
}
