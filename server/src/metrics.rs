//! A latency histogram for `/metrics`, lock-free so the writers can record on their hot path.
//!
//! Fixed buckets from 0.25 ms to 1 s: what a commit or a Redis append takes, from an idle
//! SSD to a disk in trouble. Rendered in Prometheus text format (cumulative `_bucket`s,
//! `_sum` in seconds, `_count`), so `histogram_quantile` works on it as it is.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (the last, +Inf, is implicit).
const BOUNDS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is +Inf.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let slot = BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// `name` in Prometheus text format, with its HELP and TYPE lines.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            match BOUNDS_US.get(i) {
                Some(us) => {
                    let le = *us as f64 / 1e6;
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them_and_render_cumulatively() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(250)); // on a bound: that bucket (le is inclusive)
        h.observe(Duration::from_micros(251));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(2));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "test");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# HELP x_seconds test");
        assert_eq!(lines[1], "# TYPE x_seconds histogram");
        assert_eq!(lines[2], "x_seconds_bucket{le=\"0.00025\"} 2");
        assert_eq!(lines[3], "x_seconds_bucket{le=\"0.0005\"} 3");
        assert_eq!(lines[4], "x_seconds_bucket{le=\"0.001\"} 3");
        assert_eq!(lines[5], "x_seconds_bucket{le=\"0.0025\"} 3");
        assert_eq!(lines[6], "x_seconds_bucket{le=\"0.005\"} 4");
        assert_eq!(lines[13], "x_seconds_bucket{le=\"1\"} 4");
        assert_eq!(lines[14], "x_seconds_bucket{le=\"+Inf\"} 5");
        assert_eq!(lines[15], "x_seconds_sum 2.003601");
        assert_eq!(lines[16], "x_seconds_count 5");
        assert_eq!(lines.len(), 17);
    }
}
