//! The running load's last seconds, kept for metric probes ("p95 under 500 ms over the last
//! 10 s"): the load's observer adds each once-a-second interval, a probe merges those inside
//! its window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use brunt_metrics::{Registry, SeriesMap, Snapshot};

/// Seconds kept: the longest window a metric probe may ask for.
pub const MAX_WINDOW: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Window {
    registry: Option<Arc<Registry>>,
    seconds: VecDeque<(Instant, SeriesMap)>,
    running: bool,
}

/// The load that runs now, if any.
#[derive(Default)]
pub struct LiveLoad(Mutex<Window>);

impl LiveLoad {
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A load starts recording into `registry`.
    pub fn start(&self, registry: Arc<Registry>) {
        let mut w = self.window();
        *w = Window {
            registry: Some(registry),
            seconds: VecDeque::new(),
            running: true,
        };
    }

    /// One second of the load.
    pub fn push(&self, series: &SeriesMap) {
        let mut w = self.window();
        let now = Instant::now();
        w.seconds.push_back((now, series.clone()));
        while w
            .seconds
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > MAX_WINDOW)
        {
            w.seconds.pop_front();
        }
    }

    /// The load ended.
    pub fn stop(&self) {
        self.window().running = false;
    }

    /// The load's registry and its samples of the last `window`, while a load runs.
    pub fn last(&self, window: Duration) -> Option<(Arc<Registry>, Snapshot)> {
        let w = self.window();
        if !w.running {
            return None;
        }
        let mut snapshot = Snapshot::default();
        let now = Instant::now();
        for (_, series) in w
            .seconds
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= window)
        {
            snapshot.merge_series(series);
        }
        Some((w.registry.clone()?, snapshot))
    }
}
