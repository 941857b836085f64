//! An instance started with a low open-files limit (a shell's 1,024, a container's default)
//! keeps its socket cap below it: phones past the cap are told to try again (1013), none is
//! left waiting on a connection that `accept` can no longer take. The real binary, as the
//! limit is per process.

use futures_util::StreamExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A `fila` process in embedded mode, killed when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_a_low_open_files_limit_phones_are_told_to_try_again_not_left_waiting() {
    const OPEN_FILES: u64 = 400;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fila"));
    command
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/fila.db", dir.path().display()),
        )
        .env("FILA_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: `setrlimit` is async-signal-safe, as what runs between fork and exec must be.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: OPEN_FILES,
                rlim_max: OPEN_FILES,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let _fila = Process(command.spawn().expect("the fila binary starts"));
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "fila did not become ready");
    drop(client);

    // As many screens as the limit, all at once: half of it is kept for everything else
    // (`server::open_files::socket_cap`), the rest hold sockets.
    let cap = server::open_files::socket_cap(15_000, OPEN_FILES);
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
