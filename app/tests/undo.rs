//! Taking back a run of joins (`JoinUndo`), against the engine over random histories.

mod support;

use app::domain::*;
use proptest::prelude::*;
use support::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The distributed writer takes back a batch of joins that lost the race to the log
    /// (`JoinUndo`) instead of copying the venue: after any history, a run of joins and
    /// refused joins, taken back, leaves exactly the state before it, unless a join started
    /// a new venue day, which undo then refuses.
    #[test]
    fn a_run_of_joins_is_taken_back_exactly(
        history in prop::collection::vec(op(), 0..80),
        run in prop::collection::vec((0usize..2, any::<bool>(), 0usize..6, prop_oneof![
            8 => Just(0i64), 1 => Just(60_000), 1 => Just(7 * 3_600_000)]), 1..40),
    ) {
        let mut state = venue();
        let mut now: Timestamp = 1_700_000_000_000;
        let mut issued = 0usize;
        for op in &history {
            if let Op::Wait(ms) = op {
                now += ms;
                continue;
            }
            now += 1;
            if let Ok(o) = apply(&mut state, to_command(op, issued).unwrap(), now) {
                issued += o.events.iter().filter(|e| matches!(e.event, Event::Joined { .. })).count();
            }
        }
        let before = state.clone();
        let mut undo = JoinUndo::new(&state);
        for (n, (q, walk_in, reuse, wait)) in run.iter().enumerate() {
            now += 1 + wait;
            // Now and then a token already held: the join is refused and changes nothing.
            let token = if *reuse == 0 { "tok0".to_owned() } else { format!("run{n}") };
            if let Ok(o) = apply(&mut state, join_as(QUEUES[*q], &token, *walk_in), now) {
                undo.joined(o.ticket.expect("a join names its ticket"));
            }
        }
        let new_day = state.queues.iter().any(|(id, q)| before.queues[id].day != q.day);
        let after = state.clone();
        let undone = undo.undo(&mut state);
        prop_assert_eq!(undone, !new_day, "undo refuses exactly when a day started");
        if undone {
            prop_assert_eq!(&state, &before);
        } else {
            prop_assert_eq!(&state, &after, "a refused undo changes nothing");
        }
    }
}
