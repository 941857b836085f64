//! The Fila server: one binary that serves the pages, the API and the sockets.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`startup`]: `Application::build` wires storage, venues and HTTP; `run_until_stopped`.
//! - [`venues`]: live venue state, the writer that commits each batch of commands before
//!   answering, and the channels sockets listen to. The queue rules themselves are in
//!   `app::domain`.
//! - [`store`]: SQL. Only this module knows the schema.
//! - [`http`]: REST routes, WebSockets, auth, OpenAPI, and the Leptos pages.
//! - [`cli`]: the admin commands (create venue, queue, counter, staff; reset a password).
//! - [`demo`], [`secrets`], [`clock`]: the demo venue, tokens and passwords, the wall clock.
//! - [`metrics`]: the latency histogram behind `/metrics`.

#![recursion_limit = "256"]

pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod dist;
pub mod http;
pub mod metrics;
pub mod open_files;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod venues;
