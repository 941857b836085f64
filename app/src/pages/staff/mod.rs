//! The staff screens: `/staff` (login), `/staff/:venue` (the dashboard),
//! `/staff/:venue/settings` (every venue setting) and `/invite/:token` (accepting an invite).
//!
//! `dashboard` owns the live snapshot and the actions (`Dash`); the other files are its parts.

mod activity;
mod at_counters;
mod counters;
mod dashboard;
mod dead_letters;
mod invite;
mod invite_form;
mod login;
mod queue_limits;
mod queue_panel;
mod queue_settings;
mod screens;
mod settings;
mod team;
mod venue_settings;
mod walk_in;

pub use dashboard::{DashboardPage, SettingsPage};
pub use invite::InvitePage;
pub use login::LoginPage;
