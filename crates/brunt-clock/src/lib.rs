//! A clock that wakes async tasks at set instants to within tens of microseconds. Tokio's timer
//! fires on whole-millisecond ticks and its runtime parks for whole milliseconds, so its sleeps
//! end 0.5-1 ms late on average and up to 2 ms late: as large as what the engine's open-model
//! starts (a request within 1 ms of its scheduled offset) and the mock LLM's tokens (1 ms TTFT
//! accuracy) must keep. One thread per clock sleeps on the kernel's high-resolution timer until
//! the earliest alarm and wakes the tasks whose instants have passed; nothing spins. The thread
//! starts with the first alarm and ends with the clock.
//!
//! - [`Clock::sleep_until`]: a future, ready once its instant has passed; dropping it (a
//!   stopped run's `select!`) takes its alarm off the clock at once.
//! - [`Clock::poll_until`]: the same for a hand-written `poll` (a response body that sends
//!   each chunk when due), keeping its [`Alarm`] between polls.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Instant;

/// A clock and its thread, which starts on the first alarm set.
#[derive(Debug)]
pub struct Clock {
    name: String,
    shared: Arc<Shared>,
    thread: OnceLock<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The tasks to wake, by instant; the number tells apart alarms set for the same instant.
    due: BTreeMap<(Instant, u64), Waker>,
    next: u64,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A task to wake at an instant, set on a clock; dropping it takes it off the clock.
#[derive(Debug)]
pub struct Alarm {
    shared: Arc<Shared>,
    key: (Instant, u64),
    waker: Waker,
}

impl Drop for Alarm {
    fn drop(&mut self) {
        // Gone already if it rang. The waker is dropped after the lock is let go.
        let waker = self.shared.lock().due.remove(&self.key);
        drop(waker);
    }
}

/// A future ready once its instant has passed ([`Clock::sleep_until`]).
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep<'a> {
    clock: &'a Clock,
    at: Instant,
    alarm: Option<Alarm>,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.clock.poll_until(this.at, &mut this.alarm, cx)
    }
}

impl Clock {
    /// A clock whose thread (started with the first alarm) is called `name`.
    pub fn new(name: impl Into<String>) -> Clock {
        Clock {
            name: name.into(),
            shared: Arc::default(),
            thread: OnceLock::new(),
        }
    }

    /// Sleeps until `at`.
    pub fn sleep_until(&self, at: Instant) -> Sleep<'_> {
        Sleep {
            clock: self,
            at,
            alarm: None,
        }
    }

    /// Ready once `at` has passed; until then keeps `alarm` set to wake the polling task at
    /// `at` (set anew when the instant or the task changed). Where the system refused the
    /// clock its thread, the task is woken at once: it polls until its instant (on time, at
    /// the cost of a busy core).
    pub fn poll_until(
        &self,
        at: Instant,
        alarm: &mut Option<Alarm>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if Instant::now() >= at {
            *alarm = None;
            return Poll::Ready(());
        }
        let set = alarm
            .as_ref()
            .is_some_and(|a| a.key.0 == at && a.waker.will_wake(cx.waker()));
        if !set {
            // The alarm set for another instant or task goes before the new one is set.
            *alarm = None;
            *alarm = self.set(at, cx.waker());
            if alarm.is_none() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }

    /// Sets an alarm; None when the system refuses the clock its thread.
    fn set(&self, at: Instant, waker: &Waker) -> Option<Alarm> {
        self.thread.get_or_init(|| self.start()).as_ref()?;
        let mut state = self.shared.lock();
        let earliest = state.due.first_key_value().is_none_or(|(k, _)| at < k.0);
        let key = (at, state.next);
        state.next += 1;
        state.due.insert(key, waker.clone());
        drop(state);
        if earliest {
            self.shared.changed.notify_one();
        }
        Some(Alarm {
            shared: self.shared.clone(),
            key,
            waker: waker.clone(),
        })
    }

    /// The clock's thread; none when the system refuses one.
    fn start(&self) -> Option<JoinHandle<()>> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || tick(&shared))
            .ok()
    }
}

/// The clock's thread: sleeps until the earliest alarm, wakes every task that is due.
fn tick(shared: &Shared) {
    // The default slack lets the kernel end a sleep up to 50 µs late to batch wakeups.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let mut due = Vec::new();
    let mut state = shared.lock();
    while !state.stop {
        let now = Instant::now();
        while let Some(entry) = state.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            drop(state);
            due.drain(..).for_each(Waker::wake);
            state = shared.lock();
            continue;
        }
        // The condition variable's timed wait is a futex wait on the monotonic clock: the
        // kernel's high-resolution timer, ended within the slack set above.
        state = match state.due.first_key_value() {
            Some((&(at, _), _)) => {
                shared
                    .changed
                    .wait_timeout(state, at - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner()),
        };
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
        // Never joined from the clock's own thread (a waker it drops could hold the last owner).
        if let Some(Some(thread)) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering as Atomic};
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Atomic::SeqCst);
        }
    }

    fn count() -> Arc<Count> {
        Arc::new(Count(AtomicUsize::new(0)))
    }

    /// Polls `at` on `clock` for the task `woken` counts; the alarm it leaves set.
    fn poll(clock: &Clock, at: Instant, woken: &Arc<Count>, alarm: &mut Option<Alarm>) -> bool {
        let waker = Waker::from(woken.clone());
        clock
            .poll_until(at, alarm, &mut Context::from_waker(&waker))
            .is_ready()
    }

    fn wait_for(woken: &Arc<Count>, start: Instant) {
        while woken.0.load(Atomic::SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the alarm never rang"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn wakes_each_alarm_once_after_its_instant() {
        let clock = Clock::new("test-clock");
        let (early, late) = (count(), count());
        let start = Instant::now();
        let (mut a, mut b) = (None, None);
        assert!(!poll(
            &clock,
            start + Duration::from_millis(200),
            &late,
            &mut a
        ));
        assert!(!poll(
            &clock,
            start + Duration::from_millis(20),
            &early,
            &mut b
        ));
        // Polled again before its instant: the alarm already set stays, no second one.
        assert!(!poll(
            &clock,
            start + Duration::from_millis(20),
            &early,
            &mut b
        ));
        assert!(
            poll(&clock, start, &early, &mut None),
            "a past instant is ready"
        );
        wait_for(&late, start);
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(early.0.load(Atomic::SeqCst), 1);
        assert_eq!(late.0.load(Atomic::SeqCst), 1);
        assert!(poll(
            &clock,
            start + Duration::from_millis(200),
            &late,
            &mut a
        ));
        assert!(a.is_none(), "a ready poll leaves no alarm");
    }

    #[test]
    fn a_dropped_alarm_wakes_nothing() {
        let clock = Clock::new("test-clock");
        let (dropped, kept) = (count(), count());
        let start = Instant::now();
        let mut gone = None;
        assert!(!poll(
            &clock,
            start + Duration::from_millis(20),
            &dropped,
            &mut gone
        ));
        drop(gone);
        let mut a = None;
        assert!(!poll(
            &clock,
            start + Duration::from_millis(60),
            &kept,
            &mut a
        ));
        wait_for(&kept, start);
        assert_eq!(dropped.0.load(Atomic::SeqCst), 0);
        assert!(clock.shared.lock().due.is_empty());
    }

    #[test]
    fn a_sleep_is_ready_after_its_instant() {
        let clock = Clock::new("test-clock");
        let woken = count();
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let start = Instant::now();
        let mut sleep = clock.sleep_until(start + Duration::from_millis(30));
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        wait_for(&woken, start);
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
