//! Samples recorded from real responses: k6's metrics and tags.

mod support;

use brunt_http::{Client, ClientConfig, ExpectedStatuses, Recorder, Request, Timings};
use brunt_metrics::{
    builtin, Agg, Aggregator, MetricId, Registry, SeriesMap, Snapshot, SystemTags, TagSet, TrendAgg,
};
use http::Method;
use std::sync::Arc;
use std::time::Duration;

fn series_tags(series: &SeriesMap, metric: MetricId) -> Vec<TagSet> {
    series
        .keys()
        .filter(|(m, _)| *m == metric)
        .map(|(_, t)| t.clone())
        .collect()
}

fn stat(series: &SeriesMap, metric: MetricId, name: &str) -> f64 {
    series
        .iter()
        .filter(|((m, _), _)| *m == metric)
        .map(|(_, a)| a.stat(name, 1.0).unwrap())
        .sum()
}

#[tokio::test]
async fn a_response_feeds_every_http_metric_with_k6_tags() {
    let addr = support::serve().await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
    let mut rec = Recorder::new();
    let base = TagSet::new([("scenario", "default")]);
    let url = format!("http://{addr}/");
    let req = Request::new(Method::GET, &url).unwrap();
    for _ in 0..3 {
        let resp = client.send(&req).await;
        rec.record(
            &mut agg,
            &resp,
            &base,
            Some(&ExpectedStatuses::default()),
            None,
        );
    }
    let s = agg.take().series;
    let tags = series_tags(&s, builtin::HTTP_REQS);
    assert_eq!(tags.len(), 1, "one series for a repeated request");
    let t = &tags[0];
    for (k, v) in [
        ("scenario", "default"),
        ("method", "GET"),
        ("status", "200"),
        ("proto", "HTTP/1.1"),
        ("expected_response", "true"),
        ("url", url.as_str()),
        ("name", url.as_str()),
    ] {
        assert_eq!(t.get(k), Some(v), "tag {k} in {t:?}");
    }
    assert_eq!(t.get("error_code"), None);
    assert_eq!(stat(&s, builtin::HTTP_REQS, "count"), 3.0);
    for m in [
        builtin::HTTP_REQ_DURATION,
        builtin::HTTP_REQ_BLOCKED,
        builtin::HTTP_REQ_CONNECTING,
        builtin::HTTP_REQ_TLS_HANDSHAKING,
        builtin::HTTP_REQ_SENDING,
        builtin::HTTP_REQ_WAITING,
        builtin::HTTP_REQ_RECEIVING,
    ] {
        assert_eq!(stat(&s, m, "count"), 3.0, "{m:?}");
    }
    assert_eq!(stat(&s, builtin::HTTP_REQ_FAILED, "rate"), 0.0);
    assert!(series_tags(&s, builtin::HTTP_REQ_SCHEDULED_DURATION).is_empty());
    // Data counters carry the caller's tags only, as k6's per-iteration data samples do.
    assert_eq!(series_tags(&s, builtin::DATA_SENT), vec![base.clone()]);
    assert!(stat(&s, builtin::DATA_RECEIVED, "count") > 100.0);
}

/// One of k6's timings of a response.
type Phase = fn(&Timings) -> f64;

/// Every HTTP metric of a run of requests on one kept-alive connection (their connecting and
/// TLS times are zeros after the first, which a worker's aggregator puts in the histogram all
/// at once) is what the responses' own timings and byte counts make, sample by sample.
#[tokio::test]
async fn every_http_metric_is_what_the_requests_were() {
    let addr = support::serve().await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
    let mut rec = Recorder::new();
    let base = TagSet::new([("scenario", "default")]);
    let req = Request::new(Method::GET, &format!("http://{addr}/")).unwrap();
    let timing: [(MetricId, Phase); 7] = [
        (builtin::HTTP_REQ_DURATION, |t| t.duration),
        (builtin::HTTP_REQ_BLOCKED, |t| t.blocked),
        (builtin::HTTP_REQ_CONNECTING, |t| t.connecting),
        (builtin::HTTP_REQ_TLS_HANDSHAKING, |t| t.tls_handshaking),
        (builtin::HTTP_REQ_SENDING, |t| t.sending),
        (builtin::HTTP_REQ_WAITING, |t| t.waiting),
        (builtin::HTTP_REQ_RECEIVING, |t| t.receiving),
    ];
    let mut want: Vec<TrendAgg> = vec![TrendAgg::default(); timing.len()];
    let mut scheduled = TrendAgg::default();
    let (mut sent, mut received) = (0.0, 0.0);
    let n = 300;
    for i in 0..n {
        let resp = client.send(&req).await;
        assert_eq!(resp.status, 200);
        // Every other request as an open-model one, a few microseconds late.
        let lag = (i % 2 == 0).then(|| Duration::from_micros(i));
        let expected = ExpectedStatuses::default();
        rec.record(&mut agg, &resp, &base, Some(&expected), lag);
        for ((_, of), w) in timing.iter().zip(&mut want) {
            w.add(of(&resp.timings));
        }
        if let Some(lag) = lag {
            scheduled.add((lag + resp.elapsed).as_secs_f64() * 1000.0);
        }
        sent += resp.bytes_sent as f64;
        received += resp.bytes_received as f64;
    }
    assert!(want[2].count_over(0.0, false) <= 1, "one connection");
    let mut snap = Snapshot::default();
    snap.merge_series(&agg.take().series);
    let count = |m| snap.metric(m).and_then(|a| a.stat("count", 1.0));
    assert_eq!(count(builtin::HTTP_REQS), Some(n as f64));
    assert_eq!(count(builtin::DATA_SENT), Some(sent));
    assert_eq!(count(builtin::DATA_RECEIVED), Some(received));
    let failed = snap.metric(builtin::HTTP_REQ_FAILED).unwrap();
    assert_eq!(
        (failed.stat("passes", 1.0), failed.stat("fails", 1.0)),
        (Some(0.0), Some(n as f64))
    );
    let trends = timing
        .iter()
        .map(|(m, _)| *m)
        .zip(want.iter())
        .chain([(builtin::HTTP_REQ_SCHEDULED_DURATION, &scheduled)]);
    for (metric, want) in trends {
        let Some(Agg::Trend(got)) = snap.metric(metric) else {
            panic!("{metric:?} is a trend with samples");
        };
        assert_eq!(got.count, want.count, "{metric:?}");
        assert_eq!(got.sum.to_bits(), want.sum.to_bits(), "{metric:?}");
        assert_eq!((got.min, got.max), (want.min, want.max), "{metric:?}");
        assert_eq!(got.hist, want.hist, "{metric:?}");
        for p in [0.0, 50.0, 90.0, 95.0, 99.0, 100.0] {
            assert_eq!(got.percentile(p), want.percentile(p), "{metric:?} p({p})");
        }
    }
}

#[tokio::test]
async fn failures_names_and_scheduled_lag() {
    let refused = support::closed_port().await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
    let mut rec = Recorder::new();
    let base = TagSet::new([("scenario", "s"), ("name", "login")]);
    let req = Request::new(Method::POST, &format!("http://{refused}/x")).unwrap();
    let resp = client.send(&req).await;
    let lag = Duration::from_millis(250);
    rec.record(
        &mut agg,
        &resp,
        &base,
        Some(&ExpectedStatuses::default()),
        Some(lag),
    );
    let s = agg.take().series;
    let t = &series_tags(&s, builtin::HTTP_REQS)[0];
    assert_eq!(t.get("status"), Some("0"));
    assert_eq!(t.get("error_code"), Some("1212"));
    assert_eq!(t.get("error"), Some("dial: connection refused"));
    assert_eq!(t.get("expected_response"), Some("false"));
    assert_eq!(t.get("proto"), None);
    // A name set by the script is the url tag too.
    assert_eq!(
        (t.get("name"), t.get("url")),
        (Some("login"), Some("login"))
    );
    assert_eq!(stat(&s, builtin::HTTP_REQ_FAILED, "rate"), 1.0);
    assert!(stat(&s, builtin::HTTP_REQ_SCHEDULED_DURATION, "min") >= 250.0);

    // Without a response callback k6 emits no http_req_failed and no expected_response tag.
    rec.record(&mut agg, &resp, &base, None, None);
    let s = agg.take().series;
    assert!(series_tags(&s, builtin::HTTP_REQ_FAILED).is_empty());
    assert_eq!(
        series_tags(&s, builtin::HTTP_REQS)[0].get("expected_response"),
        None
    );
}

/// The tag names of `metric`'s one series.
fn tag_names(series: &SeriesMap, metric: MetricId) -> Vec<String> {
    let sets = series_tags(series, metric);
    assert_eq!(sets.len(), 1, "{sets:?}");
    let mut names: Vec<String> = sets[0].iter().map(|(k, _)| k.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn system_tags_choose_the_request_tags_ocsp_status_and_ip_included() {
    let addr = support::serve_tls().await;
    let client = Client::new(ClientConfig {
        insecure_skip_verify: true,
        ..ClientConfig::default()
    })
    .unwrap();
    let req = Request::new(Method::GET, &format!("https://127.0.0.1:{}/", addr.port())).unwrap();
    let resp = client.send(&req).await;
    let base = TagSet::new([("scenario", "default")]);
    let record = |rec: &mut Recorder| {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        rec.record(
            &mut agg,
            &resp,
            &base,
            Some(&ExpectedStatuses::default()),
            None,
        );
        agg.take().series
    };
    let mut rec = Recorder::new();
    let series = record(&mut rec);
    assert_eq!(
        tag_names(&series, builtin::HTTP_REQS),
        [
            "expected_response",
            "method",
            "name",
            "proto",
            "scenario",
            "status",
            "tls_version",
            "url"
        ]
    );
    rec.set_system_tags(SystemTags::parse(["status", "ocsp_status", "ip"]).unwrap());
    let series = record(&mut rec);
    let sets = series_tags(&series, builtin::HTTP_REQ_DURATION);
    assert_eq!(sets[0].get("ip"), Some("127.0.0.1"));
    assert_eq!(sets[0].get("ocsp_status"), Some(""), "no stapled response");
    assert_eq!(
        tag_names(&series, builtin::HTTP_REQ_DURATION),
        ["ip", "ocsp_status", "scenario", "status"],
        "the caller's tags stay"
    );
}
