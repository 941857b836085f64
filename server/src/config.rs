//! Configuration: command-line flags, each with an environment variable and a default.

use crate::store::{MySqlStore, SqliteStore, Store};
use clap::{ArgAction, Args};
use std::net::SocketAddr;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Address to listen on. 0.0.0.0 lets phones on the venue's network reach it.
    #[arg(long, env = "FILA_ADDR", default_value = "0.0.0.0:3000", global = true)]
    pub addr: SocketAddr,

    /// Where data lives. `sqlite://PATH` runs embedded mode (the default); `mysql://…`
    /// (with `REDIS_URL`) runs distributed mode: MySQL/MariaDB for accounts and history.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://fila.db",
        global = true
    )]
    pub database_url: String,

    /// Redis for distributed mode: the command log, live state and fan-out. Use AOF with
    /// `appendfsync always` for the no-acknowledged-command-lost guarantee (see README).
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// Key prefix in Redis, so several installations (or tests) can share one server.
    #[arg(long, env = "FILA_REDIS_PREFIX", default_value = "fila", global = true)]
    pub redis_prefix: String,

    /// Most MySQL connections this instance opens (the history projector takes at most half).
    #[arg(
        long,
        env = "FILA_MYSQL_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub mysql_connections: u32,

    /// The address customers reach Fila at, used in QR codes and printed links.
    /// Defaults to http://localhost:PORT; set it to the box's LAN name or public URL.
    #[arg(long, env = "FILA_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Directory with the built site (pkg/ with the hashed bundles and assets.txt, public files).
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: String,

    /// Create a demo venue on the first start with an empty database.
    #[arg(long, env = "FILA_DEMO", default_value_t = true, action = ArgAction::Set, global = true)]
    pub demo: bool,

    /// Password for the demo owner (default: generated and printed once).
    #[arg(
        long,
        env = "FILA_DEMO_OWNER_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub demo_owner_password: Option<String>,

    /// Most WebSockets this instance holds; more are told to try again (close code 1013).
    /// Keep it below the process's open-files limit.
    #[arg(
        long,
        env = "FILA_MAX_SOCKETS",
        default_value_t = 15_000,
        global = true
    )]
    pub max_sockets: usize,

    /// Joins allowed per client address per minute (burst of the same size). Phones on the
    /// venue's own Wi-Fi behind one public address count together: keep it generous there.
    #[arg(
        long,
        env = "FILA_JOIN_RATE_PER_IP",
        default_value_t = 30,
        global = true
    )]
    pub join_rate_per_ip: u32,

    /// Joins allowed per venue per minute, across all addresses.
    #[arg(
        long,
        env = "FILA_JOIN_RATE_PER_VENUE",
        default_value_t = 6_000,
        global = true
    )]
    pub join_rate_per_venue: u32,

    /// Take the client address from `X-Forwarded-For` (only behind your own proxy).
    #[arg(long, env = "FILA_TRUST_PROXY", default_value_t = false, action = ArgAction::Set, global = true)]
    pub trust_proxy: bool,

    /// Longest an API request may take, in seconds (a client that never finishes sending its
    /// body, a stuck storage call): then 408 and the connection's task is freed.
    #[arg(
        long,
        env = "FILA_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Longest an HTTP connection may take to send a request's headers, in seconds (at least
    /// 1); waiting for the next request on a kept-alive connection counts too. Then it is
    /// closed: a client that connects and sends nothing, or half a request (a slowloris), or
    /// a phone that left without closing, does not hold a file descriptor for good.
    #[arg(
        long,
        env = "FILA_HEADER_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub header_timeout_secs: u64,

    /// How often a live staff or venue-screen socket checks that its credential still
    /// holds, in seconds: a revoked screen, an ended session or a removed team member loses
    /// the live picture within this time.
    #[arg(
        long,
        env = "FILA_ACCESS_RECHECK_SECS",
        default_value_t = 30,
        global = true
    )]
    pub access_recheck_secs: u64,

    /// Longest the server waits for room to send to a client that has stopped reading, in
    /// seconds (at least 1): a page, a file or a live socket. Then the connection is reset:
    /// its file descriptor, its place under `FILA_MAX_SOCKETS` and what the kernel buffered
    /// for it are freed, and a live client reconnects to a fresh snapshot when it reads
    /// again. Only time without progress counts: a phone on a slow network that takes
    /// minutes over a file is served. A ticket socket only waits once about 200 updates are
    /// unread, so a phone in a dead spot for a minute is normally not affected.
    #[arg(
        long,
        env = "FILA_SEND_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub send_timeout_secs: u64,

    /// How long a staff login lasts, in hours.
    #[arg(long, env = "FILA_SESSION_HOURS", default_value_t = 12, global = true)]
    pub session_hours: u32,
}

impl Config {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{}", self.addr.port()),
        }
    }

    /// Which mode the URLs ask for, or a clear refusal for a combination that cannot run.
    pub fn mode(&self) -> anyhow::Result<Mode> {
        let url = self.database_url.trim();
        let redis = self
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if url.starts_with("sqlite:") {
            if let Some(r) = redis {
                anyhow::bail!(
                    "REDIS_URL={r:?} is set but DATABASE_URL is SQLite: distributed mode needs \
                     DATABASE_URL=mysql://…; for embedded mode unset REDIS_URL"
                );
            }
            Ok(Mode::Embedded {
                sqlite_url: url.to_owned(),
            })
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let Some(redis) = redis else {
                anyhow::bail!(
                    "DATABASE_URL is MySQL, so this is distributed mode, which also needs \
                     REDIS_URL=redis://host:6379"
                );
            };
            if !redis.starts_with("redis://") && !redis.starts_with("rediss://") {
                anyhow::bail!("REDIS_URL must start with redis:// (got {redis:?})");
            }
            if self.mysql_connections < 2 {
                anyhow::bail!("FILA_MYSQL_CONNECTIONS must be at least 2");
            }
            Ok(Mode::Distributed {
                mysql_url: url.replacen("mariadb:", "mysql:", 1),
                redis_url: redis.to_owned(),
            })
        } else {
            anyhow::bail!(
                "DATABASE_URL must start with sqlite:// or mysql:// (got {url:?}); for a file in \
                 the current directory use sqlite://fila.db"
            )
        }
    }

    /// Open the relational store of the configured mode (migrating it).
    pub async fn open_store(&self) -> anyhow::Result<Store> {
        Ok(match self.mode()? {
            Mode::Embedded { sqlite_url } => Store::Sqlite(SqliteStore::open(&sqlite_url).await?),
            Mode::Distributed { mysql_url, .. } => {
                Store::MySql(MySqlStore::open(&mysql_url, self.mysql_connections).await?)
            }
        })
    }
}

/// Embedded: one process, SQLite. Distributed: many instances, MySQL history, Redis log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Embedded {
        sqlite_url: String,
    },
    Distributed {
        mysql_url: String,
        redis_url: String,
    },
}
