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
        // Migration 7: history's tickets carry no key to `queues`, nor its index.
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'tickets' AND COLUMN_NAME = 'queue_id'"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'tickets'"
            )
            .await,
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

        // Settings: edited, time zone, and removed rows that free their names.
        let hours = OpenHours::parse([("fri", "20:00", "03:00")]).unwrap();
        let json = serde_json::to_string(&hours).unwrap();
        store
            .update_queue(venue, terrace, "Roof", "R", Some(json))
            .await
            .unwrap();
        store
            .set_time_zone(venue, "Europe/Lisbon", 60)
            .await
            .unwrap();
        store.remove_queue(venue, bar.0, "bar", 9).await.unwrap();
        store
            .remove_counter(venue, desk.0, "Desk 1", 9)
            .await
            .unwrap();
        let state = store.load_venue("joes").await.unwrap().unwrap();
        assert_eq!(
            (state.time_zone.as_str(), state.utc_offset_minutes),
            ("Europe/Lisbon", 60)
        );
        let roof = &state.queues[&QueueId(terrace)];
        assert_eq!((roof.name.as_str(), roof.prefix.as_str()), ("Roof", "R"));
        assert_eq!(roof.open_hours, hours);
        assert!(!state.queues.contains_key(&bar) && state.counters.is_empty());
        let bar2 = store.create_queue(venue, "bar", "Bar", "B").await.unwrap();
        let desk2 = store.create_counter(venue, "Desk 1").await.unwrap();
        assert_ne!((bar2, desk2), (bar.0, desk.0));
        let state = store.load_venue("joes").await.unwrap().unwrap();
        assert_eq!(state.queues.len(), 2);
        assert_eq!(state.counters.len(), 1);

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

#[path = "mysql_history_tests.rs"]
mod history;
