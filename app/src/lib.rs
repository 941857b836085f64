//! Everything the server and the browser share.
//!
//! # Layout
//! - [`domain`]: venues, queues, tickets and the queue engine, a pure state machine
//!   (`apply(state, command, now)`); no I/O, no clock, no randomness.
//! - [`position`]: how a single ticket's position moves under queue events; run by the server
//!   for each ticket socket and by the phone alike.
//! - [`protocol`]: the REST bodies and WebSocket messages: the public contract.
//! - [`alerts`]: when the phone tells its customer they are almost up, or called.
//! - [`pages`]: the Leptos UI (phone, staff dashboard, venue screen), rendered on the server
//!   and hydrated in the browser; [`client`] holds the browser-only plumbing it uses.

pub mod alerts;
pub mod client;
pub mod domain;
pub mod pages;
pub mod position;
pub mod protocol;

pub use pages::{App, Assets, FormRefusal, PageSource, PhoneApp, ServerData, shell};
