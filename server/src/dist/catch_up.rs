//! Bringing a venue's state up to its log: catch up from the stream after a missed message
//! or a lost reply, resync from the latest snapshot when the stream no longer has what comes
//! next or the venue diverged.

use super::{Dist, Logged, READ_CHUNK, Read};
use crate::venues::{Applied, VenueHandle};
use anyhow::Context;
use fred::prelude::*;
use std::sync::atomic::Ordering;

impl Dist {
    /// Apply everything the log has after the venue's position; resync from the snapshot if
    /// the log no longer has what comes next (trimmed) or the venue diverged.
    pub(crate) async fn catch_up(&self, venue: &VenueHandle) -> anyhow::Result<()> {
        loop {
            let have = venue.log_seq();
            let Read { entries, full } = self
                .read_after::<Logged>(venue.id, have, READ_CHUNK)
                .await?;
            if entries.is_empty() {
                // Nothing after us in the stream: we are at the head, or the log went back
                // (Redis lost data), or entries were appended since the read (look again),
                // or they were trimmed (we were away long).
                match self.seq_of(venue.id).await? {
                    Some(s) if s == have => return Ok(()),
                    Some(s) if s > have => {
                        if self
                            .read_after::<Logged>(venue.id, have, 1)
                            .await?
                            .entries
                            .is_empty()
                        {
                            return self.resync(venue).await;
                        }
                        continue;
                    }
                    _ => return self.resync(venue).await,
                }
            }
            match venue.apply_logged(entries) {
                Applied::Upto(_) if !full => return Ok(()),
                Applied::Upto(_) => {}
                Applied::Gap { .. } | Applied::Diverged => return self.resync(venue).await,
            }
        }
    }

    /// Bring the venue up to its log if it is behind it: one round trip when it is not.
    pub(crate) async fn catch_up_if_behind(&self, venue: &VenueHandle) -> anyhow::Result<()> {
        if self
            .seq_of(venue.id)
            .await?
            .is_some_and(|head| head > venue.log_seq())
        {
            self.catch_up(venue).await?;
        }
        Ok(())
    }

    /// Catch up every loaded venue that is behind its log; one round trip when none is.
    /// Returns whether any was behind.
    pub(crate) async fn catch_up_behind(&self) -> anyhow::Result<bool> {
        let venues = self.handles();
        if venues.is_empty() {
            return Ok(false);
        }
        let keys: Vec<String> = venues.iter().map(|v| self.key(v.id, "seq")).collect();
        let seqs: Value = self.redis.custom(fred::cmd!("MGET"), keys).await?;
        let mut behind = false;
        for (venue, seq) in venues.iter().zip(seqs.into_array()) {
            if seq.as_u64().is_some_and(|s| s > venue.log_seq()) {
                behind = true;
                self.catch_up(venue).await?;
            }
        }
        Ok(behind)
    }

    /// Replace the venue's state with the newest snapshot, then catch up from the log.
    pub(crate) async fn resync(&self, venue: &VenueHandle) -> anyhow::Result<()> {
        self.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
        let snap = match self.load_snapshot(venue.id).await? {
            Some(s) => s,
            None => {
                // Redis lost the venue (no AOF, or flushed): start a new epoch from history.
                tracing::warn!(venue = %venue.slug, "the venue's log is gone from Redis; starting a new epoch from MySQL history");
                let seed = self
                    .mysql
                    .load_venue(&venue.slug)
                    .await?
                    .context("the venue is gone from MySQL")?;
                self.init_log(seed).await?
            }
        };
        // The snapshot is caught up from the log before it replaces the venue's state: sockets
        // take their ticket from the new state as soon as it is in, and a ticket joined after
        // the snapshot must be there then (it was not, and its phone's socket was closed).
        let (mut state, mut seq, mut at) = (snap.state, snap.seq, snap.at);
        loop {
            let Read { entries, full } =
                self.read_after::<Logged>(venue.id, seq, READ_CHUNK).await?;
            for e in &entries {
                if e.seq != seq + 1 || e.replay(&mut state).is_none() {
                    anyhow::bail!("the log does not continue its snapshot at seq {}", e.seq);
                }
                (seq, at) = (e.seq, e.at);
            }
            if !full || entries.is_empty() {
                break;
            }
        }
        tracing::info!(venue = %venue.slug, from = venue.log_seq(), to = seq, snapshot = snap.seq, "resync from snapshot");
        venue.replace(state, seq, at);
        Ok(())
    }

    /// Test hook: resync every loaded venue from its snapshot and log, as after a divergence.
    pub async fn resync_all(&self) -> anyhow::Result<()> {
        for venue in self.handles() {
            self.resync(&venue).await?;
        }
        Ok(())
    }
}
