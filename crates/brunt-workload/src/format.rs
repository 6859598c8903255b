//! Access-log formats: one parser per family, each turning a line into a [`Record`] that
//! borrows from the line (or from the parser's scratch for JSON), or saying why it cannot.

mod alb;
mod clf;
mod envoy;
mod json;

pub use json::JsonFields;

use std::fmt;

/// One logged request, as much of it as the format holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Microseconds since the Unix epoch (UTC); None when the line has no timestamp.
    pub time_us: Option<i64>,
    pub method: &'a str,
    /// Path and query as requested (origin form; ALB's absolute URLs are cut to their path).
    pub target: &'a str,
    pub status: u16,
    /// Response body bytes, when logged.
    pub bytes: Option<u64>,
    /// Time to answer, when logged (nginx's `$request_time`, Envoy's duration, ALB's sum).
    pub latency_us: Option<u64>,
    /// The client's address (no port).
    pub client: &'a str,
    pub user_agent: &'a str,
    /// The JSON field named by `--session-key field:NAME`, when present.
    pub session: Option<&'a str>,
    /// Request headers, when logged (JSON logs' `headers` field), for `brunt replay`.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The request body, when logged (JSON logs' `body` field), for `brunt replay`.
    pub body: Option<&'a str>,
}

/// Why a line was not read as a request; the reader counts these and keeps a few samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// The formats `--format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Apache/nginx combined: common plus "referer" "user-agent" (an nginx `$request_time`
    /// after them is read as the latency)
    Combined,
    /// Apache/nginx common (NCSA): host ident user [time] "request" status bytes
    Common,
    /// JSON lines; field names from --field, else the usual ones (time, method, path, status,
    /// bytes, duration_ms, ip, user_agent)
    Json,
    /// nginx's JSON log_format with its variable names (time_iso8601, request_method,
    /// request_uri, status, body_bytes_sent, request_time, remote_addr, http_user_agent)
    NginxJson,
    /// AWS Application Load Balancer access logs
    Alb,
    /// Envoy's default access log format
    Envoy,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Combined => "combined",
            LogFormat::Common => "common",
            LogFormat::Json => "json",
            LogFormat::NginxJson => "nginx-json",
            LogFormat::Alb => "alb",
            LogFormat::Envoy => "envoy",
        }
    }

    /// The format a line is written in, tried from the most specific; None when no parser
    /// reads it.
    pub fn detect(line: &str) -> Option<LogFormat> {
        let fields = JsonFields::default();
        if line.starts_with('{') {
            let json = Parser::new(LogFormat::Json, fields)
                .parse(line)
                .is_ok_and(|r| r.time_us.is_some());
            return json.then(|| {
                if json::NGINX_KEYS
                    .iter()
                    .any(|k| line.contains(&format!("\"{k}\"")))
                {
                    LogFormat::NginxJson
                } else {
                    LogFormat::Json
                }
            });
        }
        [
            LogFormat::Alb,
            LogFormat::Envoy,
            LogFormat::Combined,
            LogFormat::Common,
        ]
        .into_iter()
        .find(|&f| {
            Parser::new(f, fields.clone())
                .parse(line)
                .is_ok_and(|r| r.time_us.is_some())
        })
    }
}

/// Parses lines of one format; holds the scratch JSON lines are parsed into.
pub struct Parser {
    format: LogFormat,
    json: json::JsonParser,
}

impl Parser {
    pub fn new(format: LogFormat, fields: JsonFields) -> Parser {
        Parser {
            format,
            json: json::JsonParser::new(fields),
        }
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }

    pub fn parse<'a>(&'a mut self, line: &'a str) -> Result<Record<'a>, ParseError> {
        match self.format {
            LogFormat::Combined => clf::parse(line, true),
            LogFormat::Common => clf::parse(line, false),
            LogFormat::Json | LogFormat::NginxJson => self.json.parse(line),
            LogFormat::Alb => alb::parse(line),
            LogFormat::Envoy => envoy::parse(line),
        }
    }
}

/// A text format's record: everything but the session, which only JSON logs name.
pub(crate) fn record<'a>(
    time_us: i64,
    (method, target): (&'a str, &'a str),
    status: u16,
    bytes: Option<u64>,
    latency_us: Option<u64>,
    client: &'a str,
    user_agent: &'a str,
) -> Record<'a> {
    Record {
        time_us: Some(time_us),
        method,
        target,
        status,
        bytes,
        latency_us,
        client,
        user_agent,
        session: None,
        headers: Vec::new(),
        body: None,
    }
}

/// Splits `"METHOD TARGET PROTOCOL"` (the protocol may be missing, as in HTTP/0.9 lines).
pub(crate) fn request_line(s: &str) -> Result<(&str, &str), ParseError> {
    let mut it = s.split(' ');
    let method = it.next().unwrap_or_default();
    let target = it.next().unwrap_or_default();
    if method.is_empty() || target.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return err(format!(
            "request line '{}' is not 'METHOD PATH PROTOCOL'",
            cut(s)
        ));
    }
    Ok((method, target))
}

/// A 3-digit status code.
pub(crate) fn status(s: &str) -> Result<u16, ParseError> {
    match s.parse::<u16>() {
        Ok(v) if (100..=999).contains(&v) && s.len() == 3 => Ok(v),
        _ => err(format!("status '{}' is not a 3-digit code", cut(s))),
    }
}

/// A byte count, or None for `-`.
pub(crate) fn bytes(s: &str) -> Result<Option<u64>, ParseError> {
    if s == "-" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| ParseError(format!("size '{}' is not a number of bytes", cut(s))))
}

/// Seconds as a decimal (`0.125`) to microseconds; None for `-` or negative values.
pub(crate) fn seconds(s: &str) -> Option<u64> {
    let v: f64 = s.parse().ok()?;
    (0.0..1e7).contains(&v).then(|| (v * 1e6).round() as u64)
}

/// At most 60 characters of a field, for messages.
pub(crate) fn cut(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The next `"..."` field of `s` (which must start with a quote) and what follows it;
/// backslash-escaped quotes (nginx, Apache) stay inside.
pub(crate) fn quoted(s: &str) -> Result<(&str, &str), ParseError> {
    let Some(body) = s.strip_prefix('"') else {
        return err("expected a quoted field");
    };
    let b = body.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'"', &b[from..]) {
        let at = from + i;
        let escaped = b[..at].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
        if !escaped {
            return Ok((&body[..at], &body[at + 1..]));
        }
        from = at + 1;
    }
    err("a quoted field is not closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_a_line() {
        let lines = [
            (
                LogFormat::Combined,
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 12 "-" "curl/8""#,
            ),
            (
                LogFormat::Common,
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 12"#,
            ),
            (
                LogFormat::Json,
                r#"{"time":"2020-01-01T00:00:00Z","method":"GET","path":"/a","status":200}"#,
            ),
            (
                LogFormat::NginxJson,
                r#"{"time_iso8601":"2020-01-01T00:00:00+00:00","request_method":"GET","request_uri":"/a","status":"200"}"#,
            ),
            (
                LogFormat::Alb,
                r#"http 2018-07-02T22:23:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/a HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
            ),
            (
                LogFormat::Envoy,
                r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#,
            ),
        ];
        for (want, line) in lines {
            assert_eq!(LogFormat::detect(line), Some(want), "{line}");
        }
        assert_eq!(LogFormat::detect("hello world"), None);
    }

    #[test]
    fn quoted_fields_keep_escaped_quotes() {
        assert_eq!(
            quoted(r#""a \"b\" c" rest"#).unwrap(),
            (r#"a \"b\" c"#, " rest")
        );
        assert!(quoted(r#""open"#).is_err());
        assert!(quoted("bare").is_err());
    }
}
