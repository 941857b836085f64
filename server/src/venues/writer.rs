//! The venue writer: one task that applies commands with the engine and commits them.
//!
//! It takes every command that is waiting (up to [`MAX_BATCH`]), applies them in arrival
//! order, writes all their changes in one SQLite transaction, and only then publishes the
//! events and answers the callers. One fsync serves a whole burst of joins.

use super::{ExecError, VenueHandle, WriteRequest};
use crate::clock::now_ms;
use crate::metrics::Histogram;
use crate::store::{Batch, EventRow, QueueRow, SqliteStore, VenueRow};
use app::domain::apply;
use app::domain::engine::Outcome;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// Most commands committed in one transaction: large enough to absorb a door-opening burst,
/// small enough that the first caller in a batch is not kept waiting long.
pub const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<Outcome, ExecError>>;

/// Counters for `/metrics`: commands per commit is what one fsync buys.
#[derive(Default)]
pub struct Metrics {
    /// SQLite transactions committed.
    pub commits: AtomicU64,
    /// Commands those transactions made durable.
    pub commands: AtomicU64,
    /// How long each transaction took, fsync included (failed ones too): what every caller in
    /// it waited for.
    pub commit_time: Histogram,
}

pub(super) async fn run(
    store: SqliteStore,
    mut rx: mpsc::Receiver<WriteRequest>,
    mut stopping: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    let mut last_now = 0;
    let mut requests = Vec::with_capacity(MAX_BATCH);
    loop {
        let stop = tokio::select! {
            n = rx.recv_many(&mut requests, MAX_BATCH) => {
                if n == 0 {
                    break;
                }
                false
            }
            _ = stopping.wait_for(|s| *s) => true,
        };
        // New sends now fail (callers get "shutting down"); queued ones are still read.
        if stop {
            rx.close();
            if rx.recv_many(&mut requests, MAX_BATCH).await == 0 {
                break;
            }
        }
        // Time never runs backwards within the log, even if the wall clock does.
        let now = now_ms().max(last_now);
        last_now = now;
        commit_batch(&store, std::mem::take(&mut requests), now, &metrics).await;
    }
    tracing::info!(task = "venue-writer", "stopped: no more commands");
}

async fn commit_batch(
    store: &SqliteStore,
    requests: Vec<WriteRequest>,
    now: i64,
    metrics: &Metrics,
) {
    let mut batch = Batch::default();
    let mut touched: HashMap<i64, Arc<VenueHandle>> = HashMap::new();
    let mut accepted: Vec<(Reply, Outcome, Arc<VenueHandle>)> = Vec::new();
    for req in requests {
        let mut state = req.venue.write();
        match apply(&mut state, req.cmd, now) {
            Err(e) => {
                let _ = req.reply.send(Err(e.into()));
            }
            Ok(outcome) => {
                if outcome.events.is_empty() {
                    drop(state);
                    let _ = req.reply.send(Ok(outcome));
                    continue;
                }
                let mut tickets = BTreeSet::new();
                let mut queues = BTreeSet::new();
                for e in &outcome.events {
                    tickets.extend(e.event.ticket());
                    let (a, b) = e.event.queues();
                    queues.extend(a);
                    queues.extend(b);
                    batch.events.push(EventRow {
                        venue_id: state.id,
                        actor: req.actor,
                        event: e.clone(),
                    });
                }
                for id in tickets {
                    if let Some(t) = state.tickets.get(&id) {
                        batch.tickets.push((state.id, t.clone()));
                    }
                }
                for id in queues {
                    if let Some(q) = state.queues.get(&id) {
                        batch.queues.push(QueueRow {
                            id,
                            status: q.status,
                            day: q.day,
                            last_number: q.last_number,
                            pace_ms: q.pace_ms,
                            last_call_at: q.last_call_at,
                            max_waiting: q.max_waiting,
                        });
                    }
                }
                batch.venues.retain(|v: &VenueRow| v.id != state.id);
                batch.venues.push(VenueRow {
                    id: state.id,
                    name: state.name.clone(),
                    event_offset: state.offset,
                    next_ticket_id: state.next_ticket_id,
                });
                drop(state);
                touched.insert(req.venue.id, req.venue.clone());
                accepted.push((req.reply, outcome, req.venue));
            }
        }
    }
    if accepted.is_empty() {
        return;
    }
    let t0 = Instant::now();
    let persisted = store.persist(&batch).await;
    metrics.commit_time.observe(t0.elapsed());
    if let Err(e) = persisted {
        tracing::error!(task = "venue-writer", error = %format!("{e:#}"), "batch not committed; reloading venues");
        // Memory ran ahead of storage: put it back to what storage holds, then refuse.
        for venue in touched.values() {
            match store.load_venue(&venue.slug).await {
                Ok(Some(mut fresh)) => {
                    let mut state = venue.write();
                    // Offsets never go back: a reader may have seen the refused ones, and a
                    // reused offset would be skipped by every watcher that did.
                    fresh.offset = state.offset;
                    *state = fresh;
                    drop(state);
                    venue.forget_pictures();
                    venue.changed.send_replace(venue.read().offset);
                }
                Ok(None) | Err(_) => tracing::error!(venue = %venue.slug, "could not reload venue"),
            }
        }
        for (reply, _, _) in accepted {
            let _ = reply.send(Err(ExecError::Storage(anyhow::anyhow!("{e:#}"))));
        }
        return;
    }
    metrics.commits.fetch_add(1, Ordering::Relaxed);
    metrics
        .commands
        .fetch_add(accepted.len() as u64, Ordering::Relaxed);
    // The batch's rows are the accepted commands' events in order: watchers get those
    // copies, moved, rather than a second clone of each.
    let mut committed = batch.events.into_iter();
    for (reply, outcome, venue) in accepted {
        for row in committed.by_ref().take(outcome.events.len()) {
            // No receivers is fine: nobody is watching this venue right now.
            let _ = venue.events.send(super::Live::Event(Arc::new(row.event)));
        }
        if let Some(last) = outcome.events.last() {
            venue.changed.send_replace(last.offset);
        }
        let _ = reply.send(Ok(outcome));
    }
}
