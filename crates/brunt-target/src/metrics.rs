//! `/metrics`: the target's own counters in the Prometheus text format, so that monitors
//! (`--monitor prometheus=...`) and their tests have a real endpoint to scrape.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Requests answered and in flight, for the whole server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    in_flight: AtomicI64,
}

/// Counts a request in flight until dropped.
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// The exposition text (the scrape itself is counted, in flight).
    pub(crate) fn render(&self) -> String {
        format!(
            "# HELP brunt_target_requests_total Requests received.\n\
             # TYPE brunt_target_requests_total counter\n\
             brunt_target_requests_total {}\n\
             # HELP brunt_target_requests_in_flight Requests being answered.\n\
             # TYPE brunt_target_requests_in_flight gauge\n\
             brunt_target_requests_in_flight {}\n",
            self.requests.load(Ordering::Relaxed),
            self.in_flight.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_and_those_in_flight() {
        let c = Counters::default();
        let a = c.start();
        drop(c.start());
        let text = c.render();
        assert!(text.contains("\nbrunt_target_requests_total 2\n"), "{text}");
        assert!(
            text.contains("\nbrunt_target_requests_in_flight 1\n"),
            "{text}"
        );
        drop(a);
        assert!(c.render().contains("brunt_target_requests_in_flight 0\n"));
    }
}
