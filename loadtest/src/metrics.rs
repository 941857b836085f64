//! Reading Fila's `/metrics` (Prometheus text): the series the scenarios report, and the
//! commit and append histograms that say what a call waited for.

use std::str::FromStr;

/// The value of one sample line of Prometheus text, `name{labels} value` (labels included in
/// `series`, exactly as Fila writes them).
pub(crate) fn metric<T: FromStr>(text: &str, series: &str) -> Option<T> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A latency histogram of Fila's, and what it times, in words.
pub(crate) struct Histogram {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
}

/// What Fila's own clock says a call waited for. Embedded: the SQLite commit, fsync included.
pub(crate) const COMMITS: Histogram = Histogram {
    name: "fila_writer_commit_seconds",
    what: "SQLite commits",
};
/// Distributed: the append to the Redis log.
pub(crate) const APPENDS: Histogram = Histogram {
    name: "fila_log_append_seconds",
    what: "appends to the Redis log",
};

/// A latency histogram's totals at one moment; subtract two to get an interval's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Timed {
    pub(crate) count: u64,
    pub(crate) secs: f64,
    /// Of those, the ones over 2.5 ms (a bucket bound of Fila's histograms).
    pub(crate) slow: u64,
    pub(crate) series: &'static str,
    pub(crate) what: &'static str,
}

impl Timed {
    pub(crate) fn parse(text: &str, h: &Histogram) -> Option<Timed> {
        let name = h.name;
        let count = metric(text, &format!("{name}_count"))?;
        let fast: u64 = metric(text, &format!("{name}_bucket{{le=\"0.0025\"}}"))?;
        Some(Timed {
            count,
            secs: metric(text, &format!("{name}_sum"))?,
            slow: count.saturating_sub(fast),
            series: name,
            what: h.what,
        })
    }

    pub(crate) fn since(self, before: Timed) -> Timed {
        Timed {
            count: self.count.saturating_sub(before.count),
            secs: (self.secs - before.secs).max(0.0),
            slow: self.slow.saturating_sub(before.slow),
            ..self
        }
    }

    /// `30 SQLite commits, mean 0.41 ms, 1 over 2.5 ms (fila_writer_commit_seconds)`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {}, mean {:.2} ms, {} over 2.5 ms ({})",
            self.count,
            self.what,
            self.secs * 1e3 / self.count.max(1) as f64,
            self.slow,
            self.series
        )
    }
}

pub(crate) const LOG_SEQ: &str = r#"fila_log_seq{venue="demo"}"#;
pub(crate) const APPEND_CONFLICTS: &str = "fila_log_append_conflicts_total";
pub(crate) const APPENDS_SKIPPED: &str = "fila_log_appends_skipped_total";
pub(crate) const STATE_COPIES: &str = "fila_writer_state_copies_total";
pub(crate) const PROJECTED: &str = "fila_history_projected_total";
pub(crate) const HISTORY_WRITES: &str = "fila_history_writes_total";
/// History entries a projector took from its own writers' memory rather than parsing them.
pub(crate) const HANDED_OVER: &str = "fila_history_handed_over_total";
/// Embedded mode: SQLite transactions, and the commands they made durable.
pub(crate) const WRITER_COMMITS: &str = "fila_writer_commits_total";
pub(crate) const WRITER_COMMANDS: &str = "fila_writer_commands_total";
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_read_from_prometheus_text_and_subtracted() {
        let text = |count: u64, fast: u64, sum: &str| {
            format!(
                "# TYPE fila_writer_commit_seconds histogram\n\
                 fila_writer_commit_seconds_bucket{{le=\"0.001\"}} 1\n\
                 fila_writer_commit_seconds_bucket{{le=\"0.0025\"}} {fast}\n\
                 fila_writer_commit_seconds_bucket{{le=\"+Inf\"}} {count}\n\
                 fila_writer_commit_seconds_sum {sum}\n\
                 fila_writer_commit_seconds_count {count}\n"
            )
        };
        let before = Timed::parse(&text(4, 3, "0.004"), &COMMITS).unwrap();
        assert_eq!(
            before,
            Timed {
                count: 4,
                secs: 0.004,
                slow: 1,
                series: "fila_writer_commit_seconds",
                what: "SQLite commits",
            }
        );
        let after = Timed::parse(&text(34, 31, "0.019"), &COMMITS).unwrap();
        let d = after.since(before);
        assert_eq!((d.count, d.slow), (30, 2));
        assert_eq!(
            d.describe(),
            "30 SQLite commits, mean 0.50 ms, 2 over 2.5 ms (fila_writer_commit_seconds)"
        );
        assert_eq!(Timed::parse(&text(4, 3, "0.004"), &APPENDS), None);
    }
}
