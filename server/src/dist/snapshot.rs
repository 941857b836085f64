//! When a writer writes a snapshot of its venue's state (see `write_snapshot`).

use std::time::{Duration, Instant};

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
/// snapshot holds tickets (twice that while a snapshot waits for a quiet writer,
/// [`snapshot_after_batch`]), which costs about what loading the snapshot does.
pub fn snapshot_due(seq: u64, new_seq: u64, tickets: usize) -> bool {
    let tickets = tickets as u64;
    let every = match tickets {
        0 => SNAPSHOT_EVERY,
        n => SNAPSHOT_EVERY.max(1 << n.ilog2()),
    };
    seq / every != new_seq / every
}

/// A snapshot that comes due while commands keep arriving waits until its writer has had
/// none for this long: in a door rush the writer otherwise stopped every caller for as long
/// as writing out the whole line took (110 ms at 65,536 tickets), once per doubling.
pub const SNAPSHOT_IDLE: Duration = Duration::from_millis(100);

/// ... but no longer than this after it came due, so a venue that never goes quiet still has
/// its log trimmed.
pub const SNAPSHOT_WAIT_MAX: Duration = Duration::from_secs(5);

/// After a batch that took the log to a new seq: whether to write the snapshot now, and the
/// time the snapshot still owed (if any) came due. `owed` is when an earlier one came due,
/// `due` whether this batch passed a snapshot point ([`snapshot_due`]).
///
/// A second point passing while one is owed writes it at once, which keeps the bound above:
/// a reader replays at most about twice what the snapshot holds.
pub fn snapshot_after_batch(
    owed: Option<Instant>,
    due: bool,
    now: Instant,
) -> (bool, Option<Instant>) {
    match owed {
        Some(_) if due => (true, None),
        Some(since) if now.duration_since(since) >= SNAPSHOT_WAIT_MAX => (true, None),
        Some(since) => (false, Some(since)),
        None => (false, due.then_some(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::{SNAPSHOT_WAIT_MAX, snapshot_after_batch, snapshot_due};
    use std::time::{Duration, Instant};

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

    #[test]
    fn a_snapshot_due_in_a_rush_waits_for_quiet_or_the_next_point() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // Nothing owed, nothing due: nothing to do.
        assert_eq!(snapshot_after_batch(None, false, t0), (false, None));
        // Due: owed from now, not written by the batch that passed the point.
        assert_eq!(snapshot_after_batch(None, true, t0), (false, Some(t0)));
        // More batches: still owed (the writer writes it once it has been idle).
        assert_eq!(
            snapshot_after_batch(Some(t0), false, ms(900)),
            (false, Some(t0))
        );
        // The next point passes first: written now.
        assert_eq!(snapshot_after_batch(Some(t0), true, ms(900)), (true, None));
        // A venue that never goes quiet: written once it has waited long enough.
        assert_eq!(
            snapshot_after_batch(Some(t0), false, t0 + SNAPSHOT_WAIT_MAX),
            (true, None)
        );
    }
}
