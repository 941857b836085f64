//! What `/proc` says of a process: its resident memory and its CPU time, and which process
//! listens on a local TCP port (to read the CPU a local MariaDB or Redis spends on a run).

/// Resident memory of process `pid` (a number, or `self`), in KiB.
pub(crate) fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User plus system CPU time of process `pid` (a number, or `self`), in seconds, from
/// `/proc/<pid>/stat` (in clock ticks: Linux's USER_HZ is 100 wherever it is exported).
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    stat_cpu_secs(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds spent between two readings, when both were taken.
pub(crate) fn since(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some(now? - before?)
}

fn stat_cpu_secs(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses; what follows its last ')'
    // is fixed: field 3 (state) first, so utime (14) and stime (15) are the 12th and 13th.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// The process listening on TCP `port` on this machine, if it can be seen (root, or the same
/// user): the socket's inode from `/proc/net/tcp{,6}`, then the process holding it.
pub(crate) fn listener_pid(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|f| {
        let table = std::fs::read_to_string(f).ok()?;
        listening_inode(&table, port)
    })?;
    let target = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|p| {
        let pid: u32 = p.file_name().to_str()?.parse().ok()?;
        let holds = std::fs::read_dir(p.path().join("fd"))
            .ok()?
            .flatten()
            .any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str())
            });
        holds.then_some(pid)
    })
}

/// The inode of a socket listening on `port` in a `/proc/net/tcp` table.
fn listening_inode(table: &str, port: u16) -> Option<u64> {
    // sl local_address rem_address st ... inode: "0100007F:0CEA 00000000:0000 0A ..."
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit_once(':')?.1, 16).ok()?;
        (local_port == port && *f.get(3)? == "0A")
            .then(|| f.get(9)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::{cpu_secs, listener_pid, listening_inode, stat_cpu_secs};
    use std::time::{Duration, Instant};

    #[test]
    fn cpu_time_comes_from_utime_and_stime_even_with_a_strange_name() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 10 0 0 0 150 25 0 0 20 0 1 0 9 1 1";
        assert_eq!(stat_cpu_secs(line), Some(1.75));
        assert_eq!(stat_cpu_secs("42 (cut short) S 1 2"), None);
    }

    #[test]
    fn cpu_time_of_this_process_grows_while_it_works() {
        let before = cpu_secs("self").expect("own /proc/self/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        while cpu_secs("self").unwrap() < before + 0.05 && Instant::now() < deadline {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
        }
        std::hint::black_box(x);
        assert!(cpu_secs("self").unwrap() >= before + 0.05);
    }

    #[test]
    fn a_listening_socket_is_found_by_its_port_not_by_its_connections() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 0100007F:D431 01 00000000:00000000 00:00000000 00000000   0        0 111 1
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0        0 222 1
   2: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0        0 333 1";
        assert_eq!(listening_inode(table, 3306), Some(222));
        assert_eq!(listening_inode(table, 6379), Some(333));
        assert_eq!(listening_inode(table, 80), None);
    }

    #[test]
    fn this_process_is_found_listening_on_its_own_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
    }
}
