//! When the phone tells its customer something: that they are almost up, and that it is
//! their turn. Pure: the ticket page decides with these, then buzzes, beeps and (when the
//! page is out of sight) shows a system notification.

use crate::protocol::TicketView;

/// "Almost up" once this many people or fewer are ahead…
pub const ALMOST_UP_AHEAD: u32 = 2;
/// …or once the estimated wait is this short, whichever comes first: in a bar that calls
/// every half minute, two ahead is too late to come back from the terrace; at a clinic that
/// takes twenty minutes a patient, two ahead is what a customer wants to hear.
pub const ALMOST_UP_SECONDS: u64 = 5 * 60;

/// What to tell the customer about a change of their ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alert {
    /// Their turn is near: come back and stay close.
    AlmostUp,
    /// They are called (again, or to another counter): go there now.
    Turn,
}

/// Whether a waiting ticket is close enough to the front to be told to stay close.
pub fn almost_up(t: &TicketView) -> bool {
    t.status == "waiting"
        && (t.position.is_some_and(|p| p <= ALMOST_UP_AHEAD + 1)
            || t.eta_seconds.is_some_and(|s| s <= ALMOST_UP_SECONDS))
}

/// What to tell the customer now that their ticket went from `before` to `now`. Only a
/// change is told: a ticket first seen already close to the front, or already called, is
/// shown so, without a buzz (the customer is looking at it).
pub fn alert(before: &TicketView, now: &TicketView) -> Option<Alert> {
    if now.status == "called"
        && (before.status != "called" || before.counter != now.counter || now.calls > before.calls)
    {
        return Some(Alert::Turn);
    }
    (almost_up(now) && !almost_up(before)).then_some(Alert::AlmostUp)
}

/// People ahead of a waiting ticket, in words.
pub fn ahead_text(position: u32) -> String {
    match position.saturating_sub(1) {
        0 => "Nobody ahead of you — you're next".into(),
        1 => "1 person ahead of you".into(),
        n => format!("{n} people ahead of you"),
    }
}

/// The system notification for `alert`: its title and body.
pub fn notification(alert: Alert, t: &TicketView) -> (String, String) {
    match alert {
        Alert::AlmostUp => (
            format!("You're almost up · {}", t.number),
            format!(
                "{}. Please come back to {} and stay close.",
                ahead_text(t.position.unwrap_or(1)),
                t.venue_name
            ),
        ),
        Alert::Turn => (
            format!("It's your turn · {}", t.number),
            format!(
                "Go to {} at {}.",
                t.counter.as_deref().unwrap_or("the counter"),
                t.venue_name
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(status: &str, position: Option<u32>, eta: Option<u64>) -> TicketView {
        TicketView {
            id: 7,
            number: "A007".into(),
            token: None,
            status: status.into(),
            position,
            eta_seconds: eta,
            queue: "bar".into(),
            queue_name: "Bar".into(),
            venue: "demo".into(),
            venue_name: "Demo Bar".into(),
            name: "Ana".into(),
            party_size: 2,
            notes: None,
            walk_in: false,
            counter: None,
            calls: 0,
            joined_at: 0,
            called_at: None,
            finished_at: None,
            offset: 1,
        }
    }

    fn waiting(position: u32, eta_minutes: u64) -> TicketView {
        ticket("waiting", Some(position), Some(eta_minutes * 60))
    }

    fn called(counter: &str, calls: u32) -> TicketView {
        TicketView {
            counter: Some(counter.into()),
            calls,
            ..ticket("called", None, None)
        }
    }

    #[test]
    fn almost_up_is_two_ahead_or_five_minutes_whichever_comes_first() {
        assert!(!almost_up(&waiting(4, 40)));
        assert!(almost_up(&waiting(3, 40)), "two ahead");
        assert!(almost_up(&waiting(1, 40)));
        assert!(!almost_up(&waiting(9, 6)));
        assert!(almost_up(&waiting(9, 5)), "five minutes");
        assert!(almost_up(&ticket("waiting", Some(3), None)));
        assert!(!almost_up(&ticket("waiting", Some(4), None)));
        // Only a waiting ticket is "almost" anything.
        assert!(!almost_up(&called("Bar 1", 1)));
        assert!(!almost_up(&ticket("cancelled", None, None)));
    }

    #[test]
    fn the_move_into_almost_up_is_told_once() {
        assert_eq!(
            alert(&waiting(4, 40), &waiting(3, 30)),
            Some(Alert::AlmostUp)
        );
        assert_eq!(
            alert(&waiting(12, 6), &waiting(11, 5)),
            Some(Alert::AlmostUp)
        );
        assert_eq!(
            alert(&waiting(3, 30), &waiting(2, 20)),
            None,
            "already told"
        );
        assert_eq!(alert(&waiting(5, 40), &waiting(4, 30)), None, "not yet");
        // Pushed back (moved behind others) and forward again: a new approach, told again.
        assert_eq!(alert(&waiting(3, 30), &waiting(6, 50)), None);
        assert_eq!(
            alert(&waiting(6, 50), &waiting(3, 30)),
            Some(Alert::AlmostUp)
        );
    }

    #[test]
    fn a_call_a_recall_and_a_call_elsewhere_are_each_a_turn() {
        assert_eq!(
            alert(&waiting(1, 1), &called("Bar 1", 1)),
            Some(Alert::Turn)
        );
        assert_eq!(
            alert(&waiting(9, 40), &called("Bar 1", 1)),
            Some(Alert::Turn)
        );
        assert_eq!(
            alert(&called("Bar 1", 1), &called("Bar 1", 2)),
            Some(Alert::Turn)
        );
        assert_eq!(
            alert(&called("Bar 1", 1), &called("Bar 2", 1)),
            Some(Alert::Turn)
        );
        assert_eq!(alert(&called("Bar 1", 1), &called("Bar 1", 1)), None);
        let serving = TicketView {
            counter: Some("Bar 1".into()),
            ..ticket("serving", None, None)
        };
        assert_eq!(alert(&called("Bar 1", 1), &serving), None);
        // Put back in line at the front after a call: close again, told again.
        assert_eq!(
            alert(&called("Bar 1", 1), &waiting(1, 1)),
            Some(Alert::AlmostUp)
        );
    }

    #[test]
    fn notifications_say_where_and_how_close() {
        let (title, body) = notification(Alert::AlmostUp, &waiting(3, 4));
        assert_eq!(title, "You're almost up · A007");
        assert_eq!(
            body,
            "2 people ahead of you. Please come back to Demo Bar and stay close."
        );
        let (_, body) = notification(Alert::AlmostUp, &waiting(1, 1));
        assert_eq!(
            body,
            "Nobody ahead of you — you're next. Please come back to Demo Bar and stay close."
        );
        let (title, body) = notification(Alert::Turn, &called("Table 4", 1));
        assert_eq!(title, "It's your turn · A007");
        assert_eq!(body, "Go to Table 4 at Demo Bar.");
    }
}
