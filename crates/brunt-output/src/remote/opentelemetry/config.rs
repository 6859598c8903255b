//! `--out opentelemetry`'s settings, from k6's environment variables with k6's names, defaults
//! and checks (k6's `internal/output/opentelemetry/config.go`), plus the two OpenTelemetry SDK
//! variables that choose the histogram kind and the temporality.

use std::time::Duration;

pub(crate) const GRPC: &str = "grpc";
pub(crate) const HTTP_PROTOBUF: &str = "http/protobuf";

/// How Trends are sent (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Histograms {
    /// `base2_exponential_bucket_histogram` (brunt's default): HDR precision survives.
    Exponential,
    /// `explicit_bucket_histogram`: the OpenTelemetry SDK's default buckets, as k6 sends them.
    Explicit,
}

/// Where and how the output sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtelConfig {
    pub service_name: String,
    pub service_version: String,
    pub metric_prefix: String,
    /// `grpc` (k6's default) or `http/protobuf`.
    pub protocol: String,
    /// The full URL: `http(s)://HTTP_EXPORTER_ENDPOINT/URL_PATH`, or `http(s)://GRPC_ENDPOINT`.
    pub url: String,
    pub export_interval: Duration,
    pub headers: Vec<(String, String)>,
    pub insecure_skip_verify: bool,
    pub histograms: Histograms,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta`: each export carries the
    /// interval since the previous one; cumulative (the default) carries the run so far.
    pub delta: bool,
}

/// The variables k6 reads, for the error that names an unknown one.
const KNOWN: &[&str] = &[
    "K6_OTEL_SERVICE_NAME",
    "K6_OTEL_SERVICE_VERSION",
    "K6_OTEL_METRIC_PREFIX",
    "K6_OTEL_FLUSH_INTERVAL",
    "K6_OTEL_EXPORTER_PROTOCOL",
    "K6_OTEL_EXPORTER_TYPE",
    "K6_OTEL_EXPORT_INTERVAL",
    "K6_OTEL_HEADERS",
    "K6_OTEL_TLS_INSECURE_SKIP_VERIFY",
    "K6_OTEL_TLS_CERTIFICATE",
    "K6_OTEL_TLS_CLIENT_CERTIFICATE",
    "K6_OTEL_TLS_CLIENT_KEY",
    "K6_OTEL_HTTP_EXPORTER_INSECURE",
    "K6_OTEL_HTTP_EXPORTER_ENDPOINT",
    "K6_OTEL_HTTP_EXPORTER_URL_PATH",
    "K6_OTEL_HTTP_EXPORTER_USERNAME",
    "K6_OTEL_HTTP_EXPORTER_PASSWORD",
    "K6_OTEL_GRPC_EXPORTER_ENDPOINT",
    "K6_OTEL_GRPC_EXPORTER_INSECURE",
];

impl OtelConfig {
    /// The settings `env` gives (the process environment in a run); errors name the variable.
    pub(crate) fn from_env(
        env: impl Fn(&str) -> Option<String>,
        names: impl Iterator<Item = String>,
    ) -> Result<OtelConfig, String> {
        for name in names.filter(|n| n.starts_with("K6_OTEL_")) {
            if !KNOWN.contains(&name.as_str()) {
                return Err(format!(
                    "{name} is not one of k6's OpenTelemetry output variables ({})",
                    KNOWN.join(", ")
                ));
            }
        }
        for unsupported in [
            "K6_OTEL_TLS_CERTIFICATE",
            "K6_OTEL_TLS_CLIENT_CERTIFICATE",
            "K6_OTEL_TLS_CLIENT_KEY",
        ] {
            if env(unsupported).is_some() {
                return Err(format!(
                    "{unsupported} is not supported yet: brunt checks the collector's certificate \
                     against the public roots (K6_OTEL_TLS_INSECURE_SKIP_VERIFY=true skips the check)"
                ));
            }
        }
        let get = |n: &str| env(n).filter(|v| !v.is_empty());
        let flag = |n: &str| -> Result<bool, String> {
            match get(n).as_deref() {
                None => Ok(false),
                Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
                Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
                Some(v) => Err(format!("{n}: '{v}' is not true or false")),
            }
        };
        let duration = |n: &str, default: Duration| -> Result<Duration, String> {
            match get(n) {
                None => Ok(default),
                Some(v) => brunt_engine::parse_duration(&v)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("{n}: '{v}' is not a duration such as 10s")),
            }
        };
        // An exporter's `*_INSECURE` flag: plaintext instead of TLS.
        let scheme = |insecure: &str| -> Result<&str, String> {
            Ok(if flag(insecure)? { "http" } else { "https" })
        };
        let protocol = match (
            get("K6_OTEL_EXPORTER_PROTOCOL"),
            get("K6_OTEL_EXPORTER_TYPE"),
        ) {
            (Some(p), _) => p,
            // k6 v1.1's name for it, which later k6 versions replaced.
            (None, Some(t)) => match t.as_str() {
                "http" => HTTP_PROTOBUF.to_string(),
                "grpc" => GRPC.to_string(),
                other => {
                    return Err(format!(
                        "K6_OTEL_EXPORTER_TYPE: unsupported exporter type '{other}'; use \
                         K6_OTEL_EXPORTER_PROTOCOL={HTTP_PROTOBUF} or {GRPC}"
                    ))
                }
            },
            (None, None) => GRPC.to_string(),
        };
        let url = match protocol.as_str() {
            GRPC => {
                let endpoint = get("K6_OTEL_GRPC_EXPORTER_ENDPOINT")
                    .unwrap_or_else(|| "localhost:4317".into());
                format!("{}://{endpoint}", scheme("K6_OTEL_GRPC_EXPORTER_INSECURE")?)
            }
            HTTP_PROTOBUF => {
                let endpoint = get("K6_OTEL_HTTP_EXPORTER_ENDPOINT")
                    .unwrap_or_else(|| "localhost:4318".into());
                if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
                    return Err(format!(
                        "K6_OTEL_HTTP_EXPORTER_ENDPOINT: '{endpoint}' must only be host and \
                         port, no scheme (K6_OTEL_HTTP_EXPORTER_INSECURE=true for http://)"
                    ));
                }
                let path =
                    get("K6_OTEL_HTTP_EXPORTER_URL_PATH").unwrap_or_else(|| "/v1/metrics".into());
                format!(
                    "{}://{endpoint}{path}",
                    scheme("K6_OTEL_HTTP_EXPORTER_INSECURE")?
                )
            }
            other => {
                return Err(format!(
                    "K6_OTEL_EXPORTER_PROTOCOL: unsupported exporter protocol '{other}', only \
                     '{GRPC}' and '{HTTP_PROTOBUF}' are supported"
                ))
            }
        };
        let insecure_skip_verify = flag("K6_OTEL_TLS_INSECURE_SKIP_VERIFY")?;
        if insecure_skip_verify && protocol == GRPC && url.starts_with("https://") {
            return Err(
                "K6_OTEL_TLS_INSECURE_SKIP_VERIFY is not supported with gRPC yet: brunt's gRPC \
                 exporter always checks the collector's certificate \
                 (K6_OTEL_GRPC_EXPORTER_INSECURE=true for plaintext)"
                    .into(),
            );
        }
        let parsed = url::Url::parse(&url).map_err(|e| format!("the endpoint {url}: {e}"))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!("the endpoint {url} has no host"));
        }
        let mut headers = match get("K6_OTEL_HEADERS") {
            None => Vec::new(),
            Some(raw) => parse_headers(&raw).map_err(|e| format!("K6_OTEL_HEADERS: {e}"))?,
        };
        if let Some(user) = get("K6_OTEL_HTTP_EXPORTER_USERNAME") {
            use base64::Engine;
            let password = get("K6_OTEL_HTTP_EXPORTER_PASSWORD").unwrap_or_default();
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            headers.push(("Authorization".into(), format!("Basic {token}")));
        }
        duration("K6_OTEL_FLUSH_INTERVAL", Duration::from_secs(1))?;
        let histograms = match env("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("base2_exponential_bucket_histogram") => Histograms::Exponential,
            Some("explicit_bucket_histogram") => Histograms::Explicit,
            Some(other) => {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: '{other}'; use \
                     base2_exponential_bucket_histogram or explicit_bucket_histogram"
                ))
            }
        };
        let delta = match env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("cumulative") => false,
            Some("delta") => true,
            Some(other) => {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: '{other}'; use cumulative \
                     or delta"
                ))
            }
        };
        let service_name = get("K6_OTEL_SERVICE_NAME")
            .or_else(|| get("OTEL_SERVICE_NAME"))
            .unwrap_or_else(|| "k6".into());
        Ok(OtelConfig {
            service_name,
            service_version: get("K6_OTEL_SERVICE_VERSION")
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
            metric_prefix: get("K6_OTEL_METRIC_PREFIX").unwrap_or_default(),
            protocol,
            url,
            export_interval: duration("K6_OTEL_EXPORT_INTERVAL", Duration::from_secs(10))?,
            headers,
            insecure_skip_verify,
            histograms,
            delta,
        })
    }

    /// As k6 describes the output: `grpc, localhost:4317` or `http/protobuf, https://...`.
    pub(crate) fn describe(&self) -> String {
        format!("{}, {}", self.protocol, self.url)
    }
}

/// k6's `K6_OTEL_HEADERS`: `k1=v1,k2=v2`, each part percent-decoded.
fn parse_headers(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split(',')
        .map(|part| {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid header '{part}', expected format key=value"))?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|d| d.into_owned())
                    .map_err(|e| format!("cannot decode '{s}': {e}"))
            };
            let (k, v) = (decode(k)?, decode(v)?);
            let valid = http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && http::HeaderValue::from_str(&v).is_ok();
            if !valid {
                return Err(format!("'{k}: {v}' is not a valid header"));
            }
            Ok((k, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<OtelConfig, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtelConfig::from_env(|n| map.get(n).cloned(), map.keys().cloned())
    }

    #[test]
    fn defaults_are_k6s() {
        let c = config(&[]).unwrap();
        assert_eq!(c.protocol, "grpc");
        assert_eq!(c.url, "https://localhost:4317");
        assert_eq!(c.service_name, "k6");
        assert_eq!(c.export_interval, Duration::from_secs(10));
        assert_eq!(c.histograms, Histograms::Exponential);
        assert!(!c.delta);
    }

    #[test]
    fn http_protobuf_with_headers_prefix_and_basic_auth() {
        let c = config(&[
            ("K6_OTEL_EXPORTER_PROTOCOL", "http/protobuf"),
            ("K6_OTEL_HTTP_EXPORTER_ENDPOINT", "127.0.0.1:4318"),
            ("K6_OTEL_HTTP_EXPORTER_INSECURE", "true"),
            (
                "K6_OTEL_HEADERS",
                "X-Scope-OrgID=t1,Authorization=Bearer%20abc",
            ),
            ("K6_OTEL_METRIC_PREFIX", "k6_"),
            ("K6_OTEL_EXPORT_INTERVAL", "1s"),
            ("K6_OTEL_HTTP_EXPORTER_USERNAME", "u"),
            ("OTEL_SERVICE_NAME", "checkout-load"),
        ])
        .unwrap();
        assert_eq!(c.url, "http://127.0.0.1:4318/v1/metrics");
        assert_eq!(c.headers[0], ("X-Scope-OrgID".into(), "t1".into()));
        assert_eq!(c.headers[1].1, "Bearer abc");
        assert_eq!(c.headers[2].1, "Basic dTo=");
        assert_eq!(c.metric_prefix, "k6_");
        assert_eq!(c.service_name, "checkout-load");
        assert_eq!(c.export_interval, Duration::from_secs(1));
    }

    #[test]
    fn mistakes_name_the_variable() {
        let e = |vars: &[(&str, &str)]| config(vars).unwrap_err();
        assert!(
            e(&[("K6_OTEL_EXPORTER_PROTOCOL", "http")]).starts_with("K6_OTEL_EXPORTER_PROTOCOL: ")
        );
        assert!(e(&[
            ("K6_OTEL_EXPORTER_PROTOCOL", "http/protobuf"),
            ("K6_OTEL_HTTP_EXPORTER_ENDPOINT", "http://x:4318")
        ])
        .contains("no scheme"));
        assert!(e(&[("K6_OTEL_GRPC_EXPORTER_INSECURE", "yes")])
            .starts_with("K6_OTEL_GRPC_EXPORTER_INSECURE: "));
        assert!(e(&[("K6_OTEL_EXPORT_INTERVAL", "soon")]).starts_with("K6_OTEL_EXPORT_INTERVAL: "));
        assert!(e(&[("K6_OTEL_HEADERS", "novalue")]).starts_with("K6_OTEL_HEADERS: "));
        assert!(e(&[("K6_OTEL_ENDPOINT", "x")]).starts_with("K6_OTEL_ENDPOINT is not one of"));
        assert!(e(&[("K6_OTEL_TLS_CERTIFICATE", "ca.pem")]).contains("not supported yet"));
        assert!(
            e(&[("K6_OTEL_TLS_INSECURE_SKIP_VERIFY", "true")]).contains("not supported with gRPC")
        );
        // k6 v1.1's K6_OTEL_EXPORTER_TYPE still works.
        let c = config(&[("K6_OTEL_EXPORTER_TYPE", "http")]).unwrap();
        assert_eq!(c.protocol, "http/protobuf");
    }
}
