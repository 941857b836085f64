//! A venue, its queues and counters, its tickets and its history: see [`super`].

/// Arguments as [`super::shared_queries!`]'s.
macro_rules! venue_queries {
    (
        row: $row:ty,
        event_offset: $offset:literal,
        ticket_rank: $rank:literal,
        queue_days_stored: $days_stored:literal $(,)?
    ) => {
        /// The ticket columns `ticket_from_row` reads, in its order, for a `tickets t`.
        const TICKET_COLUMNS: &str = concat!(
            "t.id, t.queue_id, t.number, t.token, t.name, t.party_size, t.notes, \
             t.walk_in, t.status, t.",
            $rank,
            ", t.counter_id, t.calls, t.day, t.joined_at, t.called_at, \
             t.serving_at, t.finished_at"
        );

        const TICKET_COLUMN_COUNT: usize = 17;

        fn ticket_from_row(r: &$row) -> anyhow::Result<Ticket> {
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

        /// Load a venue with its queues, counters, active tickets and today's finished ones.
        ///
        /// Where queue days are not stored (MySQL: the live counters are in Redis), "today"
        /// is the newest day any stored ticket of the venue was issued on, or a later queue
        /// day.
        pub async fn load_venue(&self, slug: &str) -> anyhow::Result<Option<VenueState>> {
            let Some(v) = sqlx::query(
                "SELECT id, slug, name, utc_offset_minutes, event_offset, next_ticket_id, \
                 time_zone FROM venues WHERE slug = ?",
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
                q.status =
                    QueueStatus::parse(&r.get::<String, _>(4)).unwrap_or(QueueStatus::Open);
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
                "SELECT id, name FROM counters WHERE venue_id = ? AND removed_at IS NULL \
                 ORDER BY id",
            )
            .bind(state.id)
            .fetch_all(&self.pool)
            .await?
            {
                let id = CounterId(r.get(0));
                state.counters.insert(id, Counter { id, name: r.get(1) });
            }
            let newest_ticket_day: Option<i64> = if $days_stored {
                None
            } else {
                sqlx::query_scalar("SELECT MAX(day) FROM tickets WHERE venue_id = ?")
                    .bind(state.id)
                    .fetch_one(&self.pool)
                    .await?
            };
            let today_floor = state
                .queues
                .values()
                .map(|q| q.day)
                .chain(newest_ticket_day)
                .max()
                .unwrap_or(i64::MIN);
            // Built from constants only: nothing user-supplied reaches the SQL text.
            for r in sqlx::query(AssertSqlSafe(format!(
                "SELECT {} FROM tickets t WHERE t.venue_id = ? \
                 AND (t.status IN ('waiting', 'called', 'serving') OR t.day >= ?)",
                Self::TICKET_COLUMNS
            )))
            .bind(state.id)
            .bind(today_floor)
            .fetch_all(&self.pool)
            .await?
            {
                state.insert_ticket(Self::ticket_from_row(&r)?);
            }
            Ok(Some(state))
        }

        /// A ticket by its token, with its venue's slug: one that is no longer in memory
        /// (finished on an earlier day).
        pub async fn ticket_by_token(
            &self,
            token: &str,
        ) -> anyhow::Result<Option<(String, Ticket)>> {
            let sql = AssertSqlSafe(format!(
                "SELECT {}, v.slug FROM tickets t JOIN venues v ON v.id = t.venue_id \
                 WHERE t.token = ?",
                Self::TICKET_COLUMNS
            ));
            match sqlx::query(sql)
                .bind(token.to_owned())
                .fetch_optional(&self.pool)
                .await?
            {
                Some(r) => Ok(Some((
                    r.get(Self::TICKET_COLUMN_COUNT),
                    Self::ticket_from_row(&r)?,
                ))),
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
            let rows = sqlx::query(concat!(
                "SELECT ", $offset, ", at, body FROM events WHERE venue_id = ? AND ", $offset,
                " > ? ORDER BY ", $offset, " LIMIT ?"
            ))
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
            let rows = sqlx::query(concat!(
                "SELECT e.", $offset, ", e.at, e.kind, e.ticket_id, u.email, e.body FROM events e \
                 LEFT JOIN staff_users u ON u.id = e.actor WHERE e.venue_id = ? AND e.", $offset,
                " < ? ORDER BY e.", $offset, " DESC LIMIT ?"
            ))
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
            Ok(inserted_id(&r))
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
            Ok(inserted_id(&r))
        }

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

        pub async fn is_empty(&self) -> anyhow::Result<bool> {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM venues")
                .fetch_one(&self.pool)
                .await?;
            Ok(n == 0)
        }
    };
}

pub(in crate::store) use venue_queries;
