//! Several Fila instances in distributed mode against the real MariaDB and Redis: each test
//! gets its own MySQL database and Redis key prefix, removed when the cluster is dropped.
//!
//! The services must be running (127.0.0.1:3306 root without password, 127.0.0.1:6379, or
//! `FILA_TEST_MYSQL` / `FILA_TEST_REDIS`); a test fails with a clear message if they are not.

use serde_json::{Value, json};
use server::config::Config;
use server::dist::Dist;
use server::startup::Application;
use sqlx::Connection;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const OWNER_EMAIL: &str = "owner@demo.fila";
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

pub fn mysql_root() -> String {
    std::env::var("FILA_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

pub fn redis_url() -> String {
    std::env::var("FILA_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(if filter == "1" {
                    "info,sqlx=warn".to_owned()
                } else {
                    filter
                }))
                .with_test_writer()
                .try_init();
        }
    });
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", server::secrets::random_hex(6))
}

/// A fresh MySQL database; dropped by [`drop_database`].
pub async fn create_database() -> String {
    let name = unique("fila_t");
    let mut conn = sqlx::MySqlConnection::connect(&format!("{}/mysql", mysql_root()))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "distributed-mode tests need MariaDB/MySQL at {} (set FILA_TEST_MYSQL): {e}",
                mysql_root()
            )
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    name
}

pub async fn drop_database(name: &str) {
    if let Ok(mut conn) = sqlx::MySqlConnection::connect(&format!("{}/mysql", mysql_root())).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{name}`"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Delete every key under `prefix:` (test prefixes hold a few dozen keys).
pub async fn delete_redis_prefix(url: &str, prefix: &str) {
    use fred::prelude::*;
    let Ok(client) = Builder::from_config(Config::from_url(url).unwrap()).build() else {
        return;
    };
    if client.init().await.is_err() {
        return;
    }
    let keys: Vec<String> = client
        .custom(fred::cmd!("KEYS"), vec![format!("{prefix}:*")])
        .await
        .unwrap_or_default();
    for k in keys {
        let _: Result<i64, _> = client.del(k).await;
    }
    let _ = client.quit().await;
}

pub struct Instance {
    pub addr: SocketAddr,
    pub dist: Arc<Dist>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

pub struct Cluster {
    pub database: String,
    pub prefix: String,
    pub redis: String,
    pub mysql_url: String,
    pub instances: Vec<Instance>,
    pub client: reqwest::Client,
    token: tokio::sync::OnceCell<String>,
    /// `stop` ran (else `Drop` removes the database and keys).
    stopped: bool,
}

impl Cluster {
    /// `n` instances on one fresh database and prefix, against the shared Redis.
    pub async fn start(n: usize) -> Self {
        Self::start_with(n, redis_url(), None).await
    }

    /// `mysql_via`: a `host:port` to reach MariaDB through (a test proxy), if not direct.
    pub async fn start_with(n: usize, redis: String, mysql_via: Option<String>) -> Self {
        init_tracing();
        let database = create_database().await;
        let root = match &mysql_via {
            Some(hp) => format!("mysql://root@{hp}"),
            None => mysql_root(),
        };
        let mut cluster = Cluster {
            mysql_url: format!("{root}/{database}"),
            database,
            prefix: unique("fila-t"),
            redis,
            instances: Vec::new(),
            client: reqwest::Client::new(),
            token: tokio::sync::OnceCell::new(),
            stopped: false,
        };
        // One after the other: the first one seeds the demo venue.
        for _ in 0..n {
            cluster.add_instance().await;
        }
        cluster
    }

    pub fn config(&self) -> Config {
        Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: self.mysql_url.clone(),
            redis_url: Some(self.redis.clone()),
            redis_prefix: self.prefix.clone(),
            mysql_connections: 4,
            public_url: None,
            site_root: std::env::temp_dir().display().to_string(),
            demo: true,
            demo_owner_password: Some(OWNER_PASSWORD.into()),
            max_sockets: 2_000,
            join_rate_per_ip: 1_000_000,
            join_rate_per_venue: 1_000_000,
            trust_proxy: false,
            session_hours: 12,
            request_timeout_secs: 30,
            access_recheck_secs: 30,
            header_timeout_secs: 30,
            send_timeout_secs: 60,
        }
    }

    pub async fn add_instance(&mut self) -> usize {
        let app = Application::build(self.config())
            .await
            .unwrap_or_else(|e| panic!("a distributed instance starts: {e:#}"));
        let addr = app.local_addr();
        let dist = app.dist().expect("distributed mode");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        self.instances.push(Instance {
            addr,
            dist,
            shutdown: Some(tx),
            handle: Some(handle),
        });
        self.instances.len() - 1
    }

    pub fn at(&self, i: usize) -> &Instance {
        &self.instances[i % self.instances.len()]
    }

    pub async fn token(&self) -> String {
        self.token
            .get_or_init(|| async {
                let resp = self
                    .client
                    .post(self.at(0).url("/api/v1/auth/login"))
                    .json(&json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
                    .send()
                    .await
                    .expect("login request");
                assert_eq!(resp.status(), 200, "the demo owner logs in");
                let body: Value = resp.json().await.unwrap();
                body["token"].as_str().unwrap().to_owned()
            })
            .await
            .clone()
    }

    /// Join the queue on instance `i`; returns (status, body).
    pub async fn join(&self, i: usize, queue: &str, name: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(
                self.at(i)
                    .url(&format!("/api/v1/venues/demo/queues/{queue}/tickets")),
            )
            .json(&json!({"name": name, "party_size": 2}))
            .send()
            .await;
        match resp {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// POST a staff action on instance `i`.
    pub async fn staff_post(&self, i: usize, path: &str, body: Value) -> (u16, Value) {
        let token = self.token().await;
        let r = self
            .client
            .post(self.at(i).url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("staff request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn staff_delete(&self, i: usize, path: &str) -> (u16, Value) {
        let token = self.token().await;
        let r = self
            .client
            .delete(self.at(i).url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("staff request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn staff_get(&self, i: usize, path: &str) -> (u16, Value) {
        let token = self.token().await;
        let r = self
            .client
            .get(self.at(i).url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("staff request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn ticket(&self, i: usize, token: &str) -> Value {
        self.client
            .get(self.at(i).url(&format!("/api/v1/tickets/{token}")))
            .send()
            .await
            .expect("ticket request")
            .json()
            .await
            .expect("ticket JSON")
    }

    /// Wait until every instance has applied the same log position.
    pub async fn converged(&self) -> u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut seqs = Vec::new();
            for inst in &self.instances {
                seqs.push(log_seq(&self.client, inst).await);
            }
            if seqs.iter().all(|s| *s == seqs[0]) && seqs[0].is_some() {
                return seqs[0].unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "instances did not converge: {seqs:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// MySQL connection to this cluster's database (directly, not through any proxy).
    pub async fn mysql(&self) -> sqlx::MySqlConnection {
        sqlx::MySqlConnection::connect(&format!("{}/{}", mysql_root(), self.database))
            .await
            .expect("connect to the test database")
    }

    pub async fn stop(mut self) {
        for inst in &mut self.instances {
            inst.stop().await;
        }
        drop_database(&self.database).await;
        delete_redis_prefix(&self.redis, &self.prefix).await;
        self.stopped = true;
    }
}

impl Drop for Cluster {
    /// A test that fails panics before it reaches `stop`: its database and Redis keys are
    /// removed all the same, so failed runs leave nothing behind. The test's runtime may be
    /// going down, so this runs on a thread and runtime of its own.
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        for inst in &mut self.instances {
            if let Some(tx) = inst.shutdown.take() {
                let _ = tx.send(());
            }
        }
        let (database, redis, prefix) = (
            self.database.clone(),
            self.redis.clone(),
            self.prefix.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), async {
                    drop_database(&database).await;
                    delete_redis_prefix(&redis, &prefix).await;
                })
                .await;
            });
        });
        let _ = cleanup.join();
    }
}

/// `fila_log_seq{venue="demo"}` from an instance's `/metrics`.
pub async fn log_seq(client: &reqwest::Client, inst: &Instance) -> Option<u64> {
    metric(
        &metrics_text(client, inst).await?,
        "fila_log_seq{venue=\"demo\"}",
    )
}

/// An instance's `/metrics` text (`None`: it did not answer).
pub async fn metrics_text(client: &reqwest::Client, inst: &Instance) -> Option<String> {
    client
        .get(inst.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()
}

pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// Every log entry of the demo venue (id 1) straight from Redis, in order.
pub async fn log_entries(redis: &str, prefix: &str) -> Vec<Value> {
    log_items(redis, prefix)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The demo venue's log stream items straight from Redis, in order: each one append's entries.
pub async fn log_items(redis: &str, prefix: &str) -> Vec<Vec<Value>> {
    let raw = redis_command(
        redis,
        "XRANGE",
        vec![format!("{prefix}:v:1:log"), "-".into(), "+".into()],
    )
    .await;
    server::dist::parse_entries(raw)
        .expect("entries")
        .into_iter()
        .map(|(_, item)| server::dist::read_item::<Value>(&item, 0).expect("log item"))
        .collect()
}

/// One Redis command on a connection of its own.
pub async fn redis_command(
    redis: &str,
    cmd: &'static str,
    args: Vec<String>,
) -> fred::types::Value {
    use fred::prelude::*;
    let client = Builder::from_config(Config::from_url(redis).unwrap())
        .build()
        .unwrap();
    client.init().await.expect("Redis");
    let raw: fred::types::Value = client
        .custom(
            fred::types::CustomCommand::new_static(cmd, None, false),
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let _ = client.quit().await;
    raw
}

/// Wait until MySQL history holds `events` events for the demo venue.
pub async fn history_caught_up(cluster: &Cluster, events: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let mut conn = cluster.mysql().await;
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE venue_id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap_or(-1);
        if n as u64 == events {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "history has {n} events, the log {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
