//! A real Fila server per test: fresh SQLite file in a temp dir, the demo venue, port 0.

use app::protocol::{ErrorBody, ErrorDetail, StaffSnapshot, TicketView, VenueInfo};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::Config;
use server::startup::Application;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::{OnceCell, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const VENUE: &str = "demo";
pub const OWNER_EMAIL: &str = "owner@demo.fila";
pub const OWNER_PASSWORD: &str = "correct horse battery staple";
/// Wait estimate per position before any call was observed (the default pace, 2 min).
pub const DEFAULT_ETA_STEP: u64 = 120;
/// How long a test waits for a WebSocket message before failing.
pub const WS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a socket must stay silent for a test to call it quiet.
pub const QUIET: Duration = Duration::from_millis(300);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Logs go to the test output only when `TEST_LOG` is set (`TEST_LOG=debug cargo test ...`).
fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let filter = if filter.is_empty() || filter == "1" || filter == "true" {
                "info,sqlx=warn".to_owned()
            } else {
                filter
            };
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base_url: String,
    pub client: reqwest::Client,
    /// Holds the SQLite file; kept alive (and reused by `restart`) for the whole test.
    pub db_dir: TempDir,
    pub site_dir: TempDir,
    /// What the server was built with (port 0); `restart` builds with it again.
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    token: OnceCell<String>,
}

fn config(db_dir: &TempDir, site_dir: &TempDir) -> Config {
    Config {
        addr: "127.0.0.1:0".parse().expect("valid address"),
        database_url: format!("sqlite://{}/fila.db", db_dir.path().display()),
        redis_url: None,
        redis_prefix: "fila".into(),
        mysql_connections: 8,
        public_url: None,
        site_root: site_dir.path().display().to_string(),
        demo: true,
        demo_owner_password: Some(OWNER_PASSWORD.to_owned()),
        max_sockets: 1_000,
        // Tests join hundreds of tickets from 127.0.0.1; the limits have their own tests.
        join_rate_per_ip: 100_000,
        join_rate_per_venue: 100_000,
        trust_proxy: false,
        session_hours: 12,
        request_timeout_secs: 30,
        access_recheck_secs: 30,
        header_timeout_secs: 30,
        send_timeout_secs: 60,
    }
}

type Running = (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
);

async fn start(config: Config) -> Running {
    let app = Application::build(config)
        .await
        .expect("the application builds");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with some settings changed first.
pub async fn spawn_app_with(change: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let db_dir = tempfile::tempdir().expect("temp dir for the database");
    let site_dir = tempfile::tempdir().expect("temp dir for the site");
    let mut config = config(&db_dir, &site_dir);
    change(&mut config);
    let (addr, shutdown, handle) = start(config.clone()).await;
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client"),
        db_dir,
        site_dir,
        config,
        shutdown: Some(shutdown),
        handle: Some(handle),
        token: OnceCell::new(),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Stop gracefully (as on SIGTERM), then start again on the same database and a new port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (addr, shutdown, handle) = start(self.config.clone()).await;
        self.addr = addr;
        self.base_url = format!("http://{addr}");
        // Pooled connections point at the old port.
        self.client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        self.shutdown = Some(shutdown);
        self.handle = Some(handle);
    }

    /// Graceful stop; fails the test if the server reported an error or took too long.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), handle)
                .await
                .expect("the server stops within 20 s")
                .expect("the server task did not panic")
                .expect("the server stopped without error");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    // ----- plain requests -----

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Post a form, as a browser does without the app (`application/x-www-form-urlencoded`).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn staff_get(&self, path: &str) -> reqwest::Response {
        let token = self.staff_token().await;
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// POST as staff; `None` sends no body at all.
    pub async fn staff_post(&self, path: &str, body: Option<&Value>) -> reqwest::Response {
        let token = self.staff_token().await;
        let req = self.client.post(self.url(path)).bearer_auth(token);
        let req = match body {
            Some(b) => req.json(b),
            None => req,
        };
        req.send().await.expect("request sent")
    }

    pub async fn staff_delete(&self, path: &str) -> reqwest::Response {
        let token = self.staff_token().await;
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    // ----- auth -----

    pub async fn try_login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Log in as the demo owner and return a fresh bearer token.
    pub async fn login(&self) -> String {
        let resp = self.try_login(OWNER_EMAIL, OWNER_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK, "login works");
        let body: Value = resp.json().await.expect("login body is JSON");
        body["token"]
            .as_str()
            .expect("login returns a token")
            .to_owned()
    }

    /// The token the staff helpers use (one login per test; sessions survive restarts).
    pub async fn staff_token(&self) -> &str {
        self.token.get_or_init(|| self.login()).await
    }

    // ----- customers -----

    pub async fn try_join(&self, queue: &str, name: &str, party: i64) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/venues/{VENUE}/queues/{queue}/tickets"),
            &json!({"name": name, "party_size": party}),
        )
        .await
    }

    /// Join with the venue screen's join code (`code`), as the QR link's page does.
    pub async fn try_join_with_code(
        &self,
        queue: &str,
        name: &str,
        party: i64,
        code: &str,
    ) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/venues/{VENUE}/queues/{queue}/tickets"),
            &json!({"name": name, "party_size": party, "code": code}),
        )
        .await
    }

    /// Join and expect success (201 with the token).
    pub async fn join(&self, queue: &str, name: &str, party: i64) -> TicketView {
        let resp = self.try_join(queue, name, party).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "joining {queue} works");
        let t: TicketView = resp.json().await.expect("a ticket");
        assert!(t.token.is_some(), "the joiner gets the token");
        t
    }

    /// A ticket as its holder sees it.
    pub async fn ticket(&self, token: &str) -> TicketView {
        let resp = self.get(&format!("/api/v1/tickets/{token}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "ticket {token} is found");
        resp.json().await.expect("a ticket")
    }

    pub async fn cancel(&self, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/api/v1/tickets/{token}")))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn venue_info(&self) -> VenueInfo {
        let resp = self.get(&format!("/api/v1/venues/{VENUE}")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("venue info")
    }

    // ----- staff -----

    pub async fn staff_snapshot(&self) -> StaffSnapshot {
        let resp = self
            .staff_get(&format!("/api/v1/venues/{VENUE}/queues"))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("staff snapshot")
    }

    /// A demo counter's id, by name.
    pub async fn counter_id(&self, name: &str) -> i64 {
        self.staff_snapshot()
            .await
            .counters
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("the demo has a counter {name:?}"))
            .id
    }

    pub async fn try_call_next(&self, queue: &str, counter_id: i64) -> reqwest::Response {
        self.staff_post(
            &format!("/api/v1/venues/{VENUE}/queues/{queue}/call-next"),
            Some(&json!({"counter": counter_id})),
        )
        .await
    }

    /// Call whoever is first in `queue` to a counter; expects someone to be waiting.
    pub async fn call_next(&self, queue: &str, counter_id: i64) -> TicketView {
        let resp = self.try_call_next(queue, counter_id).await;
        assert_eq!(resp.status(), StatusCode::OK, "call-next on {queue} works");
        resp.json().await.expect("the called ticket")
    }

    pub async fn ticket_action(
        &self,
        id: u64,
        action: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.staff_post(
            &format!("/api/v1/venues/{VENUE}/tickets/{id}/{action}"),
            body.as_ref(),
        )
        .await
    }

    /// A ticket action that must succeed.
    /// Call ticket `id` (the first in the bar queue) to Bar 1, then recall it `times` times,
    /// eight at a time: each recall is a change for its watcher and for the venue's screen.
    pub async fn call_then_recall(&self, id: u64, times: u32) {
        let bar1 = self.counter_id("Bar 1").await;
        assert_eq!(
            self.call_next("bar", bar1).await.id,
            id,
            "the ticket is called"
        );
        futures_util::stream::iter(0..times)
            .for_each_concurrent(8, |_| async {
                self.act(id, "recall", None).await;
            })
            .await;
    }

    pub async fn act(&self, id: u64, action: &str, body: Option<Value>) -> TicketView {
        let resp = self.ticket_action(id, action, body).await;
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{action} on ticket {id}: {text}");
        serde_json::from_str(&text).expect("a ticket")
    }

    pub async fn queue_action(&self, queue: &str, action: &str) -> reqwest::Response {
        self.staff_post(
            &format!("/api/v1/venues/{VENUE}/queues/{queue}/{action}"),
            None,
        )
        .await
    }

    pub async fn walk_in(&self, queue: &str, name: &str, party: i64) -> reqwest::Response {
        self.staff_post(
            &format!("/api/v1/venues/{VENUE}/queues/{queue}/walk-ins"),
            Some(&json!({"name": name, "party_size": party})),
        )
        .await
    }

    // ----- sockets -----

    /// Open a WebSocket without credentials.
    pub async fn ws_connect(&self, path: &str) -> Ws {
        let (ws, resp) = tokio_tungstenite::connect_async(self.ws_url(path))
            .await
            .unwrap_or_else(|e| panic!("WebSocket {path} opens: {e}"));
        assert_eq!(resp.status(), 101);
        ws
    }

    /// Try to open a WebSocket with an optional bearer token on the upgrade request.
    pub async fn try_ws_connect_with(
        &self,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<Ws, tungstenite::Error> {
        let mut req = self
            .ws_url(path)
            .into_client_request()
            .expect("a WebSocket request");
        if let Some(token) = bearer {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("ascii token"),
            );
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
    }

    /// Pair a new venue screen (a one-time code from staff, then `POST /screens/pair`) and
    /// return its credential.
    pub async fn paired_screen(&self) -> String {
        let code: Value = self
            .staff_post(
                &format!("/api/v1/venues/{VENUE}/screens/pairing-code"),
                None,
            )
            .await
            .json()
            .await
            .expect("a pairing code");
        let paired: Value = self
            .post_json("/api/v1/screens/pair", &json!({"code": code["code"]}))
            .await
            .json()
            .await
            .expect("a paired screen");
        paired["token"]
            .as_str()
            .expect("a screen credential")
            .to_owned()
    }

    /// The venue's current join link as a paired screen gets it (with `?code=` when the venue
    /// requires the rotating join code).
    pub async fn join_link(&self, screen: &str) -> String {
        let link: Value = self
            .get(&format!("/api/v1/venues/{VENUE}/join-link?screen={screen}"))
            .await
            .json()
            .await
            .expect("a join link");
        link["url"].as_str().expect("the link's url").to_owned()
    }

    /// Open a staff WebSocket, authenticated with `Authorization: Bearer` on the upgrade.
    pub async fn ws_connect_staff(&self, path: &str) -> Ws {
        let token = self.staff_token().await.to_owned();
        self.try_ws_connect_with(path, Some(&token))
            .await
            .unwrap_or_else(|e| panic!("staff WebSocket {path} opens: {e}"))
    }
}

/// `name value` of one series in `/metrics`.
pub async fn metric<T: std::str::FromStr>(app: &TestApp, name: &str) -> T {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// The next JSON text message; pings and pongs are skipped. Fails after [`WS_TIMEOUT`].
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WS_TIMEOUT, ws.next())
            .await
            .expect("a WebSocket message within the timeout")
            .expect("the socket is still open")
            .expect("a valid WebSocket frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON text"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected WebSocket message {other:?}"),
        }
    }
}

/// Waits for the server to close the socket (text and pings in between are skipped) and
/// returns the close code. Fails after `within`.
pub async fn close_code(ws: &mut Ws, within: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the server closes the socket in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                panic!("the socket ended without a close code")
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// Asserts nothing arrives on the socket for a short while.
pub async fn assert_silent(ws: &mut Ws, for_: Duration) {
    match tokio::time::timeout(for_, ws.next()).await {
        Err(_) => {}
        Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
        Ok(other) => panic!("expected no message, got {other:?}"),
    }
}

/// Check an error response: exact status, exact code, a non-empty message, JSON body.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> ErrorDetail {
    let e = assert_json_error(resp, status).await;
    assert_eq!(e.code, code, "error code; message: {}", e.message);
    e
}

/// Check an error response's status and that its body is `{"error": {"code", "message"}}`.
pub async fn assert_json_error(resp: reqwest::Response, status: u16) -> ErrorDetail {
    let got = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("a body");
    assert_eq!(got, status, "status; body was {text:?}");
    assert!(
        content_type.starts_with("application/json"),
        "error content type is JSON, got {content_type:?} (body {text:?})"
    );
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body {text:?} is {{\"error\":{{code,message}}}}: {e}"));
    assert!(!body.error.code.is_empty(), "a code for programs");
    assert!(
        !body.error.message.trim().is_empty(),
        "a message for people"
    );
    body.error
}

pub fn number(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:03}")
}

/// Run an admin command (`fila venue create …`) against the test server's database.
pub async fn admin(app: &TestApp, args: &[&str]) -> Vec<String> {
    use clap::Parser;
    let cli = server::cli::Cli::try_parse_from(std::iter::once("fila").chain(args.iter().copied()))
        .expect("valid admin command");
    server::cli::run_admin(&app.config, cli.command.expect("a command"))
        .await
        .expect("the admin command works")
}
