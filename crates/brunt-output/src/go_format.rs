//! How k6 (a Go program) writes numbers, durations and times in its output files, so that brunt's
//! files are byte-for-byte alike where it matters to readers.

use chrono::{DateTime, FixedOffset, Local, Offset, Utc};
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Appends a float as Go's `encoding/json` writes it: shortest form, whole numbers without a
/// fraction, exponent form outside 1e-6..1e21 (`1e-07`, `1e+21`).
pub fn write_json_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null"); // Go refuses these; null keeps the line valid JSON.
        return;
    }
    let a = v.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        let _ = write!(out, "{v}");
        return;
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
}

/// Go's `time.Duration.String()`: `10s`, `1m30s`, `1h0m0s`, `1.5s`, `250ms`.
pub fn duration(d: Duration) -> String {
    fn frac(v: u128, unit: u128, digits: usize) -> String {
        let (int, rem) = (v / unit, v % unit);
        if rem == 0 {
            return int.to_string();
        }
        let f = format!("{rem:0digits$}");
        format!("{int}.{}", f.trim_end_matches('0'))
    }
    let ns = d.as_nanos();
    match ns {
        0 => "0s".into(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}µs", frac(ns, 1_000, 3)),
        1_000_000..=999_999_999 => format!("{}ms", frac(ns, 1_000_000, 6)),
        _ => {
            let secs = d.as_secs();
            let (h, m) = (secs / 3600, secs / 60 % 60);
            let s = frac(
                u128::from(secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()),
                1_000_000_000,
                9,
            );
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, _) => format!("{m}m{s}s"),
                _ => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Go's RFC 3339 with nanoseconds (trailing zeros dropped) in the local zone, as k6 stamps JSON
/// points: `2026-05-09T14:34:45.625742514+02:00`, or `...Z` in UTC. The zone offset is taken
/// once, and the date-time text is reused for samples within the same second.
pub struct TimeFormatter {
    offset: FixedOffset,
    zone: String,
    cached: Option<(i64, String)>,
}

impl Default for TimeFormatter {
    fn default() -> Self {
        Self::with_offset(Local::now().offset().fix())
    }
}

impl TimeFormatter {
    pub fn with_offset(offset: FixedOffset) -> Self {
        let secs = offset.local_minus_utc();
        let zone = if secs == 0 {
            "Z".to_string()
        } else {
            let sign = if secs < 0 { '-' } else { '+' };
            let a = secs.abs();
            format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
        };
        TimeFormatter {
            offset,
            zone,
            cached: None,
        }
    }

    /// Appends the formatted time to `out`.
    pub fn write(&mut self, t: SystemTime, out: &mut String) {
        let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let carry = i64::from(d.subsec_nanos() > 0);
                (
                    -(d.as_secs() as i64) - carry,
                    (1_000_000_000 - d.subsec_nanos()) % 1_000_000_000,
                )
            }
        };
        let prefix = match &self.cached {
            Some((s, p)) if *s == secs => p,
            _ => {
                let text = DateTime::<Utc>::from_timestamp(secs, 0)
                    .unwrap_or_default()
                    .with_timezone(&self.offset)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string();
                &self.cached.insert((secs, text)).1
            }
        };
        out.push_str(prefix);
        if nanos != 0 {
            let _ = write!(out, ".{nanos:09}");
            while out.ends_with('0') {
                out.pop();
            }
        }
        out.push_str(&self.zone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go_json() {
        let f = |v: f64| {
            let mut s = String::new();
            write_json_float(&mut s, v);
            s
        };
        assert_eq!(f(1.0), "1");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(12.345), "12.345");
        assert_eq!(f(1e-7), "1e-07");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(f64::NAN), "null");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(duration(Duration::from_secs(10)), "10s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_millis(250)), "250ms");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(duration(Duration::ZERO), "0s");
    }

    #[test]
    fn times_like_go_rfc3339_nano() {
        let t = UNIX_EPOCH + Duration::new(1_494_333_285, 625_742_510);
        let mut s = String::new();
        TimeFormatter::with_offset(FixedOffset::east_opt(7200).unwrap()).write(t, &mut s);
        assert_eq!(s, "2017-05-09T14:34:45.62574251+02:00");
        let mut utc = TimeFormatter::with_offset(FixedOffset::east_opt(0).unwrap());
        let mut s = String::new();
        utc.write(UNIX_EPOCH + Duration::from_secs(1_494_333_285), &mut s);
        assert_eq!(s, "2017-05-09T12:34:45Z");
        let mut s = String::new();
        let west = FixedOffset::west_opt(5 * 3600 + 1800).unwrap();
        TimeFormatter::with_offset(west).write(UNIX_EPOCH, &mut s);
        assert_eq!(s, "1969-12-31T18:30:00-05:30");
    }
}
