//! `fila-load chart`: fan-out latency against the number of watchers, drawn from a results
//! file that `fan-out --record` appended to, as a self-contained SVG (written by hand: no
//! plotting dependency). One line per series: one per Fila mode recorded (`fila (embedded)`,
//! `fila (distributed, 3 instances)`, …) and one for the baseline (the same server whatever
//! the mode, so its runs are pooled). The x axis is N on a log scale; y is the chosen
//! percentile in ms. Where N was run more than once, the line goes through the median and a
//! dot marks every run, so the spread shows.

mod svg;

use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use svg::{svg, thousands};

/// Which figure of each run is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Metric {
    P50,
    P99,
    Max,
}

impl Metric {
    fn key(self) -> &'static str {
        match self {
            Self::P50 => "p50_ms",
            Self::P99 => "p99_ms",
            Self::Max => "max_ms",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P99 => "p99",
            Self::Max => "max",
        }
    }
}

/// One line of the chart.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) label: String,
    /// Every N in increasing order, with the value of each run at that N.
    pub(crate) points: Vec<(u64, Vec<f64>)>,
    pub(crate) baseline: bool,
}

/// What the runs in a results file have in common, for the subtitle.
#[derive(Debug, Default)]
pub(crate) struct Provenance {
    runs: usize,
    first_date: Option<String>,
    last_date: Option<String>,
    commits: Vec<String>,
}

/// The label of the baseline's line.
const BASELINE_LABEL: &str = "baseline-ws";

/// Read a results file's lines (blank ones skipped) into series; Fila's first, sorted by name.
#[cfg(test)]
pub(crate) fn series_from_jsonl(text: &str, metric: Metric) -> anyhow::Result<Vec<Series>> {
    Ok(read(text, metric)?.0)
}

fn read(text: &str, metric: Metric) -> anyhow::Result<(Vec<Series>, Provenance)> {
    // label -> N -> values
    let mut fila: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    let mut base: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    let mut prov = Provenance::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", i + 1);
        let v: Value = serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        if v["scenario"] != "fan-out" {
            bail!(
                "{}: not a fan-out run (\"scenario\": {})",
                at(),
                v["scenario"]
            );
        }
        let n = v["watchers"]
            .as_u64()
            .filter(|n| *n > 0)
            .with_context(|| format!("{}: no \"watchers\"", at()))?;
        let figure = |side: &str| {
            v[side][metric.key()]
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .with_context(|| format!("{}: no \"{side}\".\"{}\"", at(), metric.key()))
        };
        let label = v["fila"]["run"]
            .as_str()
            .with_context(|| format!("{}: no \"fila\".\"run\"", at()))?;
        fila.entry(label.to_owned())
            .or_default()
            .entry(n)
            .or_default()
            .push(figure("fila")?);
        base.entry(n).or_default().push(figure("baseline")?);
        prov.runs += 1;
        if let Some(date) = v["date"].as_str() {
            let date = date.get(..10).unwrap_or(date).to_owned();
            if prov.first_date.as_ref().is_none_or(|d| date < *d) {
                prov.first_date = Some(date.clone());
            }
            if prov.last_date.as_ref().is_none_or(|d| date > *d) {
                prov.last_date = Some(date);
            }
        }
        if let Some(c) = v["commit"].as_str() {
            let c = if v["dirty"] == true {
                format!("{c}+changes")
            } else {
                c.to_owned()
            };
            if !prov.commits.contains(&c) {
                prov.commits.push(c);
            }
        }
    }
    let mut series: Vec<Series> = fila
        .into_iter()
        .map(|(label, points)| Series {
            label,
            points: points.into_iter().collect(),
            baseline: false,
        })
        .collect();
    if !base.is_empty() {
        series.push(Series {
            label: BASELINE_LABEL.to_owned(),
            points: base.into_iter().collect(),
            baseline: true,
        });
    }
    Ok((series, prov))
}

/// `fila-load chart`: read `input`, write the SVG to `output`.
pub(crate) fn run(
    input: &Path,
    output: &Path,
    metric: Metric,
    title: Option<&str>,
    log_y: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let (series, prov) = read(&text, metric).with_context(|| format!("in {}", input.display()))?;
    if series.is_empty() {
        bail!(
            "no fan-out runs in {}: record some first with `fila-load fan-out --record {}`",
            input.display(),
            input.display()
        );
    }
    let title = title.map_or_else(
        || {
            format!(
                "Fan-out: {} latency of a call reaching every watcher",
                metric.label()
            )
        },
        str::to_owned,
    );
    let mut subtitle = format!("{} run{}", prov.runs, if prov.runs == 1 { "" } else { "s" });
    match (&prov.first_date, &prov.last_date) {
        (Some(a), Some(b)) if a == b => write!(subtitle, ", {a}")?,
        (Some(a), Some(b)) => write!(subtitle, ", {a} to {b}")?,
        _ => {}
    }
    match prov.commits.as_slice() {
        [] => {}
        [one] => write!(subtitle, ", commit {one}")?,
        [a, b] => write!(subtitle, ", commits {a}, {b}")?,
        // More would run off the chart: the results file names each run's commit.
        [first, .., last] => write!(
            subtitle,
            ", commits {first} to {last} ({})",
            prov.commits.len()
        )?,
    }
    subtitle.push_str("; line: median of the runs at each N, dots: each run");
    let svg = svg(&title, &subtitle, metric, &series, log_y)?;
    std::fs::write(output, svg).with_context(|| format!("cannot write {}", output.display()))?;
    let ns: Vec<String> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(thousands)
        .collect();
    println!(
        "wrote {}: {} series, {} runs, N = {}",
        output.display(),
        series.len(),
        prov.runs,
        ns.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::svg::{BOTTOM, HEIGHT, TOP};
    use super::*;

    fn line(n: u64, mode: &str, fila_p99: f64, base_p99: f64) -> String {
        format!(
            r#"{{"scenario":"fan-out","date":"2026-11-22T10:00:00Z","commit":"abc1234","dirty":false,"watchers":{n},"fila":{{"run":"{mode}","p50_ms":1.0,"p99_ms":{fila_p99},"max_ms":9.0}},"baseline":{{"run":"baseline-ws (own process)","p50_ms":1.0,"p99_ms":{base_p99},"max_ms":9.0}}}}"#
        )
    }

    /// Tags open and close in order; returns the element names seen.
    fn check_xml(doc: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = doc;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("unclosed tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else {
                let name = tag
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap()
                    .to_owned();
                names.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            // Text between tags may not hold a bare '&' (only entities).
            let next = rest[end + 1..]
                .find('<')
                .map_or(rest.len(), |i| i + end + 1);
            let text = &rest[end + 1..next];
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "bare & in {text:?}"
                );
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        names
    }

    fn polylines(doc: &str) -> Vec<Vec<(f64, f64)>> {
        doc.match_indices("<polyline points=\"")
            .map(|(i, m)| {
                let rest = &doc[i + m.len()..];
                rest[..rest.find('"').unwrap()]
                    .split(' ')
                    .map(|p| {
                        let (a, b) = p.split_once(',').unwrap();
                        (a.parse().unwrap(), b.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn one_polyline_per_series_in_order_of_n() {
        // Out of order, two modes, one N run twice.
        let text = [
            line(10_000, "fila (embedded)", 120.0, 150.0),
            line(1_000, "fila (embedded)", 20.0, 15.0),
            line(5_000, "fila (embedded)", 90.0, 100.0),
            line(1_000, "fila (embedded)", 30.0, 17.0),
            String::new(),
            line(5_000, "fila (distributed, 3 instances)", 70.0, 110.0),
            line(1_000, "fila (distributed, 3 instances)", 25.0, 16.0),
        ]
        .join("\n");
        let (series, prov) = read(&text, Metric::P99).unwrap();
        assert_eq!(prov.runs, 6);
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "fila (distributed, 3 instances)",
                "fila (embedded)",
                "baseline-ws"
            ]
        );
        let doc = svg("Fan-out & more", "sub <1>", Metric::P99, &series, false).unwrap();
        let names = check_xml(&doc);
        assert_eq!(names[0], "svg");
        assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(doc.contains("Fan-out &amp; more"));
        let lines = polylines(&doc);
        assert_eq!(lines.len(), 3);
        for l in &lines {
            assert!(
                l.windows(2).all(|w| w[0].0 < w[1].0),
                "x not increasing: {l:?}"
            );
        }
        // Embedded has 3 points, the 1k one at the median of 20 and 30: between their dots.
        assert_eq!(lines[1].len(), 3);
        // One dot per run and series: 6 runs of Fila, 6 of the baseline.
        assert_eq!(doc.matches("<circle").count(), 12);
        // A higher value is drawn higher (smaller y): embedded at 10k above 1k.
        assert!(lines[1][2].1 < lines[1][0].1);
        // The baseline is dashed and last in the legend.
        assert!(doc.contains(r#"data-label="baseline-ws""#));
        assert!(doc.contains("stroke-dasharray"));
    }

    #[test]
    fn log_y_spans_decades_in_order() {
        let text = [
            line(1_000, "fila (embedded)", 15.0, 12.0),
            line(19_000, "fila (embedded)", 290.0, 230.0),
            line(100_000, "fila (distributed, 6 instances)", 2600.0, 1800.0),
        ]
        .join("\n");
        let series = series_from_jsonl(&text, Metric::P99).unwrap();
        let doc = svg("t", "s", Metric::P99, &series, true).unwrap();
        check_xml(&doc);
        for tick in [">10</text>", ">100</text>", ">1000</text>", ">2000</text>"] {
            assert!(doc.contains(tick), "no tick {tick}");
        }
        assert!(doc.contains("(log scale)</text>"));
        // Higher values higher up, and every point inside the plot.
        let lines = polylines(&doc);
        let embedded = &lines[1];
        assert!(embedded[1].1 < embedded[0].1);
        for (_, y) in lines.iter().flatten() {
            assert!((TOP..=HEIGHT - BOTTOM).contains(y), "{y}");
        }
    }

    #[test]
    fn one_run_still_draws() {
        let text = line(50, "fila (embedded)", 3.0, 2.0);
        let series = series_from_jsonl(&text, Metric::Max).unwrap();
        let doc = svg("t", "s", Metric::Max, &series, false).unwrap();
        check_xml(&doc);
        assert_eq!(polylines(&doc).len(), 2);
        assert!(doc.contains(">50</text>"));
    }

    #[test]
    fn empty_or_bad_input_is_a_clear_error() {
        assert!(series_from_jsonl("", Metric::P99).unwrap().is_empty());
        let e = svg("t", "s", Metric::P99, &[], false).unwrap_err();
        assert!(e.to_string().contains("nothing to draw"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("none.jsonl");
        std::fs::write(&input, "\n").unwrap();
        let e = run(&input, &dir.path().join("x.svg"), Metric::P99, None, false).unwrap_err();
        assert!(format!("{e:#}").contains("no fan-out runs"), "{e:#}");
        let e = series_from_jsonl("{\"scenario\":\"fan-out\"}", Metric::P99).unwrap_err();
        assert!(
            format!("{e:#}").contains("line 1: no \"watchers\""),
            "{e:#}"
        );
        let e = series_from_jsonl("not json", Metric::P99).unwrap_err();
        assert!(format!("{e:#}").contains("line 1: not JSON"), "{e:#}");
    }
}
