//! The history projector: drains every venue's log into MySQL through a Redis consumer group.
//!
//! - Log items (one append's entries each) are read in batches (`XREADGROUP`), their entries
//!   written in one transaction per venue (`MySqlStore::write_history` is idempotent and
//!   order-tolerant), and the items acknowledged only after the commit. While entries keep
//!   coming, rounds are [`GATHER`] apart, and history waits out a door rush (`pace.rs`).
//!   Every instance runs one consumer; items a dead instance had taken are claimed by the
//!   others after `CLAIM_IDLE`.
//! - MySQL unreachable (connection errors, pool timeouts) is an outage, not the entry's
//!   fault: back off (up to `pace::MAX_BACKOFF`) and retry forever; joins and calls never
//!   wait for this. History catches up when MySQL is back.
//! - An entry MySQL refuses (or that cannot be decoded) is retried on its own, and after
//!   [`MAX_FAILURES`] failed deliveries moved to the venue's dead-letter stream and its item
//!   acknowledged, so it never blocks the entries behind it. Owners and managers can list and
//!   replay dead letters; `/metrics` counts them.

mod pace;

pub use pace::{GATHER, RUSH_GATHER, RUSH_MAX, RUSH_RATE};
use pace::{RUSH_LOOK, gather_pause, next_backoff, pause, rush_goes_on};

use super::{Dist, Entry, HISTORY_GROUP, parse_entries, read_item, seq_of_id};
use crate::store::HistoryEntry;
use fred::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 3;
/// Log items per read. An item holds one append: one entry when the venue is quiet, up to
/// `writer::MAX_BATCH` in a burst.
const READ_COUNT: u32 = 128;
const BLOCK_MS: u64 = 1000;
const CLAIM_IDLE: Duration = Duration::from_secs(30);

/// Run until `stopping`. `connections`: most MySQL connections used at once for history.
pub async fn run(dist: Arc<Dist>, redis_url: String, connections: usize) {
    // Blocking reads get their own connection so they never hold up the venue writers.
    let client = match super::redis_builder(&redis_url) {
        Ok(b) => match super::redis_connect(&b, &redis_url).await {
            Ok(c) => c,
            Err(e) => {
                return tracing::error!(error = %format!("{e:#}"), "history projector did not start");
            }
        },
        Err(e) => {
            return tracing::error!(error = %format!("{e:#}"), "history projector did not start");
        }
    };
    let mut p = Projector {
        dist: dist.clone(),
        client,
        permits: Arc::new(tokio::sync::Semaphore::new(connections.max(1))),
        failures: HashMap::new(),
        backoff: Duration::ZERO,
        retry_pending: false,
        last_claim: Instant::now(),
        rush_mark: (Instant::now(), 0),
        in_rush: false,
    };
    let mut stopping = dist.stopping.clone();
    loop {
        if *stopping.borrow() {
            break;
        }
        if !p.backoff.is_zero() {
            let (since, rush) = (Instant::now(), p.in_rush);
            if pause(p.backoff, rush, &dist.own_filling, &mut stopping).await {
                break;
            }
            if rush && p.wait_out_rush(since, &mut stopping).await {
                break;
            }
        }
        if let Err(e) = p.round().await {
            tracing::warn!(error = %format!("{e:#}"), "history projector: Redis error; retrying");
            p.backoff = next_backoff(p.backoff);
            p.in_rush = false;
            // A read whose reply was lost (Redis died mid-answer) still delivered its entries
            // to us: read our own pending ones first, instead of waiting for them to be
            // claimed as stale after CLAIM_IDLE. Writing history twice is harmless.
            p.retry_pending = true;
        }
    }
    let _ = p.client.quit().await;
}

struct Projector {
    dist: Arc<Dist>,
    client: Client,
    permits: Arc<tokio::sync::Semaphore>,
    /// Failed deliveries per stream item (venue, id), until it succeeds or is dead-lettered.
    failures: HashMap<(i64, String), u32>,
    /// The pause before the next round: a backoff after errors, [`GATHER`] during a burst.
    backoff: Duration,
    /// Some entries of ours are pending (failed): read those again before new ones.
    retry_pending: bool,
    last_claim: Instant,
    /// When the last round ended, and how many entries this instance had appended by then.
    rush_mark: (Instant, u64),
    /// The pause is [`RUSH_GATHER`] (and [`RUSH_LOOK`] more while the rush goes on): it ends
    /// early when this instance's kept appends fill up.
    in_rush: bool,
}

impl Projector {
    /// A rush's first pause is over (it began at `since`): pause again while the rush goes on
    /// ([`rush_goes_on`]). True if the instance is stopping.
    async fn wait_out_rush(
        &mut self,
        since: Instant,
        stopping: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        loop {
            let appended = self.dist.metrics.appended.load(Ordering::Relaxed);
            let (at, before) = self.rush_mark;
            let (over, waited) = (at.elapsed(), since.elapsed());
            let filling = self.dist.own_filling_up();
            if !rush_goes_on(appended.saturating_sub(before), over, waited, filling) {
                return false;
            }
            self.rush_mark = (Instant::now(), appended);
            if pause(RUSH_LOOK, true, &self.dist.own_filling, stopping).await {
                return true;
            }
        }
    }

    async fn round(&mut self) -> anyhow::Result<()> {
        let venues: Vec<i64> = self.dist.handles().iter().map(|v| v.id).collect();
        if venues.is_empty() {
            tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
            return Ok(());
        }
        let mut batches: Vec<(i64, Vec<(String, String)>)> = Vec::new();
        if self.last_claim.elapsed() >= CLAIM_IDLE / 2 {
            self.last_claim = Instant::now();
            for &v in &venues {
                let claimed = self.claim_stale(v).await?;
                if !claimed.is_empty() {
                    batches.push((v, claimed));
                }
            }
        }
        let from = if self.retry_pending { "0" } else { ">" };
        self.retry_pending = false;
        batches.extend(self.read(&venues, from).await?);
        let most = batches.iter().map(|(_, items)| items.len()).max();
        let mut outage = false;
        self.in_rush = false;
        let results = futures_util::future::join_all(
            batches
                .into_iter()
                .map(|(venue, items)| self.write_venue(venue, items)),
        )
        .await;
        for r in results {
            let Some(Projected {
                venue,
                wrote,
                done,
                done_entries,
                refused,
            }) = r
            else {
                outage = true;
                continue;
            };
            let m = &self.dist.metrics;
            if wrote {
                m.history_writes.fetch_add(1, Ordering::Relaxed);
            }
            m.projected
                .fetch_add(done_entries as u64, Ordering::Relaxed);
            for id in &done {
                self.failures.remove(&(venue, id.clone()));
            }
            if !done.is_empty() {
                self.ack(venue, done).await?;
            }
            for item in refused {
                self.refused(venue, item).await?;
            }
        }
        if outage {
            self.retry_pending = true;
            self.backoff = next_backoff(self.backoff);
        } else if self.retry_pending {
            self.backoff = Duration::from_millis(100);
        } else if most.is_some_and(|n| n < READ_COUNT as usize) {
            let appended = self.dist.metrics.appended.load(Ordering::Relaxed);
            let (since, before) = self.rush_mark;
            self.backoff = gather_pause(appended.saturating_sub(before), since.elapsed());
            self.in_rush = self.backoff == RUSH_GATHER;
        } else {
            // Nothing came (the read blocked its full time), or a backlog: read again now.
            self.backoff = Duration::ZERO;
        }
        self.rush_mark = (
            Instant::now(),
            self.dist.metrics.appended.load(Ordering::Relaxed),
        );
        Ok(())
    }

    /// Write one venue's items: all their entries at once, or one by one if MySQL refused
    /// them. `None`: MySQL is not reachable (nothing counts against the entries).
    async fn write_venue(&self, venue: i64, items: Vec<(String, String)>) -> Option<Projected> {
        let _permit = self.permits.acquire().await;
        // What history is given, with (index of its item, seq), and what it could not take,
        // by item.
        let mut all: Vec<HistoryEntry> = Vec::new();
        let mut good: Vec<(usize, u64)> = Vec::new();
        let mut refused: Vec<Vec<Refused>> = items.iter().map(|_| Vec::new()).collect();
        for (i, (id, text)) in items.iter().enumerate() {
            match self.entries_of(venue, id, text) {
                Ok(entries) => {
                    for (seq, e) in entries {
                        if self.injected(venue, seq) {
                            refused[i].push(Refused {
                                seq,
                                json: entry_json(text, seq),
                                error: "injected failure (test)".into(),
                            });
                        } else {
                            good.push((i, seq));
                            all.push(e);
                        }
                    }
                }
                Err(e) => refused[i].push(Refused {
                    seq: seq_of_id(id).unwrap_or(0),
                    json: text.clone(),
                    error: format!("{e:#}"),
                }),
            }
        }
        // Entries written, by item.
        let mut written = vec![0; items.len()];
        if !good.is_empty() {
            match self.dist.mysql.write_history(&all).await {
                Ok(()) => good.iter().for_each(|(i, _)| written[*i] += 1),
                Err(e) if is_outage(&e) => return None,
                Err(_) => {
                    // MySQL refused the batch: find the entries it refuses, write the rest.
                    for (&(i, seq), h) in good.iter().zip(&all) {
                        match self.dist.mysql.write_history(std::slice::from_ref(h)).await {
                            Ok(()) => written[i] += 1,
                            Err(err) if is_outage(&err) => return None,
                            Err(err) => refused[i].push(Refused {
                                seq,
                                json: entry_json(&items[i].1, seq),
                                error: format!("{err:#}"),
                            }),
                        }
                    }
                }
            }
        }
        let mut out = Projected {
            venue,
            wrote: written.iter().any(|&w| w > 0),
            done: Vec::new(),
            done_entries: 0,
            refused: Vec::new(),
        };
        for (((id, _), refused), written) in items.into_iter().zip(refused).zip(written) {
            if refused.is_empty() {
                out.done.push(id);
                out.done_entries += written;
            } else {
                out.refused.push(RefusedItem {
                    id,
                    written,
                    refused,
                });
            }
        }
        Some(out)
    }

    /// An item some of whose entries history refused: try again later (its other entries are
    /// written again, harmlessly), or after [`MAX_FAILURES`] deliveries move those entries to
    /// the dead-letter stream and acknowledge the item.
    async fn refused(&mut self, venue: i64, item: RefusedItem) -> anyhow::Result<()> {
        let RefusedItem {
            id,
            written,
            refused,
        } = item;
        let n = self.failures.entry((venue, id.clone())).or_insert(0);
        *n += 1;
        let n = *n;
        for r in &refused {
            tracing::warn!(venue, seq = r.seq, failures = n, error = %r.error, "history write failed");
        }
        if n < MAX_FAILURES {
            self.retry_pending = true;
            self.dist
                .metrics
                .projector_retries
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        for r in &refused {
            self.dead_letter(venue, r, n).await?;
        }
        self.failures.remove(&(venue, id.clone()));
        self.dist
            .metrics
            .projected
            .fetch_add(written as u64, Ordering::Relaxed);
        self.ack(venue, vec![id]).await
    }

    /// The entries of a log item, with their seqs: as this instance's writer made them if it
    /// did and they are still kept (see `own.rs`), else read from the item's text.
    fn entries_of(
        &self,
        venue: i64,
        id: &str,
        text: &str,
    ) -> anyhow::Result<Vec<(u64, HistoryEntry)>> {
        if let Some(last) = seq_of_id(id)
            && let Some(entries) = self.dist.take_own(venue, last, text)
        {
            self.dist
                .metrics
                .handed_over
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            let first = last + 1 - entries.len() as u64;
            return Ok((first..).zip(entries).collect());
        }
        Ok(read_item::<Entry>(text, 0)?
            .into_iter()
            .map(|e| (e.seq, e.into_history(venue)))
            .collect())
    }

    fn injected(&self, venue: i64, seq: u64) -> bool {
        let mut map = self
            .dist
            .inject_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&(venue, seq)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    async fn read(
        &self,
        venues: &[i64],
        from: &str,
    ) -> anyhow::Result<Vec<(i64, Vec<(String, String)>)>> {
        let mut args: Vec<String> = vec![
            "GROUP".into(),
            HISTORY_GROUP.into(),
            self.dist.instance.clone(),
            "COUNT".into(),
            READ_COUNT.to_string(),
        ];
        if from == ">" {
            args.extend(["BLOCK".into(), BLOCK_MS.to_string()]);
        }
        args.push("STREAMS".into());
        args.extend(venues.iter().map(|&v| self.dist.key(v, "log")));
        args.extend(venues.iter().map(|_| from.to_owned()));
        let raw: Value = match self
            .client
            .custom(fred::cmd!("XREADGROUP", blocking: true), args)
            .await
        {
            Ok(v) => v,
            Err(e) if e.details().contains("NOGROUP") => {
                // A venue whose log does not exist yet (or was lost): make its group.
                for &v in venues {
                    let _: Result<Value, _> = self
                        .client
                        .custom(
                            fred::cmd!("XGROUP"),
                            vec![
                                "CREATE".into(),
                                self.dist.key(v, "log"),
                                HISTORY_GROUP.to_owned(),
                                "0".into(),
                                "MKSTREAM".into(),
                            ],
                        )
                        .await;
                }
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for stream in raw.into_array() {
            let mut parts = stream.into_array().into_iter();
            let (Some(key), Some(items)) = (parts.next(), parts.next()) else {
                continue;
            };
            let key = key.into_string().unwrap_or_default();
            let Some(venue) = venues
                .iter()
                .copied()
                .find(|&v| self.dist.key(v, "log") == key)
            else {
                continue;
            };
            let items = parse_entries(items)?;
            if !items.is_empty() {
                out.push((venue, items));
            }
        }
        Ok(out)
    }

    /// Take over entries another consumer (a dead instance) has held for too long.
    async fn claim_stale(&self, venue: i64) -> anyhow::Result<Vec<(String, String)>> {
        let raw: Value = self
            .client
            .custom(
                fred::cmd!("XAUTOCLAIM"),
                vec![
                    self.dist.key(venue, "log"),
                    HISTORY_GROUP.to_owned(),
                    self.dist.instance.clone(),
                    CLAIM_IDLE.as_millis().to_string(),
                    "0-0".into(),
                    "COUNT".into(),
                    READ_COUNT.to_string(),
                ],
            )
            .await
            .or_else(|e| {
                if e.details().contains("NOGROUP") {
                    Ok(Value::Null)
                } else {
                    Err(e)
                }
            })?;
        let mut parts = raw.into_array().into_iter();
        let _next = parts.next();
        match parts.next() {
            Some(items) => parse_entries(items),
            None => Ok(Vec::new()),
        }
    }

    async fn ack(&self, venue: i64, ids: Vec<String>) -> anyhow::Result<()> {
        let mut args = vec![self.dist.key(venue, "log"), HISTORY_GROUP.to_owned()];
        args.extend(ids);
        let _: Value = self.client.custom(fred::cmd!("XACK"), args).await?;
        Ok(())
    }

    async fn dead_letter(&self, venue: i64, r: &Refused, failures: u32) -> anyhow::Result<()> {
        tracing::error!(venue, seq = r.seq, error = %r.error, "history entry moved to the dead-letter stream");
        let _: Value = self
            .client
            .custom(
                fred::cmd!("XADD"),
                vec![
                    self.dist.key(venue, "dead"),
                    "*".into(),
                    "seq".into(),
                    r.seq.to_string(),
                    "error".into(),
                    r.error.clone(),
                    "failures".into(),
                    failures.to_string(),
                    "e".into(),
                    r.json.clone(),
                ],
            )
            .await?;
        self.dist
            .metrics
            .dead_lettered
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// What one venue's round wrote.
struct Projected {
    venue: i64,
    /// It committed a transaction.
    wrote: bool,
    /// Items whose every entry is in history: to acknowledge.
    done: Vec<String>,
    /// Their entries (`fila_history_projected_total` counts each entry once, when its item is
    /// acknowledged).
    done_entries: usize,
    refused: Vec<RefusedItem>,
}

/// An item with entries history refused.
struct RefusedItem {
    id: String,
    /// Its entries that were written.
    written: usize,
    refused: Vec<Refused>,
}

/// An entry history refused, with why; what a dead letter holds.
struct Refused {
    seq: u64,
    json: String,
    error: String,
}

/// Entry `seq`'s JSON, read again from its item's text (only when history refused it: the
/// entries given to history were moved there).
fn entry_json(item: &str, seq: u64) -> String {
    read_item::<serde_json::Value>(item, seq - 1)
        .ok()
        .and_then(|entries| entries.into_iter().next())
        .map(|e| e.to_string())
        .unwrap_or_default()
}

/// Connection trouble (retry forever) as opposed to MySQL refusing this data.
fn is_outage(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(_)) => false,
        Some(
            sqlx::Error::Encode(_) | sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. },
        ) => false,
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::entry_json;
    use serde_json::{Value, json};

    #[test]
    fn a_refused_entry_is_read_again_from_its_item() {
        let item = r#"5 6 [{"seq":5,"x":1},{"seq":6,"x":2}]"#;
        let read = |seq| serde_json::from_str::<Value>(&entry_json(item, seq)).unwrap();
        assert_eq!(read(5), json!({"seq": 5, "x": 1}));
        assert_eq!(read(6), json!({"seq": 6, "x": 2}));
        // An earlier version's item holds the entry alone.
        assert_eq!(entry_json(r#"{"seq":7}"#, 7), r#"{"seq":7}"#);
    }
}
