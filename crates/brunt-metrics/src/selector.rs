//! Metric selectors: the keys of k6's `thresholds` option, `metric` or `metric{tag:value,...}`,
//! parsed with k6's rules and resolved against a [`Registry`].
//!
//! k6's rules, which scripts rely on: the metric name is taken as written (no trimming); the
//! part in braces must end the key; it is split on `,`; each piece must hold a `:` followed by
//! something; a value may itself hold `:` (`url:http://x`); keys and values are trimmed of spaces
//! and then of `"`/`'` quotes. The sub-metric's name, as shown in the summary and exports, is the
//! metric name followed by the brace text trimmed of surrounding spaces.

use crate::registry::{MetricDef, MetricId, Registry};
use crate::tags::TagSet;

/// Why a metric key could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectorError {
    #[error("metric key '{key}' has an unmatched '{{' or '}}'")]
    UnmatchedBrace { key: String },
    #[error("metric key '{key}' has its closing '}}' before its opening '{{'")]
    BraceOrder { key: String },
    #[error("metric key '{key}' must end with its closing '}}'")]
    TrailingText { key: String },
    #[error("metric key '{key}': tag expression '{piece}' is malformed, write 'tag:value'")]
    MalformedTag { key: String, piece: String },
    #[error("metric key '{key}': tag expression '{piece}' has an empty tag name")]
    EmptyTagName { key: String, piece: String },
    #[error("metric key '{key}': no metric named '{name}' exists")]
    UnknownMetric { key: String, name: String },
}

/// A parsed metric key: a whole metric, or the sub-metric of samples carrying every given tag.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSelector {
    /// The key exactly as written (`thresholds` keys are reported with it).
    pub key: String,
    /// The metric's name.
    pub metric: String,
    /// The tags a sample must carry; `None` selects the whole metric.
    pub tags: Option<TagSet>,
    /// k6's name for what is selected: the metric name, or `metric{trimmed brace text}`.
    pub name: String,
}

impl MetricSelector {
    /// Parses a metric key with k6's rules (see the module docs).
    pub fn parse(key: &str) -> Result<MetricSelector, SelectorError> {
        let open = key.find('{');
        let close = key.rfind('}');
        let (open, close) = match (open, close) {
            (None, None) => {
                return Ok(MetricSelector {
                    key: key.to_string(),
                    metric: key.to_string(),
                    tags: None,
                    name: key.to_string(),
                })
            }
            (Some(o), Some(c)) => (o, c),
            _ => {
                return Err(SelectorError::UnmatchedBrace {
                    key: key.to_string(),
                })
            }
        };
        if close < open {
            return Err(SelectorError::BraceOrder {
                key: key.to_string(),
            });
        }
        if close != key.len() - 1 {
            return Err(SelectorError::TrailingText {
                key: key.to_string(),
            });
        }
        let inner = &key[open + 1..close];
        let mut pairs = Vec::new();
        for piece in inner.split(',') {
            let malformed = || SelectorError::MalformedTag {
                key: key.to_string(),
                piece: piece.to_string(),
            };
            let (k, v) = piece.split_once(':').ok_or_else(malformed)?;
            if v.is_empty() {
                return Err(malformed());
            }
            let k = unquote(k);
            if k.is_empty() {
                return Err(SelectorError::EmptyTagName {
                    key: key.to_string(),
                    piece: piece.to_string(),
                });
            }
            pairs.push((k, unquote(v)));
        }
        let metric = &key[..open];
        Ok(MetricSelector {
            key: key.to_string(),
            metric: metric.to_string(),
            tags: Some(TagSet::new(pairs)),
            name: format!("{metric}{{{}}}", inner.trim()),
        })
    }

    /// Looks the metric up in `registry`.
    pub fn resolve(&self, registry: &Registry) -> Result<(MetricId, MetricDef), SelectorError> {
        let id = registry
            .get(&self.metric)
            .ok_or_else(|| SelectorError::UnknownMetric {
                key: self.key.clone(),
                name: self.metric.clone(),
            })?;
        Ok((id, registry.def(id)))
    }

    /// True when two selectors pick the same samples of the same metric, however written.
    pub fn same_series(&self, other: &MetricSelector) -> bool {
        self.metric == other.metric && self.tags == other.tags
    }
}

/// k6 trims spaces, then any run of quote characters, from tag keys and values.
fn unquote(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &MetricSelector) -> Vec<(String, String)> {
        s.tags
            .as_ref()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn plain_metric_name() {
        let s = MetricSelector::parse("http_req_duration").unwrap();
        assert_eq!(s.metric, "http_req_duration");
        assert_eq!(s.tags, None);
        assert_eq!(s.name, "http_req_duration");
    }

    #[test]
    fn one_and_several_tags() {
        let s = MetricSelector::parse("http_req_duration{status:200}").unwrap();
        assert_eq!(s.metric, "http_req_duration");
        assert_eq!(tags(&s), vec![pair("status", "200")]);
        assert_eq!(s.name, "http_req_duration{status:200}");
        let s = MetricSelector::parse("http_req_duration{status:200,method:GET}").unwrap();
        assert_eq!(tags(&s), vec![pair("method", "GET"), pair("status", "200")]);
    }

    #[test]
    fn whitespace_and_quotes_are_trimmed_and_values_keep_colons() {
        let s =
            MetricSelector::parse(r#"checks{ my_tag : "value" , 'url':'http://x:80/a' }"#).unwrap();
        assert_eq!(
            tags(&s),
            vec![pair("my_tag", "value"), pair("url", "http://x:80/a")]
        );
        assert_eq!(
            s.name,
            r#"checks{my_tag : "value" , 'url':'http://x:80/a'}"#
        );
        let a = MetricSelector::parse("checks{a:1,b:2}").unwrap();
        let b = MetricSelector::parse("checks{ b:2, a:'1' }").unwrap();
        assert!(a.same_series(&b));
        // The metric name is not trimmed: k6 would not find "checks ".
        assert_eq!(
            MetricSelector::parse("checks {a:1}").unwrap().metric,
            "checks "
        );
    }

    #[test]
    fn malformed_keys_are_errors() {
        let err = |k: &str| MetricSelector::parse(k).unwrap_err();
        assert!(matches!(
            err("http_req_duration{status:200"),
            SelectorError::UnmatchedBrace { .. }
        ));
        assert!(matches!(
            err("http_req_duration}status:200{"),
            SelectorError::BraceOrder { .. }
        ));
        assert!(matches!(
            err("http_req_duration{status:200}x"),
            SelectorError::TrailingText { .. }
        ));
        for bad in ["m{}", "m{status}", "m{status:}", "m{a:1,}", "m{a:1,,b:2}"] {
            assert!(
                matches!(err(bad), SelectorError::MalformedTag { .. }),
                "{bad}"
            );
        }
        assert!(matches!(err("m{:1}"), SelectorError::EmptyTagName { .. }));
        let msg = err("http_req_duration{status}").to_string();
        assert!(msg.contains("http_req_duration{status}") && msg.contains("'status'"));
    }

    #[test]
    fn resolves_against_the_registry() {
        let reg = Registry::new();
        let s = MetricSelector::parse("http_reqs{status:200}").unwrap();
        assert_eq!(s.resolve(&reg).unwrap().0, crate::builtin::HTTP_REQS);
        let e = MetricSelector::parse("nope{a:b}")
            .unwrap()
            .resolve(&reg)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "metric key 'nope{a:b}': no metric named 'nope' exists"
        );
    }
}
