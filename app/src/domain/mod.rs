//! The queue domain: values, state, commands, events and the engine that ties them together.
//!
//! Architecture invariant: nothing in here does I/O, reads a clock or draws randomness.
//! Time and tokens come in with the command, so every instance that applies the same
//! commands in the same order reaches the same state.

pub mod command;
pub mod engine;
pub mod error;
pub mod event;
pub mod hours;
pub mod state;
pub mod undo;
pub mod values;

pub use command::{Command, End};
pub use engine::apply;
pub use error::DomainError;
pub use event::{Event, EventEnvelope};
pub use hours::{OpenHours, Weekday};
pub use state::{Counter, QueueState, Ticket, VenueState};
pub use undo::JoinUndo;
pub use values::*;
