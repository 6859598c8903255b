//! The summary's error breakdown: why requests failed, read from the `error_code` and `error`
//! tags that every failed request's `http_reqs` sample carries, so the counts come from the
//! aggregates the run already keeps.

use brunt_metrics::{builtin, Agg, Snapshot};
use std::collections::HashMap;

/// How many distinct errors the summary lists; the rest are counted in one line.
const SHOWN: usize = 5;

/// One kind of failure and how many requests met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCount {
    /// k6's `error_code` (1000 + status for a status error).
    pub code: String,
    /// k6's `error` message; for a status error, `status NNN`.
    pub message: String,
    pub count: u64,
}

/// The run's failed requests grouped by code and message, most frequent first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBreakdown {
    pub errors: Vec<ErrorCount>,
}

impl ErrorBreakdown {
    /// Sums `http_reqs` by `error_code` and `error`. Responses the script declared expected
    /// (`expected_response:true`, e.g. a 404 allowed by `responseCallback`) are not failures.
    pub fn from_snapshot(snapshot: &Snapshot) -> ErrorBreakdown {
        let mut counts: HashMap<(&str, &str, &str), u64> = HashMap::new();
        for ((id, tags), agg) in &snapshot.series {
            let (builtin::HTTP_REQS, Agg::Counter { sum }) = (*id, agg) else {
                continue;
            };
            let Some(code) = tags.get("error_code").filter(|c| !c.is_empty()) else {
                continue;
            };
            if tags.get("expected_response") == Some("true") {
                continue;
            }
            let key = (
                code,
                tags.get("error").unwrap_or(""),
                tags.get("status").unwrap_or(""),
            );
            *counts.entry(key).or_default() += *sum as u64;
        }
        let mut errors: Vec<ErrorCount> = counts
            .into_iter()
            .map(|((code, error, status), count)| ErrorCount {
                code: code.to_string(),
                message: if error.is_empty() {
                    format!("status {status}")
                } else {
                    error.to_string()
                },
                count,
            })
            .collect();
        errors.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.code.cmp(&b.code))
                .then_with(|| a.message.cmp(&b.message))
        });
        ErrorBreakdown { errors }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when a server's certificate failed verification: brunt's and k6's certificate
    /// messages all start with `x509:`.
    pub fn has_certificate_errors(&self) -> bool {
        self.errors.iter().any(|e| e.message.starts_with("x509:"))
    }

    /// The summary's lines: the top errors with counts, "and N more", and a hint when a
    /// certificate could not be verified. `indent` prefixes every line.
    pub fn lines(&self, indent: &str) -> Vec<String> {
        if self.errors.is_empty() {
            return Vec::new();
        }
        let total: u64 = self.errors.iter().map(|e| e.count).sum();
        let mut out = vec![format!("{indent}request errors ({total}):")];
        let width = self.errors[0].count.to_string().len();
        for e in self.errors.iter().take(SHOWN) {
            out.push(format!(
                "{indent}  {:>width$} × {} {}",
                e.count, e.code, e.message
            ));
        }
        if self.errors.len() > SHOWN {
            let rest = &self.errors[SHOWN..];
            let n: u64 = rest.iter().map(|e| e.count).sum();
            out.push(format!(
                "{indent}  and {} more kind(s) of error ({n} request(s))",
                rest.len()
            ));
        }
        if self.has_certificate_errors() {
            out.push(format!("{indent}hint: {TLS_HINT}"));
        }
        out
    }
}

/// What to do when the target's certificate is not trusted (a self-signed test server).
pub const TLS_HINT: &str = "the server's TLS certificate could not be verified; to test it anyway, skip verification with --insecure-skip-tls-verify (the insecureSkipTLSVerify option in a script)";

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_metrics::{Aggregator, Registry, TagSet};
    use std::sync::Arc;

    fn snapshot(reqs: &[(&[(&str, &str)], u64)]) -> Snapshot {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        for (tags, n) in reqs {
            let tags = TagSet::new(tags.iter().copied());
            for _ in 0..*n {
                agg.add(builtin::HTTP_REQS, &tags, 1.0);
            }
        }
        let mut s = Snapshot::default();
        s.merge_series(&agg.take().series);
        s
    }

    #[test]
    fn failures_are_counted_by_code_and_message_most_frequent_first() {
        let refused = [
            ("status", "0"),
            ("error_code", "1212"),
            ("error", "dial: connection refused"),
        ];
        let s = snapshot(&[
            (&[("status", "200"), ("expected_response", "true")], 50),
            (&[("status", "404"), ("error_code", "1404")], 3),
            (
                &[
                    ("name", "a"),
                    ("status", "0"),
                    ("error_code", "1212"),
                    ("error", "dial: connection refused"),
                ],
                4,
            ),
            (&refused, 5),
            (
                &[
                    ("status", "404"),
                    ("error_code", "1404"),
                    ("expected_response", "true"),
                ],
                7,
            ),
        ]);
        let b = ErrorBreakdown::from_snapshot(&s);
        assert_eq!(
            b.errors,
            [
                ErrorCount {
                    code: "1212".into(),
                    message: "dial: connection refused".into(),
                    count: 9
                },
                ErrorCount {
                    code: "1404".into(),
                    message: "status 404".into(),
                    count: 3
                },
            ]
        );
        assert!(!b.has_certificate_errors());
        assert_eq!(b.lines("")[0], "request errors (12):");
    }

    #[test]
    fn only_the_top_five_are_listed_and_certificate_errors_get_a_hint() {
        let codes: Vec<String> = (0..7).map(|i| format!("10{i}0")).collect();
        let mut reqs: Vec<(Vec<(&str, &str)>, u64)> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    vec![("error_code", c.as_str()), ("error", "EOF")],
                    10 - i as u64,
                )
            })
            .collect();
        reqs.push((
            vec![("error_code", "1310"), ("error", "x509: unknown authority")],
            1,
        ));
        let reqs: Vec<(&[(&str, &str)], u64)> =
            reqs.iter().map(|(t, n)| (t.as_slice(), *n)).collect();
        let lines = ErrorBreakdown::from_snapshot(&snapshot(&reqs)).lines(" ");
        assert_eq!(lines.len(), 1 + 5 + 1 + 1, "{lines:#?}");
        assert_eq!(lines[1], "   10 × 1000 EOF");
        assert_eq!(lines[6], "   and 3 more kind(s) of error (10 request(s))");
        assert!(
            lines[7].contains("--insecure-skip-tls-verify"),
            "{}",
            lines[7]
        );
    }
}
