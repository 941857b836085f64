//! The live venues of this instance: their state in memory, the writer that makes every
//! command durable before it is acknowledged, and the channels that tell sockets about it.
//!
//! Architecture invariant: the state lock is a std `RwLock` held only for in-memory work,
//! never across an `.await`; storage I/O happens in the writer task with no lock held.

pub mod views;
mod writer;

use crate::store::SqliteStore;
use app::domain::engine::Outcome;
use app::domain::{Command, DomainError, EventEnvelope, TicketId, VenueState};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Events buffered per venue for ticket sockets. A socket that falls further behind than this
/// gets `Lagged` and resynchronises from a fresh snapshot instead of reading a backlog.
pub const EVENT_BUFFER: usize = 4096;

/// Commands waiting for the writer. Past this, callers wait: back-pressure, not memory growth.
pub const WRITE_QUEUE: usize = 8192;

pub struct VenueHandle {
    pub id: i64,
    pub slug: String,
    pub state: RwLock<VenueState>,
    /// Every committed event, in offset order, for ticket sockets.
    pub events: broadcast::Sender<Arc<EventEnvelope>>,
    /// The offset of the newest committed event, for screens that redraw the whole picture.
    pub changed: watch::Sender<u64>,
    /// Serialized snapshots by offset, so N screens cost one serialization per change.
    pub(crate) display_frame: Mutex<Option<(u64, Utf8Bytes)>>,
    pub(crate) staff_frame: Mutex<Option<(u64, Utf8Bytes)>>,
}

impl VenueHandle {
    fn new(state: VenueState) -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (changed, _) = watch::channel(state.offset);
        Arc::new(Self {
            id: state.id,
            slug: state.slug.clone(),
            state: RwLock::new(state),
            events,
            changed,
            display_frame: Mutex::new(None),
            staff_frame: Mutex::new(None),
        })
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

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, VenueState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
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
    venue: Arc<VenueHandle>,
    cmd: Command,
    actor: Option<i64>,
    reply: oneshot::Sender<Result<Outcome, ExecError>>,
}

/// All venues this instance serves.
pub struct Venues {
    map: RwLock<HashMap<String, Arc<VenueHandle>>>,
    store: SqliteStore,
    writer: mpsc::Sender<WriteRequest>,
}

impl Venues {
    /// Load every venue and start the writer task. Once `stopping` turns true the writer
    /// refuses new commands, commits the ones already queued, and ends.
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
        let writer = tokio::spawn(writer::run(store.clone(), rx, stopping));
        Ok((
            Arc::new(Self {
                map: RwLock::new(map),
                store,
                writer: tx,
            }),
            writer,
        ))
    }

    /// A venue by slug, loading it if it was created (by the CLI) after startup.
    pub async fn get(&self, slug: &str) -> anyhow::Result<Option<Arc<VenueHandle>>> {
        if let Some(v) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(slug) {
            return Ok(Some(v.clone()));
        }
        let Some(state) = self.store.load_venue(slug).await? else {
            return Ok(None);
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        Ok(Some(
            map.entry(slug.to_owned())
                .or_insert_with(|| VenueHandle::new(state))
                .clone(),
        ))
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
        self.writer
            .send(WriteRequest {
                venue: venue.clone(),
                cmd,
                actor,
                reply,
            })
            .await
            .map_err(|_| ExecError::ShuttingDown)?;
        rx.await.map_err(|_| ExecError::ShuttingDown)?
    }

    pub fn store(&self) -> &SqliteStore {
        &self.store
    }
}
