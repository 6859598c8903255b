//! The live progress line on a terminal: elapsed of planned time, VUs, requests and the current
//! rate, redrawn once a second from the engine's tick. Hidden when stderr is not a terminal.

use brunt_engine::Tick;
use brunt_metrics::{builtin, Interval};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub(crate) struct ProgressLine {
    bar: ProgressBar,
    planned: Duration,
}

/// Resolution of the bar's position (per mille of the planned duration).
const STEPS: u64 = 1000;

impl ProgressLine {
    /// A progress line for a run planned to last `planned` (its longest possible duration), or
    /// None when stderr is not a terminal.
    pub(crate) fn new(planned: Duration) -> Option<ProgressLine> {
        let target = ProgressDrawTarget::stderr_with_hz(2);
        if target.is_hidden() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(STEPS), target);
        bar.set_style(
            ProgressStyle::with_template("running [{bar:30}] {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        Some(ProgressLine { bar, planned })
    }

    pub(crate) fn update(&self, tick: &Tick) {
        let p = &tick.progress;
        let fraction = if self.planned.is_zero() {
            1.0
        } else {
            (tick.elapsed.as_secs_f64() / self.planned.as_secs_f64()).min(1.0)
        };
        self.bar.set_position((fraction * STEPS as f64) as u64);
        let reqs = counter(&tick.total.metric(builtin::HTTP_REQS));
        let rate = interval_count(&tick.interval, builtin::HTTP_REQS);
        self.bar.set_message(format!(
            "{:.1}s/{:.1}s  {}/{} VUs  {} iterations  {} requests  {:.0} req/s",
            tick.elapsed.as_secs_f64(),
            self.planned.as_secs_f64(),
            p.active_vus,
            p.max_vus,
            p.iterations,
            reqs as u64,
            rate,
        ));
    }

    /// Runs `f` (which prints to stderr) with the line cleared, then redraws it.
    pub(crate) fn suspend(&self, f: impl FnOnce()) {
        self.bar.suspend(f);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn counter(agg: &Option<brunt_metrics::Agg>) -> f64 {
    agg.as_ref()
        .and_then(|a| a.stat("count", 1.0))
        .unwrap_or(0.0)
}

/// The count of a counter in one interval (about one second).
fn interval_count(interval: &Interval, metric: brunt_metrics::MetricId) -> f64 {
    interval
        .series
        .iter()
        .filter(|((m, _), _)| *m == metric)
        .filter_map(|(_, a)| a.stat("count", 1.0))
        .sum()
}
