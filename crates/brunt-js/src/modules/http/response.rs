//! `http.Response`. A Response is an instance of the native class [`Raw`], which holds the last
//! request sent and its response. Only `status` is set when it is made. Every other field becomes
//! a JavaScript value the first time the script reads it, and an ordinary property from then on:
//! building them all costs more than the request itself on loopback.
//!
//! The prototype (the field getters, `json`, `toJSON`, `html`, `submitForm`, `clickLink`) is made
//! once per runtime, in its neutral context, and frozen: a VU pays nothing for it, and nothing a
//! VU does to it reaches another VU. Native functions run in
//! their caller's realm, so what a getter builds belongs to the VU that reads it.

use super::json_path::Selected;
use super::layer;
use crate::modules::direct_fn::direct_fn;
use crate::modules::{array_buffer, bytes_of, layout, throw, HeldAtom, HeldValue};
use crate::program::Shared;
use brunt_http::{Request, Response};
use rquickjs::function::{Rest, This};
use rquickjs::object::Property;
use rquickjs::{
    qjs, Array, Class, Ctx, Exception, FromJs, Function, IntoJs, JsLifetime, Object, Persistent,
    Result, Value,
};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum BodyType {
    Text,
    Binary,
    None,
}

/// The native data behind a Response object: the last request sent and its response.
pub(crate) struct Raw {
    req: Rc<Request>,
    /// Boxed: a single request's response arrives boxed from the I/O driver and stays there.
    resp: Box<Response>,
    body_type: BodyType,
    /// The own properties brunt gave the object, in order (see [`Shapes::responses`]).
    made: Cell<u64>,
}

native_data_class!(Raw, "Response");

/// The fields built on first read.
const LAZY: [&str; 14] = [
    "status_text",
    "url",
    "proto",
    "error",
    "error_code",
    "remote_ip",
    "remote_port",
    "tls_version",
    "ocsp",
    "headers",
    "cookies",
    "timings",
    "body",
    "request",
];

/// Every field, in the order k6's `JSON.stringify(res)` gives them.
const JSON_ORDER: [&str; 15] = [
    "remote_ip",
    "remote_port",
    "url",
    "status",
    "status_text",
    "proto",
    "headers",
    "cookies",
    "body",
    "timings",
    "tls_version",
    "ocsp",
    "error",
    "error_code",
    "request",
];

/// `res.timings`' fields, in k6's order, with its deprecated `looking_up` (always 0).
const TIMINGS: [&str; 8] = [
    "duration",
    "blocked",
    "looking_up",
    "connecting",
    "tls_handshaking",
    "sending",
    "waiting",
    "receiving",
];

/// Property names every response gets, as atoms made once per runtime: defining a property by
/// atom skips making the atom from the name and looking for a setter up the prototype chain.
pub(super) struct Atoms {
    status: HeldAtom,
    /// [`LAZY`]'s names, in its order.
    lazy: Box<[HeldAtom]>,
    /// [`TIMINGS`]' names, in its order.
    timings: Box<[HeldAtom]>,
}

impl Atoms {
    fn new(ctx: &Ctx<'_>) -> Result<Self> {
        let held = |names: &[&str]| -> Result<Box<[HeldAtom]>> {
            names.iter().map(|n| HeldAtom::new(ctx, n)).collect()
        };
        Ok(Atoms {
            status: HeldAtom::new(ctx, "status")?,
            lazy: held(&LAZY)?,
            timings: held(&TIMINGS)?,
        })
    }

    fn body(&self) -> qjs::JSAtom {
        const BODY: usize = lazy_index("body");
        self.lazy[BODY].atom
    }
}

/// The place of `name` in [`LAZY`], found when compiling (a name not there fails the build).
const fn lazy_index(name: &str) -> usize {
    let mut i = 0;
    while i < LAZY.len() {
        let (a, b) = (LAZY[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a lazy field")
}

/// [`Raw::made`] of a response with only `status`: a leading 1, then 4 bits per field made own,
/// its place in [`LAZY`] + 1, the latest lowest.
const MADE_STATUS: u64 = 1;

/// [`Raw::made`] once more fields were made own than it can list (15): no longer followed.
const MADE_UNKNOWN: u64 = u64::MAX;

/// [`Raw::made`] after field `i` of [`LAZY`] is made own.
fn made_then(made: u64, i: usize) -> u64 {
    if made >= 1 << 60 {
        MADE_UNKNOWN
    } else {
        made << 4 | (i as u64 + 1)
    }
}

/// The fields a [`Raw::made`] lists, in the order they were made own.
fn made_fields(made: u64) -> impl Iterator<Item = usize> {
    let n = made.checked_ilog2().map_or(0, |top| top / 4);
    (0..n)
        .rev()
        .map(move |k| ((made >> (4 * k)) & 0xF) as usize - 1)
}

/// Response sequences [`Shapes::responses`] keeps at most, per runtime.
const MAX_RESPONSE_SHAPES: usize = 64;

/// Objects kept for their shapes only. QuickJS gives an object that gains a property the shape
/// (prototype, then each property's name and flags, in order) of a live object that has exactly
/// those; otherwise it makes one or grows the object's own, and a shape dies with its last
/// object. A VU's responses and their `timings` die with each iteration, so without these every
/// response made all its shapes again (11 of the order script's property additions per request).
/// Kept, each addition finds its shape; what a script sees of the objects does not change.
#[derive(Default)]
struct Shapes {
    /// Per [`Raw::made`] sequence, a plain object with the Response prototype, `status` and those
    /// fields; 0: one with the prototype alone. Made when a response first reaches a sequence, at
    /// most [`MAX_RESPONSE_SHAPES`].
    responses: RefCell<FxHashMap<u64, HeldValue>>,
    /// Per VU context (by address), plain objects with the first 0 to 8 of `res.timings`'
    /// fields: made when the VU first reads a `timings`, released with the VU ([`release_vu`]),
    /// since they hold the VU's `Object.prototype` and with it the context.
    timings: RefCell<FxHashMap<usize, Box<[HeldValue]>>>,
}

/// The per-runtime classes of `k6/http`, made in the neutral context (see [`install_shared`]).
pub(super) struct Classes {
    pub response_proto: Persistent<Object<'static>>,
    pub jar_proto: Persistent<Object<'static>>,
    /// The module's functions (see `module.rs`).
    pub functions: Persistent<Object<'static>>,
    atoms: Atoms,
    shapes: Shapes,
}

/// The runtime's [`Classes`].
fn classes<'a>(ctx: &'a Ctx<'_>) -> Result<rquickjs::runtime::UserDataGuard<'a, Classes>> {
    ctx.userdata::<Classes>()
        .ok_or_else(|| throw(ctx, "k6/http's classes are missing from this runtime"))
}

/// `obj`, a new empty object, given the properties `atoms` as [`define_number`] makes them and
/// held for its shape (see [`Shapes`]).
fn shape_holder<'js>(
    ctx: &Ctx<'js>,
    obj: Object<'js>,
    atoms: impl IntoIterator<Item = qjs::JSAtom>,
) -> Result<HeldValue> {
    for atom in atoms {
        define_number(ctx, &obj, atom, 0.0)?;
    }
    Ok(HeldValue::new(obj.as_value()))
}

/// Keeps the shape of a response whose own properties are now `made` (see [`Shapes`]), and gives
/// the object kept with it (borrowed: it lives with the runtime); None when it is not kept (too
/// many fields made own to follow, or [`MAX_RESPONSE_SHAPES`] kept already).
fn keep_response_shape(ctx: &Ctx<'_>, c: &Classes, made: u64) -> Result<Option<qjs::JSValue>> {
    {
        let kept = c.shapes.responses.borrow();
        if let Some(held) = kept.get(&made) {
            return Ok(Some(held.raw()));
        }
        if made == MADE_UNKNOWN || kept.len() >= MAX_RESPONSE_SHAPES {
            return Ok(None);
        }
    }
    let proto = c.response_proto.clone().restore(ctx)?;
    // SAFETY: a live context and a live object of its runtime as the prototype; the new object
    // is owned by the `Value`.
    let obj = unsafe {
        let raw = qjs::JS_NewObjectProto(ctx.as_raw().as_ptr(), proto.as_raw());
        if qjs::JS_IsException(raw) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), raw)
    };
    let obj = Object::from_value(obj)?;
    let status = (made != 0).then_some(c.atoms.status.atom);
    let fields = made_fields(made).map(|i| c.atoms.lazy[i].atom);
    let holder = shape_holder(ctx, obj, status.into_iter().chain(fields))?;
    let raw = holder.raw();
    c.shapes.responses.borrow_mut().insert(made, holder);
    Ok(Some(raw))
}

/// Keeps the shapes of this VU's `res.timings` (see [`Shapes`]), and gives the object kept with
/// all its fields (borrowed: it lives until the VU is released).
fn keep_timing_shapes(ctx: &Ctx<'_>, c: &Classes) -> Result<qjs::JSValue> {
    let vu = ctx.as_raw().as_ptr() as usize;
    if let Some(held) = c.shapes.timings.borrow().get(&vu) {
        return Ok(held[TIMINGS.len()].raw());
    }
    // The context's own `Object.prototype`, as `res.timings` gets it (whatever the script did
    // to the global `Object`).
    let held = (0..=TIMINGS.len())
        .map(|n| {
            let atoms = c.atoms.timings[..n].iter().map(|a| a.atom);
            shape_holder(ctx, Object::new(ctx.clone())?, atoms)
        })
        .collect::<Result<Box<[HeldValue]>>>()?;
    let all = held[TIMINGS.len()].raw();
    c.shapes.timings.borrow_mut().insert(vu, held);
    Ok(all)
}

/// Releases what the runtime keeps for the VU whose context `ctx` is: called after its last
/// script code ran and before its context is dropped, which it would otherwise keep alive.
pub(crate) fn release_vu(ctx: &Ctx<'_>) {
    if let Some(c) = ctx.userdata::<Classes>() {
        let vu = ctx.as_raw().as_ptr() as usize;
        let held = c.shapes.timings.borrow_mut().remove(&vu);
        drop(held);
    }
}

/// Defines `obj[atom] = n` (writable, enumerable, configurable), as an assignment to a new
/// property of a plain object does.
fn define_number<'js>(ctx: &Ctx<'js>, obj: &Object<'js>, atom: qjs::JSAtom, n: f64) -> Result<()> {
    // SAFETY: a live object of this context and an atom the runtime holds (see [`Atoms`]); a
    // number holds no reference.
    let r = unsafe {
        qjs::JS_DefinePropertyValue(
            ctx.as_raw().as_ptr(),
            obj.as_raw(),
            atom,
            qjs::JS_NewFloat64(n),
            qjs::JS_PROP_C_W_E as _,
        )
    };
    if r < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

/// Defines `obj[atoms[i]] = values[i]` for each, as [`define_number`] does, in one step when
/// `kept` is a live object with `obj`'s properties and then these (see
/// [`layout::add_kept_props`]), and there are no more than `res.timings`' fields.
fn define_numbers<'js>(
    ctx: &Ctx<'js>,
    obj: &Object<'js>,
    kept: Option<qjs::JSValue>,
    atoms: &[qjs::JSAtom],
    values: &[f64],
) -> Result<()> {
    if let Some(kept) = kept.filter(|_| values.len() <= TIMINGS.len()) {
        let mut raw = [qjs::JS_UNDEFINED; TIMINGS.len()];
        for (r, &n) in raw.iter_mut().zip(values) {
            *r = qjs::JS_NewFloat64(n);
        }
        let raw = &raw[..values.len()];
        // SAFETY: a live context, objects and atoms of its runtime (see [`Atoms`]); numbers
        // hold no reference.
        match unsafe {
            layout::add_kept_props(ctx.as_raw().as_ptr(), obj.as_raw(), kept, atoms, raw)
        } {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(()) => return Err(rquickjs::Error::Exception),
        }
    }
    for (&atom, &n) in atoms.iter().zip(values) {
        define_number(ctx, obj, atom, n)?;
    }
    Ok(())
}

// SAFETY: Classes holds only persistent handles, which carry no lifetime.
unsafe impl<'js> JsLifetime<'js> for Classes {
    type Changed<'to> = Classes;
}

/// One of the runtime's classes, as a handle of the caller's context.
fn restore<'js, T>(
    ctx: &Ctx<'js>,
    pick: impl FnOnce(&Classes) -> &Persistent<T>,
) -> Result<T::Changed<'js>>
where
    T: JsLifetime<'static> + Clone,
{
    let p = pick(&*classes(ctx)?).clone();
    p.restore(ctx)
}

/// The prototype of the VU's cookie jars (see `jar.rs`).
pub(super) fn jar_prototype<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    restore(ctx, |c| &c.jar_proto)
}

/// The module's functions, by export name (see `module.rs`).
pub(super) fn module_functions<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    restore(ctx, |c| &c.functions)
}

/// A Response object for the script, with `status` set (scripts read it on nearly every
/// response).
pub(super) fn response_object<'js>(
    ctx: &Ctx<'js>,
    body_type: BodyType,
    req: Rc<Request>,
    resp: impl Into<Box<Response>>,
) -> Result<Value<'js>> {
    let resp: Box<Response> = resp.into();
    let status = resp.status;
    let c = classes(ctx)?;
    let proto = c.response_proto.clone().restore(ctx)?;
    let obj = Class::instance_proto(
        Raw {
            req,
            resp,
            body_type,
            made: Cell::new(MADE_STATUS),
        },
        proto,
    )?;
    let kept = c
        .shapes
        .responses
        .borrow()
        .get(&MADE_STATUS)
        .map(HeldValue::raw);
    define_numbers(ctx, &obj, kept, &[c.atoms.status.atom], &[status.into()])?;
    Ok(obj.into_value())
}

pub(super) fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// Headers as an object with Go's canonical names: repeated names are joined with `, ` (as
/// Go's `Header.Get` reads them, and k6's `res.headers`), or kept as arrays (k6's
/// `res.request.headers`).
fn headers_object<'js>(
    ctx: &Ctx<'js>,
    headers: &http::HeaderMap,
    as_arrays: bool,
) -> Result<Object<'js>> {
    let out = Object::new(ctx.clone())?;
    for name in headers.keys() {
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let key = canonical_header(name.as_str());
        if as_arrays {
            out.set(key, values.collect::<Vec<_>>())?;
        } else {
            out.set(key, values.collect::<Vec<_>>().join(", "))?;
        }
    }
    Ok(out)
}

/// One field of a Response, by name.
fn field<'js>(ctx: &Ctx<'js>, cls: &Classes, raw: &Raw, key: &str) -> Result<Value<'js>> {
    let resp = &raw.resp;
    let c = ctx.clone();
    match key {
        "timings" => {
            let t = resp.timings;
            let kept = keep_timing_shapes(ctx, cls)?;
            let o = Object::new(c)?;
            let values = [
                t.duration,
                t.blocked,
                0.0,
                t.connecting,
                t.tls_handshaking,
                t.sending,
                t.waiting,
                t.receiving,
            ];
            let atoms: [qjs::JSAtom; TIMINGS.len()] =
                std::array::from_fn(|i| cls.atoms.timings[i].atom);
            define_numbers(ctx, &o, Some(kept), &atoms, &values)?;
            Ok(o.into_value())
        }
        "body" => match raw.body_type {
            BodyType::None => Ok(Value::new_null(c)),
            _ if resp.status == 0 && resp.body.is_empty() => Ok(Value::new_null(c)),
            BodyType::Binary => array_buffer(ctx, resp.body.to_vec()),
            // A valid body (the usual case) is checked once, without `from_utf8_lossy`'s
            // chunking; an invalid one gets its replacement characters as before.
            BodyType::Text => Ok(match std::str::from_utf8(&resp.body) {
                Ok(text) => rquickjs::String::from_str(c, text)?,
                Err(_) => rquickjs::String::from_str(c, &String::from_utf8_lossy(&resp.body))?,
            }
            .into_value()),
        },
        _ => other_field(ctx, raw, key),
    }
}

/// The fields a script reads seldom, apart from [`field`]: inlined, their temporaries would
/// deepen the stack of every `res.body` and `res.timings` on the VU's stack.
#[inline(never)]
fn other_field<'js>(ctx: &Ctx<'js>, raw: &Raw, key: &str) -> Result<Value<'js>> {
    let (req, resp) = (&raw.req, &raw.resp);
    let c = ctx.clone();
    match key {
        "status_text" => {
            let reason = http::StatusCode::from_u16(resp.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            format!("{} {reason}", resp.status).into_js(ctx)
        }
        "url" => req.shown_url().into_js(ctx),
        "proto" => resp.proto.as_str().into_js(ctx),
        "error" => resp.error_text().unwrap_or("").into_js(ctx),
        "error_code" => resp.error_code.0.into_js(ctx),
        "remote_ip" => resp
            .remote
            .map(|r| r.ip().to_string())
            .unwrap_or_default()
            .into_js(ctx),
        "remote_port" => resp.remote.map(|r| r.port()).unwrap_or(0).into_js(ctx),
        "tls_version" => resp.tls_version.unwrap_or("").into_js(ctx),
        // brunt asks for no stapled OCSP response, so it has k6's values for none.
        "ocsp" => {
            let o = Object::new(c)?;
            for k in ["produced_at", "this_update", "next_update", "revoked_at"] {
                o.set(k, 0)?;
            }
            o.set("revocation_reason", "")?;
            o.set("status", "")?;
            Ok(o.into_value())
        }
        "headers" => Ok(headers_object(ctx, resp.headers(), false)?.into_value()),
        "cookies" => {
            let out = Object::new(c)?;
            for v in resp.headers().get_all(http::header::SET_COOKIE) {
                let Some(ck) = v
                    .to_str()
                    .ok()
                    .and_then(|s| super::cookies::parse_set_cookie(req.url(), s))
                else {
                    continue;
                };
                let list = match out.get::<_, Option<Array>>(ck.name.as_str())? {
                    Some(list) => list,
                    None => {
                        let list = Array::new(ctx.clone())?;
                        out.set(ck.name.as_str(), list.clone())?;
                        list
                    }
                };
                let o = Object::new(ctx.clone())?;
                o.set("name", ck.name.as_str())?;
                o.set("value", ck.value.as_str())?;
                o.set("domain", ck.domain.as_str())?;
                o.set("path", ck.path.as_str())?;
                o.set("http_only", ck.http_only)?;
                o.set("secure", ck.secure)?;
                list.set(list.len(), o)?;
            }
            Ok(out.into_value())
        }
        "request" => {
            let o = Object::new(c)?;
            o.set("method", req.method().as_str())?;
            o.set("url", req.shown_url())?;
            o.set("headers", headers_object(ctx, req.headers(), true)?)?;
            o.set("body", String::from_utf8_lossy(req.body()).into_owned())?;
            o.set("cookies", Object::new(ctx.clone())?)?;
            Ok(o.into_value())
        }
        _ => Ok(Value::new_undefined(c)),
    }
}

/// Makes field `i` of [`LAZY`] an ordinary property of `obj` holding `value` (it was a getter on
/// the prototype): rquickjs's `prop` with a writable, enumerable, configurable `Property`, by an
/// atom made once instead of one made from the name on every call. `raw`: `obj`'s, when it is a
/// Response, whose shape is then kept (see [`Shapes`]). `c`: the runtime's [`Classes`].
fn own<'js>(
    obj: &Object<'js>,
    c: &Classes,
    raw: Option<&Raw>,
    i: usize,
    value: &Value<'js>,
) -> Result<()> {
    let ctx = obj.ctx();
    let flags = qjs::JS_PROP_HAS_VALUE
        | qjs::JS_PROP_WRITABLE
        | qjs::JS_PROP_ENUMERABLE
        | qjs::JS_PROP_CONFIGURABLE
        | qjs::JS_PROP_THROW;
    let atom = c.atoms.lazy[i].atom;
    let made = raw.map(|raw| made_then(raw.made.get(), i));
    // A Response with only the fields brunt made own moves to the kept shape with this one more.
    let kept = match made {
        Some(made) => keep_response_shape(ctx, c, made)?,
        None => None,
    };
    let raw_ctx = ctx.as_raw().as_ptr();
    let stepped = match kept {
        // SAFETY: a live context, objects and atom of its runtime; the value is borrowed.
        Some(kept) => unsafe {
            layout::add_kept_props(raw_ctx, obj.as_raw(), kept, &[atom], &[value.as_raw()])
        }
        .map_err(|()| rquickjs::Error::Exception)?,
        None => false,
    };
    if !stepped {
        let undefined = qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0);
        // SAFETY: a live object and value of this context, an atom the runtime holds (see
        // [`Atoms`]); JS_DefineProperty borrows the value.
        let r = unsafe {
            qjs::JS_DefineProperty(
                raw_ctx,
                obj.as_raw(),
                atom,
                value.as_raw(),
                undefined,
                undefined,
                flags as _,
            )
        };
        if r < 0 {
            return Err(rquickjs::Error::Exception);
        }
    }
    if let (Some(raw), Some(made)) = (raw, made) {
        raw.made.set(made);
    }
    Ok(())
}

/// gjson-style selector for `res.json(selector)`: `a.b`, `items.0.id`, `items.#` (length).
fn select<'js>(ctx: &Ctx<'js>, mut v: Value<'js>, selector: &str) -> Result<Value<'js>> {
    for part in selector.split('.') {
        if v.is_undefined() || v.is_null() {
            return Ok(Value::new_undefined(ctx.clone()));
        }
        if part == "#" {
            if let Some(a) = v.as_array() {
                v = (a.len() as f64).into_js(ctx)?;
                continue;
            }
        }
        v = get_any(ctx, &v, part)?;
    }
    Ok(v)
}

/// `v[key]` for any value (a string's `length` or index included), as JavaScript reads it.
fn get_any<'js>(ctx: &Ctx<'js>, v: &Value<'js>, key: &str) -> Result<Value<'js>> {
    let Ok(key) = std::ffi::CString::new(key) else {
        return Ok(Value::new_undefined(ctx.clone()));
    };
    // SAFETY: `v` is a live value of this context; the result is owned by the handle.
    unsafe {
        let raw = qjs::JS_GetPropertyStr(ctx.as_raw().as_ptr(), v.as_raw(), key.as_ptr());
        if qjs::JS_IsException(raw) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), raw))
    }
}

/// The Response object a method was called on.
fn this_raw<'a, 'js>(this: &'a Value<'js>) -> Option<(&'a Object<'js>, Class<'js, Raw>)> {
    if !this.is_object() {
        return None;
    }
    // SAFETY: the tag says it is an object (rquickjs's `as_object` would also ask QuickJS
    // whether it is an array, a constructor, a function, a promise, an error).
    let obj = unsafe { this.ref_object() };
    let raw = Class::<Raw>::from_object(obj)?;
    Some((obj, raw))
}

/// `res.json(selector)` read from the response's bytes (see `json_path.rs`), when the script has
/// not read or replaced `res.body` and the walk can answer; None otherwise.
fn json_selected<'js>(
    ctx: &Ctx<'js>,
    this: &Value<'js>,
    selector: &str,
) -> Result<Option<Value<'js>>> {
    let Some((obj, raw)) = this_raw(this) else {
        return Ok(None);
    };
    let body = classes(ctx)?.atoms.body();
    // SAFETY: a live object of this context, an atom alive with the runtime; no descriptor is
    // asked for.
    let own = unsafe {
        qjs::JS_GetOwnProperty(
            ctx.as_raw().as_ptr(),
            std::ptr::null_mut(),
            obj.as_raw(),
            body,
        )
    };
    if own != 0 {
        // Read (an own property now), replaced, or an error: `res.body` decides.
        if own < 0 {
            return Err(rquickjs::Error::Exception);
        }
        return Ok(None);
    }
    let raw = raw.borrow();
    let resp = &raw.resp;
    if raw.body_type == BodyType::None || (resp.status == 0 && resp.body.is_empty()) {
        return Ok(None);
    }
    let v = match super::json_path::select(&resp.body, selector) {
        None => return Ok(None),
        Some(Selected::Undefined) => Value::new_undefined(ctx.clone()),
        Some(Selected::Length(n)) => (n as f64).into_js(ctx)?,
        Some(Selected::Raw(text)) => match text {
            // A string without escapes is its bytes.
            [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
                let s = std::str::from_utf8(inner).unwrap_or_default();
                rquickjs::String::from_str(ctx.clone(), s)?.into_value()
            }
            _ => ctx.json_parse(text)?,
        },
    };
    Ok(Some(v))
}

/// `res.json([selector])`.
fn json<'js>(
    ctx: &Ctx<'js>,
    this: &Value<'js>,
    selector: Option<&Value<'js>>,
) -> Result<Value<'js>> {
    let selector = match selector.filter(|s| !s.is_undefined()) {
        None => None,
        Some(s) => Some(rquickjs::Coerced::<String>::from_js(ctx, s.clone())?.0),
    };
    if let Some(s) = &selector {
        if let Some(v) = json_selected(ctx, this, s)? {
            return Ok(v);
        }
    }
    let body: Value = match this.as_object() {
        Some(o) => o.get("body")?,
        None => Value::new_undefined(ctx.clone()),
    };
    if body.is_null() || body.is_undefined() {
        return Err(throw(ctx, "the response has no body"));
    }
    let text = match body.as_string() {
        Some(s) => s.to_string()?,
        None => String::from_utf8_lossy(&bytes_of(ctx, &body)?).into_owned(),
    };
    let parsed = match ctx.json_parse(text) {
        Ok(v) => v,
        Err(rquickjs::Error::Exception) => {
            let e = ctx.catch();
            // As k6 (gjson): a selector finds nothing in a body that is not JSON.
            if selector.is_some() {
                return Ok(Value::new_undefined(ctx.clone()));
            }
            let msg = e
                .as_object()
                .and_then(|o| o.get::<_, String>("message").ok())
                .unwrap_or_default();
            return Err(Exception::throw_syntax(
                ctx,
                &format!("cannot parse the response body as JSON: {msg}"),
            ));
        }
        Err(e) => return Err(e),
    };
    match selector {
        None => Ok(parsed),
        Some(s) => select(ctx, parsed, &s),
    }
}

/// `res.toJSON()`: every field, in k6's order, so `JSON.stringify(res)` gives what k6 gives.
fn to_json<'js>(ctx: &Ctx<'js>, this: &Value<'js>) -> Result<Object<'js>> {
    let out = Object::new(ctx.clone())?;
    if let Some(o) = this.as_object() {
        for k in JSON_ORDER {
            out.set(k, o.get::<_, Value>(k)?)?;
        }
    }
    Ok(out)
}

/// Makes the runtime's Response prototype, the cookie jars' prototype and the module's functions
/// in the neutral context `ctx`, freezes them, and keeps them for the VUs (see [`Classes`]).
pub(crate) fn install_shared<'js>(ctx: &Ctx<'js>, shared: &Arc<Shared>) -> Result<()> {
    let object: Object = ctx.globals().get("Object")?;
    let define: Function = object.get("defineProperty")?;
    let mut made: Vec<Value<'js>> = Vec::new();
    let proto = Object::new(ctx.clone())?;
    for (i, key) in LAZY.into_iter().enumerate() {
        let get = direct_fn(ctx, key, move |ctx, args| {
            let this = args.this();
            let Some((obj, raw)) = this_raw(&this) else {
                return Ok(Value::new_undefined(ctx.clone()));
            };
            let raw = raw.borrow();
            let c = classes(ctx)?;
            let v = field(ctx, &c, &raw, key)?;
            own(obj, &c, Some(&raw), i, &v)?;
            Ok(v)
        })?;
        let set = direct_fn(ctx, key, move |ctx, args| {
            // Called bare (not as a setter), it throws as a native with one required parameter.
            let v = args.get(0).ok_or(rquickjs::Error::MissingArgs {
                expected: 1,
                given: 0,
            })?;
            if let Some(obj) = args.this().as_object() {
                let raw = Class::<Raw>::from_object(obj);
                let raw = raw.as_ref().map(|r| r.borrow());
                own(obj, &*classes(ctx)?, raw.as_deref(), i, &v)?;
            }
            Ok(Value::new_undefined(ctx.clone()))
        })?;
        let desc = Object::new(ctx.clone())?;
        desc.set("get", get.clone())?;
        desc.set("set", set.clone())?;
        desc.set("configurable", true)?;
        define.call::<_, Value>((proto.clone(), key, desc))?;
        made.push(get.into_value());
        made.push(set.into_value());
    }
    let methods: [(&str, Function<'js>); 5] = [
        (
            "json",
            direct_fn(ctx, "json", |ctx, args| {
                json(ctx, &args.this(), args.get(0).as_deref())
            })?,
        ),
        (
            "toJSON",
            Function::new(ctx.clone(), |ctx: Ctx<'js>, this: This<Value<'js>>| {
                to_json(&ctx, &this.0)
            })?,
        ),
        ("html", forward_method(ctx, shared, "html")?),
        ("submitForm", forward_method(ctx, shared, "submitForm")?),
        ("clickLink", forward_method(ctx, shared, "clickLink")?),
    ];
    for (name, f) in methods {
        let f = f.with_name(name)?;
        made.push(f.clone().into_value());
        proto.prop(name, Property::from(f).writable().configurable())?;
    }
    made.push(proto.clone().into_value());
    let jar_proto = super::jar::prototype(ctx, &mut made)?;
    let functions = super::module::shared_functions(ctx, &jar_proto, &mut made)?;
    let freeze: Function = object.get("freeze")?;
    for o in made {
        freeze.call::<_, Value>((o,))?;
    }
    ctx.store_userdata(Classes {
        response_proto: Persistent::save(ctx, proto),
        jar_proto: Persistent::save(ctx, jar_proto),
        functions: Persistent::save(ctx, functions),
        atoms: Atoms::new(ctx)?,
        shapes: Shapes::default(),
    })
    .map_err(|_| throw(ctx, "k6/http's classes were made twice"))?;
    // Every response starts with these two shapes.
    let c = classes(ctx)?;
    keep_response_shape(ctx, &c, 0)?;
    keep_response_shape(ctx, &c, MADE_STATUS)?;
    Ok(())
}

/// A Response method done by the JavaScript layer: `res.html(sel)` calls the layer's
/// `html(res, sel)`.
fn forward_method<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    name: &'static str,
) -> Result<Function<'js>> {
    let shared = shared.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              this: This<Value<'js>>,
              args: Rest<Value<'js>>|
              -> Result<Value<'js>> {
            let f: Function = layer(&ctx, &shared)?.get(name)?;
            let mut all = vec![this.0];
            all.extend(args.0);
            f.call((Rest(all),))
        },
    )
}
