//! Access logs generated from a known model, for the tests that check the fit comes back to
//! it, the benchmark's large log, and the docs' worked example (`examples/synth_log.rs`).
//! Sessions start by a Poisson or gamma process following a per-minute rate curve, walk a
//! Markov chain of routes with exponential think times, and are merged into one time-ordered
//! stream (a heap of the sessions in progress), written as it goes.

use crate::time::{format_clf, format_utc_micros};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

/// How session starts are spaced.
#[derive(Debug, Clone, Copy)]
pub enum Starts {
    Poisson,
    /// Gamma-distributed gaps of this shape: index of dispersion about `1 / shape`.
    Gamma(f64),
}

/// The line format written.
#[derive(Debug, Clone, Copy)]
pub enum Written {
    Combined,
    /// JSON lines with RFC 3339 times to the microsecond.
    Json,
}

/// The known model.
#[derive(Debug, Clone)]
pub struct Synth {
    /// `(method, path template)`; `{id}` and `{uuid}` segments get random values.
    pub routes: Vec<(String, String)>,
    /// Probability of each route as a session's first.
    pub start: Vec<f64>,
    /// For each route, the probability of each next route; what a row leaves is `END`.
    pub next: Vec<Vec<f64>>,
    /// Session starts per second, one value per minute.
    pub curve: Vec<f64>,
    pub starts: Starts,
    /// Mean think time, seconds (exponential).
    pub think_mean: f64,
    /// Mean latency of every route, milliseconds (exponential).
    pub latency_mean_ms: f64,
    /// The first request's time, microseconds since the epoch.
    pub epoch_us: i64,
    pub seed: u64,
}

fn pick(rng: &mut SmallRng, weights: &[f64]) -> Option<usize> {
    let mut x: f64 = rng.random();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return Some(i);
        }
        x -= w;
    }
    None
}

impl Synth {
    /// A log of `routes` with the given shares, one request per session (so arrivals are the
    /// session starts), at `rate` a second for `minutes`.
    pub fn flat(routes: &[(&str, &str, f64)], rate: f64, minutes: usize, starts: Starts) -> Synth {
        Synth {
            routes: routes
                .iter()
                .map(|(m, p, _)| (m.to_string(), p.to_string()))
                .collect(),
            start: routes.iter().map(|r| r.2).collect(),
            next: vec![vec![0.0; routes.len()]; routes.len()],
            curve: vec![rate; minutes],
            starts,
            think_mean: 1.0,
            latency_mean_ms: 20.0,
            epoch_us: 1_767_225_600_000_000, // 2026-01-01T00:00:00Z
            seed: 1,
        }
    }

    /// A shop under `prefix`: home page, product list, product pages, cart and checkout, with
    /// sessions starting at `rate` a second for `minutes` and 2 s think times on average.
    pub fn shop(prefix: &str, rate: f64, minutes: usize) -> Synth {
        let routes = [
            ("GET", "/"),
            ("GET", "/api/products"),
            ("GET", "/api/products/{id}"),
            ("POST", "/api/cart"),
            ("POST", "/api/checkout"),
        ];
        Synth {
            routes: routes
                .iter()
                .map(|(m, p)| (m.to_string(), format!("{prefix}{p}")))
                .collect(),
            start: vec![0.6, 0.3, 0.1, 0.0, 0.0],
            next: vec![
                vec![0.0, 0.7, 0.1, 0.0, 0.0],
                vec![0.0, 0.1, 0.6, 0.0, 0.0],
                vec![0.0, 0.3, 0.2, 0.2, 0.0],
                vec![0.0, 0.2, 0.2, 0.0, 0.4],
                vec![0.2, 0.0, 0.0, 0.0, 0.0],
            ],
            think_mean: 2.0,
            latency_mean_ms: 25.0,
            seed: 7,
            ..Synth::flat(&[], rate, minutes, Starts::Poisson)
        }
    }

    fn path(&self, rng: &mut SmallRng, route: usize) -> String {
        let template = &self.routes[route].1;
        let mut out = String::with_capacity(template.len() + 16);
        for (i, seg) in template.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            match seg {
                "{id}" => out.push_str(&rng.random_range(1..100_000u32).to_string()),
                "{uuid}" => {
                    let v: u128 = rng.random();
                    let h = format!("{v:032x}");
                    out.push_str(&format!(
                        "{}-{}-{}-{}-{}",
                        &h[..8],
                        &h[8..12],
                        &h[12..16],
                        &h[16..20],
                        &h[20..]
                    ));
                }
                s => out.push_str(s),
            }
        }
        out
    }

    /// Writes the log; returns the number of requests.
    pub fn write(&self, out: &mut impl Write, written: Written) -> io::Result<u64> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        let think = Exp::new(1.0 / self.think_mean).expect("a positive think time");
        let latency = Exp::new(1.0 / self.latency_mean_ms).expect("a positive latency");
        let end = self.curve.len() as f64 * 60.0;
        // Requests in progress: (offset in microseconds, session, route), earliest first.
        let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
        let mut next_start = self.gap(&mut rng, 0.0);
        let mut sessions = 0u64;
        let mut n = 0u64;
        let mut line = String::with_capacity(256);
        loop {
            let due = heap.peek().map(|Reverse((t, _, _))| *t as f64 / 1e6);
            if next_start < end && due.is_none_or(|d| next_start <= d) {
                let t = next_start;
                next_start += self.gap(&mut rng, t);
                sessions += 1;
                if let Some(route) = pick(&mut rng, &self.start) {
                    heap.push(Reverse(((t * 1e6) as u64, sessions, route)));
                }
                continue;
            }
            let Some(Reverse((t, session, route))) = heap.pop() else {
                break;
            };
            line.clear();
            let at = self.epoch_us + t as i64;
            let latency_ms = latency.sample(&mut rng);
            self.line(&mut line, &mut rng, written, at, session, route, latency_ms);
            out.write_all(line.as_bytes())?;
            n += 1;
            if let Some(next) = pick(&mut rng, &self.next[route]) {
                let later = t + (think.sample(&mut rng) * 1e6) as u64;
                heap.push(Reverse((later, session, next)));
            }
        }
        Ok(n)
    }

    /// The gap to the next session start after offset `t` seconds.
    fn gap(&self, rng: &mut SmallRng, t: f64) -> f64 {
        let rate = self.curve[((t / 60.0) as usize).min(self.curve.len() - 1)].max(1e-9);
        match self.starts {
            Starts::Poisson => Exp::new(rate).expect("a positive rate").sample(rng),
            Starts::Gamma(k) => Gamma::new(k, 1.0 / (k * rate))
                .expect("a positive shape")
                .sample(rng),
        }
    }

    /// One log line of `session` requesting `route` at `at_us`.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &self,
        line: &mut String,
        rng: &mut SmallRng,
        written: Written,
        at_us: i64,
        session: u64,
        route: usize,
        latency_ms: f64,
    ) {
        use std::fmt::Write as _;
        let ip = format!(
            "10.{}.{}.{}",
            (session >> 16) & 255,
            (session >> 8) & 255,
            session & 255
        );
        let agent = format!("synth/{}", session >> 24);
        let method = &self.routes[route].0;
        let path = self.path(rng, route);
        let status = match rng.random_range(0..100) {
            0..=1 => 404,
            2 => 500,
            _ => 200,
        };
        let bytes = 200 + 100 * route as u64 + rng.random_range(0..50u64);
        let _ = match written {
            Written::Combined => writeln!(
                line,
                "{ip} - - [{}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\" {:.3}",
                format_clf(at_us),
                latency_ms / 1e3
            ),
            Written::Json => writeln!(
                line,
                r#"{{"time":"{}","method":"{method}","path":"{path}","status":{status},"bytes":{bytes},"duration_ms":{latency_ms:.3},"ip":"{ip}","user_agent":"{agent}"}}"#,
                format_utc_micros(at_us)
            ),
        };
    }
}
