//! Building and running the application: `Application::build` then `run_until_stopped`.
//! Tests build it on `127.0.0.1:0` and stop it with their own shutdown signal.

use crate::config::{Config, Mode};
use crate::demo;
use crate::dist::{Dist, projector};
use crate::http::{self, AppState};
use crate::store::{MySqlStore, SqliteStore, Store};
use crate::venues::Venues;
use anyhow::Context;
use leptos::prelude::LeptosOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use tokio::net::TcpListener;

/// Connections the kernel queues before we accept them. Tokio's default (128) overflows when
/// thousands of phones reconnect at once (an instance died): each overflow costs its phone a
/// 1 s SYN retry. The kernel caps this at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // A restarted instance can take its port back at once (sockets in TIME_WAIT).
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    /// Embedded mode's writer (distributed mode's writers are answered by in-flight requests).
    writer: Option<tokio::task::JoinHandle<()>>,
    /// Connections taken at once (`open_files::Caps`).
    max_connections: usize,
    /// The demo owner's password, when the demo venue was created by this start.
    pub demo_password: Option<String>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let stopping = tokio::sync::watch::Sender::new(false);
        let mode = config.mode()?;
        let store = match &mode {
            Mode::Embedded { sqlite_url } => Store::Sqlite(SqliteStore::open(sqlite_url).await?),
            Mode::Distributed { mysql_url, .. } => {
                Store::MySql(MySqlStore::open(mysql_url, config.mysql_connections).await?)
            }
        };
        let demo_password = if config.demo {
            demo::seed_if_empty(&store, config.demo_owner_password.as_deref()).await?
        } else {
            None
        };
        let (venues, writer) = match (&mode, &store) {
            (Mode::Embedded { .. }, Store::Sqlite(sqlite)) => {
                let (v, w) = Venues::start(sqlite.clone(), stopping.subscribe()).await?;
                (v, Some(w))
            }
            (Mode::Distributed { redis_url, .. }, Store::MySql(mysql)) => {
                let dist = Dist::connect(
                    redis_url,
                    &config.redis_prefix,
                    mysql.clone(),
                    stopping.subscribe(),
                )
                .await?;
                let venues = Venues::start_distributed(dist.clone()).await?;
                // History gets at most half the MySQL connections; logins get the rest.
                let conns = (config.mysql_connections / 2).max(1) as usize;
                tokio::spawn(projector::run(dist, redis_url.clone(), conns));
                (venues, None)
            }
            _ => unreachable!("the store is opened for the mode"),
        };
        // Offsets first (a restart may have slept through a clock change), then keep them so.
        crate::venues::time_zone::refresh_offsets(&venues).await;
        tokio::spawn(crate::venues::time_zone::keep_offsets_current(
            venues.clone(),
        ));
        let listener =
            listen(config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        let addr = listener.local_addr()?;
        let leptos = LeptosOptions::builder()
            .output_name("fila")
            .site_root(config.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let mut config = config;
        config.addr = addr;
        // Past the open-files limit phones would wait on `accept`, not hear "try again", and
        // the instance could not open a file or a database connection for those already in.
        let caps = crate::open_files::fit(config.max_sockets);
        config.max_sockets = caps.sockets;
        let limits = Arc::new(http::Limits::new(&config));
        let assets = http::assets::load(&config.site_root)?;
        let state = AppState::new(http::Shared {
            venues,
            store,
            config: Arc::new(config),
            leptos,
            assets,
            sockets: Arc::new(AtomicUsize::new(0)),
            stopping,
            limits,
            access: Default::default(),
            closed: Default::default(),
        });
        Ok(Self {
            listener,
            router: http::router(state.clone()),
            state,
            writer,
            max_connections: caps.connections,
            demo_password,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.state.config.addr
    }

    /// Distributed mode's services (tests use it to inject history failures).
    pub fn dist(&self) -> Option<Arc<Dist>> {
        self.state.venues.dist().cloned()
    }

    pub fn public_url(&self) -> String {
        self.state.config.public_url()
    }

    /// Serve until `shutdown` resolves, then finish in-flight requests, let the writer
    /// commit what it was given, and close the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            state,
            writer,
            max_connections,
            ..
        } = self;
        let stopping = state.stopping.clone();
        let venues = state.venues.clone();
        let shutdown = async move {
            shutdown.await;
            // Sockets close and the writer stops taking commands (it commits what it has).
            stopping.send_replace(true);
            for venue in venues.loaded() {
                venue.stop_sockets();
            }
        };
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        let deadlines = http::serve::Deadlines {
            headers: secs(state.config.header_timeout_secs),
            writes: secs(state.config.send_timeout_secs),
        };
        let closed = state.closed.clone();
        http::serve::serve(
            listener,
            router,
            deadlines,
            max_connections,
            closed,
            shutdown,
        )
        .await;
        let store = state.store.clone();
        let dist = state.venues.dist().cloned();
        drop(state);
        // The writer drains what it was given, then ends; bounded in case storage hangs.
        if let Some(writer) = writer
            && tokio::time::timeout(std::time::Duration::from_secs(10), writer)
                .await
                .is_err()
        {
            tracing::error!(
                task = "venue-writer",
                "did not finish within 10 s of shutdown"
            );
        }
        if let Some(d) = dist {
            d.close().await;
        }
        store.close().await;
        Ok(())
    }
}
