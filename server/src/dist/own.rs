//! This instance's own appends, kept for a moment so that its history projector and its
//! follower need not read back what its writers just wrote.
//!
//! - The projector is delivered log items through the consumer group and used to parse every
//!   one: a fifth of an instance's CPU for history in a join burst, for entries its own writer
//!   had in memory a few milliseconds before. It now takes those as they were
//!   ([`OwnAppends::take`]) and parses only other instances' items and redeliveries.
//! - The follower receives the writer's pub/sub message, often before the writer has its
//!   reply from Redis; it skips a message the writer is still waiting on
//!   ([`VenueHandle::appending`](crate::venues::VenueHandle)) instead of parsing and applying
//!   it there (the writer applies it a moment later either way).
//!
//! An append is recognised by the exact start of its text, [`own_prefix`]: its seqs and the
//! writer attempt's nonce. Another instance's item at the same seqs (after a lost race, or a
//! log that Redis lost and restarted) has another nonce, so it is never mistaken for ours.

use crate::store::HistoryEntry;
use std::collections::{BTreeMap, HashMap};

/// Most entries kept for the projector. A projector that falls behind (MySQL down) finds its
/// items no longer here and parses them: memory stays bounded, nothing is lost.
/// A door rush of 100,000 joins is kept whole (history waits the rush out, see
/// `projector::RUSH_GATHER`): such a rush peaked at the same RSS within noise (380–420 MB,
/// most of it the venue's 100,000 tickets) as with 32,768 kept.
pub(crate) const MAX_KEPT: usize = 131_072;
/// From this many kept entries the projector stops waiting out a rush.
pub(crate) const FILLING: usize = MAX_KEPT / 4 * 3;

/// How an append's text starts ([`super::write_item`]: header, then the first entry's `seq`
/// and `nonce`, the first fields of an [`super::Entry`]).
pub(crate) fn own_prefix(first: u64, last: u64, nonce: &str) -> String {
    let nonce = serde_json::to_string(nonce).expect("a string serializes");
    format!("{first} {last} [{{\"seq\":{first},\"nonce\":{nonce}")
}

/// One append of this instance's writers, for its projector.
struct Own {
    prefix: String,
    entries: Vec<HistoryEntry>,
}

/// This instance's recent appends by venue and last seq (the log item's id).
#[derive(Default)]
pub(crate) struct OwnAppends {
    by_venue: HashMap<i64, BTreeMap<u64, Own>>,
    entries: usize,
}

impl OwnAppends {
    /// Keep the entries of an append whose text starts with `prefix` and whose last entry is
    /// `last`, unless that would keep more than [`MAX_KEPT`].
    pub(crate) fn keep(
        &mut self,
        venue: i64,
        last: u64,
        prefix: String,
        entries: Vec<HistoryEntry>,
    ) {
        if self.entries + entries.len() > MAX_KEPT {
            return;
        }
        self.entries += entries.len();
        let own = Own { prefix, entries };
        if let Some(old) = self.by_venue.entry(venue).or_default().insert(last, own) {
            self.entries -= old.entries.len();
        }
    }

    /// The entries of the venue's log item `last` whose text is `text`, if this instance
    /// appended it. Items up to `last` are forgotten: the group delivers a venue's new items
    /// in order, so one not taken by now went to another instance's projector.
    pub(crate) fn take(&mut self, venue: i64, last: u64, text: &str) -> Option<Vec<HistoryEntry>> {
        let kept = self.by_venue.get_mut(&venue)?;
        let newer = kept.split_off(&(last + 1));
        let older = std::mem::replace(kept, newer);
        if kept.is_empty() {
            self.by_venue.remove(&venue);
        }
        let mut found = None;
        for (seq, own) in older {
            self.entries -= own.entries.len();
            if seq == last && text.starts_with(&own.prefix) {
                found = Some(own.entries);
            }
        }
        found
    }

    /// Entries kept.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<HistoryEntry> {
        (0..n)
            .map(|i| HistoryEntry {
                venue_id: 1,
                actor: Some(i as i64),
                events: Vec::new(),
                tickets: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn an_append_is_taken_once_and_only_with_its_own_text() {
        let mut own = OwnAppends::default();
        own.keep(1, 7, own_prefix(5, 7, "a:1"), entries(3));
        own.keep(1, 9, own_prefix(8, 9, "a:2"), entries(2));
        assert_eq!(own.len(), 5);
        // Another instance's item at the same seqs (this instance lost the race).
        assert!(
            own.take(1, 7, "5 7 [{\"seq\":5,\"nonce\":\"b:1\"}]")
                .is_none()
        );
        // Item 7 was forgotten with it: it cannot be ours any more.
        assert!(
            own.take(1, 7, "5 7 [{\"seq\":5,\"nonce\":\"a:1\"}]")
                .is_none()
        );
        assert_eq!(own.len(), 2);
        let got = own.take(1, 9, "8 9 [{\"seq\":8,\"nonce\":\"a:2\",\"at\":1}]");
        assert_eq!(got.map(|e| e.len()), Some(2));
        assert_eq!(own.len(), 0);
        assert!(
            own.take(1, 9, "8 9 [{\"seq\":8,\"nonce\":\"a:2\"")
                .is_none()
        );
    }

    #[test]
    fn items_delivered_elsewhere_are_forgotten_and_other_venues_kept() {
        let mut own = OwnAppends::default();
        own.keep(1, 3, own_prefix(1, 3, "a:1"), entries(3));
        own.keep(1, 4, own_prefix(4, 4, "a:2"), entries(1));
        own.keep(2, 3, own_prefix(3, 3, "a:3"), entries(1));
        // Venue 1's item 4 reaches this projector: item 3 went to another one.
        assert!(own.take(1, 4, &own_prefix(4, 4, "a:2")).is_some());
        assert_eq!(own.len(), 1);
        assert!(own.take(2, 3, &own_prefix(3, 3, "a:3")).is_some());
        assert_eq!(own.len(), 0);
    }

    #[test]
    fn no_more_than_the_bound_is_kept() {
        let mut own = OwnAppends::default();
        own.keep(1, 1, own_prefix(1, 1, "a:1"), entries(MAX_KEPT - 1));
        own.keep(1, 3, own_prefix(2, 3, "a:2"), entries(2));
        assert_eq!(own.len(), MAX_KEPT - 1);
        own.keep(1, 4, own_prefix(4, 4, "a:3"), entries(1));
        assert_eq!(own.len(), MAX_KEPT);
        assert_eq!(
            own.take(1, 1, &own_prefix(1, 1, "a:1")).map(|e| e.len()),
            Some(MAX_KEPT - 1)
        );
        // The append over the bound is parsed from the log instead.
        assert!(own.take(1, 3, &own_prefix(2, 3, "a:2")).is_none());
        assert!(own.take(1, 4, &own_prefix(4, 4, "a:3")).is_some());
        assert_eq!(own.len(), 0);
    }
}
