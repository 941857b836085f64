//! MySQL/MariaDB adapter for distributed mode: venue configuration, staff accounts and
//! sessions, and the history the projector writes from the Redis log.
//!
//! Live queue state is not here (it is in Redis); the projector may write entries out of order
//! and more than once, so history writes are idempotent and never let an older version of a
//! ticket overwrite a newer one. Those writes are in `history`.

use super::{Invite, NewInvite, Role, ScreenRow, StaffUser, unique_violation};
use anyhow::{Context, anyhow, bail};
use app::domain::*;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions, MySqlRow};
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
    super::shared::shared_queries!();

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

    /// Configuration (queues, counters) plus the active and today's tickets history holds.
    ///
    /// Queue days are not stored in this mode (the live counters are in Redis), so "today" is
    /// the newest day any stored ticket of the venue was issued on (or a later queue day).
    pub async fn load_venue(&self, slug: &str) -> anyhow::Result<Option<VenueState>> {
        let Some(v) = sqlx::query(
            "SELECT id, slug, name, utc_offset_minutes, event_offset, next_ticket_id, time_zone \
             FROM venues WHERE slug = ?",
        )
        .bind(slug.to_owned())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut state = VenueState::new(
            v.get(0),
            v.get::<String, _>(1).as_str(),
            &v.get::<String, _>(2),
        );
        state.utc_offset_minutes = v.get(3);
        state.offset = v.get::<i64, _>(4) as u64;
        state.next_ticket_id = v.get::<i64, _>(5) as u64;
        state.time_zone = v.get(6);

        for r in sqlx::query(
            "SELECT id, slug, name, prefix, status, max_waiting, day, last_number, pace_ms, \
             last_call_at, open_hours FROM queues WHERE venue_id = ? AND removed_at IS NULL \
             ORDER BY sort_order, id",
        )
        .bind(state.id)
        .fetch_all(&self.pool)
        .await?
        {
            let id = QueueId(r.get(0));
            let mut q = QueueState::new(
                id,
                &r.get::<String, _>(1),
                &r.get::<String, _>(2),
                &r.get::<String, _>(3),
            );
            q.status = QueueStatus::parse(&r.get::<String, _>(4)).unwrap_or(QueueStatus::Open);
            q.max_waiting = r.get::<Option<i64>, _>(5).map(|m| m as u32);
            q.day = r.get(6);
            q.last_number = r.get::<i64, _>(7) as u32;
            q.pace_ms = r.get::<i64, _>(8) as u64;
            q.last_call_at = r.get(9);
            if let Some(hours) = r.get::<Option<String>, _>(10) {
                q.open_hours = serde_json::from_str(&hours)
                    .with_context(|| format!("queue {}: unreadable open hours", id.0))?;
            }
            state.queues.insert(id, q);
        }
        for r in sqlx::query(
            "SELECT id, name FROM counters WHERE venue_id = ? AND removed_at IS NULL ORDER BY id",
        )
        .bind(state.id)
        .fetch_all(&self.pool)
        .await?
        {
            let id = CounterId(r.get(0));
            state.counters.insert(id, Counter { id, name: r.get(1) });
        }
        let newest_ticket_day: Option<i64> =
            sqlx::query_scalar("SELECT MAX(day) FROM tickets WHERE venue_id = ?")
                .bind(state.id)
                .fetch_one(&self.pool)
                .await?;
        let today_floor = state
            .queues
            .values()
            .map(|q| q.day)
            .chain(newest_ticket_day)
            .max()
            .unwrap_or(i64::MIN);
        // Built from constants only: nothing user-supplied reaches the SQL text.
        for r in sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.venue_id = ? \
             AND (t.status IN ('waiting', 'called', 'serving') OR t.day >= ?)"
        )))
        .bind(state.id)
        .bind(today_floor)
        .fetch_all(&self.pool)
        .await?
        {
            state.insert_ticket(ticket_from_row(&r)?);
        }
        Ok(Some(state))
    }

    /// A ticket by its token, with its venue's slug.
    pub async fn ticket_by_token(&self, token: &str) -> anyhow::Result<Option<(String, Ticket)>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS}, v.slug FROM tickets t JOIN venues v ON v.id = t.venue_id \
             WHERE t.token = ?"
        ));
        match sqlx::query(sql)
            .bind(token.to_owned())
            .fetch_optional(&self.pool)
            .await?
        {
            Some(r) => Ok(Some((r.get(TICKET_COLUMN_COUNT), ticket_from_row(&r)?))),
            None => Ok(None),
        }
    }

    /// Events of a venue after `offset`, oldest first (history, and catching up watchers).
    pub async fn events_after(
        &self,
        venue_id: i64,
        offset: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<EventEnvelope>> {
        let rows = sqlx::query(
            "SELECT event_offset, at, body FROM events WHERE venue_id = ? AND event_offset > ? \
             ORDER BY event_offset LIMIT ?",
        )
        .bind(venue_id)
        .bind(offset.min(i64::MAX as u64) as i64)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventEnvelope {
                    offset: r.get::<i64, _>(0) as u64,
                    at: r.get(1),
                    event: serde_json::from_str(&r.get::<String, _>(2))?,
                })
            })
            .collect()
    }

    /// The newest events of a venue before `before` (exclusive), newest first, with the
    /// e-mail of the staff member behind each.
    pub async fn audit(
        &self,
        venue_id: i64,
        before: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<app::protocol::AuditEntry>> {
        let rows = sqlx::query(
            "SELECT e.event_offset, e.at, e.kind, e.ticket_id, u.email, e.body FROM events e \
             LEFT JOIN staff_users u ON u.id = e.actor \
             WHERE e.venue_id = ? AND e.event_offset < ? ORDER BY e.event_offset DESC LIMIT ?",
        )
        .bind(venue_id)
        .bind(before.min(i64::MAX as u64) as i64)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(app::protocol::AuditEntry {
                    offset: r.get::<i64, _>(0) as u64,
                    at: r.get(1),
                    kind: r.get(2),
                    ticket: r.get::<Option<i64>, _>(3).map(|t| t as u64),
                    actor: r.get(4),
                    event: serde_json::from_str(&r.get::<String, _>(5))?,
                })
            })
            .collect()
    }

    // ----- configuration (admin CLI and demo) -----

    pub async fn create_venue(
        &self,
        slug: &str,
        name: &str,
        now: Timestamp,
    ) -> anyhow::Result<i64> {
        let r = sqlx::query("INSERT INTO venues (slug, name, created_at) VALUES (?, ?, ?)")
            .bind(slug.to_owned())
            .bind(name.to_owned())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                unique_violation(e, &format!("a venue with slug {slug:?} already exists"))
            })?;
        Ok(r.last_insert_id() as i64)
    }

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
        Ok(r.last_insert_id() as i64)
    }

    pub async fn create_counter(&self, venue_id: i64, name: &str) -> anyhow::Result<i64> {
        let r = sqlx::query("INSERT INTO counters (venue_id, name) VALUES (?, ?)")
            .bind(venue_id)
            .bind(name.to_owned())
            .execute(&self.pool)
            .await
            .map_err(|e| {
                unique_violation(e, &format!("this venue already has a counter {name:?}"))
            })?;
        Ok(r.last_insert_id() as i64)
    }

    // ----- staff accounts and sessions -----

    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> anyhow::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO staff_users (email, password_hash, created_at) VALUES (?, ?, ?)",
        )
        .bind(email.to_owned())
        .bind(password_hash.to_owned())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, &format!("a user {email:?} already exists")))?;
        Ok(r.last_insert_id() as i64)
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

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash.to_owned())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ----- invites -----

    // ----- venue screens -----

    /// Use a pairing code up (once, before it expires) and register the screen it pairs.
    /// Returns the venue's slug and the new screen's id, or `None` if the code is not usable.
    pub async fn pair_screen(
        &self,
        code_hash: &str,
        name: &str,
        token_hash: &str,
        now: Timestamp,
    ) -> anyhow::Result<Option<(String, i64)>> {
        let mut tx = self.pool.begin().await?;
        let venue: Option<(i64, String)> = sqlx::query_as(
            "SELECT p.venue_id, v.slug FROM pairing_codes p JOIN venues v ON v.id = p.venue_id \
             WHERE p.code_hash = ? AND p.used_at IS NULL AND p.expires_at > ?",
        )
        .bind(code_hash.to_owned())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((venue_id, slug)) = venue else {
            return Ok(None);
        };
        let used = sqlx::query(
            "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash.to_owned())
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let id = sqlx::query(
            "INSERT INTO screens (venue_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(venue_id)
        .bind(name.to_owned())
        .bind(token_hash.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .last_insert_id() as i64;
        tx.commit().await?;
        Ok(Some((slug, id)))
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

const TICKET_COLUMNS: &str = "t.id, t.queue_id, t.number, t.token, t.name, t.party_size, t.notes, \
     t.walk_in, t.status, t.ticket_rank, t.counter_id, t.calls, t.day, t.joined_at, t.called_at, \
     t.serving_at, t.finished_at";
const TICKET_COLUMN_COUNT: usize = 17;

fn ticket_from_row(r: &MySqlRow) -> anyhow::Result<Ticket> {
    let status: String = r.get(8);
    Ok(Ticket {
        id: TicketId(r.get::<i64, _>(0) as u64),
        queue: QueueId(r.get(1)),
        number: TicketNumber(r.get(2)),
        token: r.get(3),
        name: CustomerName::parse(&r.get::<String, _>(4)).context("stored name")?,
        party_size: PartySize::parse(r.get(5)).context("stored party size")?,
        notes: r.get(6),
        walk_in: r.get(7),
        status: TicketStatus::parse(&status)
            .with_context(|| format!("stored status {status:?}"))?,
        rank: r.get(9),
        counter: r.get::<Option<i64>, _>(10).map(CounterId),
        calls: r.get::<i64, _>(11) as u32,
        day: r.get(12),
        joined_at: r.get(13),
        called_at: r.get(14),
        serving_at: r.get(15),
        finished_at: r.get(16),
    })
}

mod history;

#[cfg(test)]
#[path = "mysql_tests.rs"]
mod tests;
