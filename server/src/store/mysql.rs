//! MySQL/MariaDB adapter for distributed mode: venue configuration, staff accounts and
//! sessions, and the history the projector writes from the Redis log.
//!
//! Live queue state is not here (it is in Redis); the projector may write entries out of order
//! and more than once, so history writes are idempotent and never let an older version of a
//! ticket overwrite a newer one.

use super::{HistoryEntry, Invite, NewInvite, Role, ScreenRow, StaffUser};
use anyhow::{Context, anyhow, bail};
use app::domain::*;
use sqlx::mysql::{
    MySql, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPoolOptions, MySqlRow,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, QueryBuilder, Row};
use std::collections::{BTreeMap, btree_map::Entry};
use std::str::FromStr;
use std::time::Duration;

/// Schema migrations, applied in order at startup; the applied count lives in the one row of
/// `schema_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/mysql/0001_init.sql"),
    include_str!("../../migrations/mysql/0002_invites.sql"),
    include_str!("../../migrations/mysql/0003_screens.sql"),
    include_str!("../../migrations/mysql/0004_join_code.sql"),
];

/// Rows per multi-row INSERT: 19 columns x 400 rows stays far below MySQL's 65535 bound
/// parameters per statement, and a few hundred rows far below `max_allowed_packet`.
const ROWS_PER_STATEMENT: usize = 400;

/// How long opening waits for the server, and a request waits for a pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Server-wide lock name that serialises migrations of instances starting at once.
const MIGRATION_LOCK: &str = "fila_migrate";
/// Seconds an instance waits for another one's migration before giving up.
const MIGRATION_LOCK_WAIT_S: i64 = 30;

/// A history write that lost a deadlock (or a lock wait) to another instance is run again:
/// it is idempotent, so this is always safe.
const WRITE_ATTEMPTS: u32 = 3;

#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: sqlx::MySqlPool,
}

impl MySqlStore {
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

    /// Write projector entries in one transaction: events are inserted once (by venue and
    /// offset), tickets are upserted only when the entry is newer than what is stored.
    pub async fn write_history(&self, entries: &[HistoryEntry]) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = HistoryRows::new(entries)?;
        let mut attempt = 1;
        loop {
            match self.write_rows(&rows).await {
                Err(e) if attempt < WRITE_ATTEMPTS && is_lock_conflict(&e) => {
                    tracing::debug!(error = %e, attempt, "history write lost a lock; retrying");
                    attempt += 1;
                }
                result => return result.context("cannot write history to MySQL"),
            }
        }
    }

    async fn write_rows(&self, rows: &HistoryRows<'_>) -> Result<(), sqlx::Error> {
        // Rows are sorted by key and tables written in a fixed order, so concurrent writers
        // take their locks in the same order and rarely deadlock.
        let mut tx = self.pool.begin().await?;
        for chunk in rows.events.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO events (venue_id, event_offset, at, kind, ticket_id, actor, body) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.venue_id)
                    .push_bind(e.event.offset as i64)
                    .push_bind(e.event.at)
                    .push_bind(e.event.event.kind())
                    .push_bind(e.event.event.ticket().map(|t| t.0 as i64))
                    .push_bind(e.actor)
                    .push_bind(e.body.clone());
            });
            // A no-op update rather than INSERT IGNORE, which would also hide real errors
            // (foreign keys, truncation) as warnings.
            q.push(" ON DUPLICATE KEY UPDATE venue_id = venue_id");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in rows.tickets.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO tickets (venue_id, id, queue_id, number, token, name, party_size, \
                 notes, walk_in, status, ticket_rank, counter_id, calls, day, joined_at, \
                 called_at, serving_at, finished_at, version) ",
            );
            q.push_values(chunk, |mut row, (venue_id, t, version)| {
                row.push_bind(*venue_id)
                    .push_bind(t.id.0 as i64)
                    .push_bind(t.queue.0)
                    .push_bind(t.number.0.clone())
                    .push_bind(t.token.clone())
                    .push_bind(t.name.as_str().to_owned())
                    .push_bind(t.party_size.get() as i64)
                    .push_bind(t.notes.clone())
                    .push_bind(t.walk_in)
                    .push_bind(t.status.as_str())
                    .push_bind(t.rank)
                    .push_bind(t.counter.map(|c| c.0))
                    .push_bind(t.calls as i64)
                    .push_bind(t.day)
                    .push_bind(t.joined_at)
                    .push_bind(t.called_at)
                    .push_bind(t.serving_at)
                    .push_bind(t.finished_at)
                    .push_bind(*version as i64);
            });
            q.push(" ON DUPLICATE KEY UPDATE ");
            // MySQL assigns left to right and later expressions see earlier assignments, so
            // every column compares against the stored version before `version` changes last.
            for col in TICKET_UPDATED_COLUMNS {
                q.push(format_args!(
                    "{col} = IF(VALUES(version) > version, VALUES({col}), {col}), "
                ));
            }
            q.push("version = GREATEST(version, VALUES(version))");
            q.build().execute(&mut *tx).await?;
        }
        for (venue_id, (offset, next_ticket_id)) in &rows.venues {
            sqlx::query(
                "UPDATE venues SET event_offset = GREATEST(event_offset, ?), \
                 next_ticket_id = GREATEST(next_ticket_id, ?) WHERE id = ?",
            )
            .bind(*offset as i64)
            .bind(*next_ticket_id as i64)
            .bind(*venue_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    pub async fn venue_slugs(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT slug FROM venues ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Configuration (queues, counters) plus the active and today's tickets history holds.
    ///
    /// Queue days are not stored in this mode (the live counters are in Redis), so "today" is
    /// the newest day any stored ticket of the venue was issued on (or a later queue day).
    pub async fn load_venue(&self, slug: &str) -> anyhow::Result<Option<VenueState>> {
        let Some(v) = sqlx::query(
            "SELECT id, slug, name, utc_offset_minutes, event_offset, next_ticket_id \
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

        for r in sqlx::query(
            "SELECT id, slug, name, prefix, status, max_waiting, day, last_number, pace_ms, \
             last_call_at FROM queues WHERE venue_id = ? ORDER BY sort_order, id",
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
            state.queues.insert(id, q);
        }
        for r in sqlx::query("SELECT id, name FROM counters WHERE venue_id = ? ORDER BY id")
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

    pub async fn venue_id(&self, slug: &str) -> anyhow::Result<i64> {
        sqlx::query_scalar("SELECT id FROM venues WHERE slug = ?")
            .bind(slug.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .with_context(|| format!("no venue with slug {slug:?}"))
    }

    pub async fn create_queue(
        &self,
        venue_id: i64,
        slug: &str,
        name: &str,
        prefix: &str,
    ) -> anyhow::Result<i64> {
        // INSERT ... SELECT: MySQL does not allow a subquery on the target table in VALUES.
        let r = sqlx::query(
            "INSERT INTO queues (venue_id, slug, name, prefix, sort_order) \
             SELECT ?, ?, ?, ?, COUNT(*) FROM queues WHERE venue_id = ?",
        )
        .bind(venue_id)
        .bind(slug.to_owned())
        .bind(name.to_owned())
        .bind(prefix.to_owned())
        .bind(venue_id)
        .execute(&self.pool)
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

    pub async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<StaffUser>> {
        Ok(
            sqlx::query("SELECT id, email, password_hash FROM staff_users WHERE email = ?")
                .bind(email.to_owned())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| StaffUser {
                    id: r.get(0),
                    email: r.get(1),
                    password_hash: r.get(2),
                }),
        )
    }

    /// Set a new password and end every session of that account.
    pub async fn set_password(&self, user_id: i64, password_hash: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE staff_users SET password_hash = ? WHERE id = ?")
            .bind(password_hash.to_owned())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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

    /// The account behind a live session.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> anyhow::Result<Option<(i64, String)>> {
        Ok(sqlx::query(
            "SELECT u.id, u.email FROM sessions s JOIN staff_users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash.to_owned())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| (r.get(0), r.get(1))))
    }

    pub async fn delete_session(&self, token_hash: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Venues an account works at: (slug, name, role).
    pub async fn roles(&self, user_id: i64) -> anyhow::Result<Vec<(String, String, Role)>> {
        let rows = sqlx::query(
            "SELECT v.slug, v.name, s.role FROM venue_staff s JOIN venues v ON v.id = s.venue_id \
             WHERE s.user_id = ? ORDER BY v.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get(0), r.get(1), Role::parse(&r.get::<String, _>(2))?)))
            .collect())
    }

    pub async fn role_at(&self, user_id: i64, venue_id: i64) -> anyhow::Result<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM venue_staff WHERE user_id = ? AND venue_id = ?")
                .bind(user_id)
                .bind(venue_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    // ----- invites -----

    pub async fn create_invite(&self, invite: &NewInvite<'_>) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, venue_id, email, role, created_by, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(invite.token_hash.to_owned())
        .bind(invite.venue_id)
        .bind(invite.email.to_owned())
        .bind(invite.role.as_str())
        .bind(invite.created_by)
        .bind(invite.now)
        .bind(invite.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn invite(&self, token_hash: &str) -> anyhow::Result<Option<Invite>> {
        let row = sqlx::query(
            "SELECT i.venue_id, v.slug, v.name, i.email, i.role, i.expires_at, i.used_at \
             FROM invites i JOIN venues v ON v.id = i.venue_id WHERE i.token_hash = ?",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Invite {
                venue_id: r.get(0),
                venue_slug: r.get(1),
                venue_name: r.get(2),
                email: r.get(3),
                role: Role::parse(&r.get::<String, _>(4)).context("stored role")?,
                expires_at: r.get(5),
                used_at: r.get(6),
            })
        })
        .transpose()
    }

    /// Mark an invite used; false if it was already used or has expired (single use, even
    /// when two people click at once).
    pub async fn use_invite(&self, token_hash: &str, now: Timestamp) -> anyhow::Result<bool> {
        let r = sqlx::query(
            "UPDATE invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL \
             AND expires_at > ?",
        )
        .bind(now)
        .bind(token_hash.to_owned())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    // ----- venue screens -----

    pub async fn create_pairing_code(
        &self,
        code_hash: &str,
        venue_id: i64,
        created_by: Option<i64>,
        expires_at: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO pairing_codes (code_hash, venue_id, created_by, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(code_hash.to_owned())
        .bind(venue_id)
        .bind(created_by)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

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

    /// The venue id and name of a live (not revoked) screen credential.
    pub async fn screen(&self, token_hash: &str) -> anyhow::Result<Option<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, venue_id, name FROM screens WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn screens(&self, venue_id: i64) -> anyhow::Result<Vec<ScreenRow>> {
        let rows: Vec<(i64, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, created_at, revoked_at FROM screens WHERE venue_id = ? ORDER BY id",
        )
        .bind(venue_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, revoked_at)| ScreenRow {
                id,
                name,
                created_at,
                revoked_at,
            })
            .collect())
    }

    /// Revoke a screen of this venue; false if there is no such (live) screen.
    pub async fn revoke_screen(
        &self,
        venue_id: i64,
        id: i64,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let r = sqlx::query(
            "UPDATE screens SET revoked_at = ? WHERE id = ? AND venue_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(venue_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn screens_need_pairing(&self, venue_id: i64) -> anyhow::Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT screens_need_pairing FROM venues WHERE id = ?")
                .bind(venue_id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(false),
        )
    }

    pub async fn set_screens_need_pairing(&self, venue_id: i64, on: bool) -> anyhow::Result<()> {
        sqlx::query("UPDATE venues SET screens_need_pairing = ? WHERE id = ?")
            .bind(on)
            .bind(venue_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn rename_venue(&self, venue_id: i64, name: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE venues SET name = ? WHERE id = ?")
            .bind(name.to_owned())
            .bind(venue_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether joining needs the rotating code, and the secret it derives from.
    pub async fn join_code(&self, venue_id: i64) -> anyhow::Result<(bool, Option<String>)> {
        let row: Option<(bool, Option<String>)> =
            sqlx::query_as("SELECT join_code_required, join_secret FROM venues WHERE id = ?")
                .bind(venue_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.unwrap_or((false, None)))
    }

    /// Turn the requirement on or off; the secret is set only if there is none yet.
    pub async fn set_join_code(
        &self,
        venue_id: i64,
        required: bool,
        new_secret: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE venues SET join_code_required = ?, \
             join_secret = COALESCE(join_secret, ?) WHERE id = ?",
        )
        .bind(required)
        .bind(new_secret.to_owned())
        .bind(venue_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Everyone with a role at a venue: (user id, e-mail, role), by e-mail.
    pub async fn venue_staff(&self, venue_id: i64) -> anyhow::Result<Vec<(i64, String, Role)>> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT u.id, u.email, s.role FROM venue_staff s JOIN staff_users u ON u.id = s.user_id \
             WHERE s.venue_id = ? ORDER BY u.email",
        )
        .bind(venue_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, email, role)| Some((id, email, Role::parse(&role)?)))
            .collect())
    }

    /// Take away someone's role at a venue (their account and other venues stay).
    pub async fn remove_role(&self, venue_id: i64, user_id: i64) -> anyhow::Result<bool> {
        let r = sqlx::query("DELETE FROM venue_staff WHERE venue_id = ? AND user_id = ?")
            .bind(venue_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM venues")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
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
        // statement is IF NOT EXISTS, so a migration cut short is simply run again.
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

/// One event row to insert.
struct EventRow<'a> {
    venue_id: i64,
    actor: Option<i64>,
    event: &'a EventEnvelope,
    body: String,
}

/// A slice of history entries as rows: each key once, sorted by key.
struct HistoryRows<'a> {
    events: Vec<EventRow<'a>>,
    /// (venue, ticket, version): the newest version of each ticket in the slice.
    tickets: Vec<(i64, &'a Ticket, u64)>,
    /// Venue -> (highest event offset, next ticket id).
    venues: BTreeMap<i64, (u64, u64)>,
}

impl<'a> HistoryRows<'a> {
    fn new(entries: &'a [HistoryEntry]) -> anyhow::Result<Self> {
        let mut events = BTreeMap::new();
        let mut tickets: BTreeMap<(i64, u64), (&Ticket, u64)> = BTreeMap::new();
        let mut venues: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for entry in entries {
            let version = entry.version();
            let venue = venues.entry(entry.venue_id).or_insert((0, 1));
            for e in &entry.events {
                venue.0 = venue.0.max(e.offset);
                if let Entry::Vacant(slot) = events.entry((entry.venue_id, e.offset)) {
                    slot.insert(EventRow {
                        venue_id: entry.venue_id,
                        actor: entry.actor,
                        event: e,
                        body: serde_json::to_string(&e.event)?,
                    });
                }
            }
            for t in &entry.tickets {
                venue.1 = venue.1.max(t.id.0 + 1);
                match tickets.entry((entry.venue_id, t.id.0)) {
                    Entry::Vacant(slot) => {
                        slot.insert((t, version));
                    }
                    // Same rule as the upsert: only a newer version replaces.
                    Entry::Occupied(mut slot) if version > slot.get().1 => {
                        slot.insert((t, version));
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
        Ok(Self {
            events: events.into_values().collect(),
            tickets: tickets
                .into_iter()
                .map(|((venue_id, _), (t, version))| (venue_id, t, version))
                .collect(),
            venues,
        })
    }
}

/// A deadlock or lock wait timeout: the transaction was rolled back and may be run again.
fn is_lock_conflict(e: &sqlx::Error) -> bool {
    const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
    const ER_LOCK_DEADLOCK: u16 = 1213;
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), ER_LOCK_WAIT_TIMEOUT | ER_LOCK_DEADLOCK)),
        _ => false,
    }
}

/// Ticket columns an upsert may change, in assignment order (`version` goes last, apart).
const TICKET_UPDATED_COLUMNS: &[&str] = &[
    "queue_id",
    "number",
    "token",
    "name",
    "party_size",
    "notes",
    "walk_in",
    "status",
    "ticket_rank",
    "counter_id",
    "calls",
    "day",
    "joined_at",
    "called_at",
    "serving_at",
    "finished_at",
];

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

fn unique_violation(e: sqlx::Error, message: &str) -> anyhow::Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => anyhow::anyhow!("{message}"),
        _ => anyhow::Error::new(e),
    }
}

#[cfg(test)]
mod tests {
    //! Against a real server: MariaDB/MySQL at `mysql://root@127.0.0.1:3306/` (user root, no
    //! password), or the server `FILA_TEST_MYSQL` names (`mysql://user:pass@host:port`). Each test works in
    //! a database of its own, dropped at the end.

    use super::*;
    use futures_util::FutureExt;
    use std::panic::AssertUnwindSafe;
    use std::time::Instant;

    fn server_url() -> String {
        std::env::var("FILA_TEST_MYSQL")
            .map(|u| format!("{}/", u.trim_end_matches('/')))
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned())
    }

    async fn admin() -> MySqlConnection {
        let url = server_url();
        MySqlConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "these tests need a running MariaDB or MySQL server they may create databases \
                 on, at {url} (set FILA_TEST_MYSQL_URL=mysql://user:password@host:port/ to \
                 use another one): {e}"
            )
        })
    }

    /// Run `test` with the URL of a new, empty database; drop the database afterwards, also
    /// when the test fails.
    async fn with_database<F, Fut>(test: F)
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name: String = std::iter::once("fila_t_".to_owned())
            .chain(bytes.iter().map(|b| format!("{b:02x}")))
            .collect();
        let mut conn = admin().await;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&mut conn)
            .await
            .unwrap();
        let outcome = AssertUnwindSafe(test(format!("{}{name}", server_url())))
            .catch_unwind()
            .await;
        let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE `{name}`")))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        dropped.unwrap();
    }

    async fn venue(store: &MySqlStore) -> (i64, QueueId, CounterId) {
        let venue = store.create_venue("joes", "Joe's", 1).await.unwrap();
        let queue = store.create_queue(venue, "bar", "Bar", "A").await.unwrap();
        let counter = store.create_counter(venue, "Desk 1").await.unwrap();
        (venue, QueueId(queue), CounterId(counter))
    }

    fn ticket(id: u64, queue: QueueId, day: i64) -> Ticket {
        Ticket {
            id: TicketId(id),
            queue,
            number: TicketNumber::new("A", id as u32),
            token: format!("token-{id}"),
            name: CustomerName::parse("Ana").unwrap(),
            party_size: PartySize::parse(2).unwrap(),
            notes: Some("stroller".to_owned()),
            walk_in: false,
            status: TicketStatus::Waiting,
            rank: id as i64,
            counter: None,
            calls: 0,
            day,
            joined_at: day * MS_PER_DAY + 1_000,
            called_at: None,
            serving_at: None,
            finished_at: None,
        }
    }

    fn joined(offset: u64, t: &Ticket) -> EventEnvelope {
        EventEnvelope {
            offset,
            at: t.joined_at,
            event: Event::Joined {
                ticket: t.id,
                queue: t.queue,
                number: t.number.clone(),
                party_size: t.party_size.get(),
                walk_in: t.walk_in,
                position: 1,
            },
        }
    }

    fn called(offset: u64, t: &Ticket, counter: CounterId) -> EventEnvelope {
        EventEnvelope {
            offset,
            at: t.joined_at + offset as i64,
            event: Event::Called {
                ticket: t.id,
                queue: t.queue,
                number: t.number.clone(),
                counter,
                from_position: Some(1),
                recall: false,
                pace_ms: 60_000,
            },
        }
    }

    fn status_changed(offset: u64, t: &Ticket, status: TicketStatus) -> EventEnvelope {
        EventEnvelope {
            offset,
            at: t.joined_at + offset as i64,
            event: Event::StatusChanged {
                ticket: t.id,
                queue: t.queue,
                number: t.number.clone(),
                status,
                from_position: None,
            },
        }
    }

    async fn count(store: &MySqlStore, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn migration_is_idempotent_and_refuses_a_newer_schema() {
        with_database(|url| async move {
            let store = MySqlStore::open(&url, 2).await.unwrap();
            assert!(store.is_empty().await.unwrap());
            store.create_venue("joes", "Joe's", 1).await.unwrap();
            store.close().await;

            let store = MySqlStore::open(&url, 2).await.unwrap();
            assert_eq!(store.venue_slugs().await.unwrap(), vec!["joes".to_owned()]);
            let version = count(&store, "SELECT version FROM schema_version").await;
            assert_eq!(version, MIGRATIONS.len() as i64);
            assert_eq!(
                count(&store, "SELECT COUNT(*) FROM schema_version").await,
                1
            );
            sqlx::query("UPDATE schema_version SET version = version + 1")
                .execute(&store.pool)
                .await
                .unwrap();
            store.close().await;

            let err = MySqlStore::open(&url, 2).await.unwrap_err();
            assert!(format!("{err:#}").contains("newer Fila"), "{err:#}");
        })
        .await;
    }

    #[tokio::test]
    async fn instances_starting_together_migrate_once() {
        with_database(|url| async move {
            let (a, b, c) = tokio::join!(
                MySqlStore::open(&url, 2),
                MySqlStore::open(&url, 2),
                MySqlStore::open(&url, 2)
            );
            for store in [a.unwrap(), b.unwrap(), c.unwrap()] {
                store.ping().await.unwrap();
                store.close().await;
            }
        })
        .await;
    }

    #[tokio::test]
    async fn configuration_accounts_and_sessions_round_trip() {
        with_database(|url| async move {
            let store = MySqlStore::open(&url, 4).await.unwrap();
            store.ping().await.unwrap();
            let (venue, bar, desk) = venue(&store).await;
            assert!(!store.is_empty().await.unwrap());
            assert_eq!(store.venue_id("joes").await.unwrap(), venue);
            let err = store.venue_id("nope").await.unwrap_err().to_string();
            assert!(err.contains("no venue with slug \"nope\""), "{err}");

            let err = store.create_venue("joes", "Again", 2).await.unwrap_err();
            assert_eq!(err.to_string(), "a venue with slug \"joes\" already exists");
            let err = store
                .create_queue(venue, "bar", "Bar", "B")
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "this venue already has a queue \"bar\"");
            let err = store.create_counter(venue, "Desk 1").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "this venue already has a counter \"Desk 1\""
            );
            // Text compares exactly, as in SQLite.
            let other = store.create_venue("Joes", "Other", 2).await.unwrap();
            assert_ne!(other, venue);

            let terrace = store
                .create_queue(venue, "terrace", "Terrace", "T")
                .await
                .unwrap();
            let state = store.load_venue("joes").await.unwrap().unwrap();
            assert_eq!(state.id, venue);
            assert_eq!(state.name, "Joe's");
            assert_eq!((state.offset, state.next_ticket_id), (0, 1));
            let queues: Vec<_> = state.queues.values().map(|q| q.slug.as_str()).collect();
            assert_eq!(queues, ["bar", "terrace"]);
            assert_eq!(state.queues[&QueueId(terrace)].prefix, "T");
            assert_eq!(state.queues[&bar].status, QueueStatus::Open);
            assert_eq!(state.counters[&desk].name, "Desk 1");
            assert!(state.tickets.is_empty());
            assert!(store.load_venue("nope").await.unwrap().is_none());

            let ana = store
                .create_user("ana@example.com", "hash1", 5)
                .await
                .unwrap();
            let err = store
                .create_user("ana@example.com", "hash2", 6)
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "a user \"ana@example.com\" already exists");
            let user = store
                .user_by_email("ana@example.com")
                .await
                .unwrap()
                .unwrap();
            assert_eq!((user.id, user.password_hash.as_str()), (ana, "hash1"));
            assert!(
                store
                    .user_by_email("bob@example.com")
                    .await
                    .unwrap()
                    .is_none()
            );

            assert_eq!(store.role_at(ana, venue).await.unwrap(), None);
            store.set_role(venue, ana, Role::Staff).await.unwrap();
            store.set_role(venue, ana, Role::Owner).await.unwrap();
            store.set_role(other, ana, Role::Manager).await.unwrap();
            assert_eq!(store.role_at(ana, venue).await.unwrap(), Some(Role::Owner));
            assert_eq!(
                store.roles(ana).await.unwrap(),
                vec![
                    ("joes".to_owned(), "Joe's".to_owned(), Role::Owner),
                    ("Joes".to_owned(), "Other".to_owned(), Role::Manager),
                ]
            );

            store.create_session("s1", ana, 10, 100).await.unwrap();
            store.create_session("s2", ana, 10, 100).await.unwrap();
            assert_eq!(
                store.session_user("s1", 50).await.unwrap(),
                Some((ana, "ana@example.com".to_owned()))
            );
            assert_eq!(
                store.session_user("s1", 100).await.unwrap(),
                None,
                "expired"
            );
            assert_eq!(store.session_user("S1", 50).await.unwrap(), None);
            store.delete_session("s1").await.unwrap();
            assert_eq!(store.session_user("s1", 50).await.unwrap(), None);
            assert!(store.session_user("s2", 50).await.unwrap().is_some());

            store.set_password(ana, "hash3").await.unwrap();
            let user = store
                .user_by_email("ana@example.com")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(user.password_hash, "hash3");
            assert_eq!(store.session_user("s2", 50).await.unwrap(), None);
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn history_writes_are_idempotent_and_never_go_back_in_time() {
        with_database(|url| async move {
            let store = MySqlStore::open(&url, 4).await.unwrap();
            let (venue, bar, desk) = venue(&store).await;
            store.write_history(&[]).await.unwrap();

            // Ticket 1 joins (offset 1), ticket 2 joins (2), ticket 1 is called (3) and
            // served (5); ticket 3 joined and was served on an earlier day.
            let day = 20_000;
            let t1_v1 = ticket(1, bar, day);
            let t2 = ticket(2, bar, day);
            let mut t1_v3 = t1_v1.clone();
            t1_v3.status = TicketStatus::Called;
            t1_v3.counter = Some(desk);
            t1_v3.calls = 1;
            t1_v3.called_at = Some(t1_v1.joined_at + 3);
            let mut t1_v5 = t1_v3.clone();
            t1_v5.status = TicketStatus::Served;
            t1_v5.serving_at = Some(t1_v1.joined_at + 4);
            t1_v5.finished_at = Some(t1_v1.joined_at + 5);
            let mut t3 = ticket(3, bar, day - 1);
            t3.status = TicketStatus::Served;
            t3.finished_at = Some(t3.joined_at + 10);
            let entry = |actor, events, tickets| HistoryEntry {
                venue_id: venue,
                actor,
                events,
                tickets,
            };
            let e1 = entry(None, vec![joined(1, &t1_v1)], vec![t1_v1.clone()]);
            let e2 = entry(None, vec![joined(2, &t2)], vec![t2.clone()]);
            let e3 = entry(Some(7), vec![called(3, &t1_v3, desk)], vec![t1_v3.clone()]);
            let e5 = entry(
                Some(7),
                vec![
                    status_changed(4, &t1_v5, TicketStatus::Serving),
                    status_changed(5, &t1_v5, TicketStatus::Served),
                ],
                vec![t1_v5.clone()],
            );
            let e6 = entry(
                None,
                vec![joined(6, &t3), status_changed(7, &t3, TicketStatus::Served)],
                vec![t3.clone()],
            );
            assert_eq!(e5.version(), 5);

            // Newest first, then older ones, then everything again in one slice.
            store
                .write_history(std::slice::from_ref(&e5))
                .await
                .unwrap();
            store
                .write_history(&[e3.clone(), e1.clone()])
                .await
                .unwrap();
            let stored = store.ticket_by_token("token-1").await.unwrap().unwrap();
            assert_eq!(stored, ("joes".to_owned(), t1_v5.clone()));
            store
                .write_history(&[e1.clone(), e2.clone(), e3.clone(), e5.clone(), e6.clone()])
                .await
                .unwrap();
            store
                .write_history(&[e3.clone(), e6.clone()])
                .await
                .unwrap();

            assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 7);
            assert_eq!(count(&store, "SELECT COUNT(*) FROM tickets").await, 3);
            assert_eq!(
                count(&store, "SELECT version FROM tickets WHERE id = 1").await,
                5
            );
            let stored = store.ticket_by_token("token-1").await.unwrap().unwrap();
            assert_eq!(stored, ("joes".to_owned(), t1_v5.clone()));
            assert_eq!(
                store.ticket_by_token("token-2").await.unwrap().unwrap().1,
                t2
            );
            assert_eq!(
                store.ticket_by_token("token-3").await.unwrap().unwrap().1,
                t3
            );
            assert!(store.ticket_by_token("token-9").await.unwrap().is_none());

            // A newer version in the same slice as an older one wins whatever the order.
            let mut t2_v8 = t2.clone();
            t2_v8.status = TicketStatus::Cancelled;
            t2_v8.finished_at = Some(t2.joined_at + 8);
            let e8 = entry(
                None,
                vec![status_changed(8, &t2_v8, TicketStatus::Cancelled)],
                vec![t2_v8.clone()],
            );
            store
                .write_history(&[e8.clone(), e2.clone()])
                .await
                .unwrap();
            assert_eq!(
                store.ticket_by_token("token-2").await.unwrap().unwrap().1,
                t2_v8
            );
            store
                .write_history(std::slice::from_ref(&e2))
                .await
                .unwrap();
            assert_eq!(
                store.ticket_by_token("token-2").await.unwrap().unwrap().1,
                t2_v8
            );

            // Today's tickets (active or not) load; the earlier day's finished one does not.
            let mut t4 = ticket(4, bar, day);
            let e9 = entry(None, vec![joined(9, &t4)], vec![t4.clone()]);
            store.write_history(&[e9]).await.unwrap();
            let state = store.load_venue("joes").await.unwrap().unwrap();
            assert_eq!(state.offset, 9);
            assert_eq!(state.next_ticket_id, 5);
            let mut ids: Vec<_> = state.tickets.keys().map(|t| t.0).collect();
            ids.sort();
            assert_eq!(ids, [1, 2, 4]);
            assert_eq!(state.tickets[&TicketId(1)], t1_v5);
            assert_eq!(state.tokens["token-4"], TicketId(4));
            let waiting: Vec<_> = state.queues[&bar].waiting.values().copied().collect();
            assert_eq!(waiting, [TicketId(4)]);

            // An active ticket from an earlier day still loads.
            t4.day = day - 5;
            let e10 = entry(
                None,
                vec![status_changed(10, &t4, TicketStatus::Waiting)],
                vec![t4.clone()],
            );
            store.write_history(&[e10]).await.unwrap();
            let state = store.load_venue("joes").await.unwrap().unwrap();
            assert_eq!(state.tickets[&TicketId(4)], t4);
            assert_eq!(state.offset, 10);
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn events_after_and_audit_return_what_was_written() {
        with_database(|url| async move {
            let store = MySqlStore::open(&url, 4).await.unwrap();
            let (venue, bar, desk) = venue(&store).await;
            let ana = store.create_user("ana@example.com", "h", 1).await.unwrap();
            let t = ticket(1, bar, 20_000);
            let events = vec![
                joined(1, &t),
                called(2, &t, desk),
                status_changed(3, &t, TicketStatus::Serving),
                EventEnvelope {
                    offset: 4,
                    at: 99,
                    event: Event::QueueStatusChanged {
                        queue: bar,
                        status: QueueStatus::Paused,
                    },
                },
            ];
            let entries: Vec<_> = events
                .iter()
                .enumerate()
                .map(|(i, e)| HistoryEntry {
                    venue_id: venue,
                    actor: (i > 0).then_some(ana),
                    events: vec![e.clone()],
                    tickets: if i < 3 { vec![t.clone()] } else { vec![] },
                })
                .collect();
            store.write_history(&entries[2..]).await.unwrap();
            store.write_history(&entries[..3]).await.unwrap();

            assert_eq!(store.events_after(venue, 0, 100).await.unwrap(), events);
            assert_eq!(store.events_after(venue, 1, 2).await.unwrap(), events[1..3]);
            assert!(store.events_after(venue, 4, 100).await.unwrap().is_empty());
            assert!(
                store
                    .events_after(venue + 1, 0, 100)
                    .await
                    .unwrap()
                    .is_empty()
            );

            let audit = store.audit(venue, u64::MAX, 3).await.unwrap();
            let offsets: Vec<_> = audit.iter().map(|a| a.offset).collect();
            assert_eq!(offsets, [4, 3, 2]);
            assert_eq!(audit[0].kind, "queue_status_changed");
            assert_eq!(audit[0].ticket, None);
            assert_eq!(audit[0].at, 99);
            assert_eq!(audit[1].kind, "status_changed");
            assert_eq!(audit[1].ticket, Some(1));
            assert_eq!(audit[1].actor.as_deref(), Some("ana@example.com"));
            assert_eq!(
                audit[1].event,
                serde_json::to_value(&events[2].event).unwrap()
            );
            let audit = store.audit(venue, 2, 10).await.unwrap();
            assert_eq!(audit.len(), 1);
            assert_eq!((audit[0].offset, audit[0].actor.as_deref()), (1, None));
            assert_eq!(audit[0].kind, "joined");
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn open_reports_an_unreachable_server_quickly() {
        let started = Instant::now();
        let err = MySqlStore::open("mysql://fila:secret@127.0.0.1:1/fila", 2)
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("127.0.0.1:1"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(10), "{message}");

        let err = MySqlStore::open("mysql://fila:secret@127.0.0.1:3306/fila_t_no_such_db", 2)
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("127.0.0.1:3306"), "{message}");
        assert!(!message.contains("secret"), "{message}");

        let err = MySqlStore::open("not a url", 2).await.unwrap_err();
        assert!(err.to_string().contains("invalid MySQL URL"), "{err}");
    }
}
