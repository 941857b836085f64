//! The staff screens: `/staff` (login) and `/staff/:venue` (the dashboard).
//!
//! `dashboard` owns the live snapshot and the actions (`Dash`); the other files are its parts.

mod at_counters;
mod dashboard;
mod dead_letters;
mod login;
mod queue_panel;
mod walk_in;

pub use dashboard::DashboardPage;
pub use login::LoginPage;
