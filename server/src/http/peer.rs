//! The connection a request came on: the client's address (for rate limits) and its socket,
//! so that a live socket can bound what the kernel buffers for a client that stops reading,
//! and reset the connection of one that never reads again.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use tokio::net::TcpStream;

/// What `http::serve` records for every connection (the router's `ConnectInfo`).
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The connection's socket: valid only while the connection is open (see
    /// [`Peer::limit_send_buffer`]).
    fd: RawFd,
}

impl Peer {
    pub(super) fn new(addr: SocketAddr, stream: &TcpStream) -> Self {
        Self {
            addr,
            fd: stream.as_raw_fd(),
        }
    }

    /// Cap the kernel's send buffer of this connection at `bytes` (Linux doubles the figure
    /// for its own bookkeeping). Left alone, Linux grows it up to `net.ipv4.tcp_wmem`'s
    /// maximum (4 MiB by default) for a peer that stops reading; capped, the server's send
    /// waits instead, and the socket's task skips to the newest state when it can send again.
    ///
    /// Call it only while the connection is open, as from a WebSocket's upgrade callback,
    /// which owns it: once the connection is closed, its descriptor number may be reused.
    pub(super) fn limit_send_buffer(&self, bytes: usize) -> std::io::Result<()> {
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        self.set(libc::SO_SNDBUF, &value)
    }

    /// Make the coming close of this connection a reset: what the kernel still holds for the
    /// client is dropped at once instead of being delivered to a client that does not read
    /// (see `write_deadline`). Same rule as [`Peer::limit_send_buffer`]: only while it is open.
    pub(super) fn reset_on_close(&self) -> std::io::Result<()> {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        self.set(libc::SO_LINGER, &linger)
    }

    /// A socket-level option of the connection; `value` is of the type the option takes
    /// (an `int` for `SO_SNDBUF`, a `linger` for `SO_LINGER`).
    fn set<T>(&self, option: libc::c_int, value: &T) -> std::io::Result<()> {
        // SAFETY: `setsockopt` only reads `value`, whose size is passed with it; the caller
        // holds the connection, so `fd` is still this connection's socket.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(value).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}
