//! The mock's token clock: wakes a stream when its next event is due, to within tens of
//! microseconds. Tokio's timer fires on whole-millisecond ticks and its runtime parks for whole
//! milliseconds, so its sleeps end 0.5-1 ms late on average and up to 2 ms late: as large as the
//! 1 ms TTFT accuracy the mock is there to check. One thread per server sleeps on the kernel's
//! high-resolution timer until the earliest deadline and wakes the tasks whose events are due;
//! it starts with the first stream and ends with the server.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::Instant;

/// The clock of one server; its thread starts on the first [`Clock::wake_at`].
#[derive(Debug, Default)]
pub(crate) struct Clock {
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
    due: BinaryHeap<Reverse<Alarm>>,
    /// Tells apart alarms set for the same instant (a heap needs a total order).
    next: u64,
    stop: bool,
}

/// A task to wake at an instant.
#[derive(Debug)]
struct Alarm {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Alarm {}

impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Alarm {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock {
    /// Wakes `waker` once `at` has passed. An alarm whose task has gone wakes nothing. Where
    /// the system refused the clock its thread, the task is woken at once: it polls until its
    /// instant (on time, at the cost of a busy core).
    pub(crate) fn wake_at(&self, at: Instant, waker: &Waker) {
        if self.thread.get_or_init(|| self.start()).is_none() {
            waker.wake_by_ref();
            return;
        }
        let mut state = self.shared.lock();
        let earliest = state.due.peek().is_none_or(|Reverse(a)| at < a.at);
        let seq = state.next;
        state.next += 1;
        state.due.push(Reverse(Alarm {
            at,
            seq,
            waker: waker.clone(),
        }));
        drop(state);
        if earliest {
            self.shared.changed.notify_one();
        }
    }

    /// The clock's thread; none when the system refuses one.
    fn start(&self) -> Option<JoinHandle<()>> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("brunt-mock-clock".into())
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
        while state.due.peek().is_some_and(|Reverse(a)| a.at <= now) {
            if let Some(Reverse(alarm)) = state.due.pop() {
                due.push(alarm.waker);
            }
        }
        if !due.is_empty() {
            drop(state);
            due.drain(..).for_each(Waker::wake);
            state = shared.lock();
            continue;
        }
        state = match state.due.peek() {
            Some(Reverse(a)) => {
                let wait = a.at - now;
                shared
                    .changed
                    .wait_timeout(state, wait)
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

    #[test]
    fn wakes_each_alarm_once_after_its_instant_in_order_of_due() {
        let clock = Clock::default();
        let (early, late) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let start = Instant::now();
        clock.wake_at(
            start + Duration::from_millis(200),
            &Waker::from(late.clone()),
        );
        clock.wake_at(
            start + Duration::from_millis(20),
            &Waker::from(early.clone()),
        );
        clock.wake_at(start, &Waker::from(early.clone()));
        while late.0.load(Atomic::SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the late alarm never rang"
            );
            std::thread::yield_now();
        }
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(early.0.load(Atomic::SeqCst), 2);
        assert_eq!(late.0.load(Atomic::SeqCst), 1);
    }
}
