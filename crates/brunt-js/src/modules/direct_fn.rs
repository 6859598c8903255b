//! Native functions that QuickJS calls directly, for the few a script calls on every request
//! (`http.get`/`post`/..., `check`, a metric's `add`, `res.json`, the Response's field getters).
//!
//! rquickjs's own `Function` costs about 700 instructions a call on top of the work: a class
//! call through its vtable, a panic guard, and a conversion per parameter, each of which takes a
//! reference on the context and on the value (`JS_DupContext`/`JS_FreeContext` about ten times a
//! call). A direct function is an object of a callable class of brunt's own whose call hands the
//! Rust closure the arguments as QuickJS passed them, lent rather than referenced.
//!
//! The closure is `'static`, so it holds no JavaScript value (those would need tracing by the
//! garbage collector); atoms (`HeldAtom`) and Rust state are what these functions keep.

use rquickjs::{qjs, Ctx, Error, Exception, FromJs, Function, JsLifetime, Object, Result, Value};
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

/// What a direct function runs: the context, and its `this` and arguments.
type Body = dyn for<'a, 'js> Fn(&'a Ctx<'js>, Args<'a, 'js>) -> Result<Value<'js>>;

/// A direct function's `this` and arguments, lent by QuickJS for the call.
pub(crate) struct Args<'a, 'js> {
    ctx: &'a Ctx<'js>,
    this: qjs::JSValue,
    argv: &'a [qjs::JSValue],
}

impl<'a, 'js> Args<'a, 'js> {
    pub(crate) fn this(&self) -> Lent<'a, 'js> {
        self.lend(self.this)
    }

    /// Argument `i` if the call passed one (`undefined` included), as rquickjs's `Opt` reads it.
    pub(crate) fn get(&self, i: usize) -> Option<Lent<'a, 'js>> {
        self.argv.get(i).map(|&v| self.lend(v))
    }

    /// Argument `i` as rquickjs reads an `Option<Object>`: None if missing, `undefined` or
    /// `null`, an error naming the type if it is no object.
    pub(crate) fn object(&self, i: usize) -> Result<Option<Object<'js>>> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => Option::<Object>::from_js(self.ctx, v.clone()),
        }
    }

    /// Every argument passed, each with a reference of its own.
    pub(crate) fn to_vec(&self) -> Vec<Value<'js>> {
        (0..self.argv.len())
            .filter_map(|i| self.get(i).map(|v| v.clone()))
            .collect()
    }

    fn lend(&self, v: qjs::JSValue) -> Lent<'a, 'js> {
        // SAFETY: the copy of `ctx` and the value are never dropped (ManuallyDrop), so neither
        // gives back a reference it did not take; both outlive 'a (the call).
        let value = unsafe { Value::from_raw(std::ptr::read(self.ctx), v) };
        Lent(ManuallyDrop::new(value), PhantomData)
    }
}

/// A value lent for a direct function's call: usable as a `Value`, cloned for one to keep.
pub(crate) struct Lent<'a, 'js>(ManuallyDrop<Value<'js>>, PhantomData<&'a ()>);

impl<'js> Deref for Lent<'_, 'js> {
    type Target = Value<'js>;

    fn deref(&self) -> &Value<'js> {
        &self.0
    }
}

/// The runtime's class id of direct functions (one class per runtime, registered on first use).
struct DirectClass(qjs::JSClassID);

// SAFETY: a plain number.
unsafe impl<'js> JsLifetime<'js> for DirectClass {
    type Changed<'to> = DirectClass;
}

/// Sets `obj[name]` to a direct function (see [`direct_fn`]).
pub(crate) fn def_direct<'js, F>(ctx: &Ctx<'js>, obj: &Object<'js>, name: &str, f: F) -> Result<()>
where
    F: for<'a, 'b> Fn(&'a Ctx<'b>, Args<'a, 'b>) -> Result<Value<'b>> + 'static,
{
    obj.set(name, direct_fn(ctx, name, f)?)
}

/// A function named `name` whose calls run `f`. Like a native function made with `native_fn`, it
/// has `Function.prototype` of this context and own `length` (0) and `name`; it is no constructor.
pub(crate) fn direct_fn<'js, F>(ctx: &Ctx<'js>, name: &str, f: F) -> Result<Function<'js>>
where
    F: for<'a, 'b> Fn(&'a Ctx<'b>, Args<'a, 'b>) -> Result<Value<'b>> + 'static,
{
    let class = class_id(ctx)?;
    let raw = ctx.as_raw().as_ptr();
    let body: Box<Box<Body>> = Box::new(Box::new(f));
    // SAFETY: plain QuickJS calls on this live context. The object owns the closure from
    // JS_SetOpaque on (the class's finalizer drops it); before that, a failure drops it here.
    unsafe {
        let proto = qjs::JS_GetFunctionProto(raw);
        let obj = qjs::JS_NewObjectProtoClass(raw, proto, class);
        qjs::JS_FreeValue(raw, proto);
        if qjs::JS_IsException(obj) {
            return Err(Error::Exception);
        }
        qjs::JS_SetOpaque(obj, Box::into_raw(body) as *mut c_void);
        let func = Value::from_raw(ctx.clone(), obj);
        let length = qjs::JS_DefinePropertyValueStr(
            raw,
            obj,
            c"length".as_ptr(),
            qjs::JS_MKVAL(qjs::JS_TAG_INT, 0),
            qjs::JS_PROP_CONFIGURABLE as c_int,
        );
        let name = rquickjs::String::from_str(ctx.clone(), name)?;
        let named = qjs::JS_DefinePropertyValueStr(
            raw,
            obj,
            c"name".as_ptr(),
            qjs::JS_DupValue(raw, name.as_raw()),
            qjs::JS_PROP_CONFIGURABLE as c_int,
        );
        if length < 0 || named < 0 {
            return Err(Error::Exception);
        }
        // A callable class makes a function (`typeof` is 'function').
        func.into_function().ok_or(Error::Unknown)
    }
}

/// This runtime's class of direct functions, registered the first time one is made.
fn class_id(ctx: &Ctx<'_>) -> Result<qjs::JSClassID> {
    if let Some(c) = ctx.userdata::<DirectClass>() {
        return Ok(c.0);
    }
    let mut id: qjs::JSClassID = 0;
    let def = qjs::JSClassDef {
        class_name: c"Function".as_ptr(),
        finalizer: Some(finalize),
        gc_mark: None,
        call: Some(call),
        exotic: std::ptr::null_mut(),
    };
    // SAFETY: a live runtime; QuickJS copies nothing from `def` but the name's atom.
    unsafe {
        let rt = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        qjs::JS_NewClassID(rt, &mut id);
        if qjs::JS_NewClass(rt, id, &def) != 0 {
            return Err(Error::Allocation);
        }
    }
    ctx.store_userdata(DirectClass(id))
        .map_err(|_| Error::Unknown)?;
    Ok(id)
}

unsafe extern "C" fn finalize(_rt: *mut qjs::JSRuntime, val: qjs::JSValue) {
    let mut id = 0;
    let body = qjs::JS_GetAnyOpaque(val, &mut id) as *mut Box<Body>;
    if !body.is_null() {
        drop(Box::from_raw(body));
    }
}

unsafe extern "C" fn call(
    ctx: *mut qjs::JSContext,
    func: qjs::JSValue,
    this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
    _flags: c_int,
) -> qjs::JSValue {
    let mut id = 0;
    // Set by `direct_fn` before the object was seen by anything that could call it.
    let body = &*(qjs::JS_GetAnyOpaque(func, &mut id) as *const Box<Body>);
    let ctx = Ctx::from_raw(NonNull::new_unchecked(ctx));
    let argv = if argc <= 0 || argv.is_null() {
        &[][..]
    } else {
        std::slice::from_raw_parts(argv, argc as usize)
    };
    let args = Args {
        ctx: &ctx,
        this,
        argv,
    };
    match catch_unwind(AssertUnwindSafe(|| body(&ctx, args))) {
        Ok(Ok(v)) => qjs::JS_DupValue(ctx.as_raw().as_ptr(), v.as_raw()),
        Ok(Err(e)) => throw(&ctx, e),
        Err(panic) => panicked(&ctx, panic),
    }
}

/// Throws a native function's panic as an InternalError. Apart from [`call`], as [`throw`] is,
/// so that the frame every direct call puts on the VU's stack holds no message temporaries.
#[cold]
#[inline(never)]
fn panicked(ctx: &Ctx<'_>, panic: Box<dyn std::any::Any + Send>) -> qjs::JSValue {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Exception::throw_internal(ctx, &format!("a native function failed: {why}"));
    qjs::JS_MKVAL(qjs::JS_TAG_EXCEPTION, 0)
}

/// Throws `e` as rquickjs throws a function's error: a conversion error as a TypeError, the
/// rest by its kind, with rquickjs's message.
#[inline(never)]
fn throw(ctx: &Ctx<'_>, e: Error) -> qjs::JSValue {
    let message = e.to_string();
    match &e {
        Error::Exception => {}
        // SAFETY: a live context.
        Error::Allocation => return unsafe { qjs::JS_ThrowOutOfMemory(ctx.as_raw().as_ptr()) },
        Error::InvalidString(_)
        | Error::Utf8(_)
        | Error::FromJs { .. }
        | Error::IntoJs { .. }
        | Error::TooManyArgs { .. }
        | Error::MissingArgs { .. } => {
            Exception::throw_type(ctx, &message);
        }
        Error::AsSlice(_) | Error::Resolving { .. } | Error::Loading { .. } => {
            Exception::throw_reference(ctx, &message);
        }
        Error::Unknown => {
            Exception::throw_internal(ctx, &message);
        }
        _ => {
            Exception::throw_message(ctx, &message);
        }
    }
    qjs::JS_MKVAL(qjs::JS_TAG_EXCEPTION, 0)
}

#[cfg(test)]
mod tests {
    use super::def_direct;
    use rquickjs::{Context, Runtime, Value};
    use std::rc::Rc;

    /// A direct function looks like a native one to scripts, lends its arguments without taking
    /// or dropping references (the runtime's leak check, on in CI's test builds, fails
    /// otherwise), throws its errors as rquickjs would, and its closure is dropped with it.
    #[test]
    fn a_direct_function_behaves_as_a_native_one() {
        let kept = Rc::new(());
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            let k = kept.clone();
            def_direct(&ctx, &ctx.globals(), "pick", move |ctx, args| {
                let _ = &k;
                let which = args.get(0).and_then(|v| v.as_int()).unwrap_or(-1);
                match which {
                    -1 => Ok(args.this().clone()),
                    0 => Err(rquickjs::Exception::throw_range(ctx, "zero")),
                    1 => Ok(Value::new_int(ctx.clone(), args.to_vec().len() as i32)),
                    2 => args
                        .object(1)
                        .map(|o| Value::new_bool(ctx.clone(), o.is_some())),
                    3 => Err(rquickjs::Error::Unknown),
                    4 => panic!("four"),
                    _ => Ok(args
                        .get(1)
                        .map_or(Value::new_undefined(ctx.clone()), |v| v.clone())),
                }
            })
            .unwrap();
            let out: String = ctx
                .eval(
                    r#"
                    const r = [];
                    r.push(typeof pick, pick.name, pick.length, pick instanceof Function,
                        Object.getOwnPropertyNames(pick).join(), String(pick).replace(/\s+/g, ' '));
                    const o = { pick };
                    r.push(o.pick() === o, pick.call('s') === 's');
                    r.push(pick(1, 'a', {}, [2]), pick(2, null), pick(2, {}));
                    const held = pick(9, { n: 1 });
                    r.push(held.n, pick(9, 'str' + r.length));
                    for (const [args, what] of [[[0], 'range'], [[2, 7], 'conversion'],
                        [[3], 'unknown'], [[4], 'panic']]) {
                        try { pick(...args); r.push('no throw'); }
                        catch (e) { r.push(`${what}: ${e.name}: ${e.message}`); }
                    }
                    try { new pick(); } catch (e) { r.push(`new: ${e.name}`); }
                    r.join('|')
                    "#,
                )
                .unwrap();
            assert_eq!(
                out,
                "function|pick|0|true|length,name|function pick() { [native code] }|true|true|\
                 4|false|true|1|str11|range: RangeError: zero|\
                 conversion: TypeError: Error converting from js 'int' into type 'object'|\
                 unknown: InternalError: QuickJS library created a unknown error|\
                 panic: InternalError: a native function failed: four|new: TypeError"
            );
        });
        assert_eq!(Rc::strong_count(&kept), 2);
        drop(ctx);
        drop(rt);
        assert_eq!(
            Rc::strong_count(&kept),
            1,
            "the closure is dropped with its function"
        );
    }
}
