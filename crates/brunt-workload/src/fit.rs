//! Fitting a model to a stream of records: one pass, memory bounded by the routes (at most
//! `max_routes`, the rest folded together), the log's span in seconds, and the visitors active
//! at once, never by its length.

use crate::format::Record;
use crate::model::{self, Model, Percentiles};
use crate::route::{self, Normaliser};
use crate::sessions::{SessionKey, Tracker, END, OTHER, START};
use crate::time::{format_span, format_utc};
use hashbrown::HashMap;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Distinct values kept for each path placeholder and query parameter of a route.
pub const SAMPLES: usize = 16;
/// Query parameters tracked per route.
const MAX_PARAMS: usize = 32;
/// Warnings kept (the rest are counted).
const MAX_WARNINGS: usize = 5;
/// A step back in the log's clock this large is reported (workers' lines interleave by less).
const JUMP_BACK_US: i64 = 5 * 60 * 1_000_000;
/// A step forward this large, with nothing logged between, is reported.
const JUMP_FORWARD_US: i64 = 60 * 60 * 1_000_000;
/// The longest arrival curve kept: about two years of minutes.
const MAX_MINUTES: i64 = 1_051_200;

/// How to fit.
#[derive(Debug, Clone)]
pub struct FitOptions {
    pub patterns: Vec<route::Pattern>,
    pub session_key: SessionKey,
    /// Inactivity that ends a session.
    pub gap_us: i64,
    pub max_routes: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            patterns: Vec::new(),
            session_key: SessionKey::IpAgent,
            gap_us: 30 * 60 * 1_000_000,
            max_routes: 500,
        }
    }
}

struct RouteStats {
    method: String,
    path: String,
    requests: u64,
    status: BTreeMap<u16, u64>,
    bytes: Option<Histogram<u64>>,
    /// Microseconds.
    latency: Option<Histogram<u64>>,
    path_values: Vec<Vec<String>>,
    query: BTreeMap<String, (u64, Vec<String>)>,
}

/// Values up to `high` at 2 significant digits (1% resolution, tens of KiB per route); larger
/// ones are recorded as `high` (`saturating_record` never resizes).
fn histogram(high: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, high, 2).expect("valid bounds")
}

/// Response sizes up to 1 TiB.
const MAX_BYTES: u64 = 1 << 40;
/// Latencies up to an hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

fn sample(values: &mut Vec<String>, v: &str) {
    if values.len() < SAMPLES && !values.iter().any(|x| x == v) {
        values.push(v.to_string());
    }
}

impl RouteStats {
    fn add(&mut self, rec: &Record, route_path: &str, path: &str, query: Option<&str>) {
        self.requests += 1;
        *self.status.entry(rec.status).or_default() += 1;
        if let Some(b) = rec.bytes {
            self.bytes
                .get_or_insert_with(|| histogram(MAX_BYTES))
                .saturating_record(b);
        }
        if let Some(l) = rec.latency_us {
            self.latency
                .get_or_insert_with(|| histogram(MAX_LATENCY_US))
                .saturating_record(l);
        }
        for (i, v) in route::variables(route_path, path).enumerate() {
            if self.path_values.len() <= i {
                self.path_values.push(Vec::new());
            }
            sample(&mut self.path_values[i], v);
        }
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name.is_empty() {
                continue;
            }
            let full = self.query.len() >= MAX_PARAMS;
            match self.query.get_mut(name) {
                Some((n, values)) => {
                    *n += 1;
                    sample(values, value);
                }
                None if !full => {
                    self.query
                        .insert(name.to_string(), (1, vec![value.to_string()]));
                }
                None => {}
            }
        }
    }
}

fn percentiles(h: &Histogram<u64>, scale: f64) -> Option<Percentiles> {
    (!h.is_empty()).then(|| Percentiles {
        mean: h.mean() / scale,
        p50: h.value_at_quantile(0.50) as f64 / scale,
        p90: h.value_at_quantile(0.90) as f64 / scale,
        p95: h.value_at_quantile(0.95) as f64 / scale,
        p99: h.value_at_quantile(0.99) as f64 / scale,
        max: h.max() as f64 / scale,
    })
}

/// The fit so far; [`Fitter::push`] one record at a time, then [`Fitter::finish`].
pub struct Fitter {
    opts: FitOptions,
    normaliser: Normaliser,
    index: HashMap<String, u32>,
    routes: Vec<RouteStats>,
    other: u64,
    key: String,
    per_second: HashMap<i64, u32>,
    first_us: i64,
    last_us: i64,
    prev_us: Option<i64>,
    parsed: u64,
    timed: u64,
    warnings: Vec<String>,
    jumps: u64,
    sessions: Tracker,
}

impl Fitter {
    pub fn new(opts: FitOptions) -> Fitter {
        Fitter {
            normaliser: Normaliser::new(opts.patterns.clone()),
            sessions: Tracker::new(opts.gap_us),
            opts,
            index: HashMap::new(),
            routes: Vec::new(),
            other: 0,
            key: String::new(),
            per_second: HashMap::new(),
            first_us: i64::MAX,
            last_us: i64::MIN,
            prev_us: None,
            parsed: 0,
            timed: 0,
            warnings: Vec::new(),
            jumps: 0,
        }
    }

    fn warn(&mut self, msg: String) {
        self.jumps += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(msg);
        }
    }

    /// Adds one request, read from line `line` of the log.
    pub fn push(&mut self, rec: &Record, line: u64) {
        self.parsed += 1;
        let target = rec.target.split('#').next().unwrap_or_default();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let route_path = self.normaliser.route(path);
        self.key.clear();
        self.key.push_str(rec.method);
        self.key.push(' ');
        self.key.push_str(route_path);
        let state = match self.index.get(self.key.as_str()) {
            Some(&i) => i,
            None if self.routes.len() < self.opts.max_routes => {
                let i = self.routes.len() as u32;
                self.index.insert(self.key.clone(), i);
                self.routes.push(RouteStats {
                    method: rec.method.to_string(),
                    path: route_path.to_string(),
                    requests: 0,
                    status: BTreeMap::new(),
                    bytes: None,
                    latency: None,
                    path_values: Vec::new(),
                    query: BTreeMap::new(),
                });
                i
            }
            None => OTHER,
        };
        if state == OTHER {
            self.other += 1;
        } else {
            let route_path = &self.key[rec.method.len() + 1..];
            self.routes[state as usize].add(rec, route_path, path, query);
        }
        let Some(t) = rec.time_us else { return };
        self.timed += 1;
        if let Some(prev) = self.prev_us {
            if t < prev - JUMP_BACK_US {
                self.warn(format!(
                    "line {line}: the clock jumps back by {} ({} after {})",
                    format_span(prev - t),
                    format_utc(t),
                    format_utc(prev)
                ));
            } else if t > prev + JUMP_FORWARD_US {
                self.warn(format!(
                    "line {line}: the clock jumps forward by {} with nothing logged between ({} after {})",
                    format_span(t - prev),
                    format_utc(t),
                    format_utc(prev)
                ));
            }
        }
        self.prev_us = Some(t);
        self.first_us = self.first_us.min(t);
        self.last_us = self.last_us.max(t);
        *self.per_second.entry(t.div_euclid(1_000_000)).or_default() += 1;
        match &self.opts.session_key {
            SessionKey::IpAgent => self.sessions.push((rec.client, rec.user_agent), state, t),
            SessionKey::Ip => self.sessions.push(rec.client, state, t),
            SessionKey::Field(_) => {
                if let Some(s) = rec.session {
                    self.sessions.push(s, state, t)
                }
            }
        }
    }

    /// The model; errors when nothing was parsed or no request had a time.
    pub fn finish(
        mut self,
        source: &str,
        format: &str,
        lines: model::Lines,
    ) -> Result<Model, String> {
        if lines.total == 0 {
            return Err(format!("{source}: the log is empty"));
        }
        if self.parsed == 0 {
            let why = lines
                .samples
                .first()
                .map(|u| format!(" (line {}: {})", u.line, u.reason))
                .unwrap_or_default();
            return Err(format!(
                "{source}: none of its {} lines is a {format} access log line{why}; name the right format with --format",
                lines.total
            ));
        }
        if self.timed == 0 {
            return Err(format!(
                "{source}: no request has a timestamp, so there is no arrival curve; for JSON logs name the time field with --field time=KEY"
            ));
        }
        let first_sec = self.first_us.div_euclid(1_000_000);
        let last_sec = self.last_us.div_euclid(1_000_000);
        let (first_min, last_min) = (first_sec.div_euclid(60), last_sec.div_euclid(60));
        if last_min - first_min >= MAX_MINUTES {
            return Err(format!(
                "{source}: its timestamps span {} ({} to {}): a clock jump or a stray line? {}",
                format_span(self.last_us - self.first_us),
                format_utc(self.first_us),
                format_utc(self.last_us),
                self.warnings.join("; ")
            ));
        }
        if self.jumps > self.warnings.len() as u64 {
            self.warnings.push(format!(
                "{} more clock jumps",
                self.jumps - self.warnings.len() as u64
            ));
        }
        let no_time = self.parsed - self.timed;
        if no_time > 0 {
            self.warnings.push(format!(
                "{no_time} requests had no timestamp: counted in the routes, left out of the arrival curve and the sessions"
            ));
        }
        let arrival = self.arrival(first_sec, last_sec, first_min, last_min);
        self.sessions.finish();
        let sessions = self.sessions_model();
        let parsed = self.parsed as f64;
        let mut routes: Vec<model::Route> = self
            .routes
            .iter()
            .map(|r| model::Route {
                method: r.method.clone(),
                path: r.path.clone(),
                requests: r.requests,
                share: r.requests as f64 / parsed,
                status: r.status.clone(),
                bytes: r.bytes.as_ref().and_then(|h| percentiles(h, 1.0)),
                latency_ms: r.latency.as_ref().and_then(|h| percentiles(h, 1000.0)),
                path_values: r.path_values.clone(),
                query: r
                    .query
                    .iter()
                    .map(|(k, (_, v))| (k.clone(), v.clone()))
                    .collect(),
                query_share: r
                    .query
                    .iter()
                    .map(|(k, (n, _))| (k.clone(), *n as f64 / r.requests as f64))
                    .collect(),
            })
            .collect();
        routes.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.name().cmp(&b.name()))
        });
        Ok(Model {
            kind: "brunt-workload-model".into(),
            version: 1,
            source: source.to_string(),
            format: format.to_string(),
            lines,
            span: model::Span {
                start: format_utc(self.first_us),
                end: format_utc(self.last_us),
                seconds: (self.last_us - self.first_us) as f64 / 1e6,
            },
            requests: self.parsed,
            routes,
            other_routes: self.other,
            arrival,
            sessions,
            warnings: self.warnings,
        })
    }

    fn arrival(
        &self,
        first_sec: i64,
        last_sec: i64,
        first_min: i64,
        last_min: i64,
    ) -> model::Arrival {
        let minutes = (last_min - first_min + 1) as usize;
        let mut per_minute = vec![0u64; minutes];
        let mut peak_per_second = 0u32;
        for (&s, &n) in &self.per_second {
            per_minute[(s.div_euclid(60) - first_min) as usize] += u64::from(n);
            peak_per_second = peak_per_second.max(n);
        }
        let seconds = (last_sec - first_sec + 1) as f64;
        let mean_minute = self.timed as f64 / minutes as f64;
        let peak_minute = per_minute.iter().copied().max().unwrap_or(0);
        let dispersion = self.dispersion(first_sec, last_sec, first_min, last_min);
        let pattern = match dispersion {
            None => "unknown (under a minute of data)",
            Some(d) if d > 1.3 => "bursty",
            Some(d) if d < 0.7 => "paced",
            Some(_) => "poisson",
        };
        let mut peaks: Vec<(usize, u64)> = per_minute.iter().copied().enumerate().collect();
        peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        model::Arrival {
            first_minute: format_utc(first_min * 60_000_000),
            mean_per_second: self.timed as f64 / seconds,
            peak_per_second: f64::from(peak_per_second),
            peak_to_mean: peak_minute as f64 / mean_minute,
            dispersion,
            pattern: pattern.into(),
            peak_minutes: peaks
                .into_iter()
                .take(5)
                .map(|(i, n)| model::PeakMinute {
                    minute: format_utc((first_min + i as i64) * 60_000_000),
                    requests: n,
                })
                .collect(),
            per_minute,
        }
    }

    /// Pooled variance of per-second counts around their own minute's mean, over the mean:
    /// the index of dispersion with the curve's minute-to-minute changes taken out.
    fn dispersion(
        &self,
        first_sec: i64,
        last_sec: i64,
        first_min: i64,
        last_min: i64,
    ) -> Option<f64> {
        let (mut ss, mut dof, mut total, mut n) = (0.0, 0.0, 0.0, 0.0);
        for m in first_min..=last_min {
            let from = (m * 60).max(first_sec);
            let to = (m * 60 + 59).min(last_sec);
            let counts: Vec<f64> = (from..=to)
                .map(|s| f64::from(self.per_second.get(&s).copied().unwrap_or(0)))
                .collect();
            if counts.len() < 10 {
                continue;
            }
            let mean = counts.iter().sum::<f64>() / counts.len() as f64;
            ss += counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>();
            dof += counts.len() as f64 - 1.0;
            total += mean * counts.len() as f64;
            n += counts.len() as f64;
        }
        (dof >= 30.0 && total > 0.0).then(|| (ss / dof) / (total / n))
    }

    fn state_name(&self, s: u32) -> String {
        match s {
            START => model::START.into(),
            END => model::END.into(),
            OTHER => "(other routes)".into(),
            i => {
                let r = &self.routes[i as usize];
                format!("{} {}", r.method, r.path)
            }
        }
    }

    fn sessions_model(&self) -> model::Sessions {
        let t = &self.sessions;
        let mut rows: HashMap<u32, u64> = HashMap::new();
        for (&(from, _), &n) in &t.transitions {
            *rows.entry(from).or_default() += n;
        }
        let mut transitions: Vec<model::Transition> = t
            .transitions
            .iter()
            .map(|(&(from, to), &count)| model::Transition {
                from: self.state_name(from),
                to: self.state_name(to),
                count,
                probability: count as f64 / rows[&from] as f64,
            })
            .collect();
        transitions.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.from.cmp(&b.from))
                .then_with(|| a.to.cmp(&b.to))
        });
        let think = percentiles(&t.think, 1.0).map(|p| Percentiles {
            mean: t.think_sum_ms / t.think.len() as f64,
            ..p
        });
        let quantiles = if t.think.is_empty() {
            Vec::new()
        } else {
            (0..=20)
                .map(|i| match i {
                    0 => t.think.min() as f64,
                    20 => t.think.max() as f64,
                    i => t.think.value_at_quantile(i as f64 / 20.0) as f64,
                })
                .collect()
        };
        model::Sessions {
            key: self.opts.session_key.describe(),
            gap_seconds: self.opts.gap_us as f64 / 1e6,
            count: t.count,
            requests_per_session: percentiles(&t.lengths, 1.0).unwrap_or(Percentiles {
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p95: 0.0,
                p99: 0.0,
                max: 0.0,
            }),
            think_time_ms: think,
            think_time_quantiles_ms: quantiles,
            transitions,
        }
    }
}
