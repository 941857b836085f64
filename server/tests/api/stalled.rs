//! Clients that stop reading, seen from the server's kernel: for the tests of the
//! connections that bound what such a client costs and let it go (`ticket_socket.rs`,
//! `websocket.rs`, `slow_clients.rs`).

use crate::helpers::*;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::MaybeTlsStream;

/// A connection whose receive window is small, so that what its client does not read backs
/// up quickly; with its local port (to find the server's end, [`server_end`]).
pub async fn connect_with_a_small_window(app: &TestApp) -> (tokio::net::TcpStream, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let stream = socket.connect(app.addr).await.expect("the server accepts");
    let port = stream.local_addr().expect("a local address").port();
    (stream, port)
}

/// A WebSocket on [`connect_with_a_small_window`].
pub async fn ws_connect_with_a_small_window(app: &TestApp, path: &str) -> (Ws, u16) {
    let (stream, port) = connect_with_a_small_window(app).await;
    let (ws, _) = tokio_tungstenite::client_async(app.ws_url(path), MaybeTlsStream::Plain(stream))
        .await
        .unwrap_or_else(|e| panic!("WebSocket {path} opens: {e}"));
    (ws, port)
}

/// The server's end of the connection from local port `client` to the server on `server`,
/// from `/proc/net/tcp`: its state (`01` is established) and what the kernel holds
/// unacknowledged on it (its `tx_queue`); `None` once the kernel has let it go.
pub fn server_end(server: u16, client: u16) -> Option<(String, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap_or(""), 16).ok();
    text.lines().skip(1).find_map(|line| {
        // `sl local_address rem_address st tx_queue:rx_queue …`, numbers in hex.
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 4 && port(f[1]) == Some(server) && port(f[2]) == Some(client))
            .then(|| {
                Some((
                    f[3].to_owned(),
                    u64::from_str_radix(f[4].split(':').next()?, 16).ok()?,
                ))
            })
            .flatten()
    })
}

/// Waits (10 s at most) until the server's end of the connection from local port `client`
/// is gone, not even lingering with what it held for the client.
pub async fn assert_let_go(server: u16, client: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Some(end) = server_end(server, client) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server still holds the connection of a client that does not read: {end:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads what reached a socket the server let go, until the end of the connection; how
/// many frames that was.
pub async fn read_to_the_end(ws: &mut Ws) -> u32 {
    let mut frames = 0;
    loop {
        match tokio::time::timeout(WS_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(_))) => frames += 1,
            Ok(Some(Err(_)) | None) => return frames,
            Err(_) => panic!("the connection is still open after {frames} frames"),
        }
    }
}
