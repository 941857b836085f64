//! Fault tests: an instance killed with SIGKILL, MySQL cut off, Redis killed and restarted.
//! None of them touches the shared services: MySQL is cut through a TCP proxy inside the
//! test, and Redis is a private `redis-server` (AOF, fsync always) on a spare port.

use crate::fila_process::FilaProcess;
use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP proxy to MariaDB that can cut every connection and refuse new ones.
struct Proxy {
    addr: String,
    cut: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (cut, _) = watch::channel(false);
        let cut_rx = cut.subscribe();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *cut_rx.borrow() {
                    let _ = inbound.shutdown().await;
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Proxy { addr, cut }
    }
}

/// Guarantee 3: MySQL unreachable for 30 s during a burst of joins and calls: no errors;
/// afterwards history catches up completely and nothing is duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mysql_outage_delays_history_but_not_the_queue() {
    let outage = Duration::from_secs(
        std::env::var("FILA_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let proxy = Proxy::start("127.0.0.1:3306").await;
    let cluster = Cluster::start_with(2, redis_url(), Some(proxy.addr.clone())).await;
    // Staff are logged in on both instances before the outage.
    for i in 0..2 {
        let (s, _) = cluster.staff_get(i, "/api/v1/venues/demo/queues").await;
        assert_eq!(s, 200);
    }
    let cluster = Arc::new(cluster);
    let running = Arc::new(AtomicBool::new(true));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let burst = {
        let (c, running, errors) = (cluster.clone(), running.clone(), errors.clone());
        tokio::spawn(async move {
            let mut k = 0usize;
            let mut joined = 0;
            while running.load(Ordering::Relaxed) {
                for _ in 0..3 {
                    let (s, b) = c.join(k, "bar", &format!("Burst {k}")).await;
                    if s == 201 {
                        joined += 1;
                    } else {
                        errors.lock().await.push(format!("join {s}: {b}"));
                    }
                    k += 1;
                }
                let (s, b) = c
                    .staff_post(
                        k,
                        "/api/v1/venues/demo/queues/bar/call-next",
                        json!({"counter": "Bar 1"}),
                    )
                    .await;
                if s != 200 {
                    errors.lock().await.push(format!("call-next {s}: {b}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            joined
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut.send_replace(true);
    tokio::time::sleep(outage).await;
    proxy.cut.send_replace(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    let joined = burst.await.unwrap();
    let errors = errors.lock().await.clone();
    assert!(errors.is_empty(), "errors during the outage: {errors:?}");
    assert!(
        joined > 30,
        "the burst went on during the outage ({joined} joins)"
    );

    cluster.converged().await;
    // Offsets are gap-free from 1, so history is complete and duplicate-free exactly when it
    // holds as many events as the newest offset (the log itself may be trimmed by now).
    let entries = log_entries(&cluster.redis, &cluster.prefix).await;
    let last_offset = entries
        .last()
        .and_then(|e| e["events"].as_array()?.last()?["offset"].as_u64())
        .expect("the log has entries");
    history_caught_up(&cluster, last_offset, Duration::from_secs(60)).await;
    let mut db = cluster.mysql().await;
    let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE venue_id = 1")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(tickets as usize, joined, "every ticket once in history");
    Arc::into_inner(cluster).unwrap().stop().await;
}

/// A private Redis with AOF and fsync on every write, to kill and restart.
struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut r = PrivateRedis {
            port: spare_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        r.spawn();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (the test starts its own on a spare port)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the private redis-server did not start");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Tokens of every join in the log, with how often each appears.
fn joins_in_log(entries: &[Value]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for e in entries {
        if e["cmd"]["cmd"] == "join" {
            *out.entry(e["cmd"]["token"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    out
}

/// Guarantee 4: Redis killed and restarted (AOF on) during a burst of joins: no acknowledged
/// join is lost, the instances reconnect on their own, and watchers resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_loses_no_acknowledged_join() {
    let mut redis = PrivateRedis::start();
    let cluster = Arc::new(Cluster::start_with(2, redis.url(), None).await);
    // A phone watching from instance 1 through the restart.
    let (s, watched) = cluster.join(0, "bar", "Watcher").await;
    assert_eq!(s, 201);
    let token = watched["token"].as_str().unwrap().to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(
        cluster
            .at(1)
            .ws_url(&format!("/api/v1/tickets/{token}/live")),
    )
    .await
    .unwrap();

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    // Acknowledged joins per instance (`join(k, …)` goes to instance `k % 2`).
    let acked_at: Arc<[AtomicUsize; 2]> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let burst: Vec<_> = (0..4)
        .map(|w| {
            let (c, acked, acked_at, running) = (
                cluster.clone(),
                acked.clone(),
                acked_at.clone(),
                running.clone(),
            );
            tokio::spawn(async move {
                let mut k = w;
                while running.load(Ordering::Relaxed) {
                    let (s, b) = c.join(k, "bar", &format!("R{k}")).await;
                    if s == 201 {
                        acked
                            .lock()
                            .await
                            .push(b["token"].as_str().unwrap().to_owned());
                        acked_at[k % 2].fetch_add(1, Ordering::Relaxed);
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    k += 4;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.spawn();
    // Each instance is back once it acknowledges a join again: its Redis client retries with
    // a backoff of up to 2 s, later on a busy machine. Then the burst goes on a little.
    let before: Vec<usize> = acked_at.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked_at
        .iter()
        .zip(&before)
        .any(|(n, b)| n.load(Ordering::Relaxed) <= *b)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances acknowledge joins within 30 s of Redis coming back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, Ordering::Relaxed);
    for b in burst {
        b.await.unwrap();
    }
    let acked = acked.lock().await.clone();
    assert!(
        acked.len() > 20,
        "joins were acknowledged ({})",
        acked.len()
    );

    // The instances are back on their own: a call works and both agree.
    let (s, b) = cluster
        .staff_post(
            1,
            "/api/v1/venues/demo/queues/bar/call-next",
            json!({"counter": "Bar 2"}),
        )
        .await;
    assert_eq!(s, 200, "call after the restart: {b}");
    cluster.converged().await;
    // The log may be trimmed behind a snapshot by now: what it still holds, it holds once.
    let entries = log_entries(&cluster.redis, &cluster.prefix).await;
    let in_log = joins_in_log(&entries);
    assert!(in_log.values().all(|n| *n == 1), "no join twice in the log");
    for t in &acked {
        for i in 0..2 {
            let v = cluster.ticket(i, t).await;
            assert!(v["number"].is_string(), "instance {i} knows {t}: {v}");
        }
    }
    // And history has every acknowledged join, once, when it has caught up.
    let last_offset = entries
        .last()
        .and_then(|e| e["events"].as_array()?.last()?["offset"].as_u64())
        .expect("the log has entries");
    history_caught_up(&cluster, last_offset, Duration::from_secs(30)).await;
    let mut db = cluster.mysql().await;
    for t in &acked {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE token = ?")
            .bind(t)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(n, 1, "acknowledged join {t} is in history once");
    }
    // The watcher was called by that call-next (it was first in line) and sees it. What it
    // heard goes into the failure message: a socket that ended says how.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut heard = Vec::new();
    loop {
        use futures_util::StreamExt;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(msg))) => msg,
            ended => panic!("the watcher hears about the call: {ended:?} after {heard:?}"),
        };
        heard.push(format!("{msg:?}"));
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["status"] == "called" {
                break;
            }
        }
    }
    Arc::into_inner(cluster).unwrap().stop().await;
}

/// A `fila` process in distributed mode on `cluster`'s database and Redis prefix.
async fn spawn_process(cluster: &Cluster) -> FilaProcess {
    let (mut command, port) = FilaProcess::command();
    command
        .env("DATABASE_URL", &cluster.mysql_url)
        .env("REDIS_URL", &cluster.redis)
        .env("FILA_REDIS_PREFIX", &cluster.prefix)
        .env("FILA_DEMO_OWNER_PASSWORD", OWNER_PASSWORD)
        .env("FILA_JOIN_RATE_PER_IP", "1000000")
        .env("FILA_JOIN_RATE_PER_VENUE", "1000000")
        .env("LEPTOS_SITE_ROOT", std::env::temp_dir());
    FilaProcess::start(command, port).await
}

/// Guarantee 2: `kill -9` of one of three instances in the middle of a burst of joins:
/// every acknowledged join exists afterwards, once, in the order it was acknowledged; a
/// phone connected to the dead instance reconnects to another one and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_an_instance_loses_no_acknowledged_join() {
    // The in-process cluster only provides the database and prefix; the instances are real
    // processes so one can be killed.
    let cluster = Cluster::start_with(1, redis_url(), None).await;
    let mut procs = Vec::new();
    for _ in 0..3 {
        procs.push(spawn_process(&cluster).await);
    }
    let ports: Vec<u16> = procs.iter().map(|p| p.port).collect();
    let client = reqwest::Client::new();
    let join = move |port: u16, name: String| {
        let client = client.clone();
        async move {
            let r = client
                .post(format!(
                    "http://127.0.0.1:{port}/api/v1/venues/demo/queues/bar/tickets"
                ))
                .json(&json!({"name": name, "party_size": 1}))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 201 => r.json::<Value>().await.ok(),
                _ => None,
            }
        }
    };
    // A phone on the instance that will die.
    let phone = join(ports[2], "Phone".into()).await.expect("phone joins");
    let phone_token = phone["token"].as_str().unwrap().to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{}/api/v1/tickets/{phone_token}/live",
        ports[2]
    ))
    .await
    .unwrap();

    let killed = Arc::new(AtomicBool::new(false));
    // Three clients, one per instance, each joining one after the other; the one on the
    // killed instance moves to a live one, as a phone's retry would.
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (join, killed, ports) = (join.clone(), killed.clone(), ports.clone());
            tokio::spawn(async move {
                let mut acked: Vec<(String, String)> = Vec::new();
                for k in 0..150 {
                    let port = if c == 2 && killed.load(Ordering::Relaxed) {
                        ports[k % 2]
                    } else {
                        ports[c]
                    };
                    if let Some(b) = join(port, format!("C{c}-{k}")).await {
                        acked.push((
                            b["token"].as_str().unwrap().to_owned(),
                            b["number"].as_str().unwrap().to_owned(),
                        ));
                    }
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    procs[2].child.kill().expect("SIGKILL");
    let _ = procs[2].child.wait();
    killed.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for c in clients {
        acked.push(c.await.unwrap());
    }
    let total: usize = acked.iter().map(Vec::len).sum();
    assert!(total > 300, "most joins were acknowledged ({total})");

    let entries = log_entries(&cluster.redis, &cluster.prefix).await;
    let in_log = joins_in_log(&entries);
    let log_order: HashMap<String, u64> = entries
        .iter()
        .filter(|e| e["cmd"]["cmd"] == "join")
        .map(|e| {
            (
                e["cmd"]["token"].as_str().unwrap().to_owned(),
                e["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    for client in &acked {
        let mut last = 0;
        for (token, _) in client {
            assert_eq!(
                in_log.get(token),
                Some(&1),
                "acknowledged join {token} once"
            );
            let seq = log_order[token];
            assert!(seq > last, "acknowledged in log order");
            last = seq;
        }
    }
    let numbers: HashSet<&String> = acked.iter().flatten().map(|(_, n)| n).collect();
    assert_eq!(numbers.len(), total, "no number twice");

    // The phone's socket died with its instance; it reconnects elsewhere and resumes.
    use futures_util::StreamExt;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{}/api/v1/tickets/{phone_token}/live",
        ports[0]
    ))
    .await
    .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let snap: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["status"], "waiting");
    assert_eq!(snap["position"], 1, "the phone joined first: {snap}");
    drop(procs);
    cluster.stop().await;
}
