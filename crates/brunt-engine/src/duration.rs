//! k6 duration strings: Go's `time.ParseDuration` syntax (`1m30s`, `500ms`, `1.5h`), k6's `d` for
//! days (`2d12h`), and bare numbers meaning milliseconds, as k6 accepts them in options.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{input}': {reason}")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

const NS_PER: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a k6 duration. Negative durations are an error: no option of the engine takes one.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty value"));
    }
    // A bare number is milliseconds, as in k6.
    if let Ok(ms) = s.parse::<f64>() {
        if !ms.is_finite() {
            return Err(err("not a finite number"));
        }
        if ms < 0.0 {
            return Err(err("must not be negative"));
        }
        return Ok(Duration::from_nanos((ms * 1e6) as u64));
    }
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if negative {
        return Err(err("must not be negative"));
    }
    let (days, rest) = match body.find('d') {
        Some(pos) => {
            let days: u128 = body[..pos]
                .parse()
                .map_err(|_| err("days ('d') must be a whole number"))?;
            (days, &body[pos + 1..])
        }
        None => (0, body),
    };
    let mut total: u128 = days * 24 * 3_600_000_000_000;
    if days == 0 || !rest.is_empty() {
        total += parse_go_units(rest).map_err(err)?;
    }
    u64::try_from(total)
        .map(Duration::from_nanos)
        .map_err(|_| err("too large"))
}

/// Go's unit syntax without sign: one or more `<decimal><unit>` groups, or a lone "0".
fn parse_go_units(mut s: &str) -> Result<u128, &'static str> {
    const HINT: &str =
        "expected a number with a unit (ns, us, ms, s, m, h), e.g. 500ms, 30s, 1m30s";
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(HINT);
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(HINT)?;
        let (num, rest) = s.split_at(num_len);
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(HINT);
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, next) = rest.split_at(unit_len);
        let per = NS_PER
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, n)| *n)
            .ok_or(HINT)?;
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| "number too large")?
        };
        let mut frac_ns: u128 = 0;
        let mut scale = per;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            frac_ns += u128::from(d - b'0') * scale;
        }
        total = int
            .checked_mul(per)
            .and_then(|v| v.checked_add(frac_ns))
            .and_then(|v| v.checked_add(total))
            .ok_or("too large")?;
        s = next;
    }
    Ok(total)
}

/// Formats like Go's `time.Duration.String()`, which k6 uses in its descriptions: `30s`, `1m30s`,
/// `1h0m0s`, `500ms`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000_000_000 {
        let (unit, per) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", decimal(ns, per));
    }
    let hours = ns / 3_600_000_000_000;
    let minutes = ns / 60_000_000_000 % 60;
    let secs = decimal(ns % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / per` with the fraction's trailing zeros dropped.
fn decimal(value: u128, per: u128) -> String {
    let int = value / per;
    let frac = value % per;
    if frac == 0 {
        return int.to_string();
    }
    let width = per.to_string().len() - 1;
    let frac = format!("{frac:0width$}");
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Serde for `Option<Duration>` fields: a k6 duration string or a number of milliseconds.
pub(crate) mod serde_opt {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Str(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let raw: Option<Raw> = Option::deserialize(d)?;
        match raw {
            None => Ok(None),
            Some(Raw::Str(s)) => parse_duration(&s)
                .map(Some)
                .map_err(serde::de::Error::custom),
            Some(Raw::Num(ms)) => parse_duration(&ms.to_string())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn parses_go_and_k6_forms() {
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration(".5m"), Ok(ms(30_000)));
        assert_eq!(parse_duration("0"), Ok(ms(0)));
        assert_eq!(parse_duration("1d"), Ok(ms(86_400_000)));
        assert_eq!(parse_duration("1d2h"), Ok(ms(93_600_000)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        // Bare numbers are milliseconds.
        assert_eq!(parse_duration("1500"), Ok(ms(1_500)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_micros(2_500)));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        for bad in ["", "abc", "10x", "1m30", "s", "-1s", "-5", "1.2.3s", "xd"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(ms(30_000)), "30s");
        assert_eq!(format_duration(ms(90_000)), "1m30s");
        assert_eq!(format_duration(ms(3_600_000)), "1h0m0s");
        assert_eq!(format_duration(ms(120_000)), "2m0s");
        assert_eq!(format_duration(ms(1_500)), "1.5s");
        assert_eq!(format_duration(ms(500)), "500ms");
        assert_eq!(format_duration(Duration::from_micros(1_500)), "1.5ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn round_trips() {
        for s in ["10m0s", "1h2m3.5s", "750ms", "45s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
