//! The run's metrics as the API shows them. The collector's totals change once a second, on its
//! own thread; copying them every tick for an API nobody reads would cost a histogram copy per
//! series per second. So a tick copies them only while someone has read them lately, and the
//! first read after a quiet spell waits for the next tick (at most about a second).

use brunt_engine::{Control, Observer, Tick};
use brunt_metrics::Snapshot;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long after a read the ticks keep copying the totals.
const INTEREST: Duration = Duration::from_secs(10);
/// The longest a read waits for a fresh copy.
const FRESH_WAIT: Duration = Duration::from_millis(1500);

/// The totals as of the latest tick that copied them.
#[derive(Clone, Default)]
pub struct LiveView {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<Copied>,
    fresh: Notify,
}

/// One copy of the totals.
#[derive(Default)]
pub struct Copied {
    pub total: Snapshot,
    /// The test time the copy was taken at.
    pub elapsed: Duration,
    /// A tick has copied the totals at least once.
    pub ticked: bool,
    read_at: Option<Instant>,
}

impl LiveView {
    /// Wraps the run's observer: each tick is recorded here (when wanted), then handed on.
    pub fn observe(&self, mut inner: Option<Observer>) -> Observer {
        let view = self.clone();
        Box::new(move |tick: &mut Tick<'_>| {
            view.record(tick);
            match &mut inner {
                Some(observer) => observer(tick),
                None => Control::Continue,
            }
        })
    }

    fn record(&self, tick: &Tick<'_>) {
        let mut s = self.lock();
        let wanted = s.read_at.is_some_and(|t| t.elapsed() < INTEREST);
        if wanted || tick.is_final {
            s.total = tick.total.clone();
            s.elapsed = tick.elapsed;
            s.ticked = true;
            drop(s);
            self.inner.fresh.notify_waiters();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Copied> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest copy, as it is (the status endpoint must not wait); marks the interest.
    pub fn now(&self) -> MutexGuard<'_, Copied> {
        let mut s = self.lock();
        s.read_at = Some(Instant::now());
        s
    }

    /// Waits, while `running` and after a quiet spell, for the next tick's copy, so that
    /// [`LiveView::now`] is at most a tick old.
    pub async fn wait_fresh(&self, running: bool) {
        let notified = self.inner.fresh.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let stale = {
            let mut s = self.lock();
            let stale = s.read_at.is_none_or(|t| t.elapsed() >= INTEREST);
            s.read_at = Some(Instant::now());
            stale
        };
        if stale && running {
            let _ = tokio::time::timeout(FRESH_WAIT, notified).await;
        }
    }
}
