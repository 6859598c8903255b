//! Trace ids kept with samples: the trace a request belonged to (set while its samples are
//! recorded, as k6's sample metadata `trace_id`), and on trends the slowest traced samples of each
//! series as exemplars, so that the summary, the results file, the report and OTLP can point at
//! the traces behind the worst latencies.

/// A request's trace context, as propagated in its `traceparent` (or b3, uber-trace-id) header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trace {
    pub trace_id: [u8; 16],
    /// The parent span id the header carried (brunt's client span, which it does not export).
    pub span_id: [u8; 8],
    /// Whether the header asked the backend to keep the trace.
    pub sampled: bool,
}

impl Trace {
    /// The trace id in lower-case hex, as tracing backends show it.
    pub fn trace_hex(&self) -> String {
        hex(&self.trace_id)
    }

    pub fn span_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// A trace id written in hex (32 digits; shorter ids, such as 64-bit Jaeger ones, are
    /// left-padded with zeros), e.g. the `trace_id` a script puts in `exec.vu.metrics.metadata`.
    /// Its span is unknown (zero) and it counts as sampled.
    pub fn from_hex(trace_id: &str) -> Option<Trace> {
        let s = trace_id.trim();
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let padded = format!("{s:0>32}");
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&padded[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Trace {
            trace_id: id,
            span_id: [0; 8],
            sampled: true,
        })
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// One traced sample of a trend: its value, when it was taken (ns since the Unix epoch) and its
/// trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exemplar {
    pub value: f64,
    pub time_ns: u64,
    pub trace: Trace,
}

/// Exemplars a trend series keeps: its slowest sampled traces. Enough for the summary's list of
/// the slowest requests (it takes the slowest of every series' few) and a handful per OTLP point.
pub const EXEMPLARS: usize = 5;

/// The slowest [`EXEMPLARS`] exemplars, in no order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exemplars(Vec<Exemplar>);

impl Exemplars {
    /// Whether a sample of `value` would be kept; asked before reading the clock for it.
    #[inline]
    pub fn wants(&self, value: f64) -> bool {
        self.0.len() < EXEMPLARS || self.0.iter().any(|e| e.value < value)
    }

    /// Keeps `e` if it is among the slowest.
    pub fn offer(&mut self, e: Exemplar) {
        if self.0.len() < EXEMPLARS {
            self.0.push(e);
        } else if let Some(min) = self
            .0
            .iter_mut()
            .min_by(|a, b| a.value.total_cmp(&b.value))
            .filter(|m| m.value < e.value)
        {
            *min = e;
        }
    }

    pub fn merge(&mut self, other: &Exemplars) {
        for e in &other.0 {
            self.offer(*e);
        }
    }

    /// Slowest first.
    pub fn sorted(&self) -> Vec<Exemplar> {
        let mut v = self.0.clone();
        v.sort_by(|a, b| b.value.total_cmp(&a.value));
        v
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(value: f64, id: u8) -> Exemplar {
        Exemplar {
            value,
            time_ns: 0,
            trace: Trace {
                trace_id: [id; 16],
                span_id: [id; 8],
                sampled: true,
            },
        }
    }

    #[test]
    fn the_slowest_are_kept_across_merges() {
        let mut a = Exemplars::default();
        for v in 0..20 {
            a.offer(ex(v as f64, v));
        }
        let mut b = Exemplars::default();
        b.offer(ex(100.0, 100));
        b.offer(ex(1.0, 1));
        a.merge(&b);
        let kept: Vec<f64> = a.sorted().iter().map(|e| e.value).collect();
        assert_eq!(kept, [100.0, 19.0, 18.0, 17.0, 16.0]);
        assert!(!a.wants(16.0) && a.wants(16.5));
    }

    #[test]
    fn trace_ids_read_and_write_as_hex() {
        let t = Trace::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let short = Trace::from_hex("a3ce929d0e0e4736").unwrap();
        assert_eq!(short.trace_hex(), "0000000000000000a3ce929d0e0e4736");
        assert!(Trace::from_hex("xyz").is_none());
        assert!(Trace::from_hex("").is_none());
    }
}
