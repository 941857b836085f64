//! What the scenarios run against: one embedded `fila` process (SQLite), or a distributed
//! cluster of 1..=6 `fila` processes sharing a fresh MySQL/MariaDB database and a fresh Redis
//! key prefix. Everything a deployment creates is removed again by [`Deployment::finish`], or
//! by its `Drop` when a scenario fails, panics or is interrupted.

use crate::metrics::{APPENDS, COMMITS, LOG_SEQ, Timed, metric};
use crate::mode::{Mode, ServiceUrl};
use crate::procfs::{cpu_secs, listener_pid, rss_kib};
use crate::resp;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::Path;
use std::time::{Duration, Instant};

pub(crate) const OWNER_PASSWORD: &str = "load-test-owner-password";
/// Longest wait for one instance to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for every instance to have applied the same log entries.
pub(crate) const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on each cleanup step (connect, drop, scan, delete).
const CLEANUP_STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// A Fila process on a free loopback port; killed on drop.
pub(crate) struct FilaProcess {
    child: tokio::process::Child,
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl FilaProcess {
    /// Start `bin` with `storage` (environment variables naming its databases) and wait until
    /// it answers `/readyz`. Embedded mode passes no storage: SQLite in the temp dir.
    async fn start(bin: &Path, storage: &[(&str, String)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let mut cmd = tokio::process::Command::new(bin);
        cmd.env(
            "DATABASE_URL",
            format!("sqlite://{}/fila.db", dir.path().display()),
        );
        for (k, v) in storage {
            cmd.env(k, v);
        }
        let mut child = cmd
            .env("FILA_ADDR", format!("127.0.0.1:{port}"))
            .env("FILA_DEMO_OWNER_PASSWORD", OWNER_PASSWORD)
            .env("FILA_JOIN_RATE_PER_IP", "100000000")
            .env("FILA_JOIN_RATE_PER_VENUE", "100000000")
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("fila on {base} exited before it was ready ({status}); see its log above");
            }
            if client
                .get(format!("{base}/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(Self {
                    child,
                    base,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        bail!("fila did not become ready on {base} within {READY_TIMEOUT:?}")
    }

    pub(crate) async fn staff_token(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let r: Value = client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": "owner@demo.fila", "password": OWNER_PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(r["token"].as_str().context("token")?.to_owned())
    }

    /// Resident memory of the server process, in KiB.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        rss_kib(&self.child.id()?.to_string())
    }

    /// CPU time the server process has used so far (user plus system), in seconds.
    pub(crate) fn cpu_secs(&self) -> Option<f64> {
        cpu_secs(&self.child.id()?.to_string())
    }

    /// This instance's `/metrics` text.
    pub(crate) async fn metrics(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        Ok(client
            .get(format!("{}/metrics", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// Kill without waiting for the runtime (for `Drop`): signal, then reap for a moment.
    fn kill_now(&mut self) {
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The database and the Redis keys of one distributed run.
struct DistResources {
    /// Server URL (no database), `mysql://…`.
    mysql: String,
    database: String,
    /// False once `CREATE DATABASE` failed: then there is nothing to drop.
    database_created: bool,
    redis: String,
    prefix: String,
}

impl DistResources {
    /// Drop the database and delete every `prefix:*` key. Both are tried; the errors are joined.
    async fn cleanup(&self) -> anyhow::Result<()> {
        let db = if self.database_created {
            tokio::time::timeout(CLEANUP_STEP_TIMEOUT * 2, self.drop_database())
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")))
                .with_context(|| format!("cannot drop database {}", self.database))
        } else {
            Ok(())
        };
        let keys = tokio::time::timeout(CLEANUP_STEP_TIMEOUT * 2, self.delete_keys())
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")))
            .with_context(|| format!("cannot delete Redis keys {}:*", self.prefix));
        match (db, keys) {
            (Ok(()), Ok(_)) => Ok(()),
            (Err(e), Ok(_)) | (Ok(()), Err(e)) => Err(e),
            (Err(a), Err(b)) => Err(a.context(format!("{b:#}"))),
        }
    }

    async fn admin(&self) -> anyhow::Result<sqlx::MySqlConnection> {
        let conn = tokio::time::timeout(
            CLEANUP_STEP_TIMEOUT,
            sqlx::MySqlConnection::connect(&self.mysql),
        )
        .await
        .context("no answer")?
        .with_context(|| format!("cannot connect to {}", self.mysql))?;
        Ok(conn)
    }

    async fn create_database(&self) -> anyhow::Result<()> {
        let mut conn = self.admin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE `{}`",
            self.database
        )))
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot create database {}", self.database))?;
        let _ = conn.close().await;
        Ok(())
    }

    async fn drop_database(&self) -> anyhow::Result<()> {
        let mut conn = self.admin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{}`",
            self.database
        )))
        .execute(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok(())
    }

    async fn redis(&self) -> anyhow::Result<resp::Connection> {
        let url = ServiceUrl::parse(&self.redis, &["redis"])?;
        let mut r = resp::Connection::connect(&url.host, url.port.unwrap_or(6379)).await?;
        if let Some(userinfo) = &url.userinfo {
            match userinfo.split_once(':') {
                Some(("", password)) => r.ok(&["AUTH", password]).await?,
                Some((user, password)) => r.ok(&["AUTH", user, password]).await?,
                None => r.ok(&["AUTH", userinfo]).await?,
            }
        }
        if !url.path.is_empty() {
            r.ok(&["SELECT", &url.path]).await?;
        }
        Ok(r)
    }

    async fn delete_keys(&self) -> anyhow::Result<usize> {
        let mut r = self.redis().await?;
        let keys = r.keys(&format!("{}:*", self.prefix)).await?;
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            let mut args = vec!["DEL"];
            args.extend(chunk.iter().map(String::as_str));
            deleted += r.integer(&args).await?;
        }
        Ok(deleted as usize)
    }

    /// How Redis persists what Fila appends, e.g. `appendonly=no, appendfsync=everysec`: the
    /// README's no-acknowledged-command-lost guarantee needs `appendonly=yes, appendfsync=always`.
    async fn persistence(&self) -> anyhow::Result<String> {
        let mut r = self.redis().await?;
        let mut parts = Vec::new();
        for name in ["appendonly", "appendfsync"] {
            let v = r.config_get(name).await?;
            parts.push(format!("{name}={}", v.as_deref().unwrap_or("?")));
        }
        Ok(parts.join(", "))
    }
}

/// The Fila instances a scenario talks to. Instance 1 (`first()`) is the one that seeded the
/// demo venue; `base(i)` spreads work round-robin over all of them.
pub(crate) struct Deployment {
    instances: Vec<FilaProcess>,
    dist: Option<DistResources>,
    /// Distributed mode: how Redis persists (see [`DistResources::persistence`]).
    redis_persistence: Option<String>,
}

impl Deployment {
    pub(crate) async fn start(bin: &Path, mode: &Mode) -> anyhow::Result<Self> {
        Self::start_with(bin, mode, &[]).await
    }

    /// [`Deployment::start`] with more environment variables for every instance (e.g. a
    /// higher `FILA_MAX_SOCKETS`).
    pub(crate) async fn start_with(
        bin: &Path,
        mode: &Mode,
        extra_env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let mut d = Self {
            instances: Vec::new(),
            dist: None,
            redis_persistence: None,
        };
        let mut storage = match mode {
            Mode::Embedded => Vec::new(),
            Mode::Distributed { mysql, redis, .. } => {
                let server = mysql
                    .trim_end_matches('/')
                    .replacen("mariadb:", "mysql:", 1);
                let res = DistResources {
                    database: format!("fila_load_{}", random_hex(8)?),
                    // Possibly there until CREATE says it failed: DROP uses IF EXISTS.
                    database_created: true,
                    prefix: format!("fila-load-{}", random_hex(8)?),
                    mysql: server,
                    redis: redis.clone(),
                };
                // Owned by `d` before anything exists, so from here on any failure, panic or
                // cancel cleans up.
                d.dist = Some(res);
                let res = d.dist.as_mut().expect("just set");
                if let Err(e) = res.create_database().await {
                    res.database_created = false;
                    return Err(d.finish_after(e).await);
                }
                let res = d.dist.as_ref().expect("just set");
                let persistence = tokio::time::timeout(CLEANUP_STEP_TIMEOUT, res.persistence())
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")));
                d.redis_persistence =
                    Some(persistence.unwrap_or_else(|e| format!("unknown ({e:#})")));
                let (base, query) = match res.mysql.split_once('?') {
                    Some((b, q)) => (b.trim_end_matches('/'), format!("?{q}")),
                    None => (res.mysql.as_str(), String::new()),
                };
                vec![
                    ("DATABASE_URL", format!("{base}/{}{query}", res.database)),
                    ("REDIS_URL", res.redis.clone()),
                    ("FILA_REDIS_PREFIX", res.prefix.clone()),
                ]
            }
        };
        storage.extend(extra_env.iter().map(|(k, v)| (*k, v.clone())));
        // Instance 1 alone first: it creates the tables and seeds the demo venue.
        for _ in 0..mode.instances() {
            match FilaProcess::start(bin, &storage).await {
                Ok(p) => d.instances.push(p),
                Err(e) => {
                    let e = e.context(format!(
                        "starting instance {} of {}",
                        d.instances.len() + 1,
                        mode.instances()
                    ));
                    return Err(d.finish_after(e).await);
                }
            }
        }
        // Load the demo venue on every instance before anything is measured.
        let client = reqwest::Client::new();
        for p in &d.instances {
            let r = client
                .get(format!("{}/api/v1/venues/demo", p.base))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .and_then(|r| r.error_for_status());
            if let Err(e) = r {
                let e = anyhow::Error::new(e).context(format!("demo venue on {}", p.base));
                return Err(d.finish_after(e).await);
            }
        }
        Ok(d)
    }

    /// Instance 1.
    pub(crate) fn first(&self) -> &FilaProcess {
        &self.instances[0]
    }

    pub(crate) fn instances(&self) -> &[FilaProcess] {
        &self.instances
    }

    /// The base URL of instance `i % N` (round-robin).
    pub(crate) fn base(&self, i: usize) -> &str {
        &self.instances[i % self.instances.len()].base
    }

    /// Distributed mode: how Redis persists, e.g. `appendonly=no, appendfsync=everysec`.
    pub(crate) fn redis_persistence(&self) -> Option<&str> {
        self.redis_persistence.as_deref()
    }

    pub(crate) fn is_distributed(&self) -> bool {
        self.dist.is_some()
    }

    /// Distributed mode: the local MariaDB and Redis processes (name, pid), where this user
    /// can see them, so a run can say what CPU they spent on it.
    pub(crate) fn service_pids(&self) -> Vec<(&'static str, u32)> {
        let Some(res) = &self.dist else {
            return Vec::new();
        };
        let port = |url: &str, schemes: &[&str], default| {
            ServiceUrl::parse(url, schemes)
                .ok()
                .map(|u| u.port.unwrap_or(default))
        };
        [
            ("mysql", port(&res.mysql, &["mysql"], 3306)),
            ("redis", port(&res.redis, &["redis"], 6379)),
        ]
        .into_iter()
        .filter_map(|(name, port)| Some((name, listener_pid(port?)?)))
        .collect()
    }

    /// Each instance's value of `series` in `/metrics` (`Ok(None)`: not reported; `Err`: no
    /// answer).
    async fn metric_per_instance(
        &self,
        client: &reqwest::Client,
        series: &str,
    ) -> Vec<Result<Option<u64>, String>> {
        let mut out = Vec::with_capacity(self.instances.len());
        for p in &self.instances {
            out.push(
                p.metrics(client)
                    .await
                    .map(|m| metric(&m, series))
                    .map_err(|e| format!("{e:#}")),
            );
        }
        out
    }

    /// In distributed mode, wait (bounded) until every instance has applied the same log
    /// entries; returns that seq and how long it took. Embedded mode: nothing to wait for.
    pub(crate) async fn converge(&self) -> anyhow::Result<Option<(u64, Duration)>> {
        if !self.is_distributed() {
            return Ok(None);
        }
        let client = reqwest::Client::new();
        let start = Instant::now();
        let mut unanswered = vec![0u32; self.instances.len()];
        loop {
            let seqs = self.metric_per_instance(&client, LOG_SEQ).await;
            for (i, s) in seqs.iter().enumerate() {
                unanswered[i] = if s.is_err() { unanswered[i] + 1 } else { 0 };
                if let Err(e) = s
                    && unanswered[i] >= 20
                {
                    bail!("instance {} no longer answers /metrics: {e}", i + 1);
                }
            }
            let seqs: Vec<Option<u64>> = seqs.into_iter().map(|s| s.ok().flatten()).collect();
            if let Some(Some(first)) = seqs.first()
                && seqs.iter().all(|s| *s == Some(*first))
            {
                return Ok(Some((*first, start.elapsed())));
            }
            if start.elapsed() > CONVERGE_TIMEOUT {
                bail!(
                    "instances did not converge within {CONVERGE_TIMEOUT:?}: \
                     fila_log_seq per instance {seqs:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU seconds all instances together have used so far.
    pub(crate) fn cpu_secs(&self) -> Option<f64> {
        self.instances().iter().map(|i| i.cpu_secs()).sum()
    }

    /// Instance 1's commit (embedded) or append (distributed) timings so far: the instance
    /// the scenarios send their calls to.
    pub(crate) async fn first_instance_timings(&self) -> Option<Timed> {
        let series = if self.is_distributed() {
            &APPENDS
        } else {
            &COMMITS
        };
        let text = self
            .instances
            .first()?
            .metrics(&reqwest::Client::new())
            .await
            .ok()?;
        Timed::parse(&text, series)
    }

    /// Each instance's count of `series` (one of the counters in [`crate::metrics`]).
    pub(crate) async fn counts(&self, series: &str) -> Vec<Option<u64>> {
        let client = reqwest::Client::new();
        self.metric_per_instance(&client, series)
            .await
            .into_iter()
            .map(|c| c.ok().flatten())
            .collect()
    }

    /// Kill instance `i` (0-based) with SIGKILL, as a crash would, wait until it is gone and
    /// forget it: from then on `instances()`, `base()` and `converge()` see only the others.
    pub(crate) async fn kill_instance(&mut self, i: usize) -> anyhow::Result<()> {
        // Instance 1 stays: it seeded the venue, and scenarios send their calls to it.
        if i == 0 || i >= self.instances.len() {
            bail!("only instances 2..={} may be killed", self.instances.len());
        }
        let mut p = self.instances.remove(i);
        // `kill` is SIGKILL on Unix, then reaps the child.
        tokio::time::timeout(Duration::from_secs(10), p.child.kill())
            .await
            .context("killed instance did not exit")?
            .context("cannot kill the instance")?;
        Ok(())
    }

    /// Distributed mode: `samples` sequential PING round trips to Redis, sorted.
    pub(crate) async fn redis_ping(&self, samples: usize) -> anyhow::Result<Vec<Duration>> {
        let res = self
            .dist
            .as_ref()
            .context("Redis is used in distributed mode only")?;
        let mut r = res.redis().await?;
        let mut rtts = Vec::with_capacity(samples);
        for _ in 0..samples {
            let t0 = Instant::now();
            r.ping().await?;
            rtts.push(t0.elapsed());
        }
        rtts.sort();
        Ok(rtts)
    }

    /// Kill every instance and remove the database and the Redis keys.
    async fn finish(mut self) -> anyhow::Result<()> {
        for mut p in self.instances.drain(..) {
            let _ = p.child.kill().await;
        }
        match self.dist.take() {
            Some(res) => res.cleanup().await.map_err(|e| {
                e.context("cleanup after the run failed: remove what is named here by hand")
            }),
            None => Ok(()),
        }
    }

    /// The run's `outcome`, once the deployment is removed whatever happened: an explicit
    /// finally. A failed run keeps its error, with any cleanup failure attached.
    pub(crate) async fn finish_with<T>(self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        match outcome {
            Ok(v) => self.finish().await.map(|()| v),
            Err(e) => Err(self.finish_after(e).await),
        }
    }

    /// Clean up after `error`, and return it (with any cleanup failure attached).
    async fn finish_after(self, error: anyhow::Error) -> anyhow::Error {
        match self.finish().await {
            Ok(()) => error,
            Err(cleanup) => anyhow::anyhow!("{error:#}\nand then: {cleanup:#}"),
        }
    }
}

impl Drop for Deployment {
    /// The safety net when `finish` was not reached (a panic, Ctrl-C, an early return).
    fn drop(&mut self) {
        for p in &mut self.instances {
            p.kill_now();
        }
        let Some(res) = self.dist.take() else {
            return;
        };
        // Async cleanup from a synchronous drop: on a thread with a runtime of its own.
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(res.cleanup())
                .map_err(|e| e.context("remove what is named here by hand"))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("fila-load: cleanup failed: {e:#}"),
            Err(_) => eprintln!("fila-load: cleanup panicked"),
        }
    }
}

pub(crate) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use std::io::Read;
    let mut b = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("cannot read /dev/urandom")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
