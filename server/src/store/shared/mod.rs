//! The queries both adapters run word for word: `?` placeholders and plain SQL work on SQLite
//! and MySQL alike. Each adapter's `impl` expands [`shared_queries!`] once, so the SQL and the
//! row mapping are written once and type-checked against both drivers. What differs
//! (upserts, migrations, batch and history writes) stays in `sqlite.rs` and `mysql.rs`.
//!
//! By subject: a venue, its queues, tickets and history (`venue`); staff accounts, sessions
//! and invites (`staff`); venue screens and their pairing (`screens`).

mod screens;
mod staff;
mod venue;

pub(super) use screens::screen_queries;
pub(super) use staff::staff_queries;
pub(super) use venue::venue_queries;

/// Methods on a store struct with a `pool` field (a `SqlitePool` or a `MySqlPool`).
///
/// The arguments name what the two schemas spell differently, and say whether queue days are
/// stored. The adapter's module supplies `fn inserted_id(&QueryResult) -> i64`, the id of the
/// row an `INSERT` made.
macro_rules! shared_queries {
    (
        row: $row:ty,
        event_offset: $offset:literal,
        ticket_rank: $rank:literal,
        queue_days_stored: $days_stored:literal $(,)?
    ) => {
        $crate::store::shared::venue_queries!(
            row: $row,
            event_offset: $offset,
            ticket_rank: $rank,
            queue_days_stored: $days_stored,
        );
        $crate::store::shared::staff_queries!();
        $crate::store::shared::screen_queries!();

        pub async fn ping(&self) -> anyhow::Result<()> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        pub async fn close(&self) {
            self.pool.close().await;
        }
    };
}

pub(super) use shared_queries;
