use super::values::TicketStatus;

/// Why the engine refused a command. Refused commands change nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("no such queue in this venue")]
    QueueNotFound,
    #[error("no such ticket in this venue")]
    TicketNotFound,
    #[error("no such counter in this venue")]
    CounterNotFound,
    #[error("this queue is paused and not taking new people right now")]
    QueuePaused,
    #[error("this queue is closed for today")]
    QueueClosed,
    #[error("this queue is full right now; please try again later")]
    QueueFull,
    #[error("nobody is waiting in this queue")]
    NobodyWaiting,
    #[error("cannot {action} a ticket that is {from}")]
    InvalidTransition {
        from: TicketStatus,
        action: &'static str,
    },
    #[error("the ticket is already in that queue")]
    SameQueue,
    #[error("that ticket token is already in use")]
    TokenInUse,
    #[error("this venue already has a queue or counter with that name")]
    AlreadyExists,
    /// Outside the queue's open hours; `opens` says when it next opens ("opens today at 18:00").
    #[error("this queue is not taking people right now{}", opens.as_ref().map(|o| format!("; it {o}")).unwrap_or_default())]
    OutsideOpenHours { opens: Option<String> },
    #[error("{active} ticket(s) are still in this queue: serve, move or cancel them first")]
    QueueNotEmpty { active: u32 },
    #[error("someone is called to or being served at this counter: finish with them first")]
    CounterInUse,
}

impl DomainError {
    /// Stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::QueueNotFound => "queue_not_found",
            Self::AlreadyExists => "already_exists",
            Self::TicketNotFound => "ticket_not_found",
            Self::CounterNotFound => "counter_not_found",
            Self::QueuePaused => "queue_paused",
            Self::QueueClosed => "queue_closed",
            Self::QueueFull => "queue_full",
            Self::NobodyWaiting => "nobody_waiting",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::SameQueue => "same_queue",
            Self::TokenInUse => "token_in_use",
            Self::OutsideOpenHours { .. } => "outside_open_hours",
            Self::QueueNotEmpty { .. } => "queue_not_empty",
            Self::CounterInUse => "counter_in_use",
        }
    }
}
