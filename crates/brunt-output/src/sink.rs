//! Outputs (`--out json=FILE`, `csv=FILE`, `results=FILE`, `prometheus-rw=URL`,
//! `influxdb=URL`, `opentelemetry`): the [`SampleSink`] trait the collector thread feeds once a second, and the
//! parser of `--out` values.

use crate::csv::CsvSink;
use crate::json_lines::JsonLinesSink;
use crate::remote::{self, RemoteSpec};
use crate::results::ResultsSink;
use crate::{OutputError, PhaseSplit};
use brunt_metrics::{MetricId, RawSample, Registry, SeriesMap, Snapshot, Thresholds};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// Buffer size of output files: large enough that a second's samples cost few system calls.
const BUFFER: usize = 256 * 1024;

/// An output. Called on the collector thread, never by workers; writes are buffered.
///
/// Per-sample outputs (json, csv) implement `write`; outputs of per-second aggregates (results
/// file, remote backends, the dashboard) say so with `wants_raw` and implement `interval`, so
/// that the engine need not keep every sample for them.
pub trait SampleSink: Send {
    /// Writes a batch of samples.
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()>;
    /// Flushes everything written; call once at the end of the run.
    fn finish(&mut self) -> io::Result<()>;
    /// Whether this output needs every raw sample.
    fn wants_raw(&self) -> bool {
        true
    }
    /// One second's aggregates, about once a second and once more at the end.
    fn interval(&mut self, _view: &IntervalView<'_>) -> io::Result<()> {
        Ok(())
    }
    /// What the user should hear at the end, e.g. samples a down backend never got.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One tick of the run as outputs of aggregates see it.
pub struct IntervalView<'a> {
    /// Since the test started.
    pub elapsed: Duration,
    /// Wall-clock time of the tick.
    pub time: SystemTime,
    /// What happened since the previous tick, per (metric, tag set).
    pub series: &'a SeriesMap,
    /// Everything so far.
    pub total: &'a Snapshot,
    /// What thresholds judge and the summary reports, and the time it covers: `total` and
    /// `elapsed`, or with `--warm-up` what came after it.
    pub judged: &'a Snapshot,
    pub judged_elapsed: Duration,
    pub registry: &'a Registry,
    /// One line per scenario, e.g. `default: 50 looping VUs for 10s (gracefulStop: 30s)`.
    pub scenarios: &'a [String],
    /// The last tick, after the run ended.
    pub is_final: bool,
}

/// The output kinds brunt knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Json,
    Csv,
    /// brunt's JSON results file of per-second aggregates (docs/results-format.md).
    Results,
    /// Prometheus remote write.
    PrometheusRw,
    /// InfluxDB v1 line protocol.
    InfluxDb,
    /// OTLP metrics to an OpenTelemetry collector (k6's `K6_OTEL_*` settings).
    OpenTelemetry,
}

impl OutKind {
    /// Every kind `--out` accepts: parsing, its error and the flag's help all read this list.
    pub const ALL: [OutKind; 6] = [
        OutKind::Json,
        OutKind::Csv,
        OutKind::Results,
        OutKind::PrometheusRw,
        OutKind::InfluxDb,
        OutKind::OpenTelemetry,
    ];

    /// The name used in `--out`.
    pub fn name(self) -> &'static str {
        match self {
            OutKind::Json => "json",
            OutKind::Csv => "csv",
            OutKind::Results => "results",
            OutKind::PrometheusRw => "prometheus-rw",
            OutKind::InfluxDb => "influxdb",
            OutKind::OpenTelemetry => "opentelemetry",
        }
    }

    /// How to write this kind in `--out`, and what it keeps.
    fn usage(self) -> &'static str {
        match self {
            OutKind::Json => "json=FILE (every sample, k6's JSON lines; `json` alone: stdout)",
            OutKind::Csv => {
                "csv=FILE (every sample, k6's CSV; `csv` alone: file.csv, `csv=-`: stdout)"
            }
            OutKind::Results => {
                "results=FILE (per-second aggregates for `brunt report` and `brunt compare`)"
            }
            OutKind::PrometheusRw => {
                "prometheus-rw=URL[,label.NAME=VALUE][,header.NAME=VALUE][,flush=5s]"
            }
            OutKind::InfluxDb => {
                "influxdb=http://HOST:8086/DB[,label.NAME=VALUE][,header.NAME=VALUE][,flush=5s]"
            }
            OutKind::OpenTelemetry => {
                "opentelemetry (OTLP metrics to a collector, set with k6's K6_OTEL_* variables)"
            }
        }
    }

    /// The `--out` flag's help, built from [`OutKind::ALL`] so that it cannot omit a kind.
    pub fn help() -> String {
        let kinds: Vec<_> = OutKind::ALL.iter().map(|k| k.usage()).collect();
        format!(
            "An output, repeatable: {}; a FILE ending in .gz is gzipped (docs/outputs.md)",
            kinds.join(", ")
        )
    }

    fn known() -> String {
        let names: Vec<_> = OutKind::ALL.iter().map(|k| k.name()).collect();
        names.join(", ")
    }
}

/// k6's file for `--out csv` without one.
const DEFAULT_CSV: &str = "file.csv";

/// One parsed `--out` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutSpec {
    pub kind: OutKind,
    /// File outputs: `None` writes to standard output (`json`, `json=`, `json=-`, `csv=-`, as k6).
    pub path: Option<PathBuf>,
    /// Remote outputs: where and how to send.
    pub remote: Option<RemoteSpec>,
}

impl FromStr for OutSpec {
    type Err = OutputError;

    /// `KIND`, `KIND=FILE`, or `KIND=URL[,OPTION=VALUE...]` for remote outputs.
    fn from_str(s: &str) -> Result<Self, OutputError> {
        let (kind, value) = s.split_once('=').unwrap_or((s, ""));
        let kind = OutKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| OutputError::UnknownOutput {
                kind: kind.to_string(),
                known: OutKind::known(),
            })?;
        if matches!(
            kind,
            OutKind::PrometheusRw | OutKind::InfluxDb | OutKind::OpenTelemetry
        ) {
            let remote = RemoteSpec::parse(kind, value)?;
            return Ok(OutSpec {
                kind,
                path: None,
                remote: Some(remote),
            });
        }
        let path = match value {
            "" | "-" if kind == OutKind::Results => {
                return Err(OutputError::BadOut {
                    out: s.to_string(),
                    reason: "give a file: results=FILE".into(),
                })
            }
            // As k6: `csv` with no file writes file.csv, `json` with none writes to stdout.
            "" if kind == OutKind::Csv => Some(PathBuf::from(DEFAULT_CSV)),
            "" | "-" => None,
            p => Some(PathBuf::from(p)),
        };
        Ok(OutSpec {
            kind,
            path,
            remote: None,
        })
    }
}

impl OutSpec {
    /// Creates the file (or takes stdout) and returns the sink. `thresholds` are listed in the
    /// JSON output's metric lines, as k6 does; the results file records `phases`.
    pub fn open(
        &self,
        thresholds: &Thresholds,
        phases: Option<PhaseSplit>,
    ) -> Result<Box<dyn SampleSink>, OutputError> {
        if let Some(remote) = &self.remote {
            return Ok(remote::open(remote, self.to_string()));
        }
        let io_error = |error| OutputError::io(self.flag(), error);
        let out = match &self.path {
            None => {
                // Said once on stderr, as k6's banner does: stdout also carries the summary.
                eprintln!(
                    "output {self}: every sample goes to standard output ({}=FILE for a file)",
                    self.kind.name()
                );
                Target::Stdout(BufWriter::with_capacity(BUFFER, io::stdout()))
            }
            Some(p) => {
                let f = BufWriter::with_capacity(BUFFER, File::create(p).map_err(io_error)?);
                if p.extension().is_some_and(|e| e == "gz") {
                    Target::Gzip(GzEncoder::new(f, Compression::default()))
                } else {
                    Target::File(f)
                }
            }
        };
        Ok(match self.kind {
            OutKind::Json => Box::new(JsonLinesSink::new(out, thresholds)),
            OutKind::Csv => Box::new(CsvSink::new(out).map_err(io_error)?),
            OutKind::Results => {
                Box::new(ResultsSink::new(out, thresholds.clone(), phases).map_err(io_error)?)
            }
            // Built by hand without its URL (parsing always sets one).
            OutKind::PrometheusRw | OutKind::InfluxDb | OutKind::OpenTelemetry => {
                return Err(OutputError::BadOut {
                    out: self.to_string(),
                    reason: "no URL given".into(),
                })
            }
        })
    }

    /// The flag as messages name it: `--out csv=out.csv`, or `--out json (stdout)`.
    pub fn flag(&self) -> String {
        match (&self.path, &self.remote) {
            (None, None) => format!("--out {self} (stdout)"),
            _ => format!("--out {self}"),
        }
    }
}

/// As the user writes it: `json=out.json`, or `json` for standard output.
impl fmt::Display for OutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        if self.kind == OutKind::OpenTelemetry {
            return Ok(());
        }
        if let Some(r) = &self.remote {
            return write!(f, "={}", r.url);
        }
        match &self.path {
            Some(p) => write!(f, "={}", p.display()),
            // `csv` alone names a file; stdout is `csv=-`.
            None if self.kind == OutKind::Csv => f.write_str("=-"),
            None => Ok(()),
        }
    }
}

/// Where a sink writes: a buffered file, a gzip-compressed one (a name ending in `.gz`, as k6),
/// or standard output.
pub(crate) enum Target {
    File(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
    Stdout(BufWriter<io::Stdout>),
}

impl Target {
    /// Flushes everything, ending the gzip stream.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Target::File(w) => w.flush(),
            Target::Gzip(w) => {
                w.try_finish()?;
                w.get_mut().flush()
            }
            Target::Stdout(w) => w.flush(),
        }
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::File(w) => w.write(buf),
            Target::Gzip(w) => w.write(buf),
            Target::Stdout(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Target::File(w) => w.write_all(buf),
            Target::Gzip(w) => w.write_all(buf),
            Target::Stdout(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::File(w) => w.flush(),
            Target::Gzip(w) => w.flush(),
            Target::Stdout(w) => w.flush(),
        }
    }
}

/// Metric names by id, looked up in the registry once per metric rather than per sample.
#[derive(Default)]
pub(crate) struct NameCache(Vec<Option<String>>);

impl NameCache {
    pub(crate) fn get(&mut self, id: MetricId, registry: &Registry) -> &str {
        let i = id.0 as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        self.0[i].get_or_insert_with(|| registry.def(id).name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_values_parse_and_unknown_kinds_list_the_known_ones() {
        let s: OutSpec = "json=results.json".parse().unwrap();
        assert_eq!(s.kind, OutKind::Json);
        assert_eq!(s.path, Some(PathBuf::from("results.json")));
        assert_eq!("csv=-".parse::<OutSpec>().unwrap().path, None);
        assert_eq!("csv".parse::<OutSpec>().unwrap().kind, OutKind::Csv);
        assert_eq!(s.to_string(), "json=results.json");
        assert_eq!("csv=-".parse::<OutSpec>().unwrap().to_string(), "csv=-");
        let e = "influx=http://x"
            .parse::<OutSpec>()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "unknown output 'influx'; known outputs: json, csv, results, prometheus-rw, influxdb, opentelemetry"
        );
    }

    /// k6 v1.1: `--out json` (or `json=`, `json=-`) writes to stdout, `--out csv` (or `csv=`)
    /// to file.csv, `csv=-` to stdout.
    #[test]
    fn outs_without_a_file_go_where_k6_sends_them() {
        for json in ["json", "json=", "json=-"] {
            assert_eq!(json.parse::<OutSpec>().unwrap().path, None, "{json}");
        }
        for csv in ["csv", "csv="] {
            let s = csv.parse::<OutSpec>().unwrap();
            assert_eq!(s.path, Some(PathBuf::from("file.csv")), "{csv}");
            assert_eq!(s.to_string(), "csv=file.csv");
        }
    }

    #[test]
    fn an_unwritable_file_names_its_path() {
        let s: OutSpec = "json=/nonexistent-dir/x.json".parse().unwrap();
        let e = s
            .open(&Thresholds::default(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("cannot write --out json=/nonexistent-dir/x.json: "),
            "{e}"
        );
    }
}
