//! One writer per venue per instance: apply a batch of commands to a copy of the state, then
//! append them to the log if nobody appended since (compare-and-set), else catch up and redo.
//!
//! A caller is answered only after its entry is in the log (durable in Redis, ordered), and
//! with exactly the outcome every instance will compute when it applies that entry.

use super::own::own_prefix;
use super::{
    Appended, Dist, Entry, Logged, SNAPSHOT_IDLE, snapshot_after_batch, snapshot_due, write_item,
};
use crate::clock::now_ms;
use crate::venues::{ExecError, VenueHandle, WRITE_QUEUE, WriteRequest};
use app::domain::engine::Outcome;
use app::domain::{Command, JoinUndo, apply};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Most commands appended in one step (one script call, one log item, one pub/sub message).
const MAX_BATCH: usize = 512;

/// Attempts before a batch is refused: only reached when Redis keeps failing (a writer that
/// keeps losing the race claims the next turn, see [`CLAIM_AFTER`]).
const MAX_ATTEMPTS: u32 = 64;

/// Lost races after which a batch claims the next append for itself. Without it, a batch
/// that takes longer to redo than another instance takes between appends (a call next, which
/// cannot be taken back, copies the whole venue to try again) lost every time while a door
/// rush went on elsewhere, and staff got "try again" after 64 attempts.
const CLAIM_AFTER: u32 = 3;

/// Waits for another instance's claimed turn, each about a millisecond, that do not count
/// as attempts (a claim expires after 100 ms).
const MAX_TURN_WAITS: u32 = 1000;

pub(super) fn start(dist: Arc<Dist>, venue: Arc<VenueHandle>, stopping: watch::Receiver<bool>) {
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    if venue.log_writer.set(tx).is_ok() {
        tokio::spawn(run(dist, venue, rx, stopping));
    }
}

async fn run(
    dist: Arc<Dist>,
    venue: Arc<VenueHandle>,
    mut rx: mpsc::Receiver<WriteRequest>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut requests = Vec::with_capacity(MAX_BATCH);
    let mut scratch = None;
    // When the snapshot this writer owes came due, if it owes one (see `snapshot_after_batch`).
    let mut owed: Option<Instant> = None;
    loop {
        let stop = tokio::select! {
            n = rx.recv_many(&mut requests, MAX_BATCH) => {
                if n == 0 { break; }
                false
            }
            _ = stopping.wait_for(|s| *s) => true,
            _ = quiet(owed) => {
                snapshot_now(&dist, &venue, &mut scratch);
                owed = None;
                continue;
            }
        };
        if stop {
            rx.close();
            if rx.recv_many(&mut requests, MAX_BATCH).await == 0 {
                break;
            }
        }
        let due = write_batch(&dist, &venue, &mut scratch, std::mem::take(&mut requests)).await;
        let now_too;
        (now_too, owed) = snapshot_after_batch(owed, due, Instant::now());
        if now_too {
            snapshot_now(&dist, &venue, &mut scratch);
        }
    }
    if owed.is_some() {
        snapshot_now(&dist, &venue, &mut scratch);
    }
}

/// Ready once the writer, owing a snapshot, has had no command for [`SNAPSHOT_IDLE`].
async fn quiet(owed: Option<Instant>) {
    match owed {
        Some(_) => tokio::time::sleep(SNAPSHOT_IDLE).await,
        None => std::future::pending().await,
    }
}

type Result1 = Result<Outcome, ExecError>;

/// The writer's own copy of the venue's state, at log entry `seq` of reload `reloads`.
///
/// A batch is applied to a copy, since it may lose the race to append. Cloning the live state
/// for every batch costs O(tickets): with 20,000 people in a line that was most of a join
/// burst's time, and every call next cloned the whole stadium. So the copy is kept:
/// - after a successful append it *is* the state at the new seq (the engine is deterministic);
/// - when other instances appended meanwhile, it replays their entries, which the venue keeps
///   for a while after applying them ([`VenueHandle::replay_recent`]);
/// - when the batch lost the race and was all joins, the joins are taken back ([`JoinUndo`]).
///
/// The live state is cloned again only after a reload, a batch of other commands that lost
/// the race, or a copy so far behind that the venue no longer keeps what it missed.
pub(super) struct Scratch {
    state: app::domain::VenueState,
    seq: u64,
    reloads: u64,
}

impl Scratch {
    /// A copy of the venue's state, its log position, and its last entry's time: `kept` if it
    /// still describes the venue, else a fresh clone.
    fn take(kept: Option<Scratch>, venue: &VenueHandle, dist: &Dist) -> (Scratch, i64) {
        // Seq, reload count and state change only under the state's write lock.
        let st = venue.read();
        let seq = venue.log_seq.load(Ordering::Acquire);
        let reloads = venue.reloads.load(Ordering::Acquire);
        let last_at = venue.log_at.load(Ordering::Acquire);
        let caught_up = kept.filter(|s| s.reloads == reloads).and_then(|mut s| {
            (s.seq == seq || venue.replay_recent(&mut s.state, s.seq, seq)).then(|| {
                s.seq = seq;
                s
            })
        });
        let scratch = caught_up.unwrap_or_else(|| {
            dist.metrics.state_copies.fetch_add(1, Ordering::Relaxed);
            Scratch {
                state: st.clone(),
                seq,
                reloads,
            }
        });
        (scratch, last_at)
    }

    /// The copy after a batch that was not appended: back at `seq` if the batch can be taken
    /// back (joins only), else none, and the next attempt clones the venue afresh.
    fn taken_back(
        mut state: app::domain::VenueState,
        undo: Option<JoinUndo>,
        seq: u64,
        reloads: u64,
    ) -> Option<Scratch> {
        undo?.undo(&mut state).then_some(Scratch {
            state,
            seq,
            reloads,
        })
    }
}

/// Apply and append one batch, answering every request in it. Returns whether the append
/// passed a snapshot point ([`snapshot_due`]).
async fn write_batch(
    dist: &Arc<Dist>,
    venue: &VenueHandle,
    kept: &mut Option<Scratch>,
    requests: Vec<WriteRequest>,
) -> bool {
    let mut last_error = None;
    let mut looked_at_head = false;
    let (mut attempts, mut losses, mut waits) = (0, 0, 0);
    while attempts < MAX_ATTEMPTS {
        attempts += 1;
        // Taken out: whatever this attempt does to it, it is put back only if it then
        // describes the venue exactly.
        let (
            Scratch {
                state: mut scratch,
                seq,
                reloads,
            },
            last_at,
        ) = Scratch::take(kept.take(), venue, dist);
        // Time never runs backwards within the log, even across instances' clocks.
        let at = now_ms().max(last_at);
        let nonce = dist.next_nonce();
        let mut results: Vec<Result1> = Vec::with_capacity(requests.len());
        let mut entries = Vec::new();
        let mut undo = requests
            .iter()
            .all(|r| matches!(r.cmd, Command::Join { .. }))
            .then(|| JoinUndo::new(&scratch));
        for req in &requests {
            match apply(&mut scratch, req.cmd.clone(), at) {
                Err(e) => results.push(Err(e.into())),
                Ok(outcome) if outcome.events.is_empty() => results.push(Ok(outcome)),
                Ok(outcome) => {
                    if let (Some(undo), Some(ticket)) = (undo.as_mut(), outcome.ticket) {
                        undo.joined(ticket);
                    }
                    let tickets: BTreeSet<_> = outcome
                        .events
                        .iter()
                        .filter_map(|e| e.event.ticket())
                        .collect();
                    entries.push(Entry {
                        seq: seq + entries.len() as u64 + 1,
                        nonce: nonce.clone(),
                        at,
                        actor: req.actor,
                        cmd: req.cmd.clone(),
                        events: outcome.events.clone(),
                        tickets: tickets
                            .iter()
                            .filter_map(|id| scratch.tickets.get(id).cloned())
                            .collect(),
                    });
                    results.push(Ok(outcome));
                }
            }
        }
        if entries.is_empty() {
            // Nothing was applied that changed the state: the copy is still at `seq`.
            *kept = Some(Scratch {
                state: scratch,
                seq,
                reloads,
            });
            // Answered without an append, nothing has checked that the copy is the log's
            // newest state: "nobody waiting" could be about a join another instance has just
            // acknowledged and this one's follower not yet applied. One look at the log's head
            // first; if it moved on, catch up and apply the batch again.
            if !looked_at_head {
                looked_at_head = true;
                if let Err(e) = dist.catch_up_if_behind(venue).await {
                    tracing::warn!(venue = %venue.slug, error = %format!("{e:#}"), "catch-up failed");
                }
                if venue.log_seq() != seq {
                    continue;
                }
            }
            if losses > CLAIM_AFTER {
                // It may hold the turn it claimed, which the others wait for: give it back.
                if let Err(e) = dist.release_turn(venue.id).await {
                    tracing::debug!(error = %format!("{e:#}"), "turn not given back; it expires");
                }
            }
            answer(requests, results);
            return false;
        }
        if losses < CLAIM_AFTER && venue.log_seq.load(Ordering::Acquire) != seq {
            // The follower applied another instance's entry while this batch was applied, so
            // the append would fail its compare-and-set: don't send it (Redis would take the
            // whole text before refusing it). Try again from the newer state.
            dist.metrics
                .append_conflicts
                .fetch_add(1, Ordering::Relaxed);
            dist.metrics.appends_skipped.fetch_add(1, Ordering::Relaxed);
            *kept = Scratch::taken_back(scratch, undo, seq, reloads);
            losses += 1;
            continue;
        }
        let item = match write_item(&entries) {
            Ok(item) => item,
            Err(e) => {
                refuse(requests, &anyhow::Error::new(e));
                return false;
            }
        };
        let count = entries.len();
        let last = seq + count as u64;
        let prefix = own_prefix(seq + 1, last, &nonce);
        let (logged, history): (Vec<Logged>, Vec<_>) =
            entries.into_iter().map(|e| e.split(venue.id)).unzip();
        // Before the append: the projector may be handed the item before this task has
        // Redis's reply.
        dist.keep_own(venue.id, last, prefix.clone(), history);
        let appending = Appending::start(venue, prefix);
        let t0 = Instant::now();
        let claim = losses >= CLAIM_AFTER;
        let appended = dist.append(venue.id, seq, count, item, claim).await;
        dist.metrics.append_time.observe(t0.elapsed());
        let done = match appended {
            Ok(Appended::Done(new_seq)) => Some(new_seq),
            Ok(Appended::Conflict) => {
                dist.metrics
                    .append_conflicts
                    .fetch_add(1, Ordering::Relaxed);
                if claim {
                    dist.metrics.turns_claimed.fetch_add(1, Ordering::Relaxed);
                }
                losses += 1;
                None
            }
            Ok(Appended::NotOurTurn) => {
                // Another instance's starved writer goes first: let it, then redo from the
                // newer state. Not an attempt: a claim expires.
                drop(appending);
                dist.metrics.turn_waits.fetch_add(1, Ordering::Relaxed);
                waits += 1;
                if waits <= MAX_TURN_WAITS {
                    attempts -= 1;
                }
                *kept = Scratch::taken_back(scratch, undo, seq, reloads);
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
            Ok(Appended::NoLog) => {
                drop(appending);
                if let Err(e) = dist.resync(venue).await {
                    last_error = Some(e);
                }
                continue;
            }
            Err(e) => {
                // The reply was lost, not necessarily the append: the log says which.
                match is_ours(dist, venue.id, seq + 1, &nonce).await {
                    Ok(true) => Some(last),
                    Ok(false) => None,
                    Err(_) => {
                        tracing::warn!(venue = %venue.slug, error = %e, "append failed");
                        last_error = Some(e);
                        break;
                    }
                }
            }
        };
        match done {
            Some(new_seq) => {
                dist.metrics
                    .appended
                    .fetch_add(count as u64, Ordering::Relaxed);
                venue.apply_logged(logged);
                drop(appending);
                let due = snapshot_due(seq, new_seq, scratch.tickets.len());
                *kept = Some(Scratch {
                    state: scratch,
                    seq: new_seq,
                    reloads,
                });
                answer(requests, results);
                return due;
            }
            None => {
                drop(appending);
                // Lost the race: the next attempt replays what the others appended.
                *kept = Scratch::taken_back(scratch, undo, seq, reloads);
                if let Err(e) = dist.catch_up(venue).await {
                    tracing::warn!(venue = %venue.slug, error = %format!("{e:#}"), "catch-up failed");
                    last_error = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    let e = last_error.unwrap_or_else(|| anyhow::anyhow!("too much contention on this venue"));
    refuse(requests, &e);
    false
}

/// While alive: this venue's writer is waiting on the append whose text starts with its
/// prefix, and applies it itself once appended (see `own.rs`).
struct Appending<'a>(&'a VenueHandle);

impl<'a> Appending<'a> {
    fn start(venue: &'a VenueHandle, prefix: String) -> Self {
        venue.appending.send_replace(Some(prefix));
        Self(venue)
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.appending.send_replace(None);
    }
}

/// Whether the log entry at `seq` was written by the attempt `nonce`.
async fn is_ours(dist: &Dist, venue_id: i64, seq: u64, nonce: &str) -> anyhow::Result<bool> {
    #[derive(serde::Deserialize)]
    struct Mark {
        seq: u64,
        nonce: String,
    }
    let found = dist.read_after::<Mark>(venue_id, seq - 1, 1).await?;
    Ok(found
        .entries
        .first()
        .is_some_and(|e| e.seq == seq && e.nonce == nonce))
}

/// Write a snapshot of the venue's state to Redis in the background: of the writer's copy,
/// brought up to the venue's log position first. It is serialized here rather than cloned
/// (a clone cost half as much again), holding up this venue's next batch meanwhile, which is
/// why the writer waits for a quiet moment (see `snapshot_after_batch`).
fn snapshot_now(dist: &Arc<Dist>, venue: &VenueHandle, kept: &mut Option<Scratch>) {
    let (caught_up, at) = Scratch::take(kept.take(), venue, dist);
    let scratch = kept.insert(caught_up);
    let json = match serde_json::to_string(&scratch.state) {
        Ok(json) => json,
        Err(e) => return tracing::warn!(error = %e, "snapshot not written"),
    };
    let (dist, id, seq) = (dist.clone(), venue.id, scratch.seq);
    tokio::spawn(async move {
        if let Err(e) = dist.write_snapshot(id, json, seq, at).await {
            tracing::warn!(error = %format!("{e:#}"), "snapshot not written");
        }
    });
}

fn answer(requests: Vec<WriteRequest>, results: Vec<Result1>) {
    for (req, r) in requests.into_iter().zip(results) {
        let _ = req.reply.send(r);
    }
}

fn refuse(requests: Vec<WriteRequest>, e: &anyhow::Error) {
    for req in requests {
        let _ = req
            .reply
            .send(Err(ExecError::Storage(anyhow::anyhow!("{e:#}"))));
    }
}
