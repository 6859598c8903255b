//! Apache/nginx common and combined formats:
//! `host ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "referer" "agent"`,
//! with nginx's `$request_time` (seconds) read as the latency when it follows the agent.

use super::{bytes, cut, err, quoted, record, request_line, seconds, status, ParseError, Record};
use crate::time::parse_clf;

pub(super) fn parse(line: &str, combined: bool) -> Result<Record<'_>, ParseError> {
    let Some(sp) = memchr::memchr(b' ', line.as_bytes()) else {
        return err("expected 'host ident user [time] \"request\" status bytes'");
    };
    let client = &line[..sp];
    let Some(open) = memchr::memchr(b'[', line.as_bytes()) else {
        return err("no [time] field");
    };
    let Some(close) = memchr::memchr(b']', &line.as_bytes()[open..]).map(|i| open + i) else {
        return err("the [time] field is not closed");
    };
    let stamp = &line[open + 1..close];
    let Some(time_us) = parse_clf(stamp) else {
        return err(format!(
            "time '{}' is not like 10/Oct/2000:13:55:36 -0700",
            cut(stamp)
        ));
    };
    let rest = line[close + 1..].trim_start_matches(' ');
    let (request, rest) = quoted(rest).map_err(|e| ParseError(format!("request: {e}")))?;
    let (method, target) = request_line(request)?;
    let mut fields = rest.trim_start_matches(' ').splitn(3, ' ');
    let status = status(fields.next().unwrap_or_default())?;
    let bytes = bytes(fields.next().unwrap_or_default())?;
    let (mut user_agent, mut latency_us) = ("", None);
    if combined {
        let rest = fields.next().unwrap_or_default();
        let (_, rest) = quoted(rest).map_err(|e| ParseError(format!("referer: {e}")))?;
        let (agent, rest) = quoted(rest.trim_start_matches(' '))
            .map_err(|e| ParseError(format!("user agent: {e}")))?;
        user_agent = agent;
        latency_us = rest.split_ascii_whitespace().next().and_then(seconds);
    }
    Ok(record(
        time_us,
        (method, target),
        status,
        bytes,
        latency_us,
        client,
        user_agent,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line_with_request_time() {
        let line = r#"192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /api/orders/12?x=1 HTTP/1.1" 200 2326 "http://ex/" "Mozilla/5.0 (X11)" 0.042"#;
        let r = parse(line, true).unwrap();
        assert_eq!(r.client, "192.0.2.7");
        assert_eq!(
            (r.method, r.target, r.status),
            ("GET", "/api/orders/12?x=1", 200)
        );
        assert_eq!(r.bytes, Some(2326));
        assert_eq!(r.user_agent, "Mozilla/5.0 (X11)");
        assert_eq!(r.latency_us, Some(42_000));
    }

    #[test]
    fn common_line_and_dash_size() {
        let r = parse(
            r#"h - - [10/Oct/2000:13:55:36 +0000] "HEAD / HTTP/1.0" 304 -"#,
            false,
        )
        .unwrap();
        assert_eq!((r.method, r.status, r.bytes), ("HEAD", 304, None));
    }

    #[test]
    fn says_which_field_is_wrong() {
        let e = parse(
            r#"h - - [10/Oct/2000:13:55:36 +0000] "-" 400 0 "-" "-""#,
            true,
        );
        assert!(e.unwrap_err().0.contains("request line '-'"));
        let e = parse(
            r#"h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 2x0 0"#,
            false,
        );
        assert!(e.unwrap_err().0.contains("status '2x0'"));
        let e = parse(
            r#"h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 0"#,
            true,
        );
        assert!(e.unwrap_err().0.contains("referer"));
    }
}
