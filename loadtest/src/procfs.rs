//! What `/proc` says of a process: its resident memory and its CPU time.

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

#[cfg(test)]
mod tests {
    use super::{cpu_secs, stat_cpu_secs};
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
}
