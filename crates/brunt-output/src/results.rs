//! brunt's results file (`--out results=FILE`): the run's per-second aggregates, one JSON object
//! per line, with trend histograms kept losslessly (HDR V2, deflated, base64) so that `brunt
//! report` and `brunt compare` can recompute and merge percentiles later. The format is
//! documented in docs/results-format.md; [`Results::read`] reads it back.

use crate::phases::{PhaseSplit, Phases};
use crate::sink::{IntervalView, SampleSink, Target};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use brunt_metrics::{
    Agg, Exemplar, MetricType, RawSample, Registry, SeriesMap, Snapshot, TagSet, ThresholdResult,
    Thresholds, Trace, TrendAgg, ValueType,
};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `format` field of the header line.
pub const RESULTS_FORMAT: &str = "brunt-results";
/// The version this build writes and reads.
pub const RESULTS_VERSION: u64 = 1;

/// A results file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The I/O error is in the message, not `source()`, so that it is printed once.
    #[error("cannot read results file '{path}': {error}")]
    Io { path: String, error: io::Error },
    #[error("'{path}' is not a brunt results file (its first line is not a brunt-results header)")]
    NotResults { path: String },
    #[error("results file '{path}' is format version {found}; this brunt reads version {RESULTS_VERSION}{}", if *found > RESULTS_VERSION { " (the file was written by a newer brunt: read it with that version or newer)" } else { "" })]
    Version { path: String, found: u64 },
    #[error("results file '{path}' is corrupt at line {line}: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("cannot merge results file '{path}': {reason}")]
    Merge { path: String, reason: String },
}

/// One second of a run read back.
#[derive(Debug, Clone)]
pub struct ResultsInterval {
    /// Since the test started.
    pub elapsed: Duration,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub series: SeriesMap,
}

/// A results file read back.
#[derive(Debug)]
pub struct Results {
    /// When the run started, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// The metrics the file names (built-ins first, custom ones as met).
    pub registry: Registry,
    pub intervals: Vec<ResultsInterval>,
    /// The run's length and threshold verdicts; `None` when the run did not end cleanly.
    pub end: Option<ResultsEnd>,
    /// The run's `--warm-up` or `--cold-cache` split, if it had one.
    pub split: Option<PhaseSplit>,
}

/// The last line of a complete results file.
#[derive(Debug, Clone)]
pub struct ResultsEnd {
    pub elapsed: Duration,
    pub thresholds: Vec<ThresholdResult>,
    /// One line per scenario, e.g. `default: 50 looping VUs for 10s (gracefulStop: 30s)`.
    pub scenarios: Vec<String>,
}

impl Results {
    /// Reads a results file (gzip-compressed when written as `results=FILE.gz`), with errors
    /// that name the file and the line.
    pub fn read(path: &Path) -> Result<Results, ResultsError> {
        let name = path.display().to_string();
        let io = |error| ResultsError::Io {
            path: name.clone(),
            error,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut text = String::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_string(&mut text)
                .map_err(io)?;
            text
        } else {
            String::from_utf8(bytes)
                .map_err(|e| io(io::Error::new(io::ErrorKind::InvalidData, e)))?
        };
        Results::parse(&text, &name)
    }

    /// Parses the text of a results file; `name` is used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Results, ResultsError> {
        let corrupt = |line: usize, reason: String| ResultsError::Corrupt {
            path: name.to_string(),
            line,
            reason,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let header: Value = lines
            .next()
            .and_then(|(_, l)| serde_json::from_str(l).ok())
            .filter(|h: &Value| h["type"] == "header" && h["format"] == RESULTS_FORMAT)
            .ok_or_else(|| ResultsError::NotResults {
                path: name.to_string(),
            })?;
        let version = header["version"].as_u64().unwrap_or(0);
        if version != RESULTS_VERSION {
            return Err(ResultsError::Version {
                path: name.to_string(),
                found: version,
            });
        }
        let split = match header.get("phases") {
            None | Some(Value::Null) => None,
            Some(p) => Some(
                serde_json::from_value::<SplitRecord>(p.clone())
                    .ok()
                    .and_then(|r| r.split())
                    .ok_or_else(|| {
                        corrupt(
                            1,
                            format!("unknown phases {p} (want {{\"kind\": \"warm_up\" or \"cold_cache\", \"seconds\": N}})"),
                        )
                    })?,
            ),
        };
        let mut results = Results {
            started_ms: header["started"].as_u64().unwrap_or(0),
            registry: Registry::new(),
            intervals: Vec::new(),
            end: None,
            split,
        };
        for (i, line) in lines {
            let n = i + 1;
            let record: Record =
                serde_json::from_str(line).map_err(|e| corrupt(n, e.to_string()))?;
            if results.end.is_some() {
                return Err(corrupt(n, "a line follows the end record".into()));
            }
            match record {
                Record::Interval {
                    elapsed,
                    time,
                    series,
                } => {
                    let map =
                        decode_series(series, &results.registry).map_err(|r| corrupt(n, r))?;
                    results.intervals.push(ResultsInterval {
                        elapsed: secs(elapsed).map_err(|r| corrupt(n, r))?,
                        time_ms: time,
                        series: map,
                    });
                }
                Record::End {
                    elapsed,
                    thresholds,
                    scenarios,
                } => {
                    results.end = Some(ResultsEnd {
                        elapsed: secs(elapsed).map_err(|r| corrupt(n, r))?,
                        thresholds,
                        scenarios,
                    })
                }
                Record::Header { .. } => return Err(corrupt(n, "a second header".into())),
            }
        }
        Ok(results)
    }

    /// Adds the run of another instance of a distributed run (`--execution-segment`): seconds
    /// are matched by their rounded elapsed time and their histograms added, so percentiles of
    /// the whole are exact. Thresholds are re-evaluated on the merged totals. `path` names
    /// `other` in errors.
    pub fn merge(&mut self, other: &Results, path: &str) -> Result<(), ResultsError> {
        let merge_err = |reason: String| ResultsError::Merge {
            path: path.to_string(),
            reason,
        };
        if self.split != other.split {
            return Err(merge_err(format!(
                "its phases ({}) differ from the other files' ({}): run every instance with the same --warm-up or --cold-cache",
                split_name(other.split),
                split_name(self.split)
            )));
        }
        let mut by_second: BTreeMap<u64, ResultsInterval> = BTreeMap::new();
        for i in self.intervals.drain(..) {
            by_second.insert(i.elapsed.as_secs_f64().round() as u64, i);
        }
        for i in &other.intervals {
            let slot = by_second
                .entry(i.elapsed.as_secs_f64().round() as u64)
                .or_insert_with(|| ResultsInterval {
                    elapsed: i.elapsed,
                    time_ms: i.time_ms,
                    series: SeriesMap::new(),
                });
            slot.elapsed = slot.elapsed.max(i.elapsed);
            // The other file's ids, renamed into this one's registry.
            let mut mapped = SeriesMap::new();
            for ((id, tags), agg) in &i.series {
                let def = other.registry.def(*id);
                let mine = self
                    .registry
                    .register(&def.name, def.metric_type, def.value_type)
                    .map_err(|e| merge_err(e.to_string()))?;
                mapped.insert((mine, tags.clone()), agg.clone());
            }
            let mut merged = Snapshot {
                series: std::mem::take(&mut slot.series),
            };
            merged.merge_instance(&mapped);
            slot.series = merged.series;
        }
        self.intervals = by_second.into_values().collect();
        self.started_ms = self.started_ms.min(other.started_ms);
        let end = match (self.end.take(), &other.end) {
            (Some(mut a), Some(b)) => {
                a.elapsed = a.elapsed.max(b.elapsed);
                for s in &b.scenarios {
                    if !a.scenarios.contains(s) {
                        a.scenarios.push(s.clone());
                    }
                }
                for t in &b.thresholds {
                    if !a
                        .thresholds
                        .iter()
                        .any(|x| x.metric_name == t.metric_name && x.source == t.source)
                    {
                        a.thresholds.push(t.clone());
                    }
                }
                Some(a)
            }
            (a, b) => a.or_else(|| b.clone()),
        };
        self.end = end;
        let (judged, covered) = self.judged();
        if let Some(e) = &mut self.end {
            e.thresholds = reevaluate(&self.registry, &e.thresholds, &judged, covered);
        }
        Ok(())
    }

    /// Every interval merged: the run's totals, with exact percentiles.
    pub fn totals(&self) -> Snapshot {
        let mut total = Snapshot::default();
        for i in &self.intervals {
            total.merge_series(&i.series);
        }
        total
    }

    /// The run's phases (`--warm-up`, `--cold-cache`), each second in the phase it fell in.
    pub fn phases(&self) -> Option<Phases> {
        let mut phases = Phases::new(self.split?);
        for i in &self.intervals {
            phases.observe(i.elapsed, &i.series);
        }
        Some(phases)
    }

    /// What thresholds and the summary judge, and the time it covers: every second after a
    /// `--warm-up`, else the whole run (as the run's own summary did).
    pub fn judged(&self) -> (Snapshot, Duration) {
        let elapsed = self.elapsed();
        match self.phases().as_ref().and_then(|p| p.judged(elapsed)) {
            Some((snapshot, covered)) => (snapshot.clone(), covered),
            None => (self.totals(), elapsed),
        }
    }

    /// The run's length: from the end record, else the last interval.
    pub fn elapsed(&self) -> Duration {
        match &self.end {
            Some(e) => e.elapsed,
            None => self.intervals.last().map(|i| i.elapsed).unwrap_or_default(),
        }
    }
}

/// The verdicts of `thresholds` on `judged` (covering `covered`); one that cannot be parsed again
/// keeps its verdict.
fn reevaluate(
    registry: &Registry,
    thresholds: &[ThresholdResult],
    judged: &Snapshot,
    covered: Duration,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|v| {
            let mut t = Thresholds::default();
            match t.add_cli(&format!("{}: {}", v.metric_name, v.source), registry) {
                Ok(()) => t
                    .evaluate(judged, covered)
                    .pop()
                    .map(|r| ThresholdResult {
                        metric_name: v.metric_name.clone(),
                        ..r
                    })
                    .unwrap_or_else(|| v.clone()),
                Err(_) => v.clone(),
            }
        })
        .collect()
}

/// A split as errors name it.
fn split_name(split: Option<PhaseSplit>) -> String {
    split.map_or("none".into(), |s| {
        format!("{} {}s", s.kind(), s.length().as_secs_f64())
    })
}

fn secs(v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|e| format!("bad elapsed time {v}: {e}"))
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Record {
    Header {
        format: String,
        version: u64,
        brunt: String,
        started: u64,
        /// `--warm-up` or `--cold-cache`; absent without one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phases: Option<SplitRecord>,
    },
    Interval {
        elapsed: f64,
        time: u64,
        series: Vec<SeriesRecord>,
    },
    End {
        elapsed: f64,
        thresholds: Vec<ThresholdResult>,
        /// One line per scenario; optional for files other tools write.
        #[serde(default)]
        scenarios: Vec<String>,
    },
}

/// The header's `phases`: which split and where the first phase ends.
#[derive(Serialize, Deserialize)]
struct SplitRecord {
    kind: String,
    seconds: f64,
}

impl SplitRecord {
    fn new(split: PhaseSplit) -> SplitRecord {
        SplitRecord {
            kind: split.kind().into(),
            seconds: split.length().as_secs_f64(),
        }
    }

    fn split(&self) -> Option<PhaseSplit> {
        let length = Duration::try_from_secs_f64(self.seconds).ok()?;
        PhaseSplit::from_kind(&self.kind, length)
    }
}

/// Aggregates as the results file writes them, metric names and tags spelled out and trend
/// histograms exact (HDR V2, deflated, base64): also what a coordinated run's instances send
/// their coordinator each second.
pub fn encode_series(series: &SeriesMap, registry: &Registry) -> io::Result<Vec<SeriesRecord>> {
    series
        .iter()
        .map(|((id, tags), agg)| {
            let def = registry.def(*id);
            SeriesRecord::encode(def.name, def.metric_type, def.value_type, tags, agg)
        })
        .collect()
}

/// Reads [`encode_series`]'s records back into `registry`'s ids (metrics it lacks are
/// registered); an error names the metric and what is wrong with it.
pub fn decode_series(records: Vec<SeriesRecord>, registry: &Registry) -> Result<SeriesMap, String> {
    let mut map = SeriesMap::new();
    for s in records {
        let (key, agg) = s.decode(registry)?;
        match map.get_mut(&key) {
            Some(a) => a.merge(&agg),
            None => {
                map.insert(key, agg);
            }
        }
    }
    Ok(map)
}

/// One (metric, tag set) aggregate of one second. Fields by type: counter `sum`; gauge `value`,
/// `min`, `max`; rate `passes`, `total`; trend `count`, `sum`, `min`, `max`, `hist`.
#[derive(Serialize, Deserialize)]
pub struct SeriesRecord {
    metric: String,
    #[serde(rename = "type")]
    metric_type: String,
    contains: String,
    tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    passes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    /// HDR histogram, V2 deflate serialization, base64; values in thousandths of the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    hist: Option<String>,
    /// A trend's slowest samples of sampled traces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exemplars: Vec<ExemplarRecord>,
}

/// One exemplar: the sample's value, its time (ms since the epoch) and its trace and span ids.
#[derive(Serialize, Deserialize)]
struct ExemplarRecord {
    value: f64,
    time: u64,
    trace_id: String,
    span_id: String,
}

impl ExemplarRecord {
    fn encode(e: &Exemplar) -> ExemplarRecord {
        ExemplarRecord {
            value: e.value,
            time: e.time_ns / 1_000_000,
            trace_id: e.trace.trace_hex(),
            span_id: e.trace.span_hex(),
        }
    }

    /// None for ids that are not hex (a file written by something else).
    fn decode(&self) -> Option<Exemplar> {
        let mut trace = Trace::from_hex(&self.trace_id)?;
        if let Some(span) = Trace::from_hex(&self.span_id) {
            trace.span_id.copy_from_slice(&span.trace_id[8..]);
        }
        Some(Exemplar {
            value: self.value,
            time_ns: self.time.saturating_mul(1_000_000),
            trace,
        })
    }
}

impl SeriesRecord {
    fn encode(
        name: String,
        def_type: MetricType,
        contains: ValueType,
        tags: &TagSet,
        agg: &Agg,
    ) -> io::Result<Self> {
        let mut r = SeriesRecord {
            metric: name,
            metric_type: def_type.as_str().to_string(),
            contains: contains.as_str().to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: None,
            passes: None,
            total: None,
            count: None,
            sum: None,
            min: None,
            max: None,
            hist: None,
            exemplars: Vec::new(),
        };
        match agg {
            Agg::Counter { sum } => r.sum = Some(*sum),
            Agg::Gauge { value, min, max } => {
                r.value = Some(*value);
                r.min = Some(*min).filter(|v| v.is_finite());
                r.max = Some(*max).filter(|v| v.is_finite());
            }
            Agg::Rate { passes, total } => {
                r.passes = Some(*passes);
                r.total = Some(*total);
            }
            Agg::Trend(t) => {
                r.count = Some(t.count);
                r.sum = Some(t.sum);
                r.min = Some(t.min).filter(|v| v.is_finite());
                r.max = Some(t.max).filter(|v| v.is_finite());
                let mut bytes = Vec::new();
                V2DeflateSerializer::new()
                    .serialize(&t.hist, &mut bytes)
                    .map_err(|e| io::Error::other(format!("histogram: {e:?}")))?;
                r.hist = Some(BASE64.encode(bytes));
                r.exemplars = t
                    .exemplars
                    .sorted()
                    .iter()
                    .map(ExemplarRecord::encode)
                    .collect();
            }
        }
        Ok(r)
    }

    fn decode(
        self,
        registry: &Registry,
    ) -> Result<((brunt_metrics::MetricId, TagSet), Agg), String> {
        let metric_type = match self.metric_type.as_str() {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "rate" => MetricType::Rate,
            "trend" => MetricType::Trend,
            t => return Err(format!("metric '{}' has unknown type '{t}'", self.metric)),
        };
        let value_type = match self.contains.as_str() {
            "time" => ValueType::Time,
            "data" => ValueType::Data,
            _ => ValueType::Default,
        };
        let id = registry
            .register(&self.metric, metric_type, value_type)
            .map_err(|e| e.to_string())?;
        let missing =
            |field: &str| format!("{} {} has no '{field}'", self.metric_type, self.metric);
        let agg = match metric_type {
            MetricType::Counter => Agg::Counter {
                sum: self.sum.ok_or_else(|| missing("sum"))?,
            },
            MetricType::Gauge => Agg::Gauge {
                value: self.value.ok_or_else(|| missing("value"))?,
                min: self.min.unwrap_or(f64::INFINITY),
                max: self.max.unwrap_or(f64::NEG_INFINITY),
            },
            MetricType::Rate => Agg::Rate {
                passes: self.passes.ok_or_else(|| missing("passes"))?,
                total: self.total.ok_or_else(|| missing("total"))?,
            },
            MetricType::Trend => {
                let b64 = self.hist.as_deref().ok_or_else(|| missing("hist"))?;
                let bytes = BASE64
                    .decode(b64)
                    .map_err(|e| format!("histogram of {}: {e}", self.metric))?;
                let mut hist: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| format!("histogram of {}: {e:?}", self.metric))?;
                // As the run's own histograms: merging a later, wider second must not fail.
                hist.auto(true);
                let mut trend = TrendAgg::from_histogram(
                    self.count.ok_or_else(|| missing("count"))?,
                    self.sum.ok_or_else(|| missing("sum"))?,
                    self.min.unwrap_or(f64::INFINITY),
                    self.max.unwrap_or(f64::NEG_INFINITY),
                    hist,
                );
                for e in self.exemplars.iter().filter_map(ExemplarRecord::decode) {
                    trend.exemplars.offer(e);
                }
                Agg::Trend(Box::new(trend))
            }
        };
        Ok(((id, TagSet::new(self.tags)), agg))
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes the results file as the run goes: a header at once, a line each second (flushed, so a
/// killed run leaves a readable file), the verdicts at the end.
pub(crate) struct ResultsSink {
    out: Target,
    thresholds: Thresholds,
    end: Option<Record>,
}

impl ResultsSink {
    pub(crate) fn new(
        mut out: Target,
        thresholds: Thresholds,
        phases: Option<PhaseSplit>,
    ) -> io::Result<Self> {
        let header = Record::Header {
            format: RESULTS_FORMAT.into(),
            version: RESULTS_VERSION,
            brunt: env!("CARGO_PKG_VERSION").into(),
            started: unix_ms(SystemTime::now()),
            phases: phases.map(SplitRecord::new),
        };
        write_line(&mut out, &header)?;
        Ok(ResultsSink {
            out,
            thresholds,
            end: None,
        })
    }
}

fn write_line(out: &mut Target, record: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    out.flush()
}

impl SampleSink for ResultsSink {
    fn write(&mut self, _: &[RawSample], _: &Registry) -> io::Result<()> {
        Ok(())
    }

    fn wants_raw(&self) -> bool {
        false
    }

    fn interval(&mut self, view: &IntervalView<'_>) -> io::Result<()> {
        let mut series = encode_series(view.series, view.registry)?;
        // A stable order makes files diffable.
        series.sort_by(|a, b| (&a.metric, &a.tags).cmp(&(&b.metric, &b.tags)));
        if !series.is_empty() {
            let line = Record::Interval {
                elapsed: view.elapsed.as_secs_f64(),
                time: unix_ms(view.time),
                series,
            };
            write_line(&mut self.out, &line)?;
        }
        if view.is_final {
            let thresholds = self.thresholds.evaluate(view.judged, view.judged_elapsed);
            self.end = Some(Record::End {
                elapsed: view.elapsed.as_secs_f64(),
                thresholds,
                scenarios: view.scenarios.to_vec(),
            });
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(end) = self.end.take() {
            write_line(&mut self.out, &end)?;
        }
        self.out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        r#"{"type":"header","format":"brunt-results","version":1,"brunt":"0.1.0","started":1"#;

    #[test]
    fn the_header_keeps_the_runs_phases() {
        let text = format!("{HEADER},\"phases\":{{\"kind\":\"warm_up\",\"seconds\":2.0}}}}\n");
        let r = Results::parse(&text, "f").unwrap();
        assert_eq!(r.split, Some(PhaseSplit::WarmUp(Duration::from_secs(2))));
        let r = Results::parse(&format!("{HEADER}}}\n"), "f").unwrap();
        assert_eq!(r.split, None);
    }

    #[test]
    fn unknown_phases_are_named_with_the_line() {
        let text = format!("{HEADER},\"phases\":{{\"kind\":\"lukewarm\",\"seconds\":2}}}}\n");
        let e = Results::parse(&text, "f").unwrap_err().to_string();
        assert!(
            e.contains("'f' is corrupt at line 1: unknown phases"),
            "{e}"
        );
        assert!(e.contains("lukewarm"), "{e}");
    }
}
