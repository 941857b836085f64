//! The last log entries a venue applied (distributed mode), kept so that the venue's writer can
//! bring its own copy of the state up to date by replaying them, instead of copying the whole
//! state again each time another instance appended (see `dist::writer::Scratch`).

use crate::dist::Logged;
use app::domain::VenueState;
use std::collections::VecDeque;

/// Entries kept. Between two batches of one writer, the other instances append at most a few
/// batches of theirs (512 entries each at most).
pub(super) const KEPT: usize = 4096;

/// Consecutive entries, oldest first.
#[derive(Default)]
pub(crate) struct RecentEntries(VecDeque<Logged>);

impl RecentEntries {
    /// Keep an entry just applied: the one after the newest kept (else the venue was
    /// replaced, and [`RecentEntries::clear`] came first).
    pub(super) fn push(&mut self, e: Logged) {
        if self.0.back().is_some_and(|r| r.seq + 1 != e.seq) {
            self.0.clear();
        }
        if self.0.len() == KEPT {
            self.0.pop_front();
        }
        self.0.push_back(e);
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// Bring `copy`, the venue's state as it was at entry `from`, up to entry `to` by applying
    /// the entries in between as the venue did. `false` when they are not all kept, or one
    /// does not do what it did for the venue: `copy` is then spoiled.
    pub(super) fn replay(&self, copy: &mut VenueState, from: u64, to: u64) -> bool {
        let Some(first) = self.0.front().map(|r| r.seq) else {
            return from == to;
        };
        let last = first + self.0.len() as u64 - 1;
        if from > to || from + 1 < first || to > last {
            return false;
        }
        self.0
            .range((from + 1 - first) as usize..(to + 1 - first) as usize)
            .all(|r| r.replay(copy).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Did;
    use app::domain::{Command, CustomerName, PartySize, QueueId, QueueState};

    fn venue() -> VenueState {
        let mut v = VenueState::new(1, "joes", "Joe's");
        v.queues
            .insert(QueueId(1), QueueState::new(QueueId(1), "bar", "Bar", "A"));
        v
    }

    fn join(n: u64) -> Command {
        Command::Join {
            queue: QueueId(1),
            name: CustomerName::parse("Ana").unwrap(),
            party_size: PartySize::parse(2).unwrap(),
            notes: None,
            token: format!("token-{n}"),
            walk_in: false,
        }
    }

    /// Entries 1..=n as a venue applies them, the states after each (index = seq), and the
    /// kept entries.
    fn history(n: u64) -> (Vec<VenueState>, RecentEntries) {
        let mut state = venue();
        let mut states = vec![state.clone()];
        let mut kept = RecentEntries::default();
        for seq in 1..=n {
            let at = 1_700_000_000_000 + seq as i64;
            let events = app::domain::apply(&mut state, join(seq), at)
                .unwrap()
                .events;
            kept.push(Logged {
                seq,
                at,
                cmd: join(seq),
                did: Did::of(&events),
            });
            states.push(state.clone());
        }
        (states, kept)
    }

    #[test]
    fn a_copy_replays_to_exactly_the_venues_state() {
        let (states, kept) = history(50);
        for (from, to) in [(0, 50), (10, 11), (49, 50), (20, 20)] {
            let mut copy = states[from as usize].clone();
            assert!(kept.replay(&mut copy, from, to), "{from}..{to}");
            assert_eq!(copy, states[to as usize], "{from}..{to}");
        }
    }

    #[test]
    fn entries_no_longer_kept_or_not_yet_there_are_refused() {
        let (states, kept) = history(KEPT as u64 + 10);
        // Entry 10 was dropped to make room: a copy at 9 cannot be brought up.
        let mut copy = states[9].clone();
        assert!(!kept.replay(&mut copy, 9, 20));
        // The oldest kept entry is 11: a copy at 10 can.
        let mut copy = states[10].clone();
        assert!(kept.replay(&mut copy, 10, 20));
        assert_eq!(copy, states[20]);
        // Past the newest, or backwards.
        assert!(!kept.replay(&mut states[20].clone(), 20, KEPT as u64 + 11));
        assert!(!kept.replay(&mut states[20].clone(), 20, 19));
    }

    #[test]
    fn a_copy_that_is_not_the_state_it_claims_is_caught() {
        let (states, kept) = history(5);
        // A copy said to be at entry 2 that is really at 3: entry 3's join finds its token
        // taken and is refused.
        let mut wrong = states[3].clone();
        assert!(!kept.replay(&mut wrong, 2, 5));
        // After a replacement the kept entries start again.
        let mut kept = kept;
        kept.clear();
        assert!(!kept.replay(&mut states[2].clone(), 2, 5));
        assert!(kept.replay(&mut states[2].clone(), 2, 2));
    }
}
