//! When the history projector's next round runs: gathering a burst into few transactions,
//! waiting out a door rush, backing off an outage. The rules are pure functions; [`pause`] is
//! the one wait they lead to.

use std::time::Duration;

/// After a round that found entries but not a full read, the next waits this long, so that a
/// burst still arriving is written in a few large transactions rather than one per append:
/// each round costs a read, a transaction and an acknowledgement however few entries it
/// carries (with three instances, a 20,000-join burst cost MariaDB three times the CPU it
/// cost with one, the same rows in smaller batches). The first entry after a quiet spell is
/// still written at once.
pub const GATHER: Duration = Duration::from_millis(50);
/// While this instance appends at least [`RUSH_RATE`] entries a second (a door rush: a busy
/// venue makes a few a second), rounds are this far apart instead of [`GATHER`]. History is
/// the back office's; the people at the door are waiting for their tickets, and on a small
/// box MariaDB's inserts and this projector took a fifth of the CPU a join burst had. The
/// rows are the same (in fewer, larger transactions), written when the rush is over: the
/// pause is taken again while the rush goes on, up to [`RUSH_MAX`], and ends sooner if the
/// kept appends of `own.rs` are three quarters full (past that they would be parsed back).
pub const RUSH_GATHER: Duration = Duration::from_secs(1);
/// The longest history waits out a rush before a round writes what came so far: how far
/// behind the audit list may be while the door is busy.
pub const RUSH_MAX: Duration = Duration::from_secs(10);
/// How often a pause waiting out a rush looks whether it goes on, once [`RUSH_GATHER`] is
/// over. History lands at most about a [`RUSH_GATHER`] after a rush ends, and within two looks
/// of its end once it has lasted longer than that (a look whose quarter second still held the
/// rush's last entries sees it go on once more).
pub(super) const RUSH_LOOK: Duration = Duration::from_millis(250);
/// Entries a second this instance's writers append from which [`RUSH_GATHER`] applies.
pub const RUSH_RATE: u64 = 500;
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Wait `backoff`, or less if it is a rush's pause (`rush`) and `own_filling` is notified.
/// True if the instance is stopping.
pub(super) async fn pause(
    backoff: Duration,
    rush: bool,
    own_filling: &tokio::sync::Notify,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(backoff) => false,
        _ = own_filling.notified(), if rush => false,
        _ = stopping.wait_for(|s| *s) => true,
    }
}

/// The pause after a round that wrote entries without filling its read, when this instance
/// appended `appended` entries in the `over` since the round before: [`GATHER`], or
/// [`RUSH_GATHER`] in a rush.
pub(super) fn gather_pause(appended: u64, over: Duration) -> Duration {
    // appended / seconds >= RUSH_RATE, measured over no less than GATHER (a round right
    // after another says little about the rate).
    if appended as u128 * 1000 >= RUSH_RATE as u128 * over.max(GATHER).as_millis() {
        RUSH_GATHER
    } else {
        GATHER
    }
}

/// After a rush's pause, whether another ([`RUSH_LOOK`]) follows: this instance appended
/// `appended` entries in the `over` since the last look (still the rush rate), history has
/// waited `waited` (less than [`RUSH_MAX`]), and the kept appends are not `filling` up.
pub(super) fn rush_goes_on(appended: u64, over: Duration, waited: Duration, filling: bool) -> bool {
    !filling && waited < RUSH_MAX && gather_pause(appended, over) == RUSH_GATHER
}

pub(super) fn next_backoff(b: Duration) -> Duration {
    (b * 2).clamp(Duration::from_millis(100), MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rush's pause ends when the kept appends fill up; an error's backoff does not (MySQL
    /// down would otherwise be retried in a loop while entries pile up); stopping ends both.
    #[tokio::test]
    async fn a_rush_pause_ends_early_when_the_kept_appends_fill_up() {
        use tokio::sync::{Notify, watch};
        use tokio::time::Instant;
        let filling = Notify::new();
        let (stop, mut stopping) = watch::channel(false);
        filling.notify_one();
        let t = Instant::now();
        assert!(!pause(RUSH_GATHER, true, &filling, &mut stopping).await);
        assert!(t.elapsed() < RUSH_GATHER / 2, "{:?}", t.elapsed());
        filling.notify_one();
        let backoff = Duration::from_millis(300);
        let t = Instant::now();
        assert!(!pause(backoff, false, &filling, &mut stopping).await);
        assert!(t.elapsed() >= backoff, "{:?}", t.elapsed());
        stop.send_replace(true);
        let t = Instant::now();
        assert!(pause(RUSH_GATHER * 60, false, &filling, &mut stopping).await);
        assert!(t.elapsed() < RUSH_GATHER);
    }

    #[test]
    fn history_waits_out_a_rush_and_only_a_rush() {
        let ms = Duration::from_millis;
        // Quiet, or a busy venue's few entries a second.
        assert_eq!(gather_pause(0, ms(50)), GATHER);
        assert_eq!(gather_pause(3, ms(1000)), GATHER);
        assert_eq!(gather_pause(24, ms(50)), GATHER);
        // One entry just after the round before is not a rate of thousands a second.
        assert_eq!(gather_pause(1, ms(1)), GATHER);
        assert_eq!(gather_pause(1, Duration::ZERO), GATHER);
        // 500 a second and more: a door rush.
        assert_eq!(gather_pause(25, ms(50)), RUSH_GATHER);
        assert_eq!(gather_pause(1400, ms(50)), RUSH_GATHER);
        assert_eq!(gather_pause(600, ms(1000)), RUSH_GATHER);
        assert_eq!(gather_pause(499, ms(1000)), GATHER);
    }

    #[test]
    fn history_waits_while_the_rush_goes_on_within_bounds() {
        let s = Duration::from_secs;
        // 20,000 a second for a second, or 200 in a quarter of one: still a rush.
        assert!(rush_goes_on(20_000, s(1), s(1), false));
        assert!(rush_goes_on(500, s(1), RUSH_MAX - s(1), false));
        assert!(rush_goes_on(200, Duration::from_millis(250), s(2), false));
        // It slowed down: history is written now.
        assert!(!rush_goes_on(499, s(1), s(1), false));
        assert!(!rush_goes_on(0, s(1), s(3), false));
        // Never further behind than RUSH_MAX, nor past what fits in memory.
        assert!(!rush_goes_on(20_000, s(1), RUSH_MAX, false));
        assert!(!rush_goes_on(20_000, s(1), s(1), true));
    }
}
