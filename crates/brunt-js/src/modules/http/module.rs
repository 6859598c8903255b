//! The `k6/http` module as scripts import it, native: a VU holds its exported functions and a
//! default object, not a compiled JavaScript layer. `http.get(url)` and the other shorthands
//! without a body or params, the common case of load tests, go straight to the native request
//! path. Everything else (params, bodies, URL templates, batch, asyncRequest, files, expected
//! statuses, forms) is done by the JavaScript layer `js/http.js`, which a VU evaluates the
//! first time it needs it.

use super::{jar, response, State};
use crate::modules::{def_public, NATIVE};
use crate::program::Shared;
use rquickjs::function::{Opt, Rest};
use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::object::Property;
use rquickjs::{Ctx, Function, Object, Result, Value};
use std::rc::Rc;
use std::sync::Arc;

/// The internal name of the JavaScript layer (not importable by scripts).
pub(crate) const LAYER: &str = "brunt:http-layer";

/// The hidden global that holds the VU's layer once evaluated.
const LAYER_GLOBAL: &str = "__brunt_http_layer";

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
        // The VU's functions come from its `__brunt_native`, which holds the VU.
        let native: Function = ctx.globals().get(NATIVE)?;
        let fns: Object = native.call(("http:module",))?;
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

fn nullish(v: &Option<Value<'_>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_null() || v.is_undefined())
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

/// The module's exports for one VU (see [`HttpModule`]).
pub(crate) fn module_functions<'js>(
    ctx: &Ctx<'js>,
    out: &Object<'js>,
    state: &Rc<State>,
) -> Result<()> {
    for (name, method, has_body) in SHORTHANDS {
        let st = state.clone();
        def_public(
            ctx,
            out,
            name,
            move |ctx: Ctx<'js>,
                  url: Opt<Value<'js>>,
                  a: Opt<Value<'js>>,
                  b: Opt<Value<'js>>|
                  -> Result<Value<'js>> {
                let (body, params) = if has_body { (a.0, b.0) } else { (None, a.0) };
                if let Some(u) = url.0.as_ref().and_then(|u| u.as_string()) {
                    if nullish(&body) && nullish(&params) {
                        return st.simple(&ctx, method.as_bytes(), u);
                    }
                }
                let m = rquickjs::String::from_str(ctx.clone(), method)?.into_value();
                let undefined = || Value::new_undefined(ctx.clone());
                let args = vec![
                    m,
                    url.0.unwrap_or_else(undefined),
                    body.unwrap_or_else(|| Value::new_null(ctx.clone())),
                    params.unwrap_or_else(undefined),
                ];
                forward(&ctx, &st.host.shared, "request", args)
            },
        )?;
    }
    let st = state.clone();
    def_public(
        ctx,
        out,
        "request",
        move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<Value<'js>> {
            let a = &args.0;
            let arg = |i: usize| a.get(i).cloned();
            if let (Some(m), Some(u)) = (
                a.first().and_then(|v| v.as_string()),
                a.get(1).and_then(|v| v.as_string()),
            ) {
                if nullish(&arg(2)) && nullish(&arg(3)) {
                    let m = m.to_string()?;
                    return st.simple(&ctx, m.to_ascii_uppercase().as_bytes(), u);
                }
            }
            forward(&ctx, &st.host.shared, "request", args.0)
        },
    )?;
    for name in FORWARDED {
        let shared = state.host.shared.clone();
        def_public(
            ctx,
            out,
            name,
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<Value<'js>> {
                forward(&ctx, &shared, name, args.0)
            },
        )?;
    }
    let jars = state.jars.clone();
    def_public(
        ctx,
        out,
        "cookieJar",
        move |ctx: Ctx<'js>| -> Result<Value<'js>> { jar::jar_object(&ctx, &jars, 0) },
    )?;
    let jars = state.jars.clone();
    let ctor = crate::modules::native_fn(ctx, "CookieJar", move |ctx: Ctx<'js>| {
        jar::new_jar(&ctx, &jars)
    })?;
    ctor.set_constructor(true);
    ctor.prop("prototype", Property::from(response::jar_prototype(ctx)?))?;
    out.set("CookieJar", ctor)?;
    Ok(())
}
