//! brunt watching itself: its own CPU from /proc/self, so that the summary can say when the
//! figures describe the load generator rather than the target.

use ::procfs::process::Process;
use std::time::Instant;

/// A second counts as saturated when brunt used this share of the cores it may run on.
const BUSY_SHARE: f64 = 0.9;

pub(crate) struct GeneratorWatch {
    cores: f64,
    ticks_per_second: f64,
    last: Option<(Instant, u64)>,
    seconds: u64,
    busy_seconds: u64,
    peak_percent: f64,
}

impl GeneratorWatch {
    pub fn new() -> Self {
        let mut w = GeneratorWatch {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            ticks_per_second: ::procfs::ticks_per_second() as f64,
            last: None,
            seconds: 0,
            busy_seconds: 0,
            peak_percent: 0.0,
        };
        w.last = own_cpu_ticks().map(|t| (Instant::now(), t));
        w
    }

    /// Counts one second of brunt's own CPU use.
    pub fn sample(&mut self) {
        let Some(ticks) = own_cpu_ticks() else { return };
        let now = Instant::now();
        if let Some((then, before)) = self.last {
            let secs = now.duration_since(then).as_secs_f64();
            if secs > 0.0 {
                let used = ticks.saturating_sub(before) as f64 / self.ticks_per_second / secs;
                self.note(used);
            }
        }
        self.last = Some((now, ticks));
    }

    /// `used`: cores busy over the last second.
    fn note(&mut self, used: f64) {
        self.seconds += 1;
        if used >= self.cores * BUSY_SHARE {
            self.busy_seconds += 1;
        }
        self.peak_percent = self.peak_percent.max(used * 100.0 / self.cores);
    }

    /// A sentence when brunt's CPU was saturated in more than one second and in at least a tenth
    /// of the run, so that a start-up burst does not count.
    pub fn note_text(&self) -> Option<String> {
        (self.busy_seconds >= 2 && self.busy_seconds * 10 >= self.seconds).then(|| {
            format!(
                "the load generator's CPU was saturated: brunt used over {:.0}% of its {} core(s) in {} of {} second(s), up to {:.0}%; the figures may describe brunt rather than the target (run it on a bigger or separate machine, or with less load)",
                BUSY_SHARE * 100.0,
                self.cores,
                self.busy_seconds,
                self.seconds,
                self.peak_percent
            )
        })
    }
}

fn own_cpu_ticks() -> Option<u64> {
    let stat = Process::myself().ok()?.stat().ok()?;
    Some(stat.utime + stat.stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(cores: f64, seconds: &[f64]) -> GeneratorWatch {
        let mut w = GeneratorWatch {
            cores,
            ticks_per_second: 100.0,
            last: None,
            seconds: 0,
            busy_seconds: 0,
            peak_percent: 0.0,
        };
        for s in seconds {
            w.note(*s);
        }
        w
    }

    #[test]
    fn saturation_needs_more_than_a_burst() {
        assert!(watch(2.0, &[1.9, 0.5, 0.4, 0.3]).note_text().is_none());
        let note = watch(2.0, &[1.95, 1.99, 0.5]).note_text().unwrap();
        assert!(note.contains("in 2 of 3 second(s), up to 100%"), "{note}");
        assert!(
            watch(4.0, &[2.0; 10]).note_text().is_none(),
            "half the cores"
        );
    }
}
