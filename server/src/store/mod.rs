//! Storage adapters. Only this module knows SQL.
//!
//! - Embedded mode: [`SqliteStore`] holds venue configuration, current tickets, the event
//!   history and staff accounts in one SQLite file; the venue writer commits to it.
//! - Distributed mode: [`MySqlStore`] holds the same configuration and accounts and the
//!   history, written by the projector from the Redis log (`crate::dist`); live state is in
//!   Redis.
//!
//! [`Store`] is whichever of the two this instance runs on, for everything both modes share
//! (accounts, sessions, configuration, history reads).

pub mod mysql;
mod shared;
pub mod sqlite;

use app::domain::{EventEnvelope, QueueId, QueueStatus, Ticket, Timestamp, VenueState};

pub use mysql::MySqlStore;
pub use sqlite::SqliteStore;

/// Storage refused a second thing with the same name (a venue slug, a queue, a counter, an
/// e-mail). The message says which, in words a person can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Duplicate(pub String);

/// A unique-key violation as [`Duplicate`] with `message`; any other error as it is.
pub(crate) fn unique_violation(e: sqlx::Error, message: &str) -> anyhow::Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            anyhow::Error::new(Duplicate(message.to_owned()))
        }
        _ => anyhow::Error::new(e),
    }
}

/// One staff account as stored.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

/// An invite to be stored (the token itself is only ever shown, never stored).
#[derive(Debug)]
pub struct NewInvite<'a> {
    pub token_hash: &'a str,
    pub venue_id: i64,
    pub email: &'a str,
    pub role: Role,
    pub created_by: Option<i64>,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// A stored invite.
#[derive(Debug, Clone)]
pub struct Invite {
    pub venue_id: i64,
    pub venue_slug: String,
    pub venue_name: String,
    pub email: String,
    pub role: Role,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A paired venue screen.
#[derive(Debug, Clone)]
pub struct ScreenRow {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// The relational store of this instance.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    MySql(MySqlStore),
}

/// Both adapters have these methods with the same meaning; `Store` forwards to the one in use.
macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Store::Sqlite(s) => s.$name($($arg),*).await,
                        Store::MySql(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

forward! {
    fn venue_slugs(&self) -> anyhow::Result<Vec<String>>;
    /// A venue's configuration with the tickets storage knows of (see `shared_queries!`).
    fn load_venue(&self, slug: &str) -> anyhow::Result<Option<VenueState>>;
    fn ticket_by_token(&self, token: &str) -> anyhow::Result<Option<(String, Ticket)>>;
    fn events_after(&self, venue_id: i64, offset: u64, limit: u32) -> anyhow::Result<Vec<EventEnvelope>>;
    fn audit(&self, venue_id: i64, before: u64, limit: u32) -> anyhow::Result<Vec<app::protocol::AuditEntry>>;
    fn create_venue(&self, slug: &str, name: &str, now: Timestamp) -> anyhow::Result<i64>;
    fn venue_id(&self, slug: &str) -> anyhow::Result<i64>;
    fn create_queue(&self, venue_id: i64, slug: &str, name: &str, prefix: &str) -> anyhow::Result<i64>;
    fn create_counter(&self, venue_id: i64, name: &str) -> anyhow::Result<i64>;
    fn rename_venue(&self, venue_id: i64, name: &str) -> anyhow::Result<()>;
    fn update_queue(&self, venue_id: i64, queue_id: i64, name: &str, prefix: &str, open_hours: Option<String>) -> anyhow::Result<()>;
    fn remove_queue(&self, venue_id: i64, queue_id: i64, slug: &str, now: Timestamp) -> anyhow::Result<()>;
    fn rename_counter(&self, venue_id: i64, counter_id: i64, name: &str) -> anyhow::Result<()>;
    fn remove_counter(&self, venue_id: i64, counter_id: i64, name: &str, now: Timestamp) -> anyhow::Result<()>;
    fn set_time_zone(&self, venue_id: i64, time_zone: &str, utc_offset_minutes: i32) -> anyhow::Result<()>;
    fn create_user(&self, email: &str, password_hash: &str, now: Timestamp) -> anyhow::Result<i64>;
    fn set_role(&self, venue_id: i64, user_id: i64, role: Role) -> anyhow::Result<()>;
    fn user_by_email(&self, email: &str) -> anyhow::Result<Option<StaffUser>>;
    fn set_password(&self, user_id: i64, password_hash: &str) -> anyhow::Result<()>;
    fn create_session(&self, token_hash: &str, user_id: i64, now: Timestamp, expires_at: Timestamp) -> anyhow::Result<()>;
    fn session_user(&self, token_hash: &str, now: Timestamp) -> anyhow::Result<Option<(i64, String)>>;
    fn delete_session(&self, token_hash: &str) -> anyhow::Result<()>;
    fn roles(&self, user_id: i64) -> anyhow::Result<Vec<(String, String, Role)>>;
    fn role_at(&self, user_id: i64, venue_id: i64) -> anyhow::Result<Option<Role>>;
    fn create_invite(&self, invite: &NewInvite<'_>) -> anyhow::Result<()>;
    fn invite(&self, token_hash: &str) -> anyhow::Result<Option<Invite>>;
    /// Claim an invite: true once, for the first caller, and only before it expires.
    fn use_invite(&self, token_hash: &str, now: Timestamp) -> anyhow::Result<bool>;
    fn create_pairing_code(&self, code_hash: &str, venue_id: i64, created_by: Option<i64>, expires_at: Timestamp) -> anyhow::Result<()>;
    /// Use a pairing code once and register the screen: (venue slug, screen id).
    fn pair_screen(&self, code_hash: &str, name: &str, token_hash: &str, now: Timestamp) -> anyhow::Result<Option<(String, i64)>>;
    /// A live screen credential: (screen id, venue id, name).
    fn screen(&self, token_hash: &str) -> anyhow::Result<Option<(i64, i64, String)>>;
    fn screens(&self, venue_id: i64) -> anyhow::Result<Vec<ScreenRow>>;
    fn revoke_screen(&self, venue_id: i64, id: i64, now: Timestamp) -> anyhow::Result<bool>;
    fn screens_need_pairing(&self, venue_id: i64) -> anyhow::Result<bool>;
    fn set_screens_need_pairing(&self, venue_id: i64, on: bool) -> anyhow::Result<()>;
    fn join_code(&self, venue_id: i64) -> anyhow::Result<(bool, Option<String>)>;
    fn set_join_code(&self, venue_id: i64, required: bool, new_secret: &str) -> anyhow::Result<()>;
    fn venue_staff(&self, venue_id: i64) -> anyhow::Result<Vec<(i64, String, Role)>>;
    fn remove_role(&self, venue_id: i64, user_id: i64) -> anyhow::Result<bool>;
    fn is_empty(&self) -> anyhow::Result<bool>;
    fn ping(&self) -> anyhow::Result<()>;
    fn close(&self) -> ();
}

/// One entry of the distributed command log as history sees it: the events one command
/// caused and the tickets it left behind (`version` = the last event's offset).
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub venue_id: i64,
    pub actor: Option<i64>,
    pub events: Vec<EventEnvelope>,
    pub tickets: Vec<Ticket>,
}

impl HistoryEntry {
    pub fn version(&self) -> u64 {
        self.events.last().map_or(0, |e| e.offset)
    }
}

/// Everything one batch of accepted commands changed, written in one transaction.
#[derive(Default, Debug)]
pub struct Batch {
    pub venues: Vec<VenueRow>,
    pub queues: Vec<QueueRow>,
    pub tickets: Vec<(i64, Ticket)>,
    pub events: Vec<EventRow>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.venues.is_empty() && self.queues.is_empty() && self.tickets.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct VenueRow {
    pub id: i64,
    pub name: String,
    pub event_offset: u64,
    pub next_ticket_id: u64,
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: QueueId,
    pub status: QueueStatus,
    pub day: i64,
    pub last_number: u32,
    pub pace_ms: u64,
    pub last_call_at: Option<Timestamp>,
    pub max_waiting: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub venue_id: i64,
    /// The staff account that caused it; `None` for customers.
    pub actor: Option<i64>,
    pub event: EventEnvelope,
}

/// A staff member's role at one venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Staff,
    Manager,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "staff" => Role::Staff,
            "manager" => Role::Manager,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}
