//! The per-VU state that native functions reach: the coroutine's yielder (to wait for I/O), the
//! worker's metrics, and what k6 exposes about the current VU, iteration and group.

use crate::modules::http::PendingRequest;
use crate::program::Shared;
use crate::vu::{IoReply, IoRequest, Resume, Suspend, VuYielder};
use brunt_engine::RunControl;
use brunt_metrics::{Aggregator, MetricId, SystemTag, TagSet};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A JavaScript exception (or a setup failure), with its location and stack when JavaScript gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    /// `Error: message` or the thrown value as text.
    pub message: String,
    /// QuickJS's stack lines (`    at fn (file:line:column)`), empty when none.
    pub stack: String,
}

impl ScriptError {
    pub(crate) fn plain(message: String) -> Self {
        ScriptError {
            message,
            stack: String::new(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stack.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}\n{}", self.message, self.stack.trim_end())
        }
    }
}

impl std::error::Error for ScriptError {}

/// Where in its life the VU is: k6 allows `open()` only in init and HTTP only outside it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    Init,
    Run,
}

/// What the engine tells a VU about the iteration it runs (k6/execution and the sample tags).
#[derive(Clone, Debug, Default)]
pub(crate) struct IterState {
    pub scenario: String,
    pub executor: String,
    pub scenario_start: Option<SystemTime>,
    /// When the test started (after setup).
    pub test_start: Option<SystemTime>,
    pub iter_in_scenario: u64,
    pub iter_in_test: u64,
    pub iter_in_instance: u64,
    /// `__ITER`: this VU's iteration count within the scenario.
    pub iter: u64,
    /// Tags of the scenario (run tags, the scenario's `tags` and `scenario: <name>`); None in
    /// setup and teardown, whose samples carry the run tags only.
    pub tags: Option<TagSet>,
    /// Open-model executors: how late this iteration started against its schedule.
    pub scheduled_lag: Option<std::time::Duration>,
    /// k6's `scenario.progress`; None outside iterations.
    pub progress: Option<brunt_engine::IterationProgress>,
}

thread_local! {
    /// One recorder per worker thread, so its cached per-response tag sets are shared too.
    static RECORDER: RefCell<brunt_http::Recorder> = RefCell::default();
}

/// The worker's shared copy of `t` (one interner per thread, the aggregator's and recorder's too).
pub(crate) use brunt_metrics::intern;

/// Records one response's k6 samples with this worker's recorder.
pub(crate) fn with_recorder<R>(f: impl FnOnce(&mut brunt_http::Recorder) -> R) -> R {
    RECORDER.with(|r| f(&mut r.borrow_mut()))
}

/// How long a VU's JavaScript may compute before it yields to the worker's event loop (Go's
/// scheduler preempts a goroutine after the same 10 ms, so k6's VUs share a core alike).
const TIME_SLICE: Duration = Duration::from_millis(10);

/// Everything a VU's native functions share.
pub(crate) struct Host {
    pub shared: Arc<Shared>,
    pub metrics: Rc<RefCell<Aggregator>>,
    pub vu_id: u64,
    pub vu_id_in_instance: u64,
    pub phase: Cell<Phase>,
    pub iter: RefCell<IterState>,
    /// The `::`-joined group path, empty at the root.
    pub group: RefCell<String>,
    /// Tags a script set with `exec.vu.tags[...] = ...`, kept across iterations.
    pub vu_tags: RefCell<BTreeMap<String, String>>,
    /// The trace a script put in `exec.vu.metrics.metadata.trace_id` (the
    /// http-instrumentation-tempo jslib does, around each request): the VU's requests' samples
    /// carry it while it is set.
    pub metadata_trace: Cell<Option<brunt_metrics::Trace>>,
    /// The tag set every sample of the current iteration starts from, rebuilt when tags change.
    base_tags: RefCell<Option<TagSet>>,
    /// Group and check paths this VU has already reported to [`Shared::define`].
    defined: RefCell<std::collections::HashSet<String>>,
    /// Pending `setTimeout`/`setInterval` callbacks.
    pub timers: RefCell<crate::modules::timers::Timers>,
    /// The VU's `k6/websockets` sockets, shared with its I/O driver, which polls them.
    pub websockets: Rc<RefCell<crate::modules::websockets::Sockets>>,
    /// The running call was cancelled: its JavaScript must stop (the interrupt handler throws).
    cancel: Cell<bool>,
    /// When the VU's JavaScript last started running without a wait; see [`Host::poll_interrupt`].
    slice_start: Cell<Option<Instant>>,
    /// The run's stop (Ctrl-C, SIGTERM), which interrupts an init context; None for a VU made
    /// after the run was stopped (`handleSummary`'s), whose init must still run.
    init_stop: Option<RunControl>,
    yielder: Cell<*const VuYielder>,
    /// `http.asyncRequest` hops to start, handed to the driver with the VU's next wait.
    pub async_start: RefCell<Vec<(u64, Rc<brunt_http::Request>)>>,
    /// Counts cancelled waits: async requests of an interrupted call belong to an older epoch.
    pub async_epoch: Cell<u64>,
    /// Objects kept for the shapes of what the script makes on each iteration.
    pub kept_shapes: crate::kept_shapes::KeptShapes,
}

/// The native call was cancelled while it waited.
pub(crate) struct Cancelled;

impl Host {
    pub(crate) fn new(
        shared: Arc<Shared>,
        metrics: Rc<RefCell<Aggregator>>,
        vu_id: u64,
        vu_id_in_instance: u64,
    ) -> Self {
        let init_stop = (!shared.interrupt.is_stopped()).then(|| shared.interrupt.clone());
        Host {
            shared,
            metrics,
            vu_id,
            vu_id_in_instance,
            phase: Cell::new(Phase::Init),
            iter: RefCell::new(IterState::default()),
            group: RefCell::new(String::new()),
            vu_tags: RefCell::new(BTreeMap::new()),
            metadata_trace: Cell::new(None),
            base_tags: RefCell::new(None),
            defined: RefCell::default(),
            timers: RefCell::default(),
            websockets: Rc::default(),
            cancel: Cell::new(false),
            slice_start: Cell::new(None),
            init_stop,
            yielder: Cell::new(std::ptr::null()),
            async_start: RefCell::default(),
            async_epoch: Cell::new(0),
            kept_shapes: Default::default(),
        }
    }

    pub(crate) fn set_cancelled(&self, cancelled: bool) {
        self.cancel.set(cancelled);
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.get()
    }

    /// Called once at the start of the coroutine body; the yielder lives as long as that body,
    /// which outlives every native call.
    pub(crate) fn attach(&self, y: &VuYielder) {
        self.yielder.set(y as *const VuYielder);
    }

    /// Suspends the VU until the driver has performed `req`. Async requests queued since the
    /// last wait are started first (in the same switch when `req` is an [`IoRequest::Http`]).
    pub(crate) fn wait(&self, req: IoRequest) -> Result<IoReply, Cancelled> {
        if self.cancel.get() {
            return Err(Cancelled);
        }
        if !self.async_start.borrow().is_empty() {
            return self.start_then_wait(req);
        }
        self.suspend_io(req)
    }

    /// [`wait`](Self::wait) with async requests to start first; apart, so that the common wait
    /// keeps a small frame on the VU's stack.
    #[inline(never)]
    fn start_then_wait(&self, req: IoRequest) -> Result<IoReply, Cancelled> {
        let start = PendingRequest::Start(std::mem::take(&mut *self.async_start.borrow_mut()));
        let req = match req {
            IoRequest::Http(mut ops) => {
                ops.insert(0, start);
                IoRequest::Http(ops)
            }
            other => {
                self.suspend_io(IoRequest::Http(vec![start]))?;
                other
            }
        };
        self.suspend_io(req)
    }

    fn suspend_io(&self, req: IoRequest) -> Result<IoReply, Cancelled> {
        let y = self.yielder.get();
        assert!(!y.is_null(), "native I/O outside a VU coroutine");
        // SAFETY: `attach` stored the yielder of the coroutine body we are running inside; it stays
        // valid until that body returns, and native functions only run within it.
        match unsafe { &*y }.suspend(Suspend::Io(req)) {
            Resume::Io(reply) => Ok(reply),
            Resume::Cancel | Resume::Shutdown | Resume::Call(_) => {
                self.cancel.set(true);
                self.async_epoch.set(self.async_epoch.get() + 1);
                self.async_start.borrow_mut().clear();
                Err(Cancelled)
            }
        }
    }

    /// A new time slice starts whenever the VU's coroutine is resumed.
    pub(crate) fn start_time_slice(&self) {
        self.slice_start.set(None);
    }

    /// Asked by QuickJS every few thousand operations while this VU's JavaScript runs; true stops
    /// it with an uncatchable error. A call that has computed for [`TIME_SLICE`] without waiting
    /// gives the worker's event loop a turn first, so that a CPU-bound script cannot hold off
    /// the graceful-stop deadline, Ctrl-C, the once-a-second metrics or its thread's other VUs;
    /// the engine may cancel the call meanwhile. The init context runs outside the event loop:
    /// only the run's stop ends it.
    pub(crate) fn poll_interrupt(&self) -> bool {
        if self.cancel.get() {
            return true;
        }
        if self.phase.get() == Phase::Init {
            return self.init_stop.as_ref().is_some_and(RunControl::is_stopped);
        }
        let now = Instant::now();
        match self.slice_start.get() {
            None => {
                self.slice_start.set(Some(now));
                false
            }
            Some(start) if now.duration_since(start) >= TIME_SLICE => {
                self.wait(IoRequest::Yield).is_err()
            }
            Some(_) => false,
        }
    }

    /// Suspends between calls; returns the next request from the driver.
    pub(crate) fn suspend(&self, s: Suspend) -> Resume {
        let y = self.yielder.get();
        // SAFETY: as in `wait`.
        unsafe { &*y }.suspend(s)
    }

    /// Tags every sample of this iteration carries: scenario tags, VU tags and the group.
    pub(crate) fn base_tags(&self) -> TagSet {
        if let Some(t) = &*self.base_tags.borrow() {
            return t.clone();
        }
        let scenario = match &self.iter.borrow().tags {
            Some(t) => t.clone(),
            None => self
                .shared
                .run_tags
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        };
        let group = self.group.borrow();
        let group = self
            .shared
            .system_tags()
            .has(SystemTag::Group)
            .then_some(("group", group.as_str()));
        let vu_tags = self.vu_tags.borrow();
        let t = scenario.with(
            vu_tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(group),
        );
        let t = intern(t);
        *self.base_tags.borrow_mut() = Some(t.clone());
        t
    }

    /// Forgets the cached base tags after the group, VU tags or scenario changed.
    pub(crate) fn tags_changed(&self) {
        *self.base_tags.borrow_mut() = None;
    }

    /// Records a group or check path for the summary's order (once per VU and path).
    pub(crate) fn define(&self, path: String) {
        if self.defined.borrow().contains(&path) {
            return;
        }
        self.shared.define(&path);
        self.defined.borrow_mut().insert(path);
    }

    /// Adds one sample with the base tags plus `extra`.
    pub(crate) fn emit(&self, metric: MetricId, value: f64, extra: &[(String, String)]) {
        let base = self.base_tags();
        let tags = if extra.is_empty() {
            base
        } else {
            base.with(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        self.metrics.borrow_mut().add(metric, &tags, value);
    }
}
