//! Venue screens: pairing codes and the screens they pair. See [`super`].

macro_rules! screen_queries {
    () => {
        /// Use a pairing code up (once, before it expires) and register the screen it pairs.
        /// Returns the venue's slug and the new screen's id, or `None` if the code is not
        /// usable.
        pub async fn pair_screen(
            &self,
            code_hash: &str,
            name: &str,
            token_hash: &str,
            now: Timestamp,
        ) -> anyhow::Result<Option<(String, i64)>> {
            let mut tx = self.pool.begin().await?;
            let venue: Option<(i64, String)> = sqlx::query_as(
                "SELECT p.venue_id, v.slug FROM pairing_codes p \
                 JOIN venues v ON v.id = p.venue_id \
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
            let created = sqlx::query(
                "INSERT INTO screens (venue_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(venue_id)
            .bind(name.to_owned())
            .bind(token_hash.to_owned())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some((slug, inserted_id(&created))))
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
    };
}

pub(in crate::store) use screen_queries;
