//! The first pass over the log, before any request is sent: its format, its span and request
//! count (the run's length), and every reason it cannot be replayed (empty, no timestamps, the
//! clock stepping back, an unknown format), said up front. Lines that cannot be replayed are
//! counted and sampled as `brunt model` counts lines that do not parse.

use anyhow::{anyhow, bail, Result};
use brunt_workload::format::{JsonFields, LogFormat, Record};
use brunt_workload::model::Lines;
use brunt_workload::reader::{self, Sink};
use brunt_workload::time::{format_span, format_utc};
use std::path::Path;

/// How far a line's time may fall behind an earlier line's (log writers interleave by about
/// that much); such a line is sent right after the earlier one. A larger step back is an error.
pub const OUT_OF_ORDER_US: i64 = 1_000_000;
/// A step forward this long, with nothing logged between, is worth a warning: the replay
/// waits through it too.
const LONG_GAP_US: i64 = 60 * 60 * 1_000_000;

/// What the first pass found.
#[derive(Debug)]
pub struct Facts {
    pub format: LogFormat,
    pub lines: Lines,
    /// Requests that will be sent (once each, at `--rate-scale 1`).
    pub requests: u64,
    /// The first and the last request's time, microseconds since the epoch.
    pub first_us: i64,
    pub last_us: i64,
    pub warnings: Vec<String>,
}

/// A logged request's method and time, or why it cannot be replayed (counted as unparsed).
pub fn replayable(rec: &Record) -> Result<(http::Method, i64), String> {
    let Some(t) = rec.time_us else {
        return Err("no timestamp: a request without one has no place in the replay".into());
    };
    if !rec.target.starts_with('/') {
        return Err(format!(
            "target '{}' is not a path (origin form, /...)",
            rec.target.chars().take(60).collect::<String>()
        ));
    }
    let method = http::Method::from_bytes(rec.method.as_bytes())
        .map_err(|_| format!("'{}' is not an HTTP method", rec.method))?;
    Ok((method, t))
}

/// The log's clock as the replay follows it: a time not before the latest one seen, within
/// [`OUT_OF_ORDER_US`].
#[derive(Debug, Default)]
pub struct Clock {
    latest: Option<i64>,
}

impl Clock {
    /// When to send a request logged at `t` (line `line`), or why the log cannot be replayed.
    pub fn place(&mut self, t: i64, line: u64) -> Result<i64> {
        let at = match self.latest {
            Some(latest) if t < latest - OUT_OF_ORDER_US => bail!(
                "line {line}: the clock jumps back by {} ({} after {}); brunt replay sends requests in the log's order and lets a line be at most {} behind an earlier one: sort the log by time first",
                format_span(latest - t),
                format_utc(t),
                format_utc(latest),
                format_span(OUT_OF_ORDER_US)
            ),
            Some(latest) => t.max(latest),
            None => t,
        };
        self.latest = Some(at);
        Ok(at)
    }
}

struct Counter {
    source: String,
    clock: Clock,
    requests: u64,
    untimed: u64,
    first_us: i64,
    last_us: i64,
    warnings: Vec<String>,
}

impl Sink for Counter {
    fn push(&mut self, rec: &Record, line: u64) -> Result<Result<(), String>> {
        let (_, t) = match replayable(rec) {
            Ok(ok) => ok,
            Err(why) => {
                self.untimed += u64::from(rec.time_us.is_none());
                return Ok(Err(why));
            }
        };
        let at = self
            .clock
            .place(t, line)
            .map_err(|e| anyhow!("{}: {e}", self.source))?;
        if self.requests > 0 && at - self.last_us > LONG_GAP_US && self.warnings.len() < 5 {
            self.warnings.push(format!(
                "line {line}: nothing is logged for {} before it; the replay waits that long too (divided by --speed)",
                format_span(at - self.last_us)
            ));
        }
        if self.requests == 0 {
            self.first_us = at;
        }
        self.last_us = at;
        self.requests += 1;
        Ok(Ok(()))
    }
}

/// Reads the whole log once (streamed); fails with the file and the reason when it cannot be
/// replayed, or at its first bad line with `strict`.
pub fn scan(
    log: &Path,
    format: Option<LogFormat>,
    fields: JsonFields,
    strict: bool,
) -> Result<Facts> {
    let source = log.display().to_string();
    let mut counter = Counter {
        source: source.clone(),
        clock: Clock::default(),
        requests: 0,
        untimed: 0,
        first_us: 0,
        last_us: 0,
        warnings: Vec::new(),
    };
    let read = reader::read(
        &source,
        reader::open(log)?,
        format,
        fields,
        strict,
        &mut counter,
    )?;
    let lines = read.lines;
    if lines.total == 0 {
        bail!("{source}: the log is empty");
    }
    if counter.requests == 0 {
        if counter.untimed == lines.total {
            bail!(
                "{source}: no request has a timestamp, so there is nothing to time the replay by; for JSON logs name the time field with --field time=KEY"
            );
        }
        let why = lines
            .samples
            .first()
            .map(|u| format!(" (line {}: {})", u.line, u.reason))
            .unwrap_or_default();
        bail!(
            "{source}: none of its {} lines is a request brunt replay can send as {}{why}; name the right format with --format",
            lines.total,
            read.format.name()
        );
    }
    Ok(Facts {
        format: read.format,
        lines,
        requests: counter.requests,
        first_us: counter.first_us,
        last_us: counter.last_us,
        warnings: counter.warnings,
    })
}
