//! Value formatting exactly as k6's end-of-test summary prints it (JavaScript number semantics:
//! `toString`, `toFixed`, truncation before rounding), so brunt's numbers read like k6's.

/// The fixed unit `--summary-time-unit` (k6's `summaryTimeUnit`) forces on time values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    S,
    Ms,
    Us,
}

impl TimeUnit {
    /// `s`, `ms` or `us`; anything else (k6 also treats "" so) means k6's adaptive units.
    pub fn parse(s: &str) -> Option<TimeUnit> {
        match s {
            "s" => Some(TimeUnit::S),
            "ms" => Some(TimeUnit::Ms),
            "us" => Some(TimeUnit::Us),
            _ => None,
        }
    }
}

/// JavaScript's `Number.prototype.toString` for the values a summary holds.
pub fn js_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into(); // also -0
    }
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = v.abs();
    if (1e-6..1e21).contains(&a) {
        // Rust's Display is the shortest round-trip form without exponent, as JS's here.
        format!("{v}")
    } else {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    }
}

/// JavaScript's `toFixed`.
pub fn to_fixed(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    // JS never prints "-0.00".
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// `parseFloat(v.toFixed(p)).toString()`: rounded, without trailing zeros.
fn fixed_trimmed(v: f64, digits: usize) -> String {
    js_number(to_fixed(v, digits).parse().unwrap_or(v))
}

/// As [`fixed_trimmed`] after truncating (not rounding) to `digits` decimals.
fn fixed_truncated(v: f64, digits: i32) -> String {
    let m = 10f64.powi(digits);
    fixed_trimmed((v * m).trunc() / m, digits as usize)
}

/// A duration given in milliseconds, in k6's adaptive units (`1.2ms`, `350µs`, `1m3s`, `2h1m0s`).
pub fn duration(ms: f64, unit: Option<TimeUnit>) -> String {
    match unit {
        Some(TimeUnit::S) => return format!("{}s", to_fixed(ms * 0.001, 2)),
        Some(TimeUnit::Ms) => return format!("{}ms", to_fixed(ms, 2)),
        Some(TimeUnit::Us) => return format!("{}µs", to_fixed(ms * 1000.0, 2)),
        None => {}
    }
    if ms == 0.0 {
        return "0s".into();
    }
    if ms < 0.001 {
        return format!("{}ns", js_number((ms * 1e6).trunc()));
    }
    if ms < 1.0 {
        return format!("{}µs", fixed_truncated(ms * 1000.0, 2));
    }
    if ms < 1000.0 {
        return format!("{}ms", fixed_truncated(ms, 2));
    }
    let secs = fixed_truncated((ms % 60000.0) / 1000.0, if ms > 60000.0 { 0 } else { 2 });
    let minutes = (ms / 60000.0).trunc();
    if minutes < 1.0 {
        return format!("{secs}s");
    }
    let hours = (minutes / 60.0).trunc();
    let hm = format!("{}m{secs}s", js_number(minutes % 60.0));
    if hours < 1.0 {
        hm
    } else {
        format!("{}h{hm}", js_number(hours))
    }
}

/// A byte count in decimal units (`950 B`, `1.2 kB`, `35 MB`).
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    if b < 10.0 || b.is_nan() {
        return format!("{} B", js_number(b));
    }
    let e = (b.ln() / 1000f64.ln()).floor();
    let unit = UNITS[(e as usize).min(UNITS.len() - 1)];
    let val = ((b / 1000f64.powf(e)) * 10.0 + 0.5).floor() / 10.0;
    format!("{} {unit}", to_fixed(val, if val < 10.0 { 1 } else { 0 }))
}

/// A Rate metric's fraction as a percentage, truncated to two decimals (`99.99%`).
pub fn percent(rate: f64) -> String {
    format!("{}%", to_fixed((rate * 100.0 * 100.0).trunc() / 100.0, 2))
}

/// A plain number: at most six decimals, no trailing zeros.
pub fn plain(v: f64) -> String {
    fixed_trimmed(v, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_k6() {
        assert_eq!(duration(0.0, None), "0s");
        assert_eq!(duration(0.0005, None), "500ns");
        assert_eq!(duration(0.35, None), "350µs");
        assert_eq!(duration(0.123456, None), "123.45µs");
        assert_eq!(duration(1.0, None), "1ms");
        assert_eq!(duration(12.3456, None), "12.34ms");
        assert_eq!(duration(999.999, None), "999.99ms");
        assert_eq!(duration(1500.0, None), "1.5s");
        assert_eq!(duration(59999.0, None), "59.99s");
        assert_eq!(duration(63500.0, None), "1m3s"); // truncated, not rounded
        assert_eq!(duration(3_600_000.0 + 61_000.0, None), "1h1m1s");
        assert_eq!(duration(1234.5678, Some(TimeUnit::Ms)), "1234.57ms");
        assert_eq!(duration(1234.5678, Some(TimeUnit::S)), "1.23s");
        assert_eq!(duration(1.5, Some(TimeUnit::Us)), "1500.00µs");
    }

    #[test]
    fn bytes_percent_and_numbers_read_like_k6() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(9.5), "9.5 B");
        assert_eq!(bytes(950.0), "950 B");
        assert_eq!(bytes(1234.0), "1.2 kB");
        assert_eq!(bytes(12345.0), "12 kB");
        assert_eq!(bytes(11_234_567.0), "11 MB");
        assert_eq!(bytes(1_100_000.0), "1.1 MB");
        assert_eq!(percent(1.0), "100.00%");
        assert_eq!(percent(0.99999), "99.99%");
        assert_eq!(percent(0.0), "0.00%");
        assert_eq!(plain(1000.0), "1000");
        assert_eq!(plain(99.912345678), "99.912346");
        assert_eq!(plain(0.5), "0.5");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1e-7), "1e-7");
        assert_eq!(js_number(-0.0), "0");
    }
}
