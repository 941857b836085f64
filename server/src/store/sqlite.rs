//! SQLite adapter: WAL mode, `synchronous=FULL` so a committed batch survives power loss, and
//! one writer (the venue writer task) that batches concurrent commands into one transaction.

use super::{Batch, Invite, NewInvite, Role, ScreenRow, StaffUser, unique_violation};
use anyhow::{Context, bail};
use app::domain::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
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
    super::shared::shared_queries!();

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

    /// Load a venue with its queues, counters, active tickets and today's finished ones.
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
        let today_floor: i64 = state
            .queues
            .values()
            .map(|q| q.day)
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

    /// A ticket that is no longer in memory (finished on an earlier day), by its token.
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
            "SELECT offset, at, body FROM events WHERE venue_id = ? AND offset > ? \
             ORDER BY offset LIMIT ?",
        )
        .bind(venue_id)
        .bind(offset as i64)
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
            "SELECT e.offset, e.at, e.kind, e.ticket_id, u.email, e.body FROM events e \
             LEFT JOIN staff_users u ON u.id = e.actor \
             WHERE e.venue_id = ? AND e.offset < ? ORDER BY e.offset DESC LIMIT ?",
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
        Ok(r.last_insert_rowid())
    }

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
        Ok(r.last_insert_rowid())
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
        Ok(r.last_insert_rowid())
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
        Ok(r.last_insert_rowid())
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

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
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
        .last_insert_rowid();
        tx.commit().await?;
        Ok(Some((slug, id)))
    }
}

const TICKET_COLUMNS: &str = "t.id, t.queue_id, t.number, t.token, t.name, t.party_size, t.notes, \
     t.walk_in, t.status, t.rank, t.counter_id, t.calls, t.day, t.joined_at, t.called_at, \
     t.serving_at, t.finished_at";
const TICKET_COLUMN_COUNT: usize = 17;

fn ticket_from_row(r: &SqliteRow) -> anyhow::Result<Ticket> {
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
