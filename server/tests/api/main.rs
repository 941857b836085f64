//! API integration tests: each test starts the real server on `127.0.0.1:0` with its own
//! SQLite file and the demo venue, and talks to it over HTTP and WebSockets.
//!
//! `TEST_LOG=debug cargo test -p server --test api` shows the server's logs.

mod access;
mod auth;
mod bad_input;
#[path = "../common/fila_process.rs"]
mod fila_process;
mod forms;
mod fuzz;
mod helpers;
mod invites;
mod join;
mod join_code;
mod limits;
mod meta;
mod open_files;
mod pages;
mod restart;
mod screens;
mod settings;
mod slow_clients;
mod staff;
mod stalled;
mod ticket_socket;
mod websocket;
