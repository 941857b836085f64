//! The baseline server: a minimal axum server with two routes.
//! - baseline-ws, `/ws`: holds sockets configured like Fila's ticket sockets (4 KiB read
//!   buffer, no write buffer), greets each with a small snapshot-like frame and then forwards
//!   every frame broadcast to it. Each line the harness writes to the server's stdin
//!   broadcasts one frame (what a call next is for Fila).
//! - baseline-http, `POST /join`: a trivial JSON route. It parses the body and answers with a
//!   pre-serialized JSON object the size of Fila's answer to a join, so its clients read what
//!   Fila's read.
//!
//! It runs as a child process of its own (`fila-load serve-baseline`), like Fila: its RSS
//! counts server sockets only, its sockets count against its own open-files limit, and it has
//! a runtime of its own, so the harness's clients do not share threads with it (a server on
//! the clients' runtime is woken on the thread that wrote the request, which no server in
//! another process can be).

use crate::procfs::{cpu_secs, rss_kib};
use anyhow::{Context, bail};
use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::broadcast;

/// Same size as Fila's ticket update frame.
pub(crate) const UPDATE_FRAME: &str = r#"{"type":"update","offset":12345,"status":"waiting","position":1234,"eta_seconds":148080,"counter":null,"calls":0,"queue":"bar","queue_name":"Bar"}"#;

/// Same size as Fila's answer to a join (a ticket), with the same headers: what the
/// baseline-http route answers, so that the clients of both runs read the same bytes.
const JOIN_ANSWER: &str = r#"{"id":1,"number":"A001","token":"01a23d7f03e5327a3b199f27da01e2947f0a430e20c157d435a764fb8cf7","status":"waiting","position":1,"eta_seconds":120,"queue":"bar","queue_name":"Bar","venue":"demo","venue_name":"Demo Bar & Grill","name":"Guest 1","party_size":2,"notes":null,"walk_in":false,"counter":null,"calls":0,"joined_at":1796328063973,"called_at":null,"finished_at":null,"offset":1}"#;

/// The headers Fila sends with an API answer besides content type and length.
const API_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
];

/// baseline-http: parse the join, answer with [`JOIN_ANSWER`].
async fn join(axum::Json(body): axum::Json<serde_json::Value>) -> axum::response::Response {
    use axum::http::{HeaderName, HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    if !body["name"].is_string() {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let mut answer = (StatusCode::CREATED, JOIN_ANSWER).into_response();
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in API_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    answer
}

/// The baseline app (`/ws` and `/join`), and the sender whose frames reach every socket.
pub(crate) fn app() -> (axum::Router, broadcast::Sender<Utf8Bytes>) {
    let (tx, _) = broadcast::channel::<Utf8Bytes>(1024);
    let sender = tx.clone();
    let app = axum::Router::new()
        .route(
            "/ws",
            axum::routing::get(move |ws: WebSocketUpgrade| {
                let mut rx = sender.subscribe();
                async move {
                    ws.read_buffer_size(4096).write_buffer_size(0).on_upgrade(
                        move |mut socket| async move {
                            let hello = Utf8Bytes::from_static(r#"{"type":"snapshot"}"#);
                            if socket.send(Message::Text(hello)).await.is_err() {
                                return;
                            }
                            while let Ok(frame) = rx.recv().await {
                                if socket.send(Message::Text(frame)).await.is_err() {
                                    break;
                                }
                            }
                        },
                    )
                }
            }),
        )
        .route("/join", axum::routing::post(join));
    (app, tx)
}

/// The child side (`fila-load serve-baseline`): serve on a free loopback port, print the
/// address, broadcast one [`UPDATE_FRAME`] per line read from stdin, and exit once stdin
/// closes, i.e. when the harness that started it is gone.
pub(crate) async fn serve_child() -> anyhow::Result<()> {
    let (app, tx) = app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A blocking read on a thread of its own (tokio's stdin is not among the features built).
    let (done, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
            // No receiver yet is fine: nobody to tell.
            let _ = tx.send(Utf8Bytes::from_static(UPDATE_FRAME));
        }
        let _ = done.send(());
    });
    let _ = stdin_closed.await;
    Ok(())
}

/// The baseline server in a child process; killed on drop.
pub(crate) struct BaselineProcess {
    child: tokio::process::Child,
    pub(crate) addr: SocketAddr,
}

impl BaselineProcess {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find fila-load's own binary")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("serve-baseline")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the baseline server")?;
        let stdout = child.stdout.take().context("baseline stdout")?;
        let mut stdout = tokio::io::BufReader::new(stdout);
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        match tokio::time::timeout(Duration::from_secs(10), read).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => bail!("the baseline server did not report its address"),
        }
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("baseline server said {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// Broadcast one update frame to every socket the baseline server holds.
    pub(crate) async fn broadcast(&mut self) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let stdin = self.child.stdin.as_mut().context("baseline stdin")?;
        stdin.write_all(b"call\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Resident memory of the baseline server, in KiB.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        rss_kib(&self.child.id()?.to_string())
    }

    /// CPU seconds the baseline server has used so far.
    pub(crate) fn cpu_secs(&self) -> Option<f64> {
        cpu_secs(&self.child.id()?.to_string())
    }

    /// baseline-http's route.
    pub(crate) fn join_url(&self) -> String {
        format!("http://{}/join", self.addr)
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
