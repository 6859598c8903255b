//! A VU's JavaScript: one QuickJS runtime that lives on the VU's own coroutine stack.
//!
//! k6 scripts are synchronous (`http.get` returns a response), so a native call that needs I/O
//! suspends the coroutine with an [`IoRequest`]; the async driver ([`JsVu::call`]) performs it on the
//! worker's tokio runtime and resumes the coroutine with the [`IoReply`]. The runtime is created,
//! used and dropped on the coroutine stack, so QuickJS's stack-limit check stays valid, and one
//! runtime never interleaves two VUs.
//!
//! Cancellation never unwinds through QuickJS's C frames (that would be undefined behaviour): a
//! cancelled call is resumed with [`Resume::Cancel`], the interrupt handler makes QuickJS throw an
//! uncatchable error, and the JavaScript stack unwinds the ordinary way.

use crate::host::{Host, ScriptError};
use crate::program::Program;
use crate::shared_rt::{Lease, VuState, WorkerRuntime};
use crate::stack::{VuStack, STACK_SIZE};
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// QuickJS's own limit, below the coroutine stack so QuickJS reports overflow before the guard page.
const JS_STACK_LIMIT: usize = 768 * 1024;

/// Stack kept below the caller's frame by [`release_unused_stack`] for the calls that follow it.
const STACK_MARGIN: usize = 8 * 1024;

/// Gives the pages of the coroutine stack below the current frame (less a margin) back to the
/// kernel. Compiling and evaluating the modules at init goes deeper than many iterations do;
/// without this, every VU keeps those pages for its whole life. `bottom` is the stack's lowest
/// usable address; the pages read as zeros when touched again.
#[inline(never)]
pub(crate) fn release_unused_stack(bottom: usize) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn madvise(
                addr: *mut std::ffi::c_void,
                len: usize,
                advice: std::ffi::c_int,
            ) -> std::ffi::c_int;
        }
        const MADV_DONTNEED: std::ffi::c_int = 4;
        const PAGE: usize = 4096;
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        let top = here.saturating_sub(STACK_MARGIN) & !(PAGE - 1);
        if bottom != 0 && top > bottom && bottom.is_multiple_of(PAGE) {
            // SAFETY: [bottom, top) is this coroutine's own stack, below the live frames (the
            // stack grows down), so nothing there is in use; MADV_DONTNEED on private anonymous
            // memory only makes it read as zeros again.
            unsafe {
                madvise(bottom as *mut std::ffi::c_void, top - bottom, MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bottom;
}

/// What a VU is asked to run.
pub(crate) enum Call {
    /// One iteration of the scenario's exec function, with the setup data as JSON.
    Iteration {
        /// The exported function's name, shared by the VU's iterations of one scenario.
        exec: Rc<str>,
        data: Option<Arc<str>>,
        /// The scenario's `env`, given when the VU starts a new scenario (layered over `__ENV`).
        env: Option<Vec<(String, String)>>,
        /// `__ITER`.
        iter: u64,
    },
    /// `setup()`; its result comes back as JSON.
    Setup,
    /// `teardown(data)`.
    Teardown(Option<Arc<str>>),
    /// `handleSummary(data)`; its returned map comes back as JSON.
    HandleSummary(String),
}

/// How a call ended.
#[derive(Debug)]
pub(crate) enum CallOutcome {
    /// Finished; the JSON of what it returned when the call returns data (setup, handleSummary).
    Done(Option<String>),
    /// An uncaught exception.
    Exception(ScriptError),
    /// Stopped by cancellation (graceful stop ran out, or the VU was dropped).
    Cancelled,
}

/// I/O a native function waits for.
pub(crate) enum IoRequest {
    Sleep(Duration),
    /// Let the worker's event loop run (timers, other VUs, the engine's stop) before going on:
    /// the VU's JavaScript has run a whole time slice without waiting for anything.
    Yield,
    /// One request (one hop): what `http.get` and the like wait for, most requests of a test.
    Send(Rc<brunt_http::Request>),
    /// `http.batch` and `http.asyncRequest`.
    Http(Vec<crate::modules::http::PendingRequest>),
    /// The VU's streamed response (`k6/x/sse`, `brunt/llm`).
    Stream(crate::modules::sse::StreamOp),
    /// The VU's WebSocket (`k6/ws`).
    Ws(crate::modules::ws::WsOp),
    /// The VU's gRPC clients (`k6/net/grpc`).
    Grpc(crate::modules::grpc::GrpcOp),
    /// Wait for an event of the VU's `k6/websockets` sockets, or until the instant (a timer of
    /// the script is due).
    Sockets(Option<std::time::Instant>),
}

/// The result of an [`IoRequest`].
pub(crate) enum IoReply {
    Slept,
    /// The response to [`IoRequest::Send`], boxed once: the reply stays small, and the box goes
    /// on into the script's Response object without the response being moved again.
    Sent(Box<brunt_http::Response>),
    /// Each request with its response, in the order asked.
    Http(
        Vec<(
            crate::modules::http::PendingRequest,
            crate::modules::http::Completed,
        )>,
    ),
    /// Boxed: a stream's head or response is large, and every wait moves an `IoReply`.
    Stream(Box<crate::modules::sse::StreamReply>),
    Ws(Box<crate::modules::ws::WsReply>),
    Grpc(Box<crate::modules::grpc::GrpcReply>),
}

/// Performs a VU's I/O on the worker's async runtime.
pub(crate) trait Io {
    fn perform<'a>(&'a mut self, req: IoRequest) -> Pin<Box<dyn Future<Output = IoReply> + 'a>>;
}

pub(crate) enum Resume {
    Call(Call),
    Io(IoReply),
    Cancel,
    Shutdown,
}

pub(crate) enum Suspend {
    /// The init context finished (or threw).
    Ready(Result<(), ScriptError>),
    Io(IoRequest),
    Finished(CallOutcome),
}

pub(crate) type VuYielder = Yielder<Resume, Suspend>;

/// A VU's script runtime and the driver that performs its I/O.
pub(crate) struct JsVu<I: Io> {
    co: Option<Coroutine<Resume, Suspend, (), VuStack>>,
    io: I,
    /// The VU's natives' state; its cancel flag stops the VU's JavaScript.
    host: Rc<Host>,
    /// A call was started and its future dropped before it finished.
    in_call: bool,
    /// The VU's QuickJS interpreter state while its coroutine is suspended.
    state: VuState,
    /// The runtime the VU's context lives in (shared with the thread's other VUs). Declared after
    /// `co`: the coroutine, which frees the context, must be gone before the runtime can be.
    worker: Lease,
}

/// Resumes `co` with `worker` holding `state` as its interpreter state for the time it runs.
fn resume(
    co: &mut Coroutine<Resume, Suspend, (), VuStack>,
    worker: &WorkerRuntime,
    state: &mut VuState,
    host: &Rc<Host>,
    input: Resume,
) -> CoroutineResult<Suspend, ()> {
    /// Takes the state back out even when the coroutine panics.
    struct Leave<'a>(&'a WorkerRuntime, &'a mut VuState);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.0.leave(self.1);
        }
    }
    worker.enter(state, host);
    let _leave = Leave(worker, state);
    co.resume(input)
}

impl<I: Io> JsVu<I> {
    /// Creates the runtime and runs the init context (module top level) on the VU's own stack.
    pub(crate) fn new(program: Arc<Program>, host: Rc<Host>, io: I) -> Result<Self, ScriptError> {
        let vu_host = host.clone();
        let worker = WorkerRuntime::for_program(&program.shared)
            .map_err(|e| ScriptError::plain(format!("cannot create a JS runtime: {e}")))?;
        let stack = VuStack::new()
            .map_err(|e| ScriptError::plain(format!("cannot allocate a VU stack: {e}")))?;
        let bottom = stack.bottom();
        let mut state = VuState::new(bottom + (STACK_SIZE - JS_STACK_LIMIT));
        let w = worker.rc();
        let mut co = Coroutine::with_stack(stack, move |y: &VuYielder, _first: Resume| {
            crate::runtime::run_vu(&program, host, w, y, JS_STACK_LIMIT, bottom);
        });
        let ready = match resume(&mut co, &worker, &mut state, &vu_host, Resume::Shutdown) {
            CoroutineResult::Yield(Suspend::Ready(r)) => r,
            CoroutineResult::Yield(_) => Err(ScriptError::plain(
                "init context performed I/O, which k6 does not allow".to_string(),
            )),
            CoroutineResult::Return(()) => Err(ScriptError::plain(
                "the VU runtime ended during init".to_string(),
            )),
        };
        let mut vu = JsVu {
            co: Some(co),
            io,
            host: vu_host,
            in_call: false,
            state,
            worker,
        };
        match ready {
            Ok(()) => Ok(vu),
            Err(e) => {
                vu.shutdown();
                Err(e)
            }
        }
    }

    /// Runs `call` to completion, performing its I/O as it asks. Dropping the future mid-call
    /// (the scenario's end, a timeout) cancels the call there and then: its JavaScript unwinds
    /// and the call's end runs (the sockets it left open are closed and their last samples
    /// recorded) while the run still collects samples.
    pub(crate) async fn call(&mut self, call: Call) -> CallOutcome {
        /// Finishes an unfinished call when the future is dropped.
        struct CancelOnDrop<'a, I: Io>(&'a mut JsVu<I>);
        impl<I: Io> Drop for CancelOnDrop<'_, I> {
            fn drop(&mut self) {
                self.0.finish_cancelled();
            }
        }
        let vu = CancelOnDrop(self);
        vu.0.run(call).await
    }

    async fn run(&mut self, call: Call) -> CallOutcome {
        self.finish_cancelled();
        let Some(co) = self.co.as_mut() else {
            return CallOutcome::Cancelled;
        };
        self.in_call = true;
        let mut input = Resume::Call(call);
        loop {
            match resume(co, &self.worker, &mut self.state, &self.host, input) {
                CoroutineResult::Yield(Suspend::Io(req)) => {
                    input = Resume::Io(self.io.perform(req).await);
                }
                CoroutineResult::Yield(Suspend::Finished(outcome)) => {
                    self.in_call = false;
                    return outcome;
                }
                CoroutineResult::Yield(Suspend::Ready(_)) | CoroutineResult::Return(()) => {
                    self.in_call = false;
                    self.co = None;
                    return CallOutcome::Cancelled;
                }
            }
        }
    }

    /// The I/O driver (it owns the VU's HTTP connections).
    pub(crate) fn io(&self) -> &I {
        &self.io
    }

    /// Ends a call whose future was dropped: JavaScript unwinds through an uncatchable interrupt.
    fn finish_cancelled(&mut self) {
        if !self.in_call {
            return;
        }
        self.host.set_cancelled(true);
        if let Some(co) = self.co.as_mut() {
            // Each resume answers one pending native call with an error; a script that catches
            // errors in a loop is stopped by the interrupt handler, so this ends quickly.
            for _ in 0..100_000 {
                match resume(
                    co,
                    &self.worker,
                    &mut self.state,
                    &self.host,
                    Resume::Cancel,
                ) {
                    CoroutineResult::Yield(Suspend::Finished(_)) => break,
                    CoroutineResult::Yield(_) => continue,
                    CoroutineResult::Return(()) => {
                        self.co = None;
                        break;
                    }
                }
            }
        }
        self.in_call = false;
        self.host.set_cancelled(false);
    }

    /// Lets the coroutine return normally, so QuickJS is torn down on its own stack.
    fn shutdown(&mut self) {
        self.finish_cancelled();
        let Some(mut co) = self.co.take() else {
            return;
        };
        if !co.started() || co.done() {
            return;
        }
        self.host.set_cancelled(true);
        for _ in 0..100_000 {
            if co.done() {
                return;
            }
            let r = resume(
                &mut co,
                &self.worker,
                &mut self.state,
                &self.host,
                Resume::Shutdown,
            );
            if let CoroutineResult::Return(()) = r {
                return;
            }
        }
        // Never force-unwind through C frames: leaking one stuck VU is the safe failure.
        std::mem::forget(co);
    }
}

impl<I: Io> Drop for JsVu<I> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::ProgramConfig;
    use brunt_metrics::{Aggregator, Registry};
    use std::cell::RefCell;

    /// Sleeps for real; no HTTP.
    struct SleepIo;

    impl Io for SleepIo {
        fn perform<'a>(
            &'a mut self,
            req: IoRequest,
        ) -> Pin<Box<dyn Future<Output = IoReply> + 'a>> {
            Box::pin(async move {
                match req {
                    IoRequest::Sleep(d) => tokio::time::sleep(d).await,
                    IoRequest::Yield => tokio::task::yield_now().await,
                    IoRequest::Send(_)
                    | IoRequest::Http(_)
                    | IoRequest::Stream(_)
                    | IoRequest::Ws(_)
                    | IoRequest::Grpc(_)
                    | IoRequest::Sockets(_) => {
                        unreachable!("no HTTP in this test")
                    }
                }
                IoReply::Slept
            })
        }
    }

    /// Compiles `source` (written to a temporary file) and gives the program to `make`; the file
    /// is removed once `make` has made its VUs.
    fn with_program<T>(
        source: &str,
        env: std::collections::BTreeMap<String, String>,
        make: impl FnOnce(Arc<Program>, Arc<Registry>) -> T,
    ) -> T {
        let path = std::env::temp_dir().join(format!(
            "brunt-js-vu-{}-{:x}.js",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&path, source).unwrap();
        let registry = Arc::new(Registry::new());
        let config = ProgramConfig {
            env,
            console: false,
            interrupt: Default::default(),
            module_cache: std::env::temp_dir().join("brunt-js-test-modules"),
            secrets: Default::default(),
            global_alias: true,
        };
        let program = Program::new(&path, registry.clone(), config).unwrap();
        let out = make(program, registry);
        let _ = std::fs::remove_file(&path);
        out
    }

    /// A VU (id 1) for `source`.
    fn try_vu(source: &str) -> Result<JsVu<SleepIo>, ScriptError> {
        with_program(source, Default::default(), |program, registry| {
            let metrics = Rc::new(RefCell::new(Aggregator::new(registry, false)));
            let host = Rc::new(Host::new(program.shared.clone(), metrics, 1, 1));
            JsVu::new(program, host, SleepIo)
        })
    }

    fn vu(source: &str) -> JsVu<SleepIo> {
        try_vu(source).unwrap()
    }

    /// `n` VUs (ids 1..=n) of one program, on this thread.
    fn vus(source: &str, n: u64) -> Vec<JsVu<SleepIo>> {
        vus_env(source, n, Default::default())
    }

    fn vus_env(
        source: &str,
        n: u64,
        env: std::collections::BTreeMap<String, String>,
    ) -> Vec<JsVu<SleepIo>> {
        with_program(source, env, |program, registry| {
            (1..=n)
                .map(|id| {
                    let metrics = Rc::new(RefCell::new(Aggregator::new(registry.clone(), false)));
                    let host = Rc::new(Host::new(program.shared.clone(), metrics, id, id));
                    JsVu::new(program.clone(), host, SleepIo).unwrap()
                })
                .collect()
        })
    }

    /// Heap per VU (glibc's count of bytes in use, so allocator overhead excluded), for
    /// measuring: `cargo test -p brunt-js --release --lib heap_per_vu -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn heap_per_vu() {
        #[repr(C)]
        struct MallInfo2 {
            arena: usize,
            ordblks: usize,
            smblks: usize,
            hblks: usize,
            hblkhd: usize,
            usmblks: usize,
            fsmblks: usize,
            uordblks: usize,
            fordblks: usize,
            keepcost: usize,
        }
        extern "C" {
            fn mallinfo2() -> MallInfo2;
        }
        let used = || unsafe { mallinfo2() }.uordblks;
        let n = 500;
        for (what, src) in [
            ("empty script", "export default function () {}\n"),
            ("k6 only", "import { sleep } from 'k6';\nexport default function () { sleep(1); }\n"),
            ("k6 + k6/http", "import http from 'k6/http';\nimport { sleep } from 'k6';\nexport default function () { http.get('http://127.0.0.1:1/'); sleep(1); }\n"),
        ] {
            let warm = vus(src, 1);
            let before = used();
            let v = vus(src, n);
            let after = used();
            println!("{what}: {} bytes per VU", (after - before) / n as usize);
            drop(v);
            drop(warm);
        }
    }

    #[test]
    fn a_runtime_takes_a_bounded_number_of_vus_and_runtimes_interleave() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let n = crate::shared_rt::VUS_PER_RUNTIME as u64 + 3;
        let mut v = vus(
            "import { sleep } from 'k6';\nlet c = 0;\nexport default function () { c++; sleep(0.001); if (c !== __ITER + 1) throw new Error('mixed'); }\n",
            n,
        );
        assert!(std::ptr::eq(&*v[0].worker, &*v[1].worker));
        assert!(!std::ptr::eq(&*v[0].worker, &*v[n as usize - 1].worker));
        rt.block_on(async {
            for i in 0..2 {
                let outs = futures_join_all(v.iter_mut().map(|vu| vu.call(iteration(i)))).await;
                for o in outs {
                    assert!(matches!(o, CallOutcome::Done(None)), "{o:?}");
                }
            }
        });
    }

    /// Polls every future until all are done (no extra crate for it).
    async fn futures_join_all<F: Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
        let mut futs: Vec<Pin<Box<F>>> = futs.map(Box::pin).collect();
        let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
                if o.is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => *o = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().map(|o| o.expect("ready")).collect()
    }

    #[test]
    fn deeply_nested_source_is_an_error_not_a_crash() {
        let src = format!(
            "export default function () {{ return {}{}; }}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let err = try_vu(&src).err().expect("compiling fails");
        assert!(err.to_string().contains("stack"), "{err}");
    }

    #[test]
    fn the_native_k6_module_keeps_k6s_semantics() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut v = vus(
            r#"
            import k6, { check, group, fail, randomSeed, sleep } from 'k6';
            function ok(c, what) { if (!c) throw new Error(what); }
            // The generator brunt's JavaScript layer had.
            function reference(seed) {
              let s = Number(seed) >>> 0;
              return function () {
                s = (s + 0x6d2b79f5) >>> 0;
                let t = Math.imul(s ^ (s >>> 15), s | 1);
                t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
                return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
              };
            }
            export default function () {
              ok(k6.check === check && k6.group === group && typeof k6.sleep === 'function', 'default export');
              for (const seed of [0, 1, 42, -7, 2 ** 40 + 3, 'x', 1.9]) {
                randomSeed(seed);
                const r = reference(seed);
                for (let i = 0; i < 5; i++) ok(Math.random() === r(), `randomSeed(${seed})`);
              }
              ok(check(1, { a: (x) => x === 1, b: true }) === true, 'check passes');
              ok(check(1, { a: (x) => x === 2, b: 1 }) === false, 'check fails');
              ok(check(1, null) === true && check(1) === true, 'no checks');
              let threw = null;
              try { check(1, { bad: () => { throw new TypeError('inner'); } }); } catch (e) { threw = e; }
              ok(threw instanceof TypeError && threw.message === 'inner', 'check rethrows');
              ok(group('g', () => 5) === 5, 'group returns');
              let gt = null;
              try { group('g'); } catch (e) { gt = e; }
              ok(gt instanceof TypeError, 'group needs a function');
              let fe = null;
              try { fail('boom'); } catch (e) { fe = e; }
              ok(fe instanceof Error && fe.message === 'boom', 'fail');
              try { fail(); } catch (e) { fe = e; }
              ok(fe.message === '', 'fail without a message');
              sleep('0.001');
              sleep();
            }
            "#,
            1,
        );
        let out = rt.block_on(v[0].call(iteration(0)));
        assert!(matches!(out, CallOutcome::Done(None)), "{out:?}");
    }

    #[test]
    fn lazy_intrinsics_and_env_behave_as_plain_globals() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let env = [("A".to_string(), "1".to_string())].into_iter().collect();
        let mut v = vus_env(
            r#"
            function ok(c, what) { if (!c) throw new Error(what); }
            export default function () {
              ok(Object.getOwnPropertyNames(globalThis).indexOf('Uint8Array') < 0 || __ITER > 0, 'eager');
              ok('Map' in globalThis, 'in');
              ok(typeof Date === 'function' && new Date(0).toISOString() === '1970-01-01T00:00:00.000Z', 'date');
              const m = new Map([[1, 2]]);
              ok(m.get(1) === 2 && new Set([1, 1]).size === 1 && new WeakMap() instanceof WeakMap, 'map');
              const a = new Uint8Array([1, 2, 3]);
              ok(a.buffer instanceof ArrayBuffer && a.byteLength === 3 && new DataView(a.buffer).getUint8(1) === 2, 'typed');
              ok(Object.groupBy([1, 2, 3], (x) => (x % 2 ? 'odd' : 'even')).odd.length === 2, 'groupBy');
              ok(typeof NoSuchGlobal === 'undefined', 'typeof');
              ok(typeof console.log === 'function' && typeof open === 'function', 'console, open');
              let fired = 0;
              const t = setTimeout(() => { fired++; }, 0);
              clearTimeout(t);
              ok(typeof setInterval === 'function' && typeof clearInterval === 'function', 'timers');
              let threw = false;
              try { NoSuchGlobal; } catch (e) { threw = e instanceof ReferenceError; }
              ok(threw, 'reference error');
              if (__ITER === 0) {
                ok(__ENV.A === '1', 'env');
                __ENV.B = 'x';
              } else {
                ok(__ENV.B === 'x', 'env keeps writes');
                __ENV = { C: 1 };
                ok(__ENV.C === 1, 'env assignable');
                delete globalThis.Float64Array;
                ok(typeof Float64Array === 'undefined', 'deleted stays deleted');
              }
            }
            "#,
            2,
            env,
        );
        rt.block_on(async {
            for vu in v.iter_mut() {
                for i in 0..2 {
                    let out = vu.call(iteration(i)).await;
                    assert!(matches!(out, CallOutcome::Done(None)), "{out:?}");
                }
            }
        });
    }

    #[test]
    fn vus_of_a_thread_share_one_runtime_and_interleave_without_mixing_state() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Each VU suspends deep in its own frames with a promise job queued; the others run,
        // throw, overflow their stack and drain their own jobs meanwhile.
        let mut v = vus(
            r#"
            import { sleep } from 'k6';
            let count = 0;
            let sleeping = false;
            let jobSawSleeping = false;
            globalThis.mine = __VU;
            function deep(n) {
              if (n === 0) {
                sleeping = true;
                sleep(0.005 * (4 - __VU));
                sleeping = false;
                return new Error('here').stack;
              }
              return deep(n - 1);
            }
            function overflow() { return overflow() + 1; }
            export default function () {
              count += 1;
              if (count !== __ITER + 1) throw new Error(`module state mixed: ${count} at ${__ITER}`);
              if (jobSawSleeping) throw new Error('a job ran while its VU was suspended');
              Promise.resolve().then(() => { jobSawSleeping = sleeping; });
              const stack = deep(__VU);
              const frames = stack.split('\n').filter((l) => l.includes('at deep')).length;
              if (frames !== __VU + 1) throw new Error(`frames mixed: ${frames}\n${stack}`);
              if (globalThis.mine !== __VU) throw new Error('globals mixed');
              for (const f of [sleep, console.log]) {
                if (!(f instanceof Function) || Object.getPrototypeOf(f) !== Function.prototype) {
                  throw new Error('a native function of another realm');
                }
              }
              if (sleep.call(null, 0) !== undefined) throw new Error('call');
              let overflowed = false;
              try { overflow(); } catch (e) { overflowed = e instanceof RangeError; }
              if (!overflowed) throw new Error('no stack overflow error');
              if (__VU === 2 && __ITER === 1) throw new TypeError('expected');
            }
            "#,
            3,
        );
        assert!(
            v[0].worker.shared(),
            "the runtime offsets were not verified"
        );
        assert!(std::ptr::eq(&*v[0].worker, &*v[1].worker));
        assert!(std::ptr::eq(&*v[0].worker, &*v[2].worker));
        let [a, b, c] = &mut v[..] else {
            unreachable!()
        };
        rt.block_on(async {
            for i in 0..3 {
                let (x, y, z) = tokio::join!(
                    a.call(iteration(i)),
                    b.call(iteration(i)),
                    c.call(iteration(i))
                );
                assert!(matches!(x, CallOutcome::Done(None)), "{x:?}");
                assert!(matches!(z, CallOutcome::Done(None)), "{z:?}");
                if i == 1 {
                    let CallOutcome::Exception(e) = y else {
                        panic!("expected an exception, got {y:?}")
                    };
                    assert_eq!(e.message, "TypeError: expected");
                    assert!(e.stack.contains(".js:"), "{}", e.stack);
                } else {
                    assert!(matches!(y, CallOutcome::Done(None)), "{y:?}");
                }
            }
        });
        // A call dropped while suspended leaves the runtime to the others.
        rt.block_on(async {
            // Polled once, so suspended in its sleep, then dropped at the end of the block; a
            // timeout here was flaky on a loaded machine (a stall past the sleep let the call
            // finish first).
            {
                let mut first = std::pin::pin!(a.call(iteration(3)));
                let pending = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(first.as_mut().poll(cx).is_pending())
                })
                .await;
                assert!(pending, "the call did not suspend");
            }
            let y = b.call(iteration(3)).await;
            assert!(matches!(y, CallOutcome::Done(None)), "{y:?}");
        });
        drop(v);
    }

    #[test]
    fn k6_http_functions_and_prototypes_are_shared_frozen_and_jars_stay_per_vu() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut v = vus(
            r#"
            import http from 'k6/http';
            const url = 'http://example.test/';
            export default function () {
              const jar = http.cookieJar();
              const proto = Object.getPrototypeOf(jar);
              if (!Object.isFrozen(proto)) throw new Error('the shared jar prototype is not frozen');
              let threw = false;
              try { proto.leak = __VU; } catch (e) { threw = e instanceof TypeError; }
              if (!threw || proto.leak !== undefined) throw new Error('the shared prototype took a property');
              const seen = Object.keys(jar.cookiesForURL(url));
              if (seen.length !== __ITER) throw new Error(`jar mixed: ${seen}`);
              jar.set(url, `vu${__VU}_${__ITER}`, 'x');
              if (!(new http.CookieJar() instanceof http.CookieJar)) throw new Error('CookieJar');
              if (!Object.isFrozen(http.get) || !Object.isFrozen(http.CookieJar)) throw new Error('shared functions');
            }
            "#,
            2,
        );
        assert!(std::ptr::eq(&*v[0].worker, &*v[1].worker));
        let [a, b] = &mut v[..] else { unreachable!() };
        rt.block_on(async {
            for i in 0..2 {
                let (x, y) = tokio::join!(a.call(iteration(i)), b.call(iteration(i)));
                assert!(matches!(x, CallOutcome::Done(None)), "{x:?}");
                assert!(matches!(y, CallOutcome::Done(None)), "{y:?}");
            }
        });
    }

    fn iteration(iter: u64) -> Call {
        Call::Iteration {
            exec: "default".into(),
            data: None,
            env: None,
            iter,
        }
    }

    #[test]
    fn a_dropped_call_is_cancelled_even_if_the_script_catches_and_the_vu_goes_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut vu = vu(r#"
            import { sleep } from 'k6';
            export default function () {
              if (__ITER === 0) {
                for (;;) { try { sleep(60); } catch (e) { /* swallow, as careless scripts do */ } }
              }
              return 'second';
            }
        "#);
        rt.block_on(async {
            let first =
                tokio::time::timeout(Duration::from_millis(50), vu.call(iteration(0))).await;
            assert!(first.is_err(), "the first call sleeps until dropped");
            let second = vu.call(iteration(1)).await;
            assert!(matches!(second, CallOutcome::Done(None)), "{second:?}");
        });
        drop(vu);
    }

    #[test]
    fn a_computing_vu_yields_so_it_can_be_stopped_and_the_vus_beside_it_run() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // VU 1 computes forever, catching what it can; VU 2 computes for several time slices.
        // Both share one runtime, so each is preempted with its frames live while the other runs.
        let mut vus = vus(
            r#"
            export default function () {
              if (__VU === 1 && __ITER === 0) {
                for (;;) { try { JSON.stringify({ a: [1, 2, 3] }); } catch (e) {} }
              }
              let s = 0;
              for (let i = 0; i < 3e6; i++) { s += i % 7; }
              if (s !== 8999994) throw new Error('wrong sum ' + s);
            }
        "#,
            2,
        );
        let (a, b) = vus.split_at_mut(1);
        rt.block_on(async {
            let (endless, other) = tokio::join!(
                tokio::time::timeout(Duration::from_millis(200), a[0].call(iteration(0))),
                b[0].call(iteration(0)),
            );
            assert!(
                endless.is_err(),
                "the endless call is dropped at its deadline"
            );
            assert!(matches!(other, CallOutcome::Done(None)), "{other:?}");
            let again = a[0].call(iteration(1)).await;
            assert!(matches!(again, CallOutcome::Done(None)), "{again:?}");
        });
    }

    #[test]
    fn exceptions_carry_file_line_and_column() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut vu = vu("function inner() { throw new TypeError('bad'); }\nexport default function () {\n  inner();\n}\n");
        let out = rt.block_on(vu.call(iteration(0)));
        let CallOutcome::Exception(e) = out else {
            panic!("expected an exception, got {out:?}");
        };
        assert_eq!(e.message, "TypeError: bad");
        assert!(e.stack.contains(".js:1:"), "{}", e.stack);
        assert!(e.stack.contains(".js:3:3"), "{}", e.stack);
    }

    #[test]
    fn exceptions_from_builtin_modules_show_only_the_scripts_frames() {
        let Err(e) = try_vu(
            "import { Trend } from 'k6/metrics';\n\nconst t = new Trend('bad name!');\nexport default function () {}\n",
        ) else {
            panic!("a bad metric name fails the init context");
        };
        assert!(e.message.contains("invalid metric name"), "{}", e.message);
        assert!(e.stack.contains(".js:3:"), "{}", e.stack);
        assert!(!e.stack.contains("<null>"), "{}", e.stack);
    }

    #[test]
    fn init_errors_name_the_problem() {
        let err = try_vu("import x from './does-not-exist.js';\nexport default function () {}\n")
            .err()
            .expect("init fails");
        assert!(err.to_string().contains("does-not-exist.js"), "{err}");
    }

    /// Answers every request with `200` and fixed timings, at once.
    struct FixedIo;

    impl Io for FixedIo {
        fn perform<'a>(
            &'a mut self,
            req: IoRequest,
        ) -> Pin<Box<dyn Future<Output = IoReply> + 'a>> {
            Box::pin(async move {
                match req {
                    IoRequest::Send(req) => {
                        let timings = brunt_http::Timings {
                            blocked: 1.0,
                            connecting: 2.0,
                            tls_handshaking: 3.0,
                            sending: 4.0,
                            waiting: 5.0,
                            receiving: 6.0,
                            duration: 15.0,
                        };
                        let e = brunt_http::RequestError::new(brunt_http::ErrorCode::NONE, "");
                        let mut resp =
                            brunt_http::Response::failure(&req, e, timings, Duration::ZERO);
                        resp.status = 200;
                        resp.error = None;
                        resp.body = "{\"ok\":1}".into();
                        IoReply::Sent(Box::new(resp))
                    }
                    IoRequest::Yield => {
                        tokio::task::yield_now().await;
                        IoReply::Slept
                    }
                    _ => unreachable!("only requests in this test"),
                }
            })
        }
    }

    #[test]
    fn responses_read_the_same_while_the_vus_of_a_runtime_come_and_go() {
        // The runtime keeps the shapes of responses and of each VU's `res.timings` (see
        // `modules::http::response`); a VU's are released with it, and a VU made later in the
        // same runtime makes its own. What a script sees and may do must not change.
        let src = r#"
import http from 'k6/http';
function ok(c, what) { if (!c) throw new Error(what); }
const KEYS = 'duration,blocked,looking_up,connecting,tls_handshaking,sending,waiting,receiving';
const JSON_T = '{"duration":15,"blocked":1,"looking_up":0,"connecting":2,"tls_handshaking":3,"sending":4,"waiting":5,"receiving":6}';
export default function () {
  for (let i = 0; i < 20; i++) {
    const res = http.get('http://127.0.0.1:9/');
    const odd = i % 2 === 1;
    if (odd) ok(res.body === '{"ok":1}', 'body');
    const t = res.timings;
    ok(Object.keys(t).join() === KEYS && JSON.stringify(t) === JSON_T, 'timings ' + JSON.stringify(t));
    const d = Object.getOwnPropertyDescriptor(t, 'receiving');
    ok(d.writable && d.enumerable && d.configurable && Object.getPrototypeOf(t) === Object.prototype, 'descriptor');
    ok(Object.keys(res).join() === (odd ? 'status,body,timings' : 'status,timings'), 'own keys ' + Object.keys(res));
    ok(res.json('ok') === 1 && res.status === 200, 'json');
    if (i % 5 === 0) {
      t.extra = i;
      delete t.blocked;
      t.duration = -1;
      res.mine = 1;
      delete res.status;
      ok(JSON.stringify(t) === '{"duration":-1,"looking_up":0,"connecting":2,"tls_handshaking":3,"sending":4,"waiting":5,"receiving":6,"extra":' + i + '}', 'changed ' + JSON.stringify(t));
      ok(Object.keys(res).join() === (odd ? 'body,timings,mine' : 'timings,mine'), 'changed response ' + Object.keys(res));
    }
  }
}
"#;
        with_program(src, Default::default(), |program, registry| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let make = |id: u64| {
                let metrics = Rc::new(RefCell::new(Aggregator::new(registry.clone(), false)));
                let host = Rc::new(Host::new(program.shared.clone(), metrics, id, id));
                JsVu::new(program.clone(), host, FixedIo).unwrap()
            };
            let run = |v: &mut Vec<JsVu<FixedIo>>, iter: u64| {
                rt.block_on(async {
                    let calls = v.iter_mut().map(|vu| vu.call(iteration(iter)));
                    for o in futures_join_all(calls).await {
                        assert!(matches!(o, CallOutcome::Done(None)), "{o:?}");
                    }
                })
            };
            let mut v: Vec<_> = (1..=3).map(make).collect();
            run(&mut v, 0);
            // VU 2 goes; VU 4 is made in the same runtime.
            drop(v.remove(1));
            v.push(make(4));
            assert!(std::ptr::eq(&*v[0].worker, &*v[2].worker));
            run(&mut v, 1);
            drop(v.remove(0));
            run(&mut v, 2);
        });
    }
}
