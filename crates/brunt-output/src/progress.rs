//! The run's progress, as k6 shows it: an overall line (elapsed of the planned time, which
//! leaves graceful stops out, VUs, iterations, requests and the current rate) and one line per
//! scenario against its own planned duration or iterations. On a terminal (stderr) the lines are
//! redrawn in place; elsewhere (CI logs) they are printed as plain text every few seconds.

use brunt_engine::{format_duration, ScenarioProgress, Tick};
use brunt_metrics::{builtin, Interval};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How often the plain-text progress is printed where it cannot be redrawn.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// The bar's width in characters, inside its brackets.
const BAR_WIDTH: usize = 30;

pub(crate) enum ProgressLine {
    /// Redrawn in place on stderr: the overall line, then one bar per scenario.
    Live {
        multi: MultiProgress,
        lines: Vec<ProgressBar>,
    },
    /// Printed to stderr every [`PLAIN_EVERY`].
    Plain { next: Duration },
}

impl ProgressLine {
    /// Progress drawn in place when stderr is a terminal, plain lines otherwise.
    pub(crate) fn new() -> ProgressLine {
        if std::io::stderr().is_terminal() {
            ProgressLine::Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(2)),
                lines: Vec::new(),
            }
        } else {
            ProgressLine::Plain { next: PLAIN_EVERY }
        }
    }

    pub(crate) fn update(&mut self, tick: &Tick) {
        if tick.is_final {
            return;
        }
        match self {
            ProgressLine::Live { multi, lines } => {
                let text = render(tick, true);
                while lines.len() < text.len() {
                    let bar = multi.add(ProgressBar::new(0));
                    bar.set_style(ProgressStyle::with_template("{msg}").expect("static template"));
                    lines.push(bar);
                }
                for (bar, line) in lines.iter().zip(text) {
                    bar.set_message(line);
                }
            }
            ProgressLine::Plain { next } => {
                if tick.elapsed >= *next {
                    eprintln!("{}", render(tick, false).join("\n"));
                    while *next <= tick.elapsed {
                        *next += PLAIN_EVERY;
                    }
                }
            }
        }
    }

    /// Runs `f` (which prints to stderr) with the lines cleared, then redraws them.
    pub(crate) fn suspend(&self, f: impl FnOnce()) {
        match self {
            ProgressLine::Live { multi, .. } => multi.suspend(f),
            ProgressLine::Plain { .. } => f(),
        }
    }

    pub(crate) fn finish(&self) {
        if let ProgressLine::Live { lines, .. } = self {
            for bar in lines {
                bar.finish_and_clear();
            }
        }
    }
}

/// The overall line and one line per scenario; `bars` draws `[====>---]`, otherwise k6's
/// plain `[  38% ]`.
fn render(tick: &Tick, bars: bool) -> Vec<String> {
    let p = &tick.progress;
    let scenarios = &p.scenarios;
    // The planned end leaves graceful stops out: they are only used when iterations run late.
    // An iteration-based scenario's maxDuration is a cap, not a plan: a run of those alone is
    // as far as its least advanced scenario.
    let planned = scenarios
        .iter()
        .filter(|s| s.planned_iterations.is_none())
        .map(|s| s.start + s.duration)
        .max();
    // Stopping: every scenario still running is past its planned end, finishing iterations.
    let running: Vec<&ScenarioProgress> = scenarios.iter().filter(|s| !s.done).collect();
    let stopping = running
        .iter()
        .all(|s| tick.elapsed > s.start + s.duration)
        .then(|| running.iter().map(|s| s.graceful_stop).max())
        .flatten();
    let state = match stopping {
        Some(grace) => format!("stopping (gracefulStop {})", format_duration(grace)),
        None => "running".to_string(),
    };
    let (fraction, time) = match planned {
        Some(planned) => (
            ratio(tick.elapsed, planned),
            format!("{}/{}", clock(tick.elapsed), clock(planned)),
        ),
        None => (
            scenarios.iter().map(|s| s.fraction).fold(1.0, f64::min),
            clock(tick.elapsed),
        ),
    };
    let reqs = counter(&tick.total.metric(builtin::HTTP_REQS));
    let rate = interval_count(&tick.interval, builtin::HTTP_REQS);
    let mut out = vec![format!(
        "{state} {} {time}  {}/{} VUs  {} iterations  {} requests  {rate:.0} req/s",
        bar(fraction, bars),
        p.active_vus,
        p.max_vus,
        p.iterations,
        reqs as u64,
    )];
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    out.extend(scenarios.iter().map(|s| {
        format!(
            "{:width$} {} {}",
            s.name,
            bar(s.fraction, bars),
            scenario_detail(s, tick.elapsed)
        )
    }));
    out
}

/// `05.0s/13.0s  12/20 VUs`, with `200.00 iters/s` for an arrival-rate scenario and
/// `050/100 iters` for an iteration-based one.
fn scenario_detail(s: &ScenarioProgress, elapsed: Duration) -> String {
    if elapsed < s.start {
        return format!("waiting, starts at {}", clock(s.start));
    }
    let ran = elapsed - s.start;
    let mut d = format!("{}/{}", clock(ran.min(s.duration)), clock(s.duration));
    let digits = s.max_vus.to_string().len();
    d.push_str(&format!("  {:0digits$}/{} VUs", s.active_vus, s.max_vus));
    if let Some(rate) = s.rate {
        d.push_str(&format!("  {rate:.2} iters/s"));
    }
    if let Some(total) = s.planned_iterations {
        let digits = total.to_string().len();
        d.push_str(&format!("  {:0digits$}/{total} iters", s.iterations));
    }
    if s.done {
        d.push_str("  done");
    } else if ran > s.duration {
        d.push_str(&format!(
            "  stopping (gracefulStop {})",
            format_duration(s.graceful_stop)
        ));
    }
    d
}

fn ratio(done: Duration, planned: Duration) -> f64 {
    if planned.is_zero() {
        1.0
    } else {
        (done.as_secs_f64() / planned.as_secs_f64()).min(1.0)
    }
}

/// `[=========>--------------------]`, or `[  38% ]` without bars.
fn bar(fraction: f64, bars: bool) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    if !bars {
        return format!("[ {:>3.0}% ]", fraction * 100.0);
    }
    let filled = (fraction * BAR_WIDTH as f64) as usize;
    let head = if filled < BAR_WIDTH { ">" } else { "" };
    let rest = BAR_WIDTH - filled - head.len();
    format!("[{}{head}{}]", "=".repeat(filled), "-".repeat(rest))
}

/// k6's progress clock: `05.0s`, `1m05.0s`, `1h02m05.0s`.
fn clock(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let (h, m) = ((secs / 3600.0) as u64, ((secs % 3600.0) / 60.0) as u64);
    let s = secs % 60.0;
    match (h, m) {
        (0, 0) => format!("{s:04.1}s"),
        (0, m) => format!("{m}m{s:04.1}s"),
        (h, m) => format!("{h}h{m:02}m{s:04.1}s"),
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
        .fold(0.0, |sum, n| sum + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunt_engine::Progress;
    use brunt_metrics::Snapshot;

    fn scenario(name: &str, secs: u64) -> ScenarioProgress {
        ScenarioProgress {
            name: name.into(),
            duration: Duration::from_secs(secs),
            graceful_stop: Duration::from_secs(30),
            max_vus: 20,
            ..ScenarioProgress::default()
        }
    }

    fn lines(elapsed: f64, scenarios: Vec<ScenarioProgress>, bars: bool) -> Vec<String> {
        let total = Snapshot::default();
        let tick = Tick {
            elapsed: Duration::from_secs_f64(elapsed),
            interval: Interval::default(),
            total: &total,
            progress: Progress {
                active_vus: 12,
                max_vus: 22,
                iterations: 40,
                scenarios,
                ..Progress::default()
            },
            is_final: false,
        };
        render(&tick, bars)
    }

    #[test]
    fn each_scenario_against_its_own_plan_and_the_run_without_graceful_stop() {
        let browse = ScenarioProgress {
            active_vus: 12,
            fraction: 5.0 / 13.0,
            ..scenario("browse", 13)
        };
        let orders = ScenarioProgress {
            active_vus: 2,
            max_vus: 10,
            fraction: 5.0 / 12.0,
            rate: Some(200.0),
            ..scenario("orders", 12)
        };
        let l = lines(5.0, vec![browse, orders], true);
        assert_eq!(
            l[0],
            "running [===========>------------------] 05.0s/13.0s  12/22 VUs  40 iterations  0 requests  0 req/s"
        );
        assert_eq!(
            l[1],
            "browse [===========>------------------] 05.0s/13.0s  12/20 VUs"
        );
        assert_eq!(
            l[2],
            "orders [============>-----------------] 05.0s/12.0s  02/10 VUs  200.00 iters/s"
        );
        let plain = lines(5.0, vec![scenario("browse", 13)], false);
        assert!(
            plain[0].starts_with("running [  38% ] 05.0s/13.0s"),
            "{plain:?}"
        );
        assert!(plain[1].starts_with("browse [   0% ] "), "{plain:?}");
    }

    #[test]
    fn after_the_planned_time_the_run_says_it_is_stopping() {
        let late = ScenarioProgress {
            fraction: 1.0,
            ..scenario("browse", 13)
        };
        let done = ScenarioProgress {
            done: true,
            fraction: 1.0,
            planned_iterations: Some(100),
            iterations: 100,
            ..scenario("setup", 600)
        };
        let l = lines(14.2, vec![late, done], true);
        assert!(
            l[0].starts_with(
                "stopping (gracefulStop 30s) [==============================] 14.2s/13.0s"
            ),
            "{l:?}"
        );
        assert!(
            l[1].ends_with("13.0s/13.0s  00/20 VUs  stopping (gracefulStop 30s)"),
            "{l:?}"
        );
        assert!(l[2].ends_with("100/100 iters  done"), "{l:?}");
    }

    #[test]
    fn a_scenario_that_has_not_started_says_when_it_will() {
        let later = ScenarioProgress {
            start: Duration::from_secs(65),
            ..scenario("soak", 3600)
        };
        let l = lines(5.0, vec![later], false);
        assert!(l[1].ends_with("waiting, starts at 1m05.0s"), "{l:?}");
        // Iterations alone: as far as the least advanced scenario, with no time to plan by.
        let shared = ScenarioProgress {
            fraction: 0.5,
            planned_iterations: Some(200),
            iterations: 100,
            ..scenario("default", 600)
        };
        let l = lines(2.0, vec![shared], false);
        assert!(
            l[0].starts_with("running [  50% ] 02.0s  12/22 VUs"),
            "{l:?}"
        );
        assert_eq!(clock(Duration::from_secs(3725)), "1h02m05.0s");
    }
}
