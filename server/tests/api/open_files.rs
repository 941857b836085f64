//! An instance started with a low open-files limit (a shell's 1,024, a container's default)
//! keeps its caps below it: phones past the socket cap are told to try again (1013), none is
//! left waiting on a connection that `accept` can no longer take; and a flood of connections
//! waits to be accepted instead of taking the descriptors the instance needs to answer
//! those already in. The real binary, as the limit is per process.

use crate::fila_process::FilaProcess;
use futures_util::StreamExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// How a screen's socket began: its first picture, or the close code it was given; with
/// the socket, kept open by the caller.
async fn first_frame(port: u16) -> (Result<(), u16>, impl Sized) {
    let url = format!("ws://127.0.0.1:{port}/api/v1/venues/demo/display/ws");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the upgrade is answered");
    let first = match ws.next().await {
        Some(Ok(Message::Text(_))) => Ok(()),
        Some(Ok(Message::Close(Some(frame)))) => Err(frame.code.into()),
        other => panic!("neither a picture nor a close frame: {other:?}"),
    };
    (first, ws)
}

/// An instance in embedded mode with `open_files` as its limit, serving `site` (which may
/// hold files under `pkg/`), ready.
async fn start(open_files: u64, site: &std::path::Path) -> FilaProcess {
    let (mut command, port) = FilaProcess::command();
    command
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/fila.db", site.display()),
        )
        .env("LEPTOS_SITE_ROOT", site)
        .env("FILA_HEADER_TIMEOUT_SECS", "60");
    // SAFETY: `setrlimit` is async-signal-safe, as what runs between fork and exec must be.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: open_files,
                rlim_max: open_files,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    FilaProcess::start(command, port).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_a_low_open_files_limit_phones_are_told_to_try_again_not_left_waiting() {
    const OPEN_FILES: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let fila = start(OPEN_FILES, dir.path()).await;
    let port = fila.port;

    // As many screens as the limit, all at once: half of it is kept for everything else
    // (`server::open_files::caps`), the rest hold sockets.
    let cap = server::open_files::caps(15_000, OPEN_FILES).sockets;
    assert_eq!(cap, 200);
    let answers = futures_util::future::join_all(
        (0..OPEN_FILES).map(|_| tokio::time::timeout(Duration::from_secs(10), first_frame(port))),
    )
    .await;
    let waiting = answers.iter().filter(|a| a.is_err()).count();
    let pictures = answers
        .iter()
        .filter(|a| matches!(a, Ok((Ok(()), _))))
        .count();
    let try_again = answers
        .iter()
        .filter(|a| matches!(a, Ok((Err(1013), _))))
        .count();
    assert_eq!(
        (pictures, try_again, waiting),
        (cap, OPEN_FILES as usize - cap, 0),
        "screens with a picture, told to try again, left waiting"
    );
}

/// An instance with a limit of `open_files` serving one small file, `/pkg/probe.txt`
/// ("served"); the directory lives as long as the instance.
async fn start_with_a_file(open_files: u64) -> (FilaProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/probe.txt"), "served").unwrap();
    (start(open_files, dir.path()).await, dir)
}

/// `conn` asks for the probe file and gets it within 5 s (`why` says who it is).
async fn assert_served(conn: &mut TcpStream, why: &str) {
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), get(conn, "/pkg/probe.txt"))
        .await
        .unwrap_or_else(|_| panic!("{why}: not answered within 5 s"));
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "served"),
        "{why}"
    );
}

/// A request on a connection, answered: its status line and its body.
async fn get(conn: &mut TcpStream, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_waits_to_be_accepted_and_those_in_are_answered() {
    const OPEN_FILES: u64 = 400;
    const FLOOD: usize = 400;
    let (fila, _dir) = start_with_a_file(OPEN_FILES).await;
    let addr = format!("127.0.0.1:{}", fila.port);

    // A phone that is in, then more connections than the limit, sending nothing: they are
    // all taken by the kernel, but the instance accepts only up to its cap.
    let mut first = TcpStream::connect(&addr).await.unwrap();
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Time for the instance to accept what it will.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The phone that was in gets its file: the instance kept the descriptors to open it.
    assert_served(&mut first, "the connection that was in").await;

    // One that came after the flood waits in the listen queue...
    let mut late = TcpStream::connect(&addr).await.unwrap();
    let late_answer = tokio::spawn(async move {
        assert_served(&mut late, "the late connection, once there is room").await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !late_answer.is_finished(),
        "answered past the connection cap"
    );
    // ...and is answered once the flood leaves.
    drop(flood);
    late_answer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_taken_kept_alive_ones_make_room() {
    const OPEN_FILES: u64 = 400;
    let (fila, _dir) = start_with_a_file(OPEN_FILES).await;
    let addr = format!("127.0.0.1:{}", fila.port);
    let cap = server::open_files::caps(15_000, OPEN_FILES).connections;
    assert_eq!(cap, 300);

    // Browsers after a door rush: all but one of the connections the instance takes have
    // had their answer and are kept alive, idle (the header deadline is 60 s here)...
    let mut kept = Vec::with_capacity(cap);
    for _ in 0..cap - 1 {
        let mut conn = TcpStream::connect(&addr).await.unwrap();
        conn.write_all(b"GET /pkg/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        // The whole answer: its headers and the 6 bytes of its body.
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\nserved") {
            let mut chunk = [0u8; 512];
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before its answer");
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        kept.push(conn);
    }
    // ...and one has not sent its request yet.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The next phone is answered at once, not when the idle ones time out.
    let mut next = TcpStream::connect(&addr).await.unwrap();
    assert_served(
        &mut next,
        "a new connection while kept-alive ones hold every slot",
    )
    .await;
    // Every kept-alive one was closed to make room: it reads its end.
    for mut conn in kept {
        let mut rest = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(2), conn.read(&mut rest)).await {
            Ok(Ok(0)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a kept-alive connection is still open: {other:?}"),
        }
    }
    // The one that had sent nothing yet was left alone, and is answered.
    assert_served(&mut slow, "the connection that had sent nothing").await;
}
