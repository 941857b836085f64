//! The history projector's writes against a real server (see the parent module for which):
//! idempotent, never back in time, in any order, and safe beside a manager's edits.

use super::*;
use crate::store::HistoryEntry;
use std::time::Instant;

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
async fn queue_status_and_limit_reach_mysql_newest_first_whatever_the_order() {
    with_database(|url| async move {
        let store = MySqlStore::open(&url, 4).await.unwrap();
        let (venue, bar, _) = venue(&store).await;
        let other = QueueId(
            store
                .create_queue(venue, "tables", "Tables", "T")
                .await
                .unwrap(),
        );
        let at = |offset, event| EventEnvelope {
            offset,
            at: 1_000 + offset as i64,
            event,
        };
        let status =
            |offset, queue, status| at(offset, Event::QueueStatusChanged { queue, status });
        let limit = |offset, queue, max_waiting| {
            at(offset, Event::QueueLimitChanged { queue, max_waiting })
        };
        let entry = |events| HistoryEntry {
            venue_id: venue,
            actor: Some(1),
            events,
            tickets: vec![],
        };
        // Paused (2), limited to 10 (3), closed (5), limit lifted (6); the tables queue
        // paused (4). Delivered newest first, then older ones again, then all in one slice.
        let newer = entry(vec![
            status(5, bar, QueueStatus::Closed),
            limit(6, bar, None),
        ]);
        let older = entry(vec![
            status(2, bar, QueueStatus::Paused),
            limit(3, bar, Some(10)),
            status(4, other, QueueStatus::Paused),
        ]);
        store
            .write_history(std::slice::from_ref(&newer))
            .await
            .unwrap();
        store
            .write_history(std::slice::from_ref(&older))
            .await
            .unwrap();
        store
            .write_history(&[older.clone(), newer.clone()])
            .await
            .unwrap();
        let state = store.load_venue("joes").await.unwrap().unwrap();
        assert_eq!(state.queues[&bar].status, QueueStatus::Closed);
        assert_eq!(state.queues[&bar].max_waiting, None);
        assert_eq!(state.queues[&other].status, QueueStatus::Paused);

        // Within one slice too, the newest wins.
        store
            .write_history(&[entry(vec![
                limit(8, bar, Some(30)),
                limit(7, bar, Some(20)),
                status(9, bar, QueueStatus::Open),
            ])])
            .await
            .unwrap();
        let state = store.load_venue("joes").await.unwrap().unwrap();
        assert_eq!(state.queues[&bar].status, QueueStatus::Open);
        assert_eq!(state.queues[&bar].max_waiting, Some(30));
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

/// A manager adds a queue while the projector writes a large batch of the venue's history,
/// which locks the venue's row, then its queues' (a status change). The two deadlock; InnoDB
/// rolls back the smaller side, the queue's insert, and the store runs it again.
#[tokio::test]
async fn adding_a_queue_during_a_history_write_survives_the_deadlock() {
    with_database(|url| async move {
        let store = MySqlStore::open(&url, 4).await.unwrap();
        let (venue, queue, _) = venue(&store).await;
        // The history write's order (see `write_rows`): the venue's row first, then many
        // rows, so this side is the larger transaction.
        let mut tx = store.pool.begin().await.unwrap();
        sqlx::query("UPDATE venues SET event_offset = event_offset + 1 WHERE id = ?")
            .bind(venue)
            .execute(&mut *tx)
            .await
            .unwrap();
        for chunk in (1..=2000i64).collect::<Vec<_>>().chunks(500) {
            let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new(
                "INSERT INTO events (venue_id, event_offset, at, kind, body) ",
            );
            q.push_values(chunk, |mut row, offset| {
                row.push_bind(venue)
                    .push_bind(*offset)
                    .push_bind(0i64)
                    .push_bind("joined")
                    .push_bind("{}");
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        let adding = tokio::spawn({
            let store = store.clone();
            async move { store.create_queue(venue, "terrace", "Terrace", "T").await }
        });
        // Until the insert waits for this test's venue row, as InnoDB's status tells (its
        // `information_schema.innodb_trx` does not list the waiting statement in MariaDB).
        let database: String = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let waiting_on_venue = format!("`{database}`.`venues`");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, _, status): (String, String, String) =
                sqlx::query_as("SHOW ENGINE INNODB STATUS")
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
            if status
                .lines()
                .any(|l| l.contains(&waiting_on_venue) && l.ends_with("waiting"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the insert never waited for the venue (finished: {})",
                adding.is_finished()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The cycle: the insert holds the queue rows it counted.
        sqlx::query("UPDATE queues SET status = 'paused' WHERE id = ? AND venue_id = ?")
            .bind(queue.0)
            .bind(venue)
            .execute(&mut *tx)
            .await
            .expect("InnoDB rolls back the smaller transaction, the insert");
        tx.commit().await.unwrap();
        let added = adding
            .await
            .unwrap()
            .expect("the insert ran again and succeeded");
        let slug: String = sqlx::query_scalar("SELECT slug FROM queues WHERE id = ?")
            .bind(added)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(slug, "terrace");
    })
    .await;
}
