//! A real `fila` process, for tests that need one of their own: a process-wide limit, or a
//! `kill -9`. Included by the test crates that use it (`#[path]`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `fila` process, killed when dropped.
pub struct FilaProcess {
    pub port: u16,
    pub child: Child,
}

impl FilaProcess {
    /// The `fila` binary of this build, to listen on a spare port on 127.0.0.1, logging
    /// warnings to nowhere; the caller adds its storage and whatever else it needs.
    pub fn command() -> (Command, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fila"));
        command
            .env("FILA_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        (command, port)
    }

    /// Start `command` (from [`FilaProcess::command`]) and wait until it answers `/readyz`.
    pub async fn start(mut command: Command, port: u16) -> Self {
        let process = Self {
            port,
            child: command.spawn().expect("the fila binary starts"),
        };
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/readyz");
        for _ in 0..200 {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fila on port {port} did not become ready");
    }
}

impl Drop for FilaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
