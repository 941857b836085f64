//! The history projector's writes to MySQL: a slice of log entries as rows (each key once,
//! sorted, so concurrent writers take their locks in the same order), written in one
//! idempotent transaction that never lets an older version overwrite a newer one.

use super::{MySqlStore, is_lock_conflict};
use crate::store::HistoryEntry;
use anyhow::Context;
use app::domain::*;
use sqlx::QueryBuilder;
use sqlx::mysql::MySql;
use std::collections::{BTreeMap, btree_map::Entry};

/// Rows per multi-row INSERT: 19 columns x 400 rows stays far below MySQL's 65535 bound
/// parameters per statement, and a few hundred rows far below `max_allowed_packet`.
const ROWS_PER_STATEMENT: usize = 400;

/// A history write that lost a deadlock (or a lock wait) to another instance is run again:
/// it is idempotent, so this is always safe.
const WRITE_ATTEMPTS: u32 = 3;

/// Ticket columns an upsert may change, in assignment order (`version` goes last, apart).
const TICKET_UPDATED_COLUMNS: &[&str] = &[
    "queue_id",
    "number",
    "token",
    "name",
    "party_size",
    "notes",
    "walk_in",
    "status",
    "ticket_rank",
    "counter_id",
    "calls",
    "day",
    "joined_at",
    "called_at",
    "serving_at",
    "finished_at",
];

impl MySqlStore {
    /// Write projector entries in one transaction: events are inserted once (by venue and
    /// offset), tickets are upserted only when the entry is newer than what is stored.
    pub async fn write_history(&self, entries: &[HistoryEntry]) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = HistoryRows::new(entries)?;
        let mut attempt = 1;
        loop {
            match self.write_rows(&rows).await {
                Err(e) if attempt < WRITE_ATTEMPTS && is_lock_conflict(&e) => {
                    tracing::debug!(error = %e, attempt, "history write lost a lock; retrying");
                    attempt += 1;
                }
                result => return result.context("cannot write history to MySQL"),
            }
        }
    }

    async fn write_rows(&self, rows: &HistoryRows<'_>) -> Result<(), sqlx::Error> {
        // Rows are sorted by key and tables written in a fixed order, so concurrent writers
        // take their locks in the same order and rarely deadlock.
        let mut tx = self.pool.begin().await?;
        // The venue rows first, exclusively. Every event and ticket row below takes a shared
        // lock on its venue through the foreign key; had this update come last, a handler's
        // `UPDATE venues` (a rename, a time zone) queued between the two would deadlock with
        // it. Now that handler just waits for this commit.
        for (venue_id, (offset, next_ticket_id)) in &rows.venues {
            sqlx::query(
                "UPDATE venues SET event_offset = GREATEST(event_offset, ?), \
                 next_ticket_id = GREATEST(next_ticket_id, ?) WHERE id = ?",
            )
            .bind(*offset as i64)
            .bind(*next_ticket_id as i64)
            .bind(*venue_id)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in rows.events.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO events (venue_id, event_offset, at, kind, ticket_id, actor, body) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.venue_id)
                    .push_bind(e.event.offset as i64)
                    .push_bind(e.event.at)
                    .push_bind(e.event.event.kind())
                    .push_bind(e.event.event.ticket().map(|t| t.0 as i64))
                    .push_bind(e.actor)
                    .push_bind(e.body.as_str());
            });
            // A no-op update rather than INSERT IGNORE, which would also hide real errors
            // (foreign keys, truncation) as warnings.
            q.push(" ON DUPLICATE KEY UPDATE venue_id = venue_id");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in rows.tickets.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO tickets (venue_id, id, queue_id, number, token, name, party_size, \
                 notes, walk_in, status, ticket_rank, counter_id, calls, day, joined_at, \
                 called_at, serving_at, finished_at, version) ",
            );
            q.push_values(chunk, |mut row, (venue_id, t, version)| {
                row.push_bind(*venue_id)
                    .push_bind(t.id.0 as i64)
                    .push_bind(t.queue.0)
                    .push_bind(t.number.0.as_str())
                    .push_bind(t.token.as_str())
                    .push_bind(t.name.as_str())
                    .push_bind(t.party_size.get() as i64)
                    .push_bind(t.notes.as_deref())
                    .push_bind(t.walk_in)
                    .push_bind(t.status.as_str())
                    .push_bind(t.rank)
                    .push_bind(t.counter.map(|c| c.0))
                    .push_bind(t.calls as i64)
                    .push_bind(t.day)
                    .push_bind(t.joined_at)
                    .push_bind(t.called_at)
                    .push_bind(t.serving_at)
                    .push_bind(t.finished_at)
                    .push_bind(*version as i64);
            });
            q.push(" ON DUPLICATE KEY UPDATE ");
            // MySQL assigns left to right and later expressions see earlier assignments, so
            // every column compares against the stored version before `version` changes last.
            for col in TICKET_UPDATED_COLUMNS {
                q.push(format_args!(
                    "{col} = IF(VALUES(version) > version, VALUES({col}), {col}), "
                ));
            }
            q.push("version = GREATEST(version, VALUES(version))");
            q.build().execute(&mut *tx).await?;
        }
        for ((venue_id, queue_id), (offset, status)) in &rows.queue_status {
            sqlx::query(
                "UPDATE queues SET status = IF(? > status_offset, ?, status), \
                 status_offset = GREATEST(status_offset, ?) WHERE id = ? AND venue_id = ?",
            )
            .bind(*offset as i64)
            .bind(status.as_str())
            .bind(*offset as i64)
            .bind(queue_id)
            .bind(venue_id)
            .execute(&mut *tx)
            .await?;
        }
        for ((venue_id, queue_id), (offset, max_waiting)) in &rows.queue_limits {
            sqlx::query(
                "UPDATE queues SET max_waiting = IF(? > limit_offset, ?, max_waiting), \
                 limit_offset = GREATEST(limit_offset, ?) WHERE id = ? AND venue_id = ?",
            )
            .bind(*offset as i64)
            .bind(max_waiting.map(i64::from))
            .bind(*offset as i64)
            .bind(queue_id)
            .bind(venue_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// One event row to insert.
struct EventRow<'a> {
    venue_id: i64,
    actor: Option<i64>,
    event: &'a EventEnvelope,
    body: String,
}

/// A slice of history entries as rows: each key once, sorted by key.
struct HistoryRows<'a> {
    events: Vec<EventRow<'a>>,
    /// (venue, ticket, version): the newest version of each ticket in the slice.
    tickets: Vec<(i64, &'a Ticket, u64)>,
    /// (venue, queue) -> the newest status event's (offset, status) in the slice.
    queue_status: BTreeMap<(i64, i64), (u64, QueueStatus)>,
    /// (venue, queue) -> the newest limit event's (offset, max waiting) in the slice.
    queue_limits: BTreeMap<(i64, i64), (u64, Option<u32>)>,
    /// Venue -> (highest event offset, next ticket id).
    venues: BTreeMap<i64, (u64, u64)>,
}

impl<'a> HistoryRows<'a> {
    fn new(entries: &'a [HistoryEntry]) -> anyhow::Result<Self> {
        let mut events = BTreeMap::new();
        let mut tickets: BTreeMap<(i64, u64), (&Ticket, u64)> = BTreeMap::new();
        let mut venues: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        let mut queue_status = BTreeMap::new();
        let mut queue_limits = BTreeMap::new();
        // Keep the newest (by offset) value per queue.
        fn newest<V>(map: &mut BTreeMap<(i64, i64), (u64, V)>, key: (i64, i64), at: u64, v: V) {
            if map.get(&key).is_none_or(|(seen, _)| at > *seen) {
                map.insert(key, (at, v));
            }
        }
        for entry in entries {
            let version = entry.version();
            let venue = venues.entry(entry.venue_id).or_insert((0, 1));
            for e in &entry.events {
                venue.0 = venue.0.max(e.offset);
                match &e.event {
                    Event::QueueStatusChanged { queue, status } => newest(
                        &mut queue_status,
                        (entry.venue_id, queue.0),
                        e.offset,
                        *status,
                    ),
                    Event::QueueLimitChanged { queue, max_waiting } => newest(
                        &mut queue_limits,
                        (entry.venue_id, queue.0),
                        e.offset,
                        *max_waiting,
                    ),
                    _ => {}
                }
                if let Entry::Vacant(slot) = events.entry((entry.venue_id, e.offset)) {
                    slot.insert(EventRow {
                        venue_id: entry.venue_id,
                        actor: entry.actor,
                        event: e,
                        body: serde_json::to_string(&e.event)?,
                    });
                }
            }
            for t in &entry.tickets {
                venue.1 = venue.1.max(t.id.0 + 1);
                match tickets.entry((entry.venue_id, t.id.0)) {
                    Entry::Vacant(slot) => {
                        slot.insert((t, version));
                    }
                    // Same rule as the upsert: only a newer version replaces.
                    Entry::Occupied(mut slot) if version > slot.get().1 => {
                        slot.insert((t, version));
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
        Ok(Self {
            events: events.into_values().collect(),
            tickets: tickets
                .into_iter()
                .map(|((venue_id, _), (t, version))| (venue_id, t, version))
                .collect(),
            queue_status,
            queue_limits,
            venues,
        })
    }
}
