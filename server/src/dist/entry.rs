//! A log entry: one accepted command as the log records it ([`Entry`]), what an instance needs
//! of it to apply it ([`Logged`]), and how entries travel: one text per append ([`write_item`]),
//! both the log stream's item and the pub/sub message.

use crate::store::HistoryEntry;
use anyhow::Context;
use app::domain::{Command, EventEnvelope, Ticket, VenueState};
use fred::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One accepted command as the log records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// Which writer attempt produced it: lets a writer whose reply was lost find its own.
    pub nonce: String,
    /// The time the engine was given (never earlier than the entry before it).
    pub at: i64,
    /// The staff member behind it; left out when none (a customer's join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<i64>,
    pub cmd: Command,
    pub events: Vec<EventEnvelope>,
    /// The tickets the events touched, as they are after the command (for history).
    pub tickets: Vec<Ticket>,
}

impl Entry {
    /// What history records of this entry (its events and tickets move there).
    pub fn into_history(self, venue_id: i64) -> HistoryEntry {
        HistoryEntry {
            venue_id,
            actor: self.actor,
            events: self.events,
            tickets: self.tickets,
        }
    }

    /// Both halves of an entry this instance made: what it applies, and what its history
    /// projector writes (see `own.rs`), without copying either.
    pub fn split(self, venue_id: i64) -> (Logged, HistoryEntry) {
        let logged = Logged {
            seq: self.seq,
            at: self.at,
            cmd: self.cmd,
            did: Did::of(&self.events),
        };
        let history = HistoryEntry {
            venue_id,
            actor: self.actor,
            events: self.events,
            tickets: self.tickets,
        };
        (logged, history)
    }
}

/// A log [`Entry`] as an instance applies it: the command, its time, and what it did, to check
/// that it does the same here. Read from the log, it skips the entry's tickets and event
/// bodies, which only history needs: every instance reads every entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Logged {
    pub seq: u64,
    pub at: i64,
    pub cmd: Command,
    #[serde(rename = "events", deserialize_with = "Did::read")]
    pub did: Did,
}

impl Logged {
    /// Apply the entry to `state` and check it does what it did where it was made: its
    /// events, or `None` when it does something else (the engine is deterministic, so
    /// `state` is not the one the entry was made against).
    pub fn replay(&self, state: &mut VenueState) -> Option<Vec<EventEnvelope>> {
        match app::domain::apply(state, self.cmd.clone(), self.at) {
            Ok(outcome) if Did::of(&outcome.events) == self.did => Some(outcome.events),
            _ => None,
        }
    }
}

/// What an entry did: how many events, and the last one's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Did {
    pub events: usize,
    pub last_offset: Option<u64>,
}

impl Did {
    pub fn of(events: &[EventEnvelope]) -> Self {
        Self {
            events: events.len(),
            last_offset: events.last().map(|e| e.offset),
        }
    }

    fn read<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// An event of which only the offset is read.
        #[derive(Deserialize)]
        struct Offset {
            offset: u64,
        }
        let events = Vec::<Offset>::deserialize(d)?;
        Ok(Self {
            events: events.len(),
            last_offset: events.last().map(|e| e.offset),
        })
    }
}

/// The text of one append, as its log stream item and its pub/sub message both carry it:
/// `"<first seq> <last seq> [<entry>,…]"`. One stream item per append rather than per entry:
/// Redis's scripting hashes every byte of every string a script is given or builds, and an
/// item per entry had each entry's JSON hashed three times (argument, joined message, the
/// message with its header): two fifths of Redis's CPU in a join burst.
pub(crate) fn write_item(entries: &[Entry]) -> serde_json::Result<String> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(String::new());
    };
    let mut out = format!("{} {} [", first.seq, last.seq).into_bytes();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, e)?;
    }
    out.push(b']');
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// `"<first> <last> <rest>"` of an item or message.
fn split_header(text: &str) -> Option<(u64, u64, &str)> {
    let (first, rest) = text.split_once(' ')?;
    let (last, json) = rest.split_once(' ')?;
    Some((first.parse().ok()?, last.parse().ok()?, json))
}

/// The entries of one log stream item that come after seq `after`, each read as a `T` (the
/// whole [`Entry`], or only what a reader needs of it). An earlier version wrote one entry per
/// item, as a bare JSON object; such items are read too.
pub fn read_item<T: DeserializeOwned>(text: &str, after: u64) -> anyhow::Result<Vec<T>> {
    if text.starts_with('{') {
        return Ok(vec![
            serde_json::from_str(text).context("unreadable log entry")?,
        ]);
    }
    let (first, _, json) = split_header(text).context("unreadable log item")?;
    let mut entries: Vec<T> = serde_json::from_str(json).context("unreadable log entries")?;
    // Entries are numbered from `first` without gaps.
    let applied = (after + 1).saturating_sub(first) as usize;
    entries.drain(..applied.min(entries.len()));
    Ok(entries)
}

/// What a pub/sub message of appended entries asks of an instance whose venue is at log entry
/// `have`. A message is the text of the append ([`write_item`]): the seqs come first, so the
/// instance that appended the entries (and applied them already) skips it unread.
pub(crate) fn read_message(msg: &str, have: u64) -> Message<'_> {
    match split_header(msg) {
        Some((_, last, _)) if last <= have => Message::Applied,
        Some((first, _, _)) if first > have + 1 => Message::Gap,
        Some((_, _, json)) => Message::Entries(json),
        // An instance of an earlier version (during a rolling upgrade) sends the bare array.
        None if msg.starts_with('[') => Message::Entries(msg),
        None => Message::Unreadable,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    /// Every entry in it is applied here already.
    Applied,
    /// It starts after an entry this instance has not seen: read the log instead.
    Gap,
    /// Entries to apply (a JSON array; ones already applied are skipped).
    Entries(&'a str),
    Unreadable,
}

/// `[[id, [field, value, …]], …]` as returned by XRANGE / XREADGROUP / XAUTOCLAIM, keeping
/// the value of field `e`.
pub fn parse_entries(raw: Value) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in raw.into_array() {
        let mut parts = item.into_array().into_iter();
        let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
            continue;
        };
        let id = id.into_string().context("stream id")?;
        let mut fields = fields.into_array().into_iter();
        let mut value = None;
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            if k.as_str().as_deref() == Some("e") {
                value = v.into_string();
            }
        }
        out.push((id, value.unwrap_or_default()));
    }
    Ok(out)
}

/// The seq in a stream id `0-<seq>`: an item's last entry.
pub(crate) fn seq_of_id(id: &str) -> Option<u64> {
    id.strip_prefix("0-")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::{CustomerName, PartySize, QueueId, QueueState, apply};

    /// A join as entry `seq` of a venue with one queue, and the events it made.
    fn joined(seq: u64) -> (Entry, Vec<EventEnvelope>) {
        let mut venue = VenueState::new(1, "joes", "Joe's");
        venue
            .queues
            .insert(QueueId(1), QueueState::new(QueueId(1), "bar", "Bar", "A"));
        let cmd = Command::Join {
            queue: QueueId(1),
            name: CustomerName::parse("Ana").unwrap(),
            party_size: PartySize::parse(2).unwrap(),
            notes: Some("window seat".into()),
            token: format!("token-{seq}"),
            walk_in: false,
        };
        let outcome = apply(&mut venue, cmd.clone(), 1_700_000_000_000).unwrap();
        let entry = Entry {
            seq,
            nonce: "n-1".into(),
            at: 1_700_000_000_000,
            actor: Some(3),
            cmd,
            events: outcome.events.clone(),
            tickets: venue.tickets.values().cloned().collect(),
        };
        (entry, outcome.events)
    }

    #[test]
    fn an_instance_reads_of_an_entry_what_it_applies_and_nothing_else() {
        let (entry, events) = joined(7);
        let json = serde_json::to_string(&entry).unwrap();
        let read: Logged = serde_json::from_str(&json).unwrap();
        let made = entry.clone().split(1).0;
        assert_eq!((read.seq, read.at, &read.cmd), (7, made.at, &made.cmd));
        assert_eq!(read.did, made.did);
        assert_eq!(
            read.did,
            Did {
                events: events.len(),
                last_offset: events.last().map(|e| e.offset)
            }
        );
        assert!(read.did.events > 0);
    }

    #[test]
    fn fields_that_are_none_are_left_out_and_earlier_entries_with_nulls_still_read() {
        let (mut entry, _) = joined(7);
        entry.actor = None;
        let json = serde_json::to_string(&entry).unwrap();
        for absent in ["actor", "counter", "called_at", "serving_at", "finished_at"] {
            assert!(
                !json.contains(&format!("\"{absent}\"")),
                "{absent} in {json}"
            );
        }
        // Present ones are written.
        assert!(json.contains("\"notes\":\"window seat\""), "{json}");
        let read: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(read.actor, None);
        assert_eq!(read.tickets, entry.tickets);
        // An earlier version wrote every field, nulls included.
        let mut old = serde_json::to_value(&entry).unwrap();
        old["actor"] = serde_json::Value::Null;
        for field in ["counter", "called_at", "serving_at", "finished_at"] {
            old["tickets"][0][field] = serde_json::Value::Null;
        }
        let read: Entry = serde_json::from_value(old).unwrap();
        assert_eq!((read.actor, read.tickets), (None, entry.tickets));
    }

    #[test]
    fn an_item_holds_one_append_and_reads_from_any_seq_in_it() {
        let entries: Vec<Entry> = (5..=7).map(|seq| joined(seq).0).collect();
        let item = write_item(&entries).unwrap();
        assert!(item.starts_with("5 7 [{"), "{item}");
        let seqs = |after: u64| -> Vec<u64> {
            read_item::<Logged>(&item, after)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(seqs(0), [5, 6, 7]);
        assert_eq!(seqs(4), [5, 6, 7]);
        assert_eq!(seqs(5), [6, 7]);
        assert_eq!(seqs(7), Vec::<u64>::new());
        // Whole entries read back as written, for history.
        let full: Vec<Entry> = read_item(&item, 0).unwrap();
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            serde_json::to_string(&entries).unwrap()
        );
        // The pub/sub message is the same text.
        assert!(matches!(read_message(&item, 5), Message::Entries(j) if j.starts_with("[{")));
        // An earlier version's item: one entry, a bare object.
        let old = serde_json::to_string(&entries[0]).unwrap();
        let read: Vec<Logged> = read_item(&old, 0).unwrap();
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [5]);
        assert!(read_item::<Logged>("5 x [", 0).is_err());
        assert!(read_item::<Logged>("5 5 [{]", 0).is_err());
    }

    #[test]
    fn an_append_is_recognised_by_how_its_text_starts() {
        use super::super::own::own_prefix;
        let mut entries: Vec<Entry> = (5..=7).map(|seq| joined(seq).0).collect();
        for e in &mut entries {
            e.nonce = "inst-\"1\":42".into();
        }
        let item = write_item(&entries).unwrap();
        let prefix = own_prefix(5, 7, "inst-\"1\":42");
        assert!(item.starts_with(&prefix), "{item}");
        assert!(!item.starts_with(&own_prefix(5, 7, "inst-\"1\":4")));
        assert!(!item.starts_with(&own_prefix(5, 6, "inst-\"1\":42")));
    }

    #[test]
    fn a_message_is_skipped_unread_when_its_entries_are_applied_already() {
        use Message::*;
        let msg = "5 9 [{}]";
        // This instance appended 5..9 (or saw them): nothing to read.
        assert_eq!(read_message(msg, 9), Applied);
        assert_eq!(read_message(msg, 12), Applied);
        // At 4, or part-way through: the entries (apply_logged skips the applied ones).
        assert_eq!(read_message(msg, 4), Entries("[{}]"));
        assert_eq!(read_message(msg, 7), Entries("[{}]"));
        // At 3, entry 4 is missing.
        assert_eq!(read_message(msg, 3), Gap);
        // An earlier version's bare array; anything else.
        assert_eq!(read_message("[{\"seq\":5}]", 4), Entries("[{\"seq\":5}]"));
        assert_eq!(read_message("5 x []", 4), Unreadable);
        assert_eq!(read_message("5", 4), Unreadable);
        assert_eq!(read_message("", 4), Unreadable);
    }
}
