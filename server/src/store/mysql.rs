//! MySQL/MariaDB adapter for distributed mode: venue configuration, staff accounts and
//! sessions, and the history the projector writes from the Redis log.
//!
//! Live queue state is not here (it is in Redis); the projector may write entries out of order
//! and more than once, so history writes are idempotent and never let an older version of a
//! ticket overwrite a newer one. Those writes are in `history`.

use super::{Invite, NewInvite, Role, ScreenRow, StaffUser, unique_violation};
use anyhow::{Context, anyhow, bail};
use app::domain::*;
use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlPoolOptions, MySqlQueryResult, MySqlRow,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};
use std::str::FromStr;
use std::time::Duration;

/// Schema migrations, applied in order at startup; the applied count lives in the one row of
/// `schema_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/mysql/0001_init.sql"),
    include_str!("../../migrations/mysql/0002_invites.sql"),
    include_str!("../../migrations/mysql/0003_screens.sql"),
    include_str!("../../migrations/mysql/0004_join_code.sql"),
    include_str!("../../migrations/mysql/0005_settings.sql"),
    include_str!("../../migrations/mysql/0006_queue_settings_history.sql"),
    include_str!("../../migrations/mysql/0007_tickets_without_queue_key.sql"),
];

/// How long opening waits for the server, and a request waits for a pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Server-wide lock name that serialises migrations of instances starting at once.
const MIGRATION_LOCK: &str = "fila_migrate";
/// Seconds an instance waits for another one's migration before giving up.
const MIGRATION_LOCK_WAIT_S: i64 = 30;

#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: sqlx::MySqlPool,
}

impl MySqlStore {
    super::shared::shared_queries!(
        row: MySqlRow,
        event_offset: "event_offset",
        ticket_rank: "ticket_rank",
        queue_days_stored: false,
    );

    /// Connect with at most `max_connections` and apply migrations. Errors say which server
    /// could not be reached and why.
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        // sqlx's message does not repeat the URL, which may hold a password.
        let options = MySqlConnectOptions::from_str(url).map_err(|e| {
            anyhow!("invalid MySQL URL (expected mysql://user:password@host:port/database): {e}")
        })?;
        let server = server_name(&options);

        // One connection first, outside any pool: the pool retries a refused connection until
        // its timeout and then reports only "timed out", while this reports the reason
        // (refused, access denied, unknown database...). It also runs the migrations, which
        // must hold the migration lock on one connection.
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => bail!("cannot connect to MySQL at {server}: {e}"),
            Err(_) => bail!(
                "cannot connect to MySQL at {server}: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        };
        let migrated = migrate(&mut conn).await;
        let _ = conn.close().await;
        migrated.with_context(|| format!("cannot migrate the MySQL database at {server}"))?;

        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| anyhow!("cannot connect to MySQL at {server}: {e}"))?;
        Ok(Self { pool })
    }

    // ----- what the two dialects write differently -----

    pub async fn create_queue(
        &self,
        venue_id: i64,
        slug: &str,
        name: &str,
        prefix: &str,
    ) -> anyhow::Result<i64> {
        // INSERT ... SELECT: MySQL does not allow a subquery on the target table in VALUES.
        // It share-locks the venue's queue rows, then waits for the venue's row, which a
        // history write holds while it goes on to update a queue's status: InnoDB breaks
        // that deadlock by rolling this statement back, and then it is run again.
        let r = retry_deadlocks(|| {
            sqlx::query(
                "INSERT INTO queues (venue_id, slug, name, prefix, sort_order) \
                 SELECT ?, ?, ?, ?, COUNT(*) FROM queues WHERE venue_id = ?",
            )
            .bind(venue_id)
            .bind(slug.to_owned())
            .bind(name.to_owned())
            .bind(prefix.to_owned())
            .bind(venue_id)
            .execute(&self.pool)
        })
        .await
        .map_err(|e| unique_violation(e, &format!("this venue already has a queue {slug:?}")))?;
        Ok(inserted_id(&r))
    }

    pub async fn set_role(&self, venue_id: i64, user_id: i64, role: Role) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO venue_staff (venue_id, user_id, role) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE role = VALUES(role)",
        )
        .bind(venue_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Attempts at a single statement that keeps losing deadlocks.
const DEADLOCK_ATTEMPTS: u32 = 3;

/// Run a single-statement write again when it lost a deadlock: InnoDB rolled the whole
/// statement back, so running it again is safe. (Not after a lock wait timeout: the caller
/// has already waited `innodb_lock_wait_timeout` for it.)
async fn retry_deadlocks<T, F, Fut>(mut run: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match run().await {
            Err(e) if attempt < DEADLOCK_ATTEMPTS && error_number(&e) == Some(ER_LOCK_DEADLOCK) => {
                tracing::debug!(error = %e, attempt, "statement lost a deadlock; running it again");
                attempt += 1;
            }
            result => return result,
        }
    }
}

const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;

/// The server's error number, for an error the server answered with.
fn error_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|e| e.number()),
        _ => None,
    }
}

/// A deadlock or lock wait timeout: the transaction was rolled back and may be run again.
fn is_lock_conflict(e: &sqlx::Error) -> bool {
    matches!(
        error_number(e),
        Some(ER_LOCK_WAIT_TIMEOUT | ER_LOCK_DEADLOCK)
    )
}

/// Where the URL points, for error messages: never the password.
fn server_name(options: &MySqlConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Apply the migrations this build knows and the database lacks, holding a server-wide lock
/// so instances starting together do not run them twice.
async fn migrate(conn: &mut MySqlConnection) -> anyhow::Result<()> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
        .bind(MIGRATION_LOCK)
        .bind(MIGRATION_LOCK_WAIT_S)
        .fetch_one(&mut *conn)
        .await?;
    if locked != Some(1) {
        bail!(
            "another instance has held the migration lock {MIGRATION_LOCK:?} for \
             {MIGRATION_LOCK_WAIT_S} s; try again once it has started"
        );
    }
    let applied = apply_migrations(conn).await;
    let released = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    applied?;
    released?;
    Ok(())
}

async fn apply_migrations(conn: &mut MySqlConnection) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_version (\
             id TINYINT NOT NULL PRIMARY KEY CHECK (id = 1), \
             version BIGINT NOT NULL\
         ) ENGINE=InnoDB",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT IGNORE INTO schema_version (id, version) VALUES (1, 0)")
        .execute(&mut *conn)
        .await?;
    let applied: i64 = sqlx::query_scalar("SELECT version FROM schema_version WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    if applied < 0 || applied as usize > MIGRATIONS.len() {
        bail!(
            "the database was written by a newer Fila (schema {applied}, this build knows {})",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        // DDL commits implicitly in MySQL, so there is no transaction to roll back; every
        // statement is IF [NOT] EXISTS, so a migration cut short is simply run again.
        sqlx::raw_sql(*sql)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("migration {} failed", i + 1))?;
        sqlx::query("UPDATE schema_version SET version = ? WHERE id = 1")
            .bind((i + 1) as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The id of the row an `INSERT` made.
fn inserted_id(r: &MySqlQueryResult) -> i64 {
    r.last_insert_id() as i64
}

mod history;

#[cfg(test)]
#[path = "mysql_tests.rs"]
mod tests;
