//! When a writer writes a snapshot of its venue's state (see `write_snapshot`).

/// A snapshot is written at least this many log entries apart, and the log trimmed behind it.
pub const SNAPSHOT_EVERY: u64 = 1024;

/// Whether a batch that took the log from `seq` to `new_seq` should write a snapshot of a
/// state holding `tickets` tickets.
///
/// A snapshot costs O(tickets) to copy and serialize, so one is written each time the log
/// passes a multiple of the largest power of two not above `tickets` (at least
/// [`SNAPSHOT_EVERY`]): between about `tickets / 2` and `tickets` entries apart, O(1) per
/// entry however long the line, and the intervals nest as a venue grows or shrinks. Every
/// 1,000 entries, a 20,000-person join burst serialized 200,000 tickets in snapshots, a
/// seventh of an instance's CPU time. A reader replays at most about as many entries as the
/// snapshot holds tickets, which costs about what loading the snapshot does.
pub fn snapshot_due(seq: u64, new_seq: u64, tickets: usize) -> bool {
    let tickets = tickets as u64;
    let every = match tickets {
        0 => SNAPSHOT_EVERY,
        n => SNAPSHOT_EVERY.max(1 << n.ilog2()),
    };
    seq / every != new_seq / every
}

#[cfg(test)]
mod tests {
    use super::snapshot_due;

    /// Snapshots taken while `tickets` grows by one per entry, as in a join burst.
    fn snapshots_in_a_burst(joins: u64, batch: u64) -> Vec<u64> {
        let mut taken = Vec::new();
        let mut seq = 0;
        while seq < joins {
            let new_seq = (seq + batch).min(joins);
            if snapshot_due(seq, new_seq, new_seq as usize) {
                taken.push(new_seq);
            }
            seq = new_seq;
        }
        taken
    }

    #[test]
    fn a_small_venue_snapshots_every_1024_entries() {
        assert!(!snapshot_due(0, 1023, 10));
        assert!(snapshot_due(1000, 1024, 10));
        assert!(snapshot_due(2047, 2049, 0));
        assert!(!snapshot_due(1024, 2047, 500));
    }

    #[test]
    fn a_long_line_snapshots_as_often_as_it_has_tickets() {
        // 20,000 joins in batches of 100: a handful of snapshots, together less than twice
        // the tickets joined (amortized O(1) per entry).
        let taken = snapshots_in_a_burst(20_000, 100);
        assert_eq!(taken, vec![1100, 2100, 4100, 8200, 16400]);
        let copied: u64 = taken.iter().sum();
        assert!(
            copied < 2 * 20_000,
            "{copied} tickets copied for 20,000 joins"
        );
        // Never so rare that a reader replays much more than a snapshot holds.
        assert!(snapshot_due(16_383, 16_385, 16_000));
    }
}
