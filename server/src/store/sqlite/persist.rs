//! The writer's batch as SQLite sees it: one fixed transaction text ([`PERSIST`]) and the
//! batch's rows as the JSON arrays it reads ([`persist_rows`]).

use crate::store::Batch;

/// One batch of the writer, as one transaction: the four `?` are JSON arrays of rows (see
/// [`persist_rows`]: each row an array, its columns in the order read here). `WHERE true`
/// keeps SQLite from reading `ON CONFLICT` as part of the `SELECT`.
///
/// `jsonb_each`, not `json_each`: it parses the text once and hands each row over as a
/// binary JSONB value, which `->>` reads in place. `json_each` turned every row back into
/// text for each `->>` to parse again (18 times a ticket): a sixth of the server's CPU
/// time in a join burst.
///
/// Plain `?`, one per statement, never `?N`: sqlx binds a multi-statement query's arguments
/// to each statement's parameters in turn, and counts the gaps before a `?4` (three unnamed
/// slots) as arguments used, so a `?4` in the fifth statement was left NULL.
pub(super) const PERSIST: &str = "BEGIN IMMEDIATE; \
    UPDATE venues SET event_offset = r.value->>1, next_ticket_id = r.value->>2, \
      name = r.value->>3 \
      FROM jsonb_each(?) AS r WHERE venues.id = r.value->>0; \
    UPDATE queues SET status = r.value->>1, day = r.value->>2, last_number = r.value->>3, \
      pace_ms = r.value->>4, last_call_at = r.value->>5, max_waiting = r.value->>6 \
      FROM jsonb_each(?) AS r WHERE queues.id = r.value->>0; \
    INSERT INTO tickets (venue_id, id, queue_id, number, token, name, party_size, notes, \
      walk_in, status, rank, counter_id, calls, day, joined_at, called_at, serving_at, \
      finished_at) \
      SELECT r.value->>0, r.value->>1, r.value->>2, r.value->>3, r.value->>4, r.value->>5, \
        r.value->>6, r.value->>7, r.value->>8, r.value->>9, r.value->>10, r.value->>11, \
        r.value->>12, r.value->>13, r.value->>14, r.value->>15, r.value->>16, r.value->>17 \
      FROM jsonb_each(?) AS r WHERE true \
      ON CONFLICT (venue_id, id) DO UPDATE SET queue_id = excluded.queue_id, \
        status = excluded.status, rank = excluded.rank, counter_id = excluded.counter_id, \
        calls = excluded.calls, called_at = excluded.called_at, \
        serving_at = excluded.serving_at, finished_at = excluded.finished_at; \
    INSERT INTO events (venue_id, offset, at, kind, ticket_id, actor, body) \
      SELECT r.value->>0, r.value->>1, r.value->>2, r.value->>3, r.value->>4, r.value->>5, \
        r.value->>6 \
      FROM jsonb_each(?) AS r; \
    COMMIT";

/// A batch's rows as the JSON arrays [`PERSIST`] reads.
pub(super) struct PersistRows {
    pub(super) venues: String,
    pub(super) queues: String,
    pub(super) tickets: String,
    pub(super) events: String,
}

/// Each venue, queue and ticket once, as it is after the batch (a batch may touch one many
/// times; `UPDATE … FROM` would pick an arbitrary one of several matches).
pub(super) fn persist_rows(batch: &Batch) -> anyhow::Result<PersistRows> {
    use serde::ser::{SerializeTuple, Serializer};
    use std::collections::HashMap;

    fn last_of<K: std::hash::Hash + Eq, T>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
        let mut last = HashMap::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            last.insert(key(r), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        keep.into_iter().map(|i| &rows[i]).collect()
    }
    /// A row as a JSON array (serde's tuples stop at 16 elements).
    fn row(
        out: &mut Vec<u8>,
        len: usize,
        f: impl FnOnce(
            &mut serde_json::ser::Compound<'_, &mut Vec<u8>, serde_json::ser::CompactFormatter>,
        ) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::new(out);
        let mut t = (&mut ser).serialize_tuple(len)?;
        f(&mut t)?;
        t.end()
    }
    fn array<T>(
        rows: &[T],
        mut write: impl FnMut(&mut Vec<u8>, &T) -> serde_json::Result<()>,
    ) -> serde_json::Result<String> {
        let mut out = Vec::with_capacity(64 + rows.len() * 160);
        out.push(b'[');
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(&mut out, r)?;
        }
        out.push(b']');
        Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
    }

    let venues = array(&batch.venues, |out, v| {
        row(out, 4, |t| {
            t.serialize_element(&v.id)?;
            t.serialize_element(&(v.event_offset as i64))?;
            t.serialize_element(&(v.next_ticket_id as i64))?;
            t.serialize_element(&v.name)
        })
    })?;
    let queues = array(&last_of(&batch.queues, |q| q.id), |out, q| {
        row(out, 7, |t| {
            t.serialize_element(&q.id.0)?;
            t.serialize_element(q.status.as_str())?;
            t.serialize_element(&q.day)?;
            t.serialize_element(&q.last_number)?;
            t.serialize_element(&(q.pace_ms as i64))?;
            t.serialize_element(&q.last_call_at)?;
            t.serialize_element(&q.max_waiting)
        })
    })?;
    let tickets = array(
        &last_of(&batch.tickets, |(venue, t)| (*venue, t.id)),
        |out, (venue_id, t)| {
            row(out, 18, |s| {
                s.serialize_element(venue_id)?;
                s.serialize_element(&(t.id.0 as i64))?;
                s.serialize_element(&t.queue.0)?;
                s.serialize_element(&t.number.0)?;
                s.serialize_element(&t.token)?;
                s.serialize_element(t.name.as_str())?;
                s.serialize_element(&(t.party_size.get() as i64))?;
                s.serialize_element(&t.notes)?;
                s.serialize_element(&t.walk_in)?;
                s.serialize_element(t.status.as_str())?;
                s.serialize_element(&t.rank)?;
                s.serialize_element(&t.counter.map(|c| c.0))?;
                s.serialize_element(&t.calls)?;
                s.serialize_element(&t.day)?;
                s.serialize_element(&t.joined_at)?;
                s.serialize_element(&t.called_at)?;
                s.serialize_element(&t.serving_at)?;
                s.serialize_element(&t.finished_at)
            })
        },
    )?;
    let events = array(&batch.events, |out, e| {
        // The body is stored as the event's own JSON text: a string here, so `->>` gives
        // back exactly that text.
        let body = serde_json::to_string(&e.event.event)?;
        row(out, 7, |t| {
            t.serialize_element(&e.venue_id)?;
            t.serialize_element(&(e.event.offset as i64))?;
            t.serialize_element(&e.event.at)?;
            t.serialize_element(e.event.event.kind())?;
            t.serialize_element(&e.event.event.ticket().map(|t| t.0 as i64))?;
            t.serialize_element(&e.actor)?;
            t.serialize_element(&body)
        })
    })?;
    Ok(PersistRows {
        venues,
        queues,
        tickets,
        events,
    })
}
