//! SQLite adapter: WAL mode, `synchronous=FULL` so a committed batch survives power loss, and
//! one writer (the venue writer task) that batches concurrent commands into one transaction.

use super::{Batch, Invite, NewInvite, Role, ScreenRow, StaffUser, unique_violation};
use anyhow::{Context, bail};
use app::domain::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;
use std::time::Duration;

/// Schema migrations, applied in order at startup; the applied count lives in `user_version`.
mod persist;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_invites.sql"),
    include_str!("../../migrations/sqlite/0003_screens.sql"),
    include_str!("../../migrations/sqlite/0004_join_code.sql"),
    include_str!("../../migrations/sqlite/0005_settings.sql"),
];

/// Readers (ticket pages, logins) share a few connections; the writer takes one of them.
const POOL_SIZE: u32 = 4;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    super::shared::shared_queries!(
        row: SqliteRow,
        event_offset: "offset",
        ticket_rank: "rank",
        queue_days_stored: true,
    );

    /// Open (creating the file if needed) and migrate. `url` is `sqlite://path` or `sqlite::memory:`.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid SQLite URL {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            // A ping before each use is a round trip to the connection's thread, and a local
            // file has no network to have dropped it.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the SQLite database {url:?}"))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await?;
        if applied as usize > MIGRATIONS.len() {
            bail!(
                "the database was written by a newer Fila (schema {applied}, this build knows {})",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            // PRAGMA takes no bound parameters; the version is a number we produce.
            let set = match i + 1 {
                1 => "PRAGMA user_version = 1",
                2 => "PRAGMA user_version = 2",
                3 => "PRAGMA user_version = 3",
                4 => "PRAGMA user_version = 4",
                5 => "PRAGMA user_version = 5",
                _ => unreachable!("add a line per migration"),
            };
            sqlx::raw_sql(set).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Write one batch atomically. Nothing of it is visible, or all of it is.
    ///
    /// The whole transaction, `BEGIN` to `COMMIT`, is one statement text that never changes
    /// (`persist::PERSIST`), so it is prepared once per connection, and one round trip to SQLite's
    /// worker thread. The rows travel as four JSON arrays. Before, a batch was a dozen round
    /// trips (each a thread wake-up: on a busy 2-core machine a join burst's batches took
    /// 8–16 ms to persist while SQLite's thread was busy a fifth of that), and multi-row
    /// `VALUES` lists, whose text changes with the row count, would have to be parsed anew
    /// for every batch.
    pub async fn persist(&self, batch: &Batch) -> anyhow::Result<()> {
        let rows = persist::persist_rows(batch)?;
        let mut conn = self.pool.acquire().await?;
        let written = sqlx::query(persist::PERSIST)
            .bind(rows.venues)
            .bind(rows.queues)
            .bind(rows.tickets)
            .bind(rows.events)
            .execute(&mut *conn)
            .await;
        if let Err(e) = written {
            // A statement failed inside the transaction: undo it before the connection goes
            // back to the pool. If even that fails, close the connection instead.
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                drop(conn.detach());
            }
            return Err(e.into());
        }
        Ok(())
    }

    // ----- what the two dialects write differently -----

    pub async fn create_queue(
        &self,
        venue_id: i64,
        slug: &str,
        name: &str,
        prefix: &str,
    ) -> anyhow::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO queues (venue_id, slug, name, prefix, sort_order) VALUES (?, ?, ?, ?, \
             (SELECT COUNT(*) FROM queues WHERE venue_id = ?))",
        )
        .bind(venue_id)
        .bind(slug.to_owned())
        .bind(name.to_owned())
        .bind(prefix.to_owned())
        .bind(venue_id)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, &format!("this venue already has a queue {slug:?}")))?;
        Ok(inserted_id(&r))
    }

    pub async fn set_role(&self, venue_id: i64, user_id: i64, role: Role) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO venue_staff (venue_id, user_id, role) VALUES (?, ?, ?) \
             ON CONFLICT (venue_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(venue_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The id of the row an `INSERT` made.
fn inserted_id(r: &SqliteQueryResult) -> i64 {
    r.last_insert_rowid()
}
