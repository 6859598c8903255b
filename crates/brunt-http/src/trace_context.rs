//! Trace context on outgoing requests (`--trace-context`, `options.tracing`, `--run-id-header`):
//! a fresh trace per request in the propagator's header, with the sampled flag drawn at the
//! sampling rate, as the http-instrumentation-tempo jslib makes them; and a run id header on every
//! request. [`RequestTracing::start`] is the narrow API any protocol calls once per request (the
//! HTTP client here; gRPC's metadata too): the headers to send and the [`Trace`] its samples keep.

use brunt_metrics::{hex, Trace};
use http::{HeaderName, HeaderValue};
use rand::Rng;
use std::fmt;
use std::str::FromStr;

/// How a trace travels in a request's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context: `traceparent: 00-{trace id}-{span id}-{01|00}`.
    W3c,
    /// Zipkin's single header: `b3: {trace id}-{span id}-{1|0}`.
    B3,
    /// Jaeger's `uber-trace-id: {trace id}:{span id}:0:{1|0}`.
    Jaeger,
}

impl Propagator {
    pub const NAMES: &'static str = "w3c, b3 or jaeger";

    /// The header the trace is sent in.
    pub fn header(self) -> &'static str {
        match self {
            Propagator::W3c => "traceparent",
            Propagator::B3 => "b3",
            Propagator::Jaeger => "uber-trace-id",
        }
    }

    /// The header's value for `trace`.
    pub fn value(self, trace: &Trace) -> String {
        let (id, span) = (trace.trace_hex(), trace.span_hex());
        let on = trace.sampled;
        match self {
            Propagator::W3c => format!("00-{id}-{span}-{}", if on { "01" } else { "00" }),
            Propagator::B3 => format!("{id}-{span}-{}", if on { "1" } else { "0" }),
            Propagator::Jaeger => format!("{id}:{span}:0:{}", if on { "1" } else { "0" }),
        }
    }
}

impl FromStr for Propagator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "w3c" => Ok(Propagator::W3c),
            "b3" => Ok(Propagator::B3),
            "jaeger" => Ok(Propagator::Jaeger),
            other => Err(format!(
                "unknown propagator '{other}'; use {}",
                Propagator::NAMES
            )),
        }
    }
}

impl fmt::Display for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Propagator::W3c => "w3c",
            Propagator::B3 => "b3",
            Propagator::Jaeger => "jaeger",
        })
    }
}

/// A propagator and the share of traces marked sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceContext {
    pub propagator: Propagator,
    /// 0 to 1 (the jslib's `sampling`; 1 by default).
    pub sampling: f64,
}

impl TraceContext {
    /// Fails, naming the value, on a sampling rate outside 0 to 1.
    pub fn new(propagator: Propagator, sampling: f64) -> Result<TraceContext, String> {
        if !(0.0..=1.0).contains(&sampling) {
            return Err(format!(
                "sampling {sampling} must be between 0.0 and 1.0 (a share of requests)"
            ));
        }
        Ok(TraceContext {
            propagator,
            sampling,
        })
    }

    /// A fresh trace: random non-zero ids, sampled at the rate.
    pub fn trace(&self) -> Trace {
        let mut rng = rand::rng();
        let mut trace_id: [u8; 16] = rng.random();
        let mut span_id: [u8; 8] = rng.random();
        // All-zero ids are invalid in every format.
        trace_id[15] |= 1;
        span_id[7] |= 1;
        let sampled = match self.sampling {
            s if s >= 1.0 => true,
            s if s <= 0.0 => false,
            s => rng.random::<f64>() < s,
        };
        Trace {
            trace_id,
            span_id,
            sampled,
        }
    }
}

/// What a run adds to every request: a trace context, a run id header, or both.
#[derive(Debug, Clone, Default)]
pub struct RequestTracing {
    pub context: Option<TraceContext>,
    /// `--run-id-header NAME`: the header and this run's id.
    pub run_id: Option<(HeaderName, HeaderValue)>,
}

impl RequestTracing {
    /// The run id header `name` with a fresh random id; fails, naming it, on a bad header name.
    pub fn run_id_header(name: &str) -> Result<(HeaderName, HeaderValue), String> {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("'{name}' is not a valid HTTP header name"))?;
        let id: [u8; 16] = rand::rng().random();
        let value = HeaderValue::from_str(&hex(&id)).expect("hex is a valid header value");
        Ok((name, value))
    }

    pub fn is_empty(&self) -> bool {
        self.context.is_none() && self.run_id.is_none()
    }

    /// One request's trace and the headers that carry it (and the run id). A header already
    /// in `present` (one the script set itself, as the jslib does) is not replaced, and then the
    /// request carries no new trace.
    pub fn start(
        &self,
        present: impl Fn(&str) -> bool,
    ) -> (Option<Trace>, Vec<(HeaderName, HeaderValue)>) {
        let mut headers = Vec::with_capacity(2);
        let mut trace = None;
        if let Some(c) = &self.context {
            let name = c.propagator.header();
            if !present(name) {
                let t = c.trace();
                let value = HeaderValue::from_str(&c.propagator.value(&t))
                    .expect("hex ids make a valid header value");
                headers.push((HeaderName::from_static(name), value));
                trace = Some(t);
            }
        }
        if let Some((name, value)) = &self.run_id {
            if !present(name.as_str()) {
                headers.push((name.clone(), value.clone()));
            }
        }
        (trace, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_each_format() {
        let t = Trace {
            trace_id: [0xab; 16],
            span_id: [0x01; 8],
            sampled: true,
        };
        let id = "ab".repeat(16);
        assert_eq!(
            Propagator::W3c.value(&t),
            format!("00-{id}-0101010101010101-01")
        );
        assert_eq!(Propagator::B3.value(&t), format!("{id}-0101010101010101-1"));
        let off = Trace {
            sampled: false,
            ..t
        };
        assert_eq!(
            Propagator::Jaeger.value(&off),
            format!("{id}:0101010101010101:0:0")
        );
        assert_eq!(
            "zipkin".parse::<Propagator>().unwrap_err(),
            "unknown propagator 'zipkin'; use w3c, b3 or jaeger"
        );
    }

    #[test]
    fn sampling_is_checked_and_headers_the_script_set_are_kept() {
        assert!(TraceContext::new(Propagator::W3c, 1.5).is_err());
        let tracing = RequestTracing {
            context: Some(TraceContext::new(Propagator::W3c, 0.0).unwrap()),
            run_id: Some(RequestTracing::run_id_header("x-load-test-id").unwrap()),
        };
        let (trace, headers) = tracing.start(|_| false);
        assert!(!trace.unwrap().sampled);
        assert_eq!(headers.len(), 2);
        assert!(headers[0].1.to_str().unwrap().ends_with("-00"));
        let (trace, headers) = tracing.start(|h| h == "traceparent");
        assert!(trace.is_none());
        assert_eq!(headers[0].0, "x-load-test-id");
        assert!(RequestTracing::run_id_header("bad name").is_err());
    }
}
