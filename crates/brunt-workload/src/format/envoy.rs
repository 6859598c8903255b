//! Envoy's default access log format:
//! `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//! %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//! %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ...`.
//! The client is the first X-Forwarded-For address (Envoy's default logs no peer address).

use super::{bytes, cut, err, quoted, record, request_line, status, ParseError, Record};
use crate::time::parse_rfc3339;

pub(super) fn parse(line: &str) -> Result<Record<'_>, ParseError> {
    let Some(rest) = line.strip_prefix('[') else {
        return err("expected '[START_TIME]' first");
    };
    let Some((stamp, rest)) = rest.split_once(']') else {
        return err("the [START_TIME] field is not closed");
    };
    let Some(time_us) = parse_rfc3339(stamp) else {
        return err(format!("time '{}' is not ISO 8601", cut(stamp)));
    };
    let (request, rest) =
        quoted(rest.trim_start_matches(' ')).map_err(|e| ParseError(format!("request: {e}")))?;
    let (method, target) = request_line(request)?;
    let mut f = rest.trim_start_matches(' ').splitn(7, ' ');
    let mut next = |what: &str| {
        f.next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ParseError(format!("missing the {what} field")))
    };
    let status = status(next("RESPONSE_CODE")?)?;
    let _flags = next("RESPONSE_FLAGS")?;
    let _received = next("BYTES_RECEIVED")?;
    let bytes = bytes(next("BYTES_SENT")?)?;
    let duration = next("DURATION")?;
    let latency_us = match duration {
        "-" => None,
        d => Some(
            d.parse::<u64>()
                .ok()
                .and_then(|ms| ms.checked_mul(1000))
                .ok_or_else(|| ParseError(format!("DURATION '{}' is not milliseconds", cut(d))))?,
        ),
    };
    let _upstream = next("UPSTREAM_SERVICE_TIME")?;
    let rest = f.next().unwrap_or_default();
    let (forwarded, rest) =
        quoted(rest).map_err(|e| ParseError(format!("X-FORWARDED-FOR: {e}")))?;
    let (user_agent, _) =
        quoted(rest.trim_start_matches(' ')).map_err(|e| ParseError(format!("USER-AGENT: {e}")))?;
    let client = forwarded.split(',').next().unwrap_or_default().trim();
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
    fn envoy_default_line() {
        let line = r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28, 10.0.0.1" "nsq2http" "cc21d9b0" "locations" "tcp://10.0.2.1:80""#;
        let r = parse(line).unwrap();
        assert_eq!(
            (r.method, r.target, r.status),
            ("POST", "/api/v1/locations", 204)
        );
        assert_eq!((r.bytes, r.latency_us), (Some(0), Some(226_000)));
        assert_eq!((r.client, r.user_agent), ("10.0.35.28", "nsq2http"));
    }
}
