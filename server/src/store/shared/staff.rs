//! Staff accounts, their sessions, roles and invites: see [`super`].

macro_rules! staff_queries {
    () => {
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
            Ok(inserted_id(&r))
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
    };
}

pub(in crate::store) use staff_queries;
