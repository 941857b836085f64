//! `fan-out --record PATH`: each run's figures appended to a results file, one JSON object a
//! line, for `fila-load chart` to draw. A line looks like
//!
//! ```json
//! {"scenario":"fan-out","date":"2026-11-22T10:00:00Z","commit":"1a6eb37","dirty":true,
//!  "mode":"embedded","instances":1,"watchers":1000,"calls":30,"load1_before":0.4,
//!  "client_processes":1,"baseline_processes":1,
//!  "fila":{"run":"fila (embedded)","p50_ms":10.2,"p99_ms":17.1,"max_ms":18.8,
//!          "last_p50_ms":15.0,"last_max_ms":18.8},
//!  "baseline":{"run":"baseline-ws (own process)","p50_ms":6.3,...}}
//! ```
//!
//! `commit` and `dirty` describe the git work tree `fila-load` was started in (null outside
//! one): the harness cannot know what the `fila` binary was built from.

use crate::latency::Summary;
use crate::mode::Mode;
use anyhow::Context;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// The row name the baseline gets in the results file, when it ran in one process.
pub(crate) const BASELINE_ROW: &str = "baseline-ws (own process)";

/// The baseline's row name for a run spread over `processes` baseline processes.
fn baseline_row(processes: usize) -> String {
    if processes <= 1 {
        BASELINE_ROW.to_owned()
    } else {
        format!("baseline-ws ({processes} own processes)")
    }
}

/// What one fan-out run measured, with what it ran against.
pub(crate) struct FanOutRun {
    pub(crate) watchers: usize,
    pub(crate) calls: usize,
    pub(crate) mode: Mode,
    /// The table's row name for Fila, e.g. `fila (distributed, 3 instances)`.
    pub(crate) fila_row: String,
    pub(crate) fila: Summary,
    pub(crate) baseline: Summary,
    /// The machine's 1-minute load average just before the run.
    pub(crate) load_before: Option<f64>,
    /// Processes holding the client sockets (1: the harness itself; more: client shards).
    pub(crate) client_processes: usize,
    /// Baseline server processes the sockets were spread over.
    pub(crate) baseline_processes: usize,
    /// Whether Fila's calls and the baseline's broadcasts took turns (`--interleave`).
    pub(crate) interleaved: bool,
}

fn summary_json(run: &str, s: &Summary) -> Value {
    json!({
        "run": run,
        "p50_ms": s.p50,
        "p99_ms": s.p99,
        "max_ms": s.max,
        "last_p50_ms": s.last_p50,
        "last_max_ms": s.last_max,
    })
}

impl FanOutRun {
    pub(crate) fn to_json(&self) -> Value {
        let mode = match self.mode {
            Mode::Embedded => "embedded",
            Mode::Distributed { .. } => "distributed",
        };
        let (commit, dirty) = git_state();
        json!({
            "scenario": "fan-out",
            "date": utc_now(),
            "commit": commit,
            "dirty": dirty,
            "mode": mode,
            "instances": self.mode.instances(),
            "watchers": self.watchers,
            "calls": self.calls,
            "load1_before": self.load_before,
            "client_processes": self.client_processes,
            "baseline_processes": self.baseline_processes,
            "interleaved": self.interleaved,
            "fila": summary_json(&self.fila_row, &self.fila),
            "baseline": summary_json(&baseline_row(self.baseline_processes), &self.baseline),
        })
    }
}

fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {} to record the run", path.display()))
}

/// Fail before a run, not after it, when its figures could not be recorded (creates the file).
pub(crate) fn check_writable(path: &Path) -> anyhow::Result<()> {
    open(path).map(drop)
}

/// Append `line` and a newline to `path` (created if missing).
pub(crate) fn append(path: &Path, line: &Value) -> anyhow::Result<()> {
    let mut f = open(path)?;
    // One write per line, so two runs appending at once cannot interleave within a line.
    let mut text = serde_json::to_string(line)?;
    text.push('\n');
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write to {}", path.display()))
}

/// The 1-minute load average (Linux), e.g. to tell a quiet machine from a busy one.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The short commit of the current directory's git work tree, and whether it has changes.
fn git_state() -> (Option<String>, Option<bool>) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    (commit, dirty)
}

/// Now, in UTC, as `2026-11-22T10:00:00Z`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_text(secs)
}

fn utc_text(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_utc() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_text(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(utc_text(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn a_recorded_run_is_one_json_line_chart_can_read() {
        let s = Summary {
            p50: 1.5,
            p99: 2.5,
            max: 3.0,
            last_p50: 2.0,
            last_max: 3.0,
        };
        let run = FanOutRun {
            watchers: 50,
            calls: 5,
            mode: Mode::Embedded,
            fila_row: "fila (embedded)".into(),
            fila: s,
            baseline: s,
            load_before: Some(0.5),
            client_processes: 1,
            baseline_processes: 1,
            interleaved: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        append(&path, &run.to_json()).unwrap();
        append(&path, &run.to_json()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["watchers"], 50);
        assert_eq!(v["instances"], 1);
        assert_eq!(v["fila"]["p99_ms"], 2.5);
        assert_eq!(v["baseline"]["run"], BASELINE_ROW);
        assert_eq!(v["client_processes"], 1);
        assert_eq!(v["interleaved"], true);
        assert_eq!(baseline_row(6), "baseline-ws (6 own processes)");
        let series = crate::chart::series_from_jsonl(&text, crate::chart::Metric::P99).unwrap();
        assert_eq!(series.len(), 2);
    }
}
