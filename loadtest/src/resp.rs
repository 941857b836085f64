//! Just enough of a Redis client (RESP2 over TCP) to remove a run's keys and report how Redis
//! persists: `AUTH`, `SELECT`, `KEYS`, `DEL`, `CONFIG GET`, and `PING` to time a round trip.
//! Every read and write is bounded in time.

use anyhow::{Context, bail};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A reply larger than this is refused (a `KEYS` of a run is a few dozen keys).
const MAX_REPLY_BYTES: usize = 64 << 20;

#[derive(Debug)]
enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub(crate) struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub(crate) async fn connect(host: &str, port: u16) -> anyhow::Result<Self> {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((host, port)))
            .await
            .with_context(|| format!("Redis at {host}:{port}: no answer"))?
            .with_context(|| format!("cannot connect to Redis at {host}:{port}"))?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    /// A command whose reply must be `+OK`.
    pub(crate) async fn ok(&mut self, args: &[&str]) -> anyhow::Result<()> {
        match self.command(args).await? {
            Reply::Simple(s) if s == "OK" => Ok(()),
            other => bail!("{}: unexpected reply {other:?}", args[0]),
        }
    }

    /// `PING`, expecting `+PONG`.
    pub(crate) async fn ping(&mut self) -> anyhow::Result<()> {
        match self.command(&["PING"]).await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            other => bail!("PING: unexpected reply {other:?}"),
        }
    }

    /// A command whose reply is an integer (`DEL`).
    pub(crate) async fn integer(&mut self, args: &[&str]) -> anyhow::Result<i64> {
        match self.command(args).await? {
            Reply::Integer(n) => Ok(n),
            other => bail!("{}: unexpected reply {other:?}", args[0]),
        }
    }

    /// `CONFIG GET name` (`None`: no such parameter).
    pub(crate) async fn config_get(&mut self, name: &str) -> anyhow::Result<Option<String>> {
        match self.command(&["CONFIG", "GET", name]).await? {
            Reply::Array(Some(items)) => match items.into_iter().nth(1) {
                Some(Reply::Bulk(Some(v))) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
                _ => Ok(None),
            },
            other => bail!("CONFIG GET: unexpected reply {other:?}"),
        }
    }

    /// `KEYS pattern`.
    pub(crate) async fn keys(&mut self, pattern: &str) -> anyhow::Result<Vec<String>> {
        match self.command(&["KEYS", pattern]).await? {
            Reply::Array(Some(items)) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(b)) => {
                        String::from_utf8(b).context("KEYS: a key is not UTF-8")
                    }
                    other => bail!("KEYS: unexpected item {other:?}"),
                })
                .collect(),
            Reply::Array(None) => Ok(Vec::new()),
            other => bail!("KEYS: unexpected reply {other:?}"),
        }
    }

    async fn command(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(&out))
            .await
            .context("Redis: write timed out")??;
        loop {
            if let Some((reply, used)) = parse(&self.buf)? {
                self.buf.drain(..used);
                if let Reply::Error(e) = reply {
                    bail!("Redis {}: {e}", args[0]);
                }
                return Ok(reply);
            }
            if self.buf.len() > MAX_REPLY_BYTES {
                bail!(
                    "Redis {}: reply larger than {MAX_REPLY_BYTES} bytes",
                    args[0]
                );
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut chunk))
                .await
                .context("Redis: read timed out")??;
            if n == 0 {
                bail!("Redis closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One complete reply at the start of `buf` and its length, or `None` if more bytes are needed.
fn parse(buf: &[u8]) -> anyhow::Result<Option<(Reply, usize)>> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, line)) = buf[..end].split_first() else {
        bail!("Redis: empty reply line");
    };
    let line = std::str::from_utf8(line).context("Redis: reply line is not UTF-8")?;
    let after = end + 2;
    let int = || -> anyhow::Result<i64> {
        line.parse()
            .with_context(|| format!("Redis: bad number {line:?}"))
    };
    Ok(match kind {
        b'+' => Some((Reply::Simple(line.to_owned()), after)),
        b'-' => Some((Reply::Error(line.to_owned()), after)),
        b':' => Some((Reply::Integer(int()?), after)),
        b'$' => match int()? {
            n if n < 0 => Some((Reply::Bulk(None), after)),
            n => {
                let n = n as usize;
                if buf.len() < after + n + 2 {
                    return Ok(None);
                }
                Some((
                    Reply::Bulk(Some(buf[after..after + n].to_vec())),
                    after + n + 2,
                ))
            }
        },
        b'*' => match int()? {
            n if n < 0 => Some((Reply::Array(None), after)),
            n => {
                let mut items = Vec::with_capacity((n as usize).min(1024));
                let mut at = after;
                for _ in 0..n {
                    let Some((item, used)) = parse(&buf[at..])? else {
                        return Ok(None);
                    };
                    items.push(item);
                    at += used;
                }
                Some((Reply::Array(Some(items)), at))
            }
        },
        other => bail!("Redis: unknown reply type {:?}", other as char),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_and_partial_replies() {
        let r = parse(b"*2\r\n$3\r\nabc\r\n$-1\r\n:5\r\n").unwrap().unwrap();
        assert_eq!(r.1, 18);
        assert!(matches!(r.0, Reply::Array(Some(ref v)) if v.len() == 2));
        assert!(parse(b"*2\r\n$3\r\nabc\r\n").unwrap().is_none());
        assert!(parse(b"$3\r\nab").unwrap().is_none());
        assert!(matches!(
            parse(b"-ERR no\r\n").unwrap().unwrap().0,
            Reply::Error(ref e) if e == "ERR no"
        ));
        assert!(matches!(
            parse(b":12\r\n").unwrap().unwrap().0,
            Reply::Integer(12)
        ));
    }
}
