//! How a scenario steers a running VU task without locks or per-iteration allocation: a
//! [`Slot`] of flags plus the task's waker, an iteration wrapper that a hard stop interrupts,
//! and the wait for the next arrival-rate job.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The engine's side of a running VU task: how the scenario steers it.
#[derive(Default)]
pub(crate) struct Slot {
    /// Keep looping / accept new iterations.
    pub(crate) active: Cell<bool>,
    /// Interrupt the running iteration now.
    pub(crate) hard: Cell<bool>,
    /// The task has not ended.
    pub(crate) alive: Cell<bool>,
    /// An arrival-rate VU waiting for work.
    pub(crate) waiting: Cell<bool>,
    pub(crate) job: Cell<Option<Job>>,
    pub(crate) waker: RefCell<Option<Waker>>,
}

/// One scheduled arrival-rate iteration.
pub(crate) struct Job {
    pub(crate) intended: Instant,
    pub(crate) iteration: u64,
    /// What an [`crate::arrival::ArrivalFeed`] gave it.
    pub(crate) payload: Option<crate::arrival::Payload>,
}

impl Slot {
    pub(crate) fn new() -> Rc<Slot> {
        let s = Slot::default();
        s.active.set(true);
        s.alive.set(true);
        Rc::new(s)
    }

    fn register(&self, cx: &Context<'_>) {
        let mut w = self.waker.borrow_mut();
        if !w.as_ref().is_some_and(|old| old.will_wake(cx.waker())) {
            *w = Some(cx.waker().clone());
        }
    }

    pub(crate) fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// No new iterations; a running one may finish.
    pub(crate) fn graceful_stop(&self) {
        self.active.set(false);
        if self.waiting.get() {
            self.wake();
        }
    }

    /// Interrupt the running iteration (its future is dropped).
    pub(crate) fn hard_stop(&self) {
        self.active.set(false);
        self.hard.set(true);
        self.wake();
    }
}

/// An iteration future that a hard stop can drop: resolves to None when interrupted.
pub(crate) struct Guarded<'a, F: ?Sized> {
    pub(crate) fut: Pin<&'a mut F>,
    pub(crate) slot: &'a Slot,
    pub(crate) suspended: bool,
}

impl<F: Future + ?Sized> Future for Guarded<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.slot.hard.get() {
            return Poll::Ready(None);
        }
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                self.suspended = true;
                self.slot.register(cx);
                Poll::Pending
            }
        }
    }
}

/// Waits for an arrival-rate job; None when the VU should end.
pub(crate) struct NextJob<'a>(pub(crate) &'a Slot);

impl Future for NextJob<'_> {
    type Output = Option<Job>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.0;
        if let Some(job) = slot.job.take() {
            slot.waiting.set(false);
            return Poll::Ready(Some(job));
        }
        if !slot.active.get() || slot.hard.get() {
            slot.waiting.set(false);
            return Poll::Ready(None);
        }
        slot.waiting.set(true);
        slot.register(cx);
        Poll::Pending
    }
}
