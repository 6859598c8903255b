//! k6's HTTP samples: which metrics one response feeds, with which tags.

use crate::error::ErrorCode;
use crate::response::{Proto, Response};
use brunt_metrics::{builtin, Aggregator, SystemTag, SystemTags, TagSet};
use http::Method;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// k6's `http.expectedStatuses(...)`: the statuses that count as success for `http_req_failed`
/// and the `expected_response` tag. The default is k6's: 200 to 399.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedStatuses {
    ranges: Vec<RangeInclusive<u16>>,
}

impl Default for ExpectedStatuses {
    fn default() -> Self {
        Self::new([200..=399])
    }
}

impl ExpectedStatuses {
    /// Single statuses are one-element ranges (`200..=200`).
    pub fn new(ranges: impl IntoIterator<Item = RangeInclusive<u16>>) -> Self {
        ExpectedStatuses {
            ranges: ranges.into_iter().collect(),
        }
    }

    pub fn contains(&self, status: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

/// Records responses as k6 does, caching the per-response tag sets so that a run sending the
/// same request over and over builds no tag set after the first few. Keep one per worker or VU.
#[derive(Default)]
pub struct Recorder {
    cache: HashMap<TagKey, (TagSet, Option<String>)>,
    /// The last tag set used, checked before hashing: a repeated request hits it every time.
    last: Option<(TagKey, TagSet)>,
    /// Which of the response's tags samples carry (k6's `systemTags`).
    system_tags: SystemTags,
}

/// Everything a response's tag set is made of, except the error message (compared on lookup).
#[derive(Clone, Hash, PartialEq, Eq)]
struct TagKey {
    base: TagSet,
    method: Method,
    url: Arc<str>,
    status: u16,
    proto: Proto,
    error_code: ErrorCode,
    tls_version: Option<&'static str>,
    expected: Option<bool>,
    /// The remote address, only while the `ip` tag is on (else every key would differ by it).
    ip: Option<std::net::IpAddr>,
}

impl TagKey {
    /// Equality with the key `resp` would make, without building it.
    fn matches(
        &self,
        resp: &Response,
        base: &TagSet,
        expected: Option<bool>,
        ip: Option<std::net::IpAddr>,
    ) -> bool {
        self.status == resp.status
            && self.ip == ip
            && self.expected == expected
            && self.proto == resp.proto
            && self.error_code == resp.error_code
            && self.tls_version == resp.tls_version
            && self.method == resp.method
            && (Arc::ptr_eq(&self.url, &resp.url) || self.url == resp.url)
            && self.base == *base
    }
}

/// Past this many tag sets (scripts with many distinct URLs) the cache starts over.
const CACHE_LIMIT: usize = 4096;

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Attaches only these system tags from now on (the cached tag sets are dropped on a change).
    pub fn set_system_tags(&mut self, tags: SystemTags) {
        if tags != self.system_tags {
            self.system_tags = tags;
            self.cache.clear();
            self.last = None;
        }
    }

    /// Emits one response's samples (one per redirect hop, as in k6): `http_reqs`, the seven
    /// `http_req_*` timings, `http_req_failed` when `expected` is given (k6 emits it only while
    /// a response callback is set), `http_req_scheduled_duration` = `scheduled_lag` + the
    /// request's whole elapsed time when a lag is given (open-model runs), and `data_sent` /
    /// `data_received` under `tags` alone. The samples carry the response's trace, when its
    /// client added one (`Aggregator::set_trace`).
    ///
    /// `tags` are the caller's (scenario, group, custom tags, and `name` if the script set one);
    /// the request's own tags are added: method, url, name (the URL unless set), status, proto,
    /// error and error_code when set, tls_version on TLS, expected_response; of those, the ones
    /// [`Recorder::set_system_tags`] allows, and `ip` (the remote address) and `ocsp_status` (on
    /// TLS; brunt asks for no stapled response, so it is empty) when it asks for them.
    pub fn record(
        &mut self,
        agg: &mut Aggregator,
        resp: &Response,
        tags: &TagSet,
        expected: Option<&ExpectedStatuses>,
        scheduled_lag: Option<Duration>,
    ) {
        let expected = expected.map(|e| e.contains(resp.status));
        let set = self.tags_for(resp, tags, expected);
        let t = &resp.timings;
        // The request's samples belong to its trace (k6's `trace_id` metadata).
        let outer = resp.trace.map(|trace| agg.set_trace(Some(trace)));
        let mut samples = [
            (builtin::HTTP_REQS, 1.0),
            (builtin::HTTP_REQ_DURATION, t.duration),
            (builtin::HTTP_REQ_BLOCKED, t.blocked),
            (builtin::HTTP_REQ_CONNECTING, t.connecting),
            (builtin::HTTP_REQ_TLS_HANDSHAKING, t.tls_handshaking),
            (builtin::HTTP_REQ_SENDING, t.sending),
            (builtin::HTTP_REQ_WAITING, t.waiting),
            (builtin::HTTP_REQ_RECEIVING, t.receiving),
            // Room for the two that not every request has.
            (builtin::HTTP_REQ_FAILED, 0.0),
            (builtin::HTTP_REQ_SCHEDULED_DURATION, 0.0),
        ];
        let mut n = 8;
        if let Some(ok) = expected {
            samples[n] = (builtin::HTTP_REQ_FAILED, if ok { 0.0 } else { 1.0 });
            n += 1;
        }
        if let Some(lag) = scheduled_lag {
            let ms = (lag + resp.elapsed).as_secs_f64() * 1000.0;
            samples[n] = (builtin::HTTP_REQ_SCHEDULED_DURATION, ms);
            n += 1;
        }
        // One lookup of each tag set for all its samples.
        agg.add_all(&set, &samples[..n]);
        agg.add_all(
            tags,
            &[
                (builtin::DATA_SENT, resp.bytes_sent as f64),
                (builtin::DATA_RECEIVED, resp.bytes_received as f64),
            ],
        );
        if let Some(outer) = outer {
            agg.set_trace(outer);
        }
    }

    /// A request cut short by the end of the test (see [`crate::RequestError::interrupted`]): counted in
    /// `http_reqs`, and as failed in `http_req_failed`, with its error so that the summary says
    /// what happened; in no duration trend, since it never finished.
    pub fn record_interrupted(
        &mut self,
        agg: &mut Aggregator,
        resp: &Response,
        tags: &TagSet,
        expected: Option<&ExpectedStatuses>,
    ) {
        let expected = expected.map(|e| e.contains(resp.status));
        let set = self.tags_for(resp, tags, expected);
        agg.add(builtin::HTTP_REQS, &set, 1.0);
        if expected.is_some() {
            agg.add(builtin::HTTP_REQ_FAILED, &set, 1.0);
        }
    }

    /// The response's tag set, the worker's copy of it (see [`brunt_metrics::intern`]).
    fn tags_for(&mut self, resp: &Response, base: &TagSet, expected: Option<bool>) -> TagSet {
        let ip = match self.system_tags.has(SystemTag::Ip) {
            true => resp.remote.map(|a| a.ip()),
            false => None,
        };
        if let Some((key, set)) = &self.last {
            if resp.error.is_none() && key.matches(resp, base, expected, ip) {
                return set.clone();
            }
        }
        let key = TagKey {
            base: base.clone(),
            method: resp.method.clone(),
            url: resp.url.clone(),
            status: resp.status,
            proto: resp.proto,
            error_code: resp.error_code,
            tls_version: resp.tls_version,
            expected,
            ip,
        };
        let set = match self.cache.get(&key) {
            Some((set, error)) if *error == resp.error => set.clone(),
            _ => {
                let set = brunt_metrics::intern(build_tags(resp, base, expected, self.system_tags));
                if self.cache.len() >= CACHE_LIMIT {
                    self.cache.clear();
                }
                self.cache
                    .insert(key.clone(), (set.clone(), resp.error.clone()));
                set
            }
        };
        if resp.error.is_none() {
            self.last = Some((key, set.clone()));
        }
        set
    }
}

fn build_tags(
    resp: &Response,
    base: &TagSet,
    expected: Option<bool>,
    system: SystemTags,
) -> TagSet {
    let mut pairs: Vec<(&str, String)> = Vec::with_capacity(11);
    let mut add = |tag: SystemTag, name: &'static str, value: String| {
        if system.has(tag) {
            pairs.push((name, value));
        }
    };
    // As k6 (since v0.41): a name set by the script is the url tag too, to keep series few.
    match base.get("name") {
        Some(name) => add(SystemTag::Url, "url", name.to_string()),
        None => {
            add(SystemTag::Name, "name", resp.url.to_string());
            add(SystemTag::Url, "url", resp.url.to_string());
        }
    }
    add(
        SystemTag::Method,
        "method",
        resp.method.as_str().to_string(),
    );
    add(SystemTag::Status, "status", resp.status.to_string());
    if resp.proto != Proto::None {
        add(SystemTag::Proto, "proto", resp.proto.as_str().to_string());
    }
    if let Some(e) = resp.error_text() {
        add(SystemTag::Error, "error", e.to_string());
    }
    if !resp.error_code.is_none() {
        add(
            SystemTag::ErrorCode,
            "error_code",
            resp.error_code.to_string(),
        );
    }
    if let Some(v) = resp.tls_version {
        add(SystemTag::TlsVersion, "tls_version", v.to_string());
        add(SystemTag::OcspStatus, "ocsp_status", String::new());
    }
    if let Some(ok) = expected {
        add(
            SystemTag::ExpectedResponse,
            "expected_response",
            ok.to_string(),
        );
    }
    if let Some(addr) = resp.remote {
        add(SystemTag::Ip, "ip", addr.ip().to_string());
    }
    base.with(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_expected_statuses_are_k6s() {
        let e = ExpectedStatuses::default();
        assert!(e.contains(200) && e.contains(302) && e.contains(399));
        assert!(!e.contains(0) && !e.contains(404) && !e.contains(199));
        let e = ExpectedStatuses::new([200..=200, 404..=404]);
        assert!(e.contains(404) && !e.contains(201));
    }
}
