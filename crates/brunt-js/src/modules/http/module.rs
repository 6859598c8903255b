//! The `k6/http` module as scripts import it, native. Its functions are made once per runtime,
//! in the neutral context, and frozen (like the Response prototype); each finds its VU's
//! [`State`] through the caller's context (its opaque pointer, to the state a hidden global
//! holds). A VU holds only its module record, the default object and that global: not a compiled
//! JavaScript layer, not a function object per export. The common requests of load tests go straight to the native request path: a string
//! URL, a string body or none, and params (an object) with only `headers` and `tags`, read as k6
//! reads them (own enumerable keys, values turned to strings). Everything else (other params,
//! other bodies, URL templates, batch, asyncRequest, files, expected statuses, forms) is done by
//! the JavaScript layer `js/http.js`, which a VU evaluates the first time it needs it.

use super::params::{nullish, Names};
use super::{jar, response, State};
use crate::modules::direct_fn::direct_fn;
use crate::modules::Utf8;
use crate::modules::NATIVE;
use crate::program::Shared;
use rquickjs::function::Rest;
use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::object::Property;
use rquickjs::{qjs, Class, Ctx, Function, Object, Result, Value};
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::Arc;

/// The internal name of the JavaScript layer (not importable by scripts).
pub(crate) const LAYER: &str = "brunt:http-layer";

/// The hidden global that holds the VU's layer once evaluated.
const LAYER_GLOBAL: &str = "__brunt_http_layer";

/// The hidden global that holds the VU's [`State`] for the shared functions.
const STATE_GLOBAL: &str = "__brunt_http_state";

/// A VU's [`State`] as a JavaScript value.
pub(crate) struct StateRef(Rc<State>);

native_data_class!(StateRef, "HttpState");

/// Gives the VU's context its [`State`] (when it imports `k6/http`): a hidden global holds it,
/// and the context's opaque pointer points at it, so a call finds it without a property lookup.
pub(crate) fn install_state<'js>(ctx: &Ctx<'js>, state: &Rc<State>) -> Result<()> {
    let holder = Class::instance(ctx.clone(), StateRef(state.clone()))?;
    let held = Rc::as_ptr(&holder.borrow().0);
    // Not configurable or writable: the global keeps this `Rc` for the context's whole life.
    ctx.globals().prop(STATE_GLOBAL, Property::from(holder))?;
    // SAFETY: the context is live; QuickJS and rquickjs leave a context's opaque pointer to the
    // embedder, and nothing else in brunt sets it.
    unsafe { qjs::JS_SetContextOpaque(ctx.as_raw().as_ptr(), held as *mut c_void) };
    Ok(())
}

/// The [`State`] of the VU whose context calls (QuickJS calls a native function with its
/// caller's context).
fn vu_state<'a>(ctx: &'a Ctx<'_>) -> Result<&'a State> {
    // SAFETY: the context is live.
    let opaque = unsafe { qjs::JS_GetContextOpaque(ctx.as_raw().as_ptr()) };
    if opaque.is_null() {
        return Err(rquickjs::Error::new_from_js("context", "k6/http's state"));
    }
    // SAFETY: `install_state` set it to the `State` inside an `Rc` that the context's
    // non-configurable global holds until the context is freed, so it outlives this borrow of
    // the live context; `State` is only ever shared (`&`).
    Ok(unsafe { &*(opaque as *const State) })
}

/// The shorthands: name, method, whether a body comes before the params.
const SHORTHANDS: [(&str, &str, bool); 7] = [
    ("get", "GET", false),
    ("head", "HEAD", false),
    ("post", "POST", true),
    ("put", "PUT", true),
    ("patch", "PATCH", true),
    ("del", "DELETE", true),
    ("options", "OPTIONS", true),
];

/// Exports the layer implements (the module forwards to it).
const FORWARDED: [&str; 6] = [
    "asyncRequest",
    "batch",
    "file",
    "url",
    "expectedStatuses",
    "setResponseCallback",
];

const CONSTANTS: [(&str, &str); 18] = [
    ("TLS_1_0", "tls1.0"),
    ("TLS_1_1", "tls1.1"),
    ("TLS_1_2", "tls1.2"),
    ("TLS_1_3", "tls1.3"),
    ("OCSP_STATUS_GOOD", "good"),
    ("OCSP_STATUS_REVOKED", "revoked"),
    ("OCSP_STATUS_SERVER_FAILED", "server_failed"),
    ("OCSP_STATUS_UNKNOWN", "unknown"),
    ("OCSP_REASON_UNSPECIFIED", "unspecified"),
    ("OCSP_REASON_KEY_COMPROMISE", "key_compromise"),
    ("OCSP_REASON_CA_COMPROMISE", "ca_compromise"),
    ("OCSP_REASON_AFFILIATION_CHANGED", "affiliation_changed"),
    ("OCSP_REASON_SUPERSEDED", "superseded"),
    (
        "OCSP_REASON_CESSATION_OF_OPERATION",
        "cessation_of_operation",
    ),
    ("OCSP_REASON_CERTIFICATE_HOLD", "certificate_hold"),
    ("OCSP_REASON_REMOVE_FROM_CRL", "remove_from_crl"),
    ("OCSP_REASON_PRIVILEGE_WITHDRAWN", "privilege_withdrawn"),
    ("OCSP_REASON_AA_COMPROMISE", "aa_compromise"),
];

/// Every export but the constants and `default`.
fn function_names() -> impl Iterator<Item = &'static str> {
    SHORTHANDS
        .iter()
        .map(|s| s.0)
        .chain(FORWARDED)
        .chain(["request", "cookieJar", "CookieJar"])
}

pub(crate) struct HttpModule;

impl ModuleDef for HttpModule {
    fn declare(decl: &Declarations) -> Result<()> {
        for name in function_names().chain(CONSTANTS.iter().map(|c| c.0)) {
            decl.declare(name)?;
        }
        decl.declare("default")?;
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> Result<()> {
        // The VU's `__brunt_native`, which holds the VU, installs its state.
        let native: Function = ctx.globals().get(NATIVE)?;
        native.call::<_, Value>(("http:module",))?;
        let fns = response::module_functions(ctx)?;
        let default = Object::new(ctx.clone())?;
        for name in function_names() {
            let f: Value = fns.get(name)?;
            default.set(name, f.clone())?;
            exports.export(name, f)?;
        }
        for (name, value) in CONSTANTS {
            default.set(name, value)?;
            exports.export(name, value)?;
        }
        exports.export("default", default)?;
        Ok(())
    }
}

/// Sends `method url` with `body` and `params` natively when the module can read them itself
/// (see the module doc); None when the JavaScript layer must describe the request.
fn send_native<'js>(
    ctx: &Ctx<'js>,
    st: &State,
    names: &Names,
    method: &[u8],
    url: Option<&Value<'js>>,
    body: Option<&Value<'js>>,
    params: Option<&Value<'js>>,
) -> Result<Option<Value<'js>>> {
    let Some(url) = url.and_then(|u| u.as_string()) else {
        return Ok(None);
    };
    let body = match body.filter(|b| !nullish(b.as_raw())) {
        None => None,
        Some(b) => match b.as_string() {
            Some(s) => Some(s),
            None => return Ok(None),
        },
    };
    // Taken while read: reading runs the script's getters and `toString`s, which may send
    // requests of their own (they find none).
    let mut seen = st.seen.take();
    let read = match params.filter(|p| !nullish(p.as_raw())) {
        None => {
            seen.clear();
            Ok(true)
        }
        Some(params) => seen.read(ctx, names, &st.host.kept_shapes, params.as_raw()),
    };
    let sent = match read {
        Ok(true) => st
            .send(ctx, method, url, body, seen.headers.get(), seen.tags.get())
            .map(Some),
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    *st.seen.borrow_mut() = seen;
    sent
}

/// The VU's JavaScript layer, evaluated on first use.
pub(super) fn layer<'js>(ctx: &Ctx<'js>, shared: &Arc<Shared>) -> Result<Object<'js>> {
    let globals = ctx.globals();
    if let Some(ns) = globals.get::<_, Option<Object>>(LAYER_GLOBAL)? {
        return Ok(ns);
    }
    let ns = crate::loader::evaluate_internal(ctx, shared, LAYER)?;
    globals.prop(LAYER_GLOBAL, Property::from(ns.clone()))?;
    Ok(ns)
}

/// Calls the layer's `name` with `args`.
fn forward<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    name: &str,
    args: Vec<Value<'js>>,
) -> Result<Value<'js>> {
    let f: Function = layer(ctx, shared)?.get(name)?;
    f.call((Rest(args),))
}

/// A shorthand call the native path does not take, sent on to the JavaScript layer's `request`
/// as `(method, url, body, params)`. Apart from the shorthand, so that its temporaries are not
/// on the VU's stack for every request.
#[inline(never)]
fn forward_shorthand<'js>(
    ctx: &Ctx<'js>,
    st: &State,
    method: &str,
    u: Option<&Value<'js>>,
    b: Option<&Value<'js>>,
    p: Option<&Value<'js>>,
) -> Result<Value<'js>> {
    let m = rquickjs::String::from_str(ctx.clone(), method)?.into_value();
    let undefined = || Value::new_undefined(ctx.clone());
    let args = vec![
        m,
        u.cloned().unwrap_or_else(undefined),
        b.cloned().unwrap_or_else(|| Value::new_null(ctx.clone())),
        p.cloned().unwrap_or_else(undefined),
    ];
    forward(ctx, &st.host.shared, "request", args)
}

/// The module's functions, made once per runtime in the neutral context `ctx` (see the module
/// doc); adds what it makes to `made` (to be frozen).
pub(super) fn shared_functions<'js>(
    ctx: &Ctx<'js>,
    jar_proto: &Object<'js>,
    made: &mut Vec<Value<'js>>,
) -> Result<Object<'js>> {
    let out = Object::new(ctx.clone())?;
    let names = Rc::new(Names::new(ctx)?);
    for (name, method, has_body) in SHORTHANDS {
        let names = names.clone();
        let f = direct_fn(ctx, name, move |ctx, args| {
            let st = vu_state(ctx)?;
            let url = args.get(0);
            let (body, params) = if has_body {
                (args.get(1), args.get(2))
            } else {
                (None, args.get(1))
            };
            let (u, b, p) = (url.as_deref(), body.as_deref(), params.as_deref());
            if let Some(res) = send_native(ctx, st, &names, method.as_bytes(), u, b, p)? {
                return Ok(res);
            }
            forward_shorthand(ctx, st, method, u, b, p)
        })?;
        made.push(f.clone().into_value());
        out.set(name, f)?;
    }
    let request = direct_fn(ctx, "request", move |ctx, args| {
        let st = vu_state(ctx)?;
        let first = args.get(0);
        if let Some(m) = first.as_deref().and_then(Value::as_string) {
            // Sent as written, as k6 sends it (`get` stays lower-case).
            let m = Utf8::of(ctx, m)?;
            let (u, b, p) = (args.get(1), args.get(2), args.get(3));
            let (u, b, p) = (u.as_deref(), b.as_deref(), p.as_deref());
            if let Some(res) = send_native(ctx, st, &names, m.bytes(), u, b, p)? {
                return Ok(res);
            }
        }
        forward(ctx, &st.host.shared, "request", args.to_vec())
    })?;
    made.push(request.clone().into_value());
    out.set("request", request)?;
    let mut add = |name: &str, f: Function<'js>| -> Result<()> {
        let f = f.with_name(name)?;
        made.push(f.clone().into_value());
        out.set(name, f)
    };
    for name in FORWARDED {
        add(
            name,
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<Value<'js>> {
                    let st = vu_state(&ctx)?;
                    forward(&ctx, &st.host.shared, name, args.0)
                },
            )?,
        )?;
    }
    add(
        "cookieJar",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Value<'js>> {
            jar::jar_object(&ctx, &vu_state(&ctx)?.jars, 0)
        })?,
    )?;
    let ctor = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Value<'js>> {
        jar::new_jar(&ctx, &vu_state(&ctx)?.jars)
    })?;
    ctor.set_constructor(true);
    ctor.prop("prototype", Property::from(jar_proto.clone()))?;
    add("CookieJar", ctor)?;
    Ok(out)
}
