//! Clients that are slow to send or send nothing: a request whose body never ends, a
//! connection that sends no headers, half of them, or nothing after an answer; and one
//! that stops reading its answer. Each is answered or closed in bounded time.

use crate::helpers::*;
use crate::stalled::{assert_let_go, connect_with_a_small_window};
use std::time::Duration;

#[tokio::test]
async fn a_request_that_never_finishes_its_body_times_out_with_a_json_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.request_timeout_secs = 1).await;
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    conn.write_all(
        b"POST /api/v1/venues/demo/queues/bar/tickets HTTP/1.1\r\nHost: localhost\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("the server answers within the timeout, not never")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"timeout\""), "{text}");
}

/// Reads what the server sends on `conn` until it closes it, and how long that took; fails
/// if it has not closed within 5 s.
async fn read_until_closed(conn: &mut tokio::net::TcpStream, what: &str) -> (String, Duration) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    match tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut got)).await {
        Ok(_) => (
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        ),
        Err(_) => panic!("{what}: the connection is still open after 5 s"),
    }
}

/// One request on a kept-alive connection, and its whole answer (a small JSON body).
async fn get_venue(conn: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(b"GET /api/v1/venues/demo HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the body, whose length the headers give, is all there.
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "the connection closed before the answer");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("a content-length")
                .parse::<usize>()
                .unwrap();
            if body.len() >= length {
                return text;
            }
        }
    }
}

/// A connection that sends no request, half a request's headers, or nothing more after an
/// answer (a phone that left the Wi-Fi without closing, a slowloris) is closed once it has
/// waited `header_timeout_secs` for headers; one that keeps asking in time stays open for
/// longer than that, each request answered.
#[tokio::test]
async fn connections_that_send_no_headers_in_time_are_closed() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.header_timeout_secs = 2).await;
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    partial
        .write_all(b"GET /api/v1/venues/demo HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    assert!(get_venue(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut busy = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let asking = async {
        // 2.5 s in all, never more than 0.5 s without a request.
        for _ in 0..5 {
            assert!(get_venue(&mut busy).await.starts_with("HTTP/1.1 200"));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(get_venue(&mut busy).await.starts_with("HTTP/1.1 200"));
    };
    let (silent, partial, idle, ()) = tokio::join!(
        read_until_closed(&mut silent, "no request"),
        read_until_closed(&mut partial, "half the headers"),
        read_until_closed(&mut idle, "nothing after an answer"),
        asking,
    );
    // Closed without a word (nothing that could be mistaken for an answer to a request),
    // once the deadline has passed: not before (the idle one was answered just before).
    for (what, (got, after)) in [("silent", silent), ("partial", partial), ("idle", idle)] {
        assert_eq!(got, "", "{what}: closed with something said");
        assert!(
            after >= Duration::from_millis(1500),
            "{what}: closed after {after:?}, before the 2 s deadline"
        );
    }
    // Counted for the operator (this test's own client may add its idle connection).
    let timeouts: u64 = metric(&app, "fila_header_timeouts_total").await;
    assert!(timeouts >= 3, "{timeouts} header timeouts counted");
}

/// A client that stops reading a file it asked for (a tab frozen halfway through the wasm
/// bundle) is let go once the server has found no room to write for `send_timeout_secs`:
/// its connection is reset, so the kernel keeps nothing for it, and it is counted. Time
/// without progress is what counts: a client that pauses twice for 0.4 s (0.8 s in all,
/// more than it would get without progress), reading on in between, gets the whole file.
#[tokio::test]
async fn a_client_that_stops_reading_a_file_is_let_go() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.send_timeout_secs = 1).await;
    // Far more than the kernel buffers for a connection whose client reads nothing.
    const SIZE: usize = 32 << 20;
    let pkg = app.site_dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("big.wasm"), vec![7u8; SIZE]).unwrap();
    let request = b"GET /pkg/big.wasm HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let (mut stopped, port) = connect_with_a_small_window(&app).await;
    stopped.write_all(request).await.unwrap();
    let (mut pausing, _) = connect_with_a_small_window(&app).await;
    pausing.write_all(request).await.unwrap();
    let reading = async {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut head, mut body, mut pauses) = (Vec::new(), None::<usize>, 0);
        let mut reading_since = tokio::time::Instant::now();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), pausing.read(&mut buf))
                .await
                .expect("the file keeps coming")
                .unwrap_or_else(|e| panic!("the connection stays open: {e} after {body:?} bytes"));
            assert!(n > 0, "closed after {body:?} bytes of the file");
            match body.as_mut() {
                Some(body) => *body += n,
                None => {
                    head.extend_from_slice(&buf[..n]);
                    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        assert!(head.starts_with(b"HTTP/1.1 200"));
                        body = Some(head.len() - end - 4);
                    }
                }
            }
            let got = body.unwrap_or(0);
            if got >= SIZE {
                return got;
            }
            // Each pause with the server's writes waiting, after reading long enough for
            // them to go on: the server's kernel wakes its writes only once a third of its
            // buffer (megabytes, for a file) is free.
            if pauses < 2 && reading_since.elapsed() >= Duration::from_millis(150) {
                tokio::time::sleep(Duration::from_millis(400)).await;
                pauses += 1;
                reading_since = tokio::time::Instant::now();
            }
        }
    };
    let (got, ()) = tokio::join!(reading, assert_let_go(app.addr.port(), port));
    assert_eq!(got, SIZE, "the pausing client got all the file");
    assert_eq!(metric::<u64>(&app, "fila_sockets_let_go_total").await, 1);
}
