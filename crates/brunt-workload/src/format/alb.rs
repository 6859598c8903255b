//! AWS Application Load Balancer access logs: `type time elb client:port target:port
//! request_processing_time target_processing_time response_processing_time elb_status_code
//! target_status_code received_bytes sent_bytes "request" "user_agent" ...`. The latency is
//! the three processing times added (-1 in any, as ALB writes for a failed request: none).

use super::{bytes, err, quoted, record, request_line, seconds, status, ParseError, Record};
use crate::time::parse_rfc3339;

pub(super) fn parse(line: &str) -> Result<Record<'_>, ParseError> {
    let mut f = line.splitn(13, ' ');
    let mut next = |what: &str| {
        f.next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ParseError(format!("missing the {what} field")))
    };
    let _kind = next("type")?;
    let stamp = next("time")?;
    let Some(time_us) = parse_rfc3339(stamp) else {
        return err(format!("time '{}' is not ISO 8601", super::cut(stamp)));
    };
    let _elb = next("elb")?;
    let client = next("client:port")?;
    let client = client.rsplit_once(':').map_or(client, |(ip, _)| ip);
    let _target = next("target:port")?;
    let times = [
        next("request_processing_time")?,
        next("target_processing_time")?,
        next("response_processing_time")?,
    ];
    let latency_us = times.iter().map(|t| seconds(t)).sum::<Option<u64>>();
    let status = status(next("elb_status_code")?)?;
    let _target_status = next("target_status_code")?;
    let _received = next("received_bytes")?;
    let bytes = bytes(next("sent_bytes")?)?;
    let rest = f.next().unwrap_or_default();
    let (request, rest) = quoted(rest).map_err(|e| ParseError(format!("request: {e}")))?;
    let (method, url) = request_line(request)?;
    let (user_agent, _) =
        quoted(rest.trim_start_matches(' ')).map_err(|e| ParseError(format!("user_agent: {e}")))?;
    Ok(record(
        time_us,
        (method, origin_form(url)),
        status,
        bytes,
        latency_us,
        client,
        user_agent,
    ))
}

/// `http://host:80/a?b` -> `/a?b`; a URL without a path is `/`.
fn origin_form(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("/", |p| &after[p..])
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alb_line() {
        let line = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/api/items/7?x=1 HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn "Root=1" "www.example.com" "arn" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#;
        let r = parse(line).unwrap();
        assert_eq!(r.client, "192.168.131.39");
        assert_eq!(
            (r.method, r.target, r.status),
            ("GET", "/api/items/7?x=1", 200)
        );
        assert_eq!((r.bytes, r.latency_us), (Some(57), Some(171_000)));
        assert_eq!(r.user_agent, "curl/7.46.0");
        let failed = line.replace("0.086 0.048 0.037", "-1 -1 -1");
        assert_eq!(parse(&failed).unwrap().latency_us, None);
        assert_eq!(origin_form("http://h:80"), "/");
    }
}
