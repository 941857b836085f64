//! The queries both adapters run word for word: `?` placeholders and plain SQL work on SQLite
//! and MySQL alike. Each adapter's `impl` expands [`shared_queries!`] once, so the SQL is
//! written once and type-checked against both drivers. What differs (upserts, last insert
//! id, migrations, history writes) stays in `sqlite.rs` and `mysql.rs`.

/// Methods on a store struct with a `pool` field (a `SqlitePool` or a `MySqlPool`).
macro_rules! shared_queries {
    () => {
        pub async fn venue_slugs(&self) -> anyhow::Result<Vec<String>> {
            Ok(sqlx::query_scalar("SELECT slug FROM venues ORDER BY id")
                .fetch_all(&self.pool)
                .await?)
        }

        pub async fn venue_id(&self, slug: &str) -> anyhow::Result<i64> {
            sqlx::query_scalar("SELECT id FROM venues WHERE slug = ?")
                .bind(slug.to_owned())
                .fetch_optional(&self.pool)
                .await?
                .with_context(|| format!("no venue with slug {slug:?}"))
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

        /// A queue's editable settings; `open_hours` is the schedule as JSON (`None`: any time).
        pub async fn update_queue(
            &self,
            venue_id: i64,
            queue_id: i64,
            name: &str,
            prefix: &str,
            open_hours: Option<String>,
        ) -> anyhow::Result<()> {
            sqlx::query(
                "UPDATE queues SET name = ?, prefix = ?, open_hours = ? \
                 WHERE id = ? AND venue_id = ? AND removed_at IS NULL",
            )
            .bind(name.to_owned())
            .bind(prefix.to_owned())
            .bind(open_hours)
            .bind(queue_id)
            .bind(venue_id)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// Retire a queue: history keeps pointing at the row; its slug is freed for reuse.
        pub async fn remove_queue(
            &self,
            venue_id: i64,
            queue_id: i64,
            slug: &str,
            now: Timestamp,
        ) -> anyhow::Result<()> {
            sqlx::query(
                "UPDATE queues SET removed_at = ?, slug = ? \
                 WHERE id = ? AND venue_id = ? AND removed_at IS NULL",
            )
            .bind(now)
            .bind(format!("{slug}~{queue_id}"))
            .bind(queue_id)
            .bind(venue_id)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        pub async fn rename_counter(
            &self,
            venue_id: i64,
            counter_id: i64,
            name: &str,
        ) -> anyhow::Result<()> {
            sqlx::query(
                "UPDATE counters SET name = ? WHERE id = ? AND venue_id = ? AND removed_at IS NULL",
            )
            .bind(name.to_owned())
            .bind(counter_id)
            .bind(venue_id)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                crate::store::unique_violation(
                    e,
                    &format!("this venue already has a counter {name:?}"),
                )
            })?;
            Ok(())
        }

        /// Retire a counter; its name is freed for reuse.
        pub async fn remove_counter(
            &self,
            venue_id: i64,
            counter_id: i64,
            name: &str,
            now: Timestamp,
        ) -> anyhow::Result<()> {
            sqlx::query(
                "UPDATE counters SET removed_at = ?, name = ? \
                 WHERE id = ? AND venue_id = ? AND removed_at IS NULL",
            )
            .bind(now)
            .bind(format!("{name}~{counter_id}"))
            .bind(counter_id)
            .bind(venue_id)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// The venue's IANA time zone name ("" for UTC) and its offset now (a venue loaded
        /// later starts with it; the server keeps it current from then on).
        pub async fn set_time_zone(
            &self,
            venue_id: i64,
            time_zone: &str,
            utc_offset_minutes: i32,
        ) -> anyhow::Result<()> {
            sqlx::query("UPDATE venues SET time_zone = ?, utc_offset_minutes = ? WHERE id = ?")
                .bind(time_zone.to_owned())
                .bind(utc_offset_minutes)
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
    };
}

pub(super) use shared_queries;
