//! The body of a VU's coroutine: create the QuickJS runtime with the intrinsics k6 scripts need,
//! evaluate the main module (the init context), then run calls until told to shut down.

use crate::host::{Host, Phase, ScriptError};
use crate::program::Program;
use crate::shared_rt::WorkerRuntime;
use crate::vu::{Call, CallOutcome, Resume, Suspend, VuYielder};
use rquickjs::context::intrinsic;
use rquickjs::{
    Atom, CatchResultExt, CaughtError, Context, Ctx, Function, Module, Object, Persistent, Promise,
    Value,
};
use std::rc::Rc;
use std::sync::Arc;

/// What k6 scripts use; leaving out WeakRef, Performance and the rest keeps a VU small. Typed
/// arrays, Map/Set and Date are added when a script first names them (`modules::globals`).
pub(crate) type Intrinsics = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::Promise,
    intrinsic::BigInt,
);

/// Runs `f` with the context's `Ctx`, as rquickjs's `Context::with` does, but without holding the
/// runtime's lock: VUs of one thread share a runtime, and a VU keeps its `Ctx` while suspended
/// inside a native call, when another VU of the thread runs. Exclusive use of the runtime is
/// kept by the VU driver instead (one VU entered at a time, see `shared_rt`). The higher-ranked
/// closure keeps values of the context from escaping, as with `with`.
pub(crate) fn with_ctx<R>(ctx: &Context, f: impl for<'js> FnOnce(Ctx<'js>) -> R) -> R {
    // SAFETY: the context is alive (borrowed) and belongs to this thread's runtime; `from_raw`
    // takes its own reference, released when the `Ctx` drops.
    let c = unsafe { Ctx::from_raw(ctx.as_raw()) };
    f(c)
}

/// Runs on the VU's coroutine stack for the VU's whole life.
pub(crate) fn run_vu(
    program: &Program,
    host: Rc<Host>,
    worker: Rc<WorkerRuntime>,
    y: &VuYielder,
    stack_limit: usize,
    stack_bottom: usize,
) {
    host.attach(y);
    if !worker.shared() {
        // A runtime of its own: its stack limit is taken here, on the VU's stack.
        // SAFETY: the runtime is alive and used by this VU only.
        unsafe {
            rquickjs::qjs::JS_UpdateStackTop(worker.raw());
            rquickjs::qjs::JS_SetMaxStackSize(worker.raw(), stack_limit as _);
        }
    }
    let ctx = match Context::custom::<Intrinsics>(worker.runtime()) {
        Ok(ctx) => ctx,
        Err(e) => {
            let e = ScriptError::plain(format!("cannot create a JS context: {e}"));
            host.suspend(Suspend::Ready(Err(e)));
            return;
        }
    };
    with_ctx(&ctx, |ctx| host.kept_shapes.keep_function(&ctx));
    let init = with_ctx(
        &ctx,
        |ctx| -> Result<Persistent<Object<'static>>, ScriptError> {
            crate::modules::install(&ctx, &host)
                .catch(&ctx)
                .map_err(|e| caught(&ctx, e))?;
            let ns = load_main(&ctx, &host, &program.shared.main)?;
            record_exports(&ctx, &host, &ns)?;
            Ok(Persistent::save(&ctx, ns))
        },
    );
    let ns = match init {
        Ok(ns) => ns,
        Err(e) => {
            // What the init context left in the VU's state holds values of the context.
            host.timers.borrow_mut().clear();
            host.websockets.borrow_mut().clear();
            finish(&ctx, &host);
            host.suspend(Suspend::Ready(Err(e)));
            return;
        }
    };
    if !worker.shared() {
        // Init leaves garbage (module records, temporaries); a VU lives long, so free it now.
        // (A shared runtime is collected as a whole when it grows: a full collection per VU
        // would cost time quadratic in the number of VUs.)
        worker.runtime().run_gc();
    }
    crate::vu::release_unused_stack(stack_bottom);
    host.phase.set(Phase::Run);
    let mut setup_data: Option<(Arc<str>, Persistent<Value<'static>>)> = None;
    let mut next = host.suspend(Suspend::Ready(Ok(())));
    // One `Ctx` for all the VU's calls (it is kept while suspended in a native call anyway), so
    // what every iteration needs is made once: the namespace's handle and the atoms.
    with_ctx(&ctx, |ctx| {
        let ns = ns.clone().restore(&ctx).expect("namespace of this runtime");
        let mut names = CallNames::new(&ctx);
        loop {
            let outcome = match next {
                Resume::Call(call) => run_call(&ctx, &host, &ns, call, &mut setup_data, &mut names),
                Resume::Shutdown => break,
                Resume::Cancel | Resume::Io(_) => CallOutcome::Cancelled,
            };
            next = host.suspend(Suspend::Finished(outcome));
        }
    });
    host.timers.borrow_mut().clear();
    host.websockets.borrow_mut().clear();
    drop(setup_data);
    drop(ns);
    finish(&ctx, &host);
    drop(ctx);
}

/// Ends the VU's use of its context, which must then be freed with the VU: runs the jobs a
/// cancelled call left queued (the VU is cancelled, so they end at once; a queued job holds its
/// context), then releases what the runtime keeps for the VU (`modules::http::release_vu`) and
/// what the VU keeps for its shapes (`kept_shapes`).
fn finish(ctx: &Context, host: &Host) {
    with_ctx(ctx, |ctx| {
        for _ in 0..100_000 {
            if !ctx.execute_pending_job() {
                break;
            }
        }
        crate::modules::http::release_vu(&ctx);
        host.kept_shapes.release();
    });
}

/// Loads and evaluates the main module, returning its namespace.
fn load_main<'js>(ctx: &Ctx<'js>, host: &Host, main: &str) -> Result<Object<'js>, ScriptError> {
    let promise = Module::import(ctx, main)
        .catch(ctx)
        .map_err(|e| caught(ctx, e))?;
    let ns: Object = settle(ctx, host, promise)?;
    Ok(ns)
}

/// Runs queued jobs, and timers when no job is left, until `promise` settles, returning its
/// value or its rejection as an error. Never inlined into [`invoke`], whose frame stays on the
/// VU's stack under the script.
#[inline(never)]
fn settle<'js, T: rquickjs::FromJs<'js>>(
    ctx: &Ctx<'js>,
    host: &Host,
    promise: Promise<'js>,
) -> Result<T, ScriptError> {
    loop {
        match promise.state() {
            rquickjs::promise::PromiseState::Pending => {
                if !ctx.execute_pending_job() && !crate::modules::timers::run_next(ctx, host)? {
                    return Err(ScriptError::plain(
                        "a promise never settled (nothing left to run)".into(),
                    ));
                }
            }
            _ => {
                return promise
                    .result::<T>()
                    .expect("settled promise has a result")
                    .catch(ctx)
                    .map_err(|e| caught(ctx, e))
            }
        }
    }
}

fn record_exports<'js>(ctx: &Ctx<'js>, host: &Host, ns: &Object<'js>) -> Result<(), ScriptError> {
    let shared = &host.shared;
    let mut names = Vec::new();
    for key in ns.keys::<String>() {
        let key = key.catch(ctx).map_err(|e| caught(ctx, e))?;
        let v: Value = ns.get(&key).catch(ctx).map_err(|e| caught(ctx, e))?;
        if v.is_function() {
            names.push(key.clone());
        }
        if key == "options" {
            let mut opts = shared
                .script_options
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if opts.is_none() {
                let json = ctx
                    .json_stringify(v)
                    .catch(ctx)
                    .map_err(|e| caught(ctx, e))?
                    .map(|s| s.to_string())
                    .transpose()
                    .catch(ctx)
                    .map_err(|e| caught(ctx, e))?
                    .unwrap_or_else(|| "{}".into());
                *opts = Some(json);
            }
        }
    }
    *shared.exports.lock().unwrap_or_else(|e| e.into_inner()) = names;
    Ok(())
}

fn run_call<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    ns: &Object<'js>,
    call: Call,
    setup_data: &mut Option<(Arc<str>, Persistent<Value<'static>>)>,
    names: &mut CallNames<'js>,
) -> CallOutcome {
    let result = match call {
        Call::Iteration {
            exec,
            data,
            env,
            iter,
        } => {
            let arg = match prepare_iteration(ctx, names, env, iter)
                .and_then(|()| data_value(ctx, data, setup_data))
            {
                Ok(v) => v,
                Err(e) => return CallOutcome::Exception(e),
            };
            invoke(ctx, host, ns, &exec, names.exec(ctx, &exec), arg, false)
        }
        Call::Setup => {
            *host.group.borrow_mut() = "::setup".into();
            host.tags_changed();
            let undefined = Value::new_undefined(ctx.clone());
            invoke(
                ctx,
                host,
                ns,
                "setup",
                Atom::from_str(ctx.clone(), "setup"),
                undefined,
                true,
            )
        }
        Call::Teardown(data) => {
            *host.group.borrow_mut() = "::teardown".into();
            host.tags_changed();
            let arg = match data_value(ctx, data, setup_data) {
                Ok(v) => v,
                Err(e) => return CallOutcome::Exception(e),
            };
            invoke(
                ctx,
                host,
                ns,
                "teardown",
                Atom::from_str(ctx.clone(), "teardown"),
                arg,
                false,
            )
        }
        Call::HandleSummary(json) => match ctx.json_parse(json).catch(ctx) {
            Ok(v) => {
                let key = Atom::from_str(ctx.clone(), "handleSummary");
                invoke(ctx, host, ns, "handleSummary", key, v, true)
            }
            Err(e) => Err(caught(ctx, e)),
        },
    };
    // Keep the cached tag set when the call left the group as it found it (the common case):
    // samples then reuse one tag set, which the aggregators compare by pointer.
    if !host.group.borrow().is_empty() {
        host.group.borrow_mut().clear();
        host.tags_changed();
    }
    host.timers.borrow_mut().clear();
    crate::modules::websockets::end_call(host);
    match result {
        Ok(v) => CallOutcome::Done(v),
        Err(_) if host.cancelled() => CallOutcome::Cancelled,
        Err(e) => CallOutcome::Exception(e),
    }
}

/// Sets `__ITER` and, when the VU enters a scenario with its own `env`, those `__ENV` keys.
fn prepare_iteration<'js>(
    ctx: &Ctx<'js>,
    names: &mut CallNames<'js>,
    env: Option<Vec<(String, String)>>,
    iter: u64,
) -> Result<(), ScriptError> {
    let r = (|| -> rquickjs::Result<()> {
        let key = names.iter(ctx)?;
        let globals = &names.globals;
        globals.set(key, iter)?;
        if let Some(env) = env.filter(|e| !e.is_empty()) {
            let obj: Object = globals.get("__ENV")?;
            for (k, v) in env {
                obj.set(k, v)?;
            }
        }
        Ok(())
    })();
    r.catch(ctx).map_err(|e| caught(ctx, e))
}

/// Setup data for this call, parsed once per VU (k6 gives each VU its own copy).
fn data_value<'js>(
    ctx: &Ctx<'js>,
    data: Option<Arc<str>>,
    cache: &mut Option<(Arc<str>, Persistent<Value<'static>>)>,
) -> Result<Value<'js>, ScriptError> {
    let Some(data) = data else {
        return Ok(Value::new_undefined(ctx.clone()));
    };
    if let Some((k, v)) = cache.as_ref() {
        if Arc::ptr_eq(k, &data) {
            return Ok(v.clone().restore(ctx).expect("value of this runtime"));
        }
    }
    let v = ctx
        .json_parse(data.as_bytes())
        .catch(ctx)
        .map_err(|e| caught(ctx, e))?;
    *cache = Some((data, Persistent::save(ctx, v.clone())));
    Ok(v)
}

/// What every iteration names, made once per VU: the global object, `__ITER` and the exec
/// function's name (for one scenario at a time) as atoms, so that no iteration hashes them.
struct CallNames<'js> {
    globals: Object<'js>,
    iter: Option<Atom<'js>>,
    exec: Option<(Rc<str>, Atom<'js>)>,
}

impl<'js> CallNames<'js> {
    fn new(ctx: &Ctx<'js>) -> Self {
        CallNames {
            globals: ctx.globals(),
            iter: None,
            exec: None,
        }
    }

    /// The atom of `__ITER`, made on first use.
    fn iter(&mut self, ctx: &Ctx<'js>) -> rquickjs::Result<Atom<'js>> {
        if let Some(atom) = &self.iter {
            return Ok(atom.clone());
        }
        let atom = Atom::from_str(ctx.clone(), "__ITER")?;
        self.iter = Some(atom.clone());
        Ok(atom)
    }

    /// The atom of `exec` (a new scenario's function makes a new one).
    fn exec(&mut self, ctx: &Ctx<'js>, exec: &Rc<str>) -> rquickjs::Result<Atom<'js>> {
        match &self.exec {
            Some((name, atom)) if name == exec => Ok(atom.clone()),
            _ => {
                let atom = Atom::from_str(ctx.clone(), exec)?;
                self.exec = Some((exec.clone(), atom.clone()));
                Ok(atom)
            }
        }
    }
}

/// Calls the exported function `name` (looked up by `key`, its atom); `want_result` returns its
/// (awaited) result as JSON.
fn invoke<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    ns: &Object<'js>,
    name: &str,
    key: rquickjs::Result<Atom<'js>>,
    arg: Value<'js>,
    want_result: bool,
) -> Result<Option<String>, ScriptError> {
    let f: rquickjs::Result<Option<Function>> = key.and_then(|key| ns.get(key));
    let f = f.catch(ctx).map_err(|e| caught(ctx, e))?;
    let Some(f) = f else {
        return Err(no_export(name));
    };
    let ret: Value = f.call((arg,)).catch(ctx).map_err(|e| caught(ctx, e))?;
    let ret = match ret.as_promise() {
        Some(p) => settle(ctx, host, p.clone())?,
        None => ret,
    };
    crate::modules::timers::run_pending(ctx, host)?;
    if !want_result || ret.is_undefined() {
        return Ok(None);
    }
    let json = ctx
        .json_stringify(ret)
        .catch(ctx)
        .map_err(|e| caught(ctx, e))?;
    Ok(json.and_then(|s| s.to_string().ok()))
}

/// The error of a call to an export the script lacks; apart from [`invoke`], as [`caught`] is.
#[cold]
#[inline(never)]
fn no_export(name: &str) -> ScriptError {
    ScriptError::plain(format!("the script exports no function '{name}'"))
}

/// QuickJS's stack lines without the frames of brunt's own modules (`k6/metrics` and the other
/// built-ins written in JavaScript), whose bytecode keeps no positions (`(<null>:0:1)`): they
/// would mean nothing to the script's author, and k6 shows only the script's frames.
fn script_frames(stack: String) -> String {
    if !stack.contains("(<null>") {
        return stack;
    }
    stack
        .lines()
        .filter(|l| !l.contains("(<null>"))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// Turns a caught JavaScript error into a [`ScriptError`] with message and stack. Never inlined:
/// its temporaries would sit in the frame of every iteration's call, on the VU's stack.
#[cold]
#[inline(never)]
pub(crate) fn caught<'js>(ctx: &Ctx<'js>, e: CaughtError<'js>) -> ScriptError {
    match e {
        CaughtError::Exception(ex) => {
            let name: Option<String> = ex.as_object().get("name").ok();
            let msg = ex.message().unwrap_or_default();
            let message = match name {
                // QuickJS words a failed import's error as "Error: ..." already.
                Some(n) if !n.is_empty() && !msg.starts_with(&format!("{n}: ")) => {
                    format!("{n}: {msg}")
                }
                _ => msg,
            };
            ScriptError {
                message,
                stack: script_frames(ex.stack().unwrap_or_default()),
            }
        }
        CaughtError::Value(v) => {
            let text = ctx
                .json_stringify(v.clone())
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| format!("{v:?}"));
            ScriptError::plain(text)
        }
        CaughtError::Error(e) => ScriptError::plain(e.to_string()),
    }
}
