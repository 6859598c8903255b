//! Byte counters per proxy and direction, served at `GET /metrics` in the
//! Prometheus text format under Toxiproxy's metric names, followed by the
//! process's own metrics.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::toxics::Direction;

/// Counters of one proxy; they survive disabling and re-enabling it.
#[derive(Debug, Default)]
pub(crate) struct ProxyCounters {
    received: [AtomicU64; 2],
    sent: [AtomicU64; 2],
    connections: AtomicU64,
}

fn index(d: Direction) -> usize {
    match d {
        Direction::Upstream => 0,
        Direction::Downstream => 1,
    }
}

impl ProxyCounters {
    pub fn received(&self, d: Direction, n: usize) {
        self.received[index(d)].fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, d: Direction, n: usize) {
        self.sent[index(d)].fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }
}

/// One proxy's labels and counters, for rendering.
pub(crate) struct ProxyLabels<'a> {
    pub name: &'a str,
    pub listen: &'a str,
    pub upstream: &'a str,
    pub counters: &'a ProxyCounters,
}

/// Renders the Prometheus text exposition.
pub(crate) fn render(proxies: &[ProxyLabels<'_>]) -> String {
    let mut out = String::new();
    let families: [(&str, &str); 2] = [
        (
            "toxiproxy_proxy_received_bytes_total",
            "The total number of bytes received from the client",
        ),
        (
            "toxiproxy_proxy_sent_bytes_total",
            "The total number of bytes sent to the client",
        ),
    ];
    for (family, (name, help)) in families.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for p in proxies {
            for d in [Direction::Downstream, Direction::Upstream] {
                let counter = if family == 0 {
                    &p.counters.received
                } else {
                    &p.counters.sent
                };
                let _ = writeln!(
                    out,
                    "{name}{{direction=\"{}\",listener=\"{}\",proxy=\"{}\",upstream=\"{}\"}} {}",
                    d.as_str(),
                    escape(p.listen),
                    escape(p.name),
                    escape(p.upstream),
                    counter[index(d)].load(Ordering::Relaxed)
                );
            }
        }
    }
    let name = "brunt_proxy_connections_total";
    let _ = writeln!(
        out,
        "# HELP {name} The total number of client connections accepted"
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for p in proxies {
        let _ = writeln!(
            out,
            "{name}{{proxy=\"{}\"}} {}",
            escape(p.name),
            p.counters.connections.load(Ordering::Relaxed)
        );
    }
    crate::process::render(&mut out);
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_escaped_labels() {
        let c = ProxyCounters::default();
        c.received(Direction::Upstream, 5);
        c.sent(Direction::Downstream, 7);
        let text = render(&[ProxyLabels {
            name: "a\"b",
            listen: "127.0.0.1:1",
            upstream: "x:2",
            counters: &c,
        }]);
        assert!(text.contains(
            "toxiproxy_proxy_received_bytes_total{direction=\"upstream\",listener=\"127.0.0.1:1\",proxy=\"a\\\"b\",upstream=\"x:2\"} 5"
        ));
        assert!(text.contains("toxiproxy_proxy_sent_bytes_total{direction=\"downstream\",listener=\"127.0.0.1:1\",proxy=\"a\\\"b\",upstream=\"x:2\"} 7"));
    }
}
