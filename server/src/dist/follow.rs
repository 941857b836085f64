//! The follower: applies every venue's log entries on this instance as they are published,
//! and makes sure a missed message never leaves a venue behind.
//!
//! - pub/sub delivers entries in the order they were appended; a message of entries already
//!   applied is skipped unread, [`VenueHandle::apply_logged`] skips single ones, and a gap is
//!   filled from the stream; a message of this instance's own append waits for its writer,
//!   which applies those entries itself;
//! - after the subscriber reconnects (or its buffer overflowed) every venue catches up;
//! - once a second each venue's `seq` is compared with what was applied, which also catches a
//!   lost last message and a Redis that came back without its data (then: resync).
//!
//! [`VenueHandle::apply_logged`]: crate::venues::VenueHandle::apply_logged

use super::{Dist, Logged, Message, read_message};
use crate::venues::{Applied, VenueHandle};
use fred::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often each venue's log position is checked even without messages.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Longest wait for this instance's writer to apply its own append once Redis published it
/// (the writer's reply is on its way then; only a lost connection takes longer).
const WRITER_WAIT: Duration = Duration::from_secs(1);

pub(super) async fn run(dist: Arc<Dist>) {
    let mut messages = dist.subscriber.message_rx();
    let mut reconnects = dist.subscriber.reconnect_rx();
    // Subscriptions are restored after a reconnect by this task.
    let _resubscribe = dist.subscriber.manage_subscriptions();
    let mut stopping = dist.stopping.clone();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            m = messages.recv() => match m {
                Ok(msg) => on_message(&dist, msg).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "pub/sub messages dropped; catching up from the log");
                    check_all(&dist, true).await;
                }
                Err(RecvError::Closed) => break,
            },
            r = reconnects.recv() => {
                if r.is_ok() {
                    tracing::info!("reconnected to Redis; catching up from the log");
                    check_all(&dist, true).await;
                }
            }
            _ = tick.tick() => check_all(&dist, false).await,
            r = stopping.changed() => {
                if r.is_err() || *stopping.borrow() {
                    break;
                }
            }
        }
    }
}

async fn on_message(dist: &Dist, msg: fred::types::Message) {
    let Some(venue) = dist
        .venue_of_channel(&msg.channel)
        .and_then(|id| dist.handle(id))
    else {
        return;
    };
    if dist
        .drop_messages
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return;
    }
    let text = msg.value.as_str();
    let text = text.as_deref().unwrap_or_default();
    let mut have = venue.log_seq();
    let mut message = read_message(text, have);
    if matches!(message, Message::Entries(_)) && applied_by_writer(&venue, text).await {
        have = venue.log_seq();
        message = read_message(text, have);
    }
    let result = match message {
        Message::Applied => return,
        Message::Gap => Applied::Gap { have },
        Message::Entries(json) => match serde_json::from_str::<Vec<Logged>>(json) {
            Ok(entries) => venue.apply_logged(entries),
            Err(_) => {
                tracing::warn!(venue = %venue.slug, "unreadable log entries on pub/sub; catching up from the log");
                Applied::Gap { have }
            }
        },
        Message::Unreadable => {
            tracing::warn!(venue = %venue.slug, "unreadable pub/sub message; catching up from the log");
            Applied::Gap { have }
        }
    };
    let done = match result {
        Applied::Upto(_) => Ok(()),
        Applied::Gap { .. } => dist.catch_up(&venue).await,
        Applied::Diverged => dist.resync(&venue).await,
    };
    if let Err(e) = done {
        tracing::warn!(venue = %venue.slug, error = %format!("{e:#}"), "could not catch up; will retry");
    }
}

/// Whether this instance's writer of the venue is the one that appended `text` and has now
/// applied it (or given up on it): Redis publishes an append before the writer has its reply,
/// and the writer applies its own entries, which it holds already, so the follower waits for
/// that rather than read them twice. Bounded by [`WRITER_WAIT`]; see `own.rs`.
async fn applied_by_writer(venue: &VenueHandle, text: &str) -> bool {
    let ours = |a: &Option<String>| a.as_deref().is_some_and(|p| text.starts_with(p));
    let mut appending = venue.appending.subscribe();
    if !ours(&appending.borrow_and_update()) {
        return false;
    }
    tokio::time::timeout(WRITER_WAIT, appending.wait_for(|a| !ours(a)))
        .await
        .is_ok()
}

/// Catch up every venue that is behind its log (or all of them, when `all`).
async fn check_all(dist: &Dist, all: bool) {
    for venue in dist.handles() {
        let behind = match dist.seq_of(venue.id).await {
            Ok(Some(seq)) => seq != venue.log_seq(),
            // No log at all: Redis lost it; catch_up starts a new epoch.
            Ok(None) => true,
            Err(e) => {
                tracing::debug!(error = %e, "Redis not reachable; will retry");
                return;
            }
        };
        if (all || behind)
            && let Err(e) = dist.catch_up(&venue).await
        {
            tracing::warn!(venue = %venue.slug, error = %format!("{e:#}"), "could not catch up; will retry");
        }
    }
}
