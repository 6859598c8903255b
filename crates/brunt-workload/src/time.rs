//! Timestamps as access logs write them, to microseconds since the Unix epoch (UTC): Apache's
//! and nginx's `10/Oct/2000:13:55:36 -0700`, RFC 3339 / ISO 8601 (`2018-07-02T22:23:00.186641Z`,
//! ALB, Envoy, nginx's `$time_iso8601`), and epoch numbers (seconds, milliseconds or
//! microseconds, told apart by size). Hand-written: the reader parses one per line.

/// Days from 1970-01-01 to the civil date `y-m-d` (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Microseconds of a valid civil time, or None when a field is out of range.
fn to_micros(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    Some(secs * 1_000_000 + i64::from(micros))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A `+hhmm` or `+hh:mm` offset in seconds east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    let (sign, rest) = match b.first()? {
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        _ => return None,
    };
    (h <= 23 && m <= 59).then(|| sign * i64::from(h * 3600 + m * 60))
}

/// Apache/nginx `%t` without its brackets: `10/Oct/2000:13:55:36 -0700`.
pub fn parse_clf(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = MONTHS.iter().position(|m| m[..] == b[3..6])? as u32 + 1;
    let y = digits(&b[7..11])?;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let (h, mi, sec) = (
        digits(&b[12..14])?,
        digits(&b[15..17])?,
        digits(&b[18..20])?,
    );
    let local = to_micros(i64::from(y), mo, d, h, mi, sec, 0)?;
    Some(local - offset(&b[21..])? * 1_000_000)
}

/// RFC 3339 / ISO 8601: `2018-07-02T22:23:00.186641Z`, a space instead of `T`, an offset
/// `+02:00`/`+0200`, or no zone (taken as UTC).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let (mo, d) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut micros = 0u32;
    if let Some(frac) = rest.strip_prefix(b".").or_else(|| rest.strip_prefix(b",")) {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let kept = &frac[..n.min(6)];
        micros = digits(kept)? * 10u32.pow(6 - kept.len() as u32);
        rest = &frac[n..];
    }
    let off = match rest {
        [] | b"Z" | b"z" => 0,
        _ => offset(rest)?,
    };
    Some(to_micros(i64::from(y), mo, d, h, mi, sec, micros)? - off * 1_000_000)
}

/// An epoch number: seconds (with a fraction), or milliseconds / microseconds when it is too
/// large to be seconds of this era.
pub fn from_epoch(v: f64) -> Option<i64> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    let micros = if v >= 1e14 {
        v
    } else if v >= 1e11 {
        v * 1e3
    } else {
        v * 1e6
    };
    (micros < 1e17).then_some(micros as i64)
}

/// Any of the text forms above (JSON logs name their own).
pub fn parse_any(s: &str) -> Option<i64> {
    parse_rfc3339(s)
        .or_else(|| parse_clf(s))
        .or_else(|| s.parse::<f64>().ok().and_then(from_epoch))
}

/// RFC 3339 in UTC with seconds, for reports: `2026-12-05T23:49:15Z`.
pub fn format_utc(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let day = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// Apache's `%t` in UTC without brackets: `10/Oct/2000:20:55:36 +0000`.
pub fn format_clf(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let day = secs.rem_euclid(86_400);
    let month = std::str::from_utf8(MONTHS[m as usize - 1]).expect("ASCII");
    format!(
        "{d:02}/{month}/{y:04}:{:02}:{:02}:{:02} +0000",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// RFC 3339 in UTC with microseconds: `2026-12-05T23:49:15.250000Z`.
pub fn format_utc_micros(micros: i64) -> String {
    let s = format_utc(micros);
    format!("{}.{:06}Z", &s[..s.len() - 1], micros.rem_euclid(1_000_000))
}

/// A length of time for messages: `3h12m`, `45s`, `850ms`.
pub fn format_span(micros: i64) -> String {
    let ms = micros.unsigned_abs() / 1000;
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_with_offset() {
        // 13:55:36 at -07:00 is 20:55:36 UTC.
        let t = parse_clf("10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(format_utc(t), "2000-10-10T20:55:36Z");
        assert_eq!(t, 971_211_336_000_000);
        assert!(parse_clf("10/Foo/2000:13:55:36 -0700").is_none());
        assert!(parse_clf("10/Oct/2000:25:55:36 -0700").is_none());
        assert_eq!(parse_clf(&format_clf(t)), Some(t));
        let t = parse_rfc3339("2018-07-02T22:23:00.186641Z").unwrap();
        assert_eq!(format_utc_micros(t), "2018-07-02T22:23:00.186641Z");
    }

    #[test]
    fn rfc3339_forms() {
        let t = parse_rfc3339("2018-07-02T22:23:00.186641Z").unwrap();
        assert_eq!(t % 1_000_000, 186_641);
        assert_eq!(format_utc(t), "2018-07-02T22:23:00Z");
        assert_eq!(parse_rfc3339("2018-07-03T00:23:00.186641+02:00"), Some(t));
        assert_eq!(parse_rfc3339("2018-07-02 22:23:00.186641"), Some(t));
        assert_eq!(parse_rfc3339("2018-07-02T22:23:00.1866Z"), Some(t - 41));
        assert!(parse_rfc3339("2018-07-02T22:23:00.Z").is_none());
        assert!(parse_rfc3339("2018-13-02T22:23:00Z").is_none());
    }

    #[test]
    fn epoch_units_by_size() {
        let s = 1_700_000_000.5;
        assert_eq!(from_epoch(s), Some(1_700_000_000_500_000));
        assert_eq!(from_epoch(1_700_000_000_500.0), Some(1_700_000_000_500_000));
        assert_eq!(
            from_epoch(1_700_000_000_500_000.0),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(from_epoch(-1.0), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 59, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
