//! Globals of k6's JavaScript: `__ENV`, `__VU`, `__ITER` and `open()`.

use super::{array_buffer, def, throw};
use crate::host::{Host, Phase};
use rquickjs::function::Opt;
use rquickjs::object::Accessor;
use rquickjs::{qjs, Ctx, Object, Result, Value};
use std::ffi::{c_int, CStr};
use std::path::Path;
use std::rc::Rc;

/// A number as JavaScript's `String(n)` writes it, for the common cases (integers, decimals).
pub(crate) fn number_to_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    install_lazy(ctx, globals)?;
    install_env(ctx, globals, host)?;
    globals.set("__VU", host.vu_id)?;
    globals.set("__ITER", 0)?;
    let h = host.clone();
    def(
        ctx,
        globals,
        "open",
        move |ctx: Ctx<'js>, path: String, mode: Opt<Option<String>>| -> Result<Value<'js>> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "open() can only be called in the init context (the script's top level)",
                ));
            }
            let resolved = resolve_open(&ctx, &h, &path);
            let data = h.shared.file(&resolved).map_err(|e| {
                throw(
                    &ctx,
                    &format!("open('{path}'): cannot read '{}': {e}", resolved.display()),
                )
            })?;
            if mode.0.flatten().as_deref() == Some("b") {
                return array_buffer(&ctx, data.to_vec());
            }
            let s = String::from_utf8_lossy(&data);
            Ok(rquickjs::String::from_str(ctx, &s)?.into_value())
        },
    )?;
    Ok(())
}

/// `open()` paths are relative to the module that calls it (k6's rule), else to the main script.
fn resolve_open(ctx: &Ctx<'_>, host: &Host, path: &str) -> std::path::PathBuf {
    let p = Path::new(path.strip_prefix("file://").unwrap_or(path));
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let caller: Option<String> = (0..3)
        .filter_map(|level| ctx.script_or_module_name(level))
        .filter_map(|a| a.to_string().ok())
        .find(|n| Path::new(n).is_absolute());
    let base = caller.unwrap_or_else(|| host.shared.main.clone());
    let dir = Path::new(&base).parent().unwrap_or(Path::new("."));
    crate::loader::normalize(&dir.join(p))
}

/// `__ENV`, built on first use: most scripts read it in a few places or not at all, and a VU
/// would otherwise hold its own copy of every variable from the start. Until then `__ENV` is an
/// accessor that replaces itself with the object (or with what the script assigns).
fn install_env<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    if host.shared.env.is_empty() {
        return globals.set("__ENV", Object::new(ctx.clone())?);
    }
    let h = host.clone();
    let get = move |ctx: Ctx<'js>| -> Result<Object<'js>> {
        let env = Object::new(ctx.clone())?;
        for (k, v) in &h.shared.env {
            env.set(k.as_str(), v.as_str())?;
        }
        define_env(&ctx, env.clone().into_value())?;
        Ok(env)
    };
    let set = |ctx: Ctx<'js>, v: Value<'js>| -> Result<()> { define_env(&ctx, v) };
    globals.prop("__ENV", Accessor::new(get, set).configurable().enumerable())
}

/// Makes `__ENV` a plain global holding `v` (writable, enumerable, configurable).
fn define_env<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<()> {
    let globals = ctx.globals();
    globals.remove("__ENV")?;
    globals.set("__ENV", v)
}

/// Intrinsics added to a VU's context only when a script first names one of their globals: they
/// cost a VU 18 KB together and most scripts use none of them.
const LAZY: &[(&[&str], unsafe extern "C" fn(*mut qjs::JSContext))] = &[
    (
        &[
            "ArrayBuffer",
            "SharedArrayBuffer",
            "DataView",
            "Uint8ClampedArray",
            "Int8Array",
            "Uint8Array",
            "Int16Array",
            "Uint16Array",
            "Int32Array",
            "Uint32Array",
            "BigInt64Array",
            "BigUint64Array",
            "Float16Array",
            "Float32Array",
            "Float64Array",
        ],
        qjs::JS_AddIntrinsicTypedArrays,
    ),
    (
        &["Map", "Set", "WeakMap", "WeakSet"],
        qjs::JS_AddIntrinsicMapSet,
    ),
    (&["Date"], qjs::JS_AddIntrinsicDate),
];

/// The typed-array group, which native code that creates ArrayBuffers adds first.
const TYPED_ARRAYS: usize = 0;

static LAZY_EXOTIC: qjs::JSClassExoticMethods = qjs::JSClassExoticMethods {
    get_own_property: Some(lazy_get_own_property),
    get_own_property_names: None,
    delete_property: None,
    define_own_property: None,
    has_property: None,
    get_property: None,
    set_property: None,
};

/// Registers the class of the lazy globals object in `rt`; None if QuickJS refused it.
///
/// # Safety
/// `rt` is a live runtime.
pub(crate) unsafe fn register_lazy_class(rt: *mut qjs::JSRuntime) -> Option<qjs::JSClassID> {
    let mut id: qjs::JSClassID = 0;
    qjs::JS_NewClassID(rt, &mut id);
    let def = qjs::JSClassDef {
        class_name: c"LazyGlobals".as_ptr(),
        finalizer: None,
        gc_mark: None,
        call: None,
        exotic: &LAZY_EXOTIC as *const _ as *mut _,
    };
    (qjs::JS_NewClass(rt, id, &def) == 0).then_some(id)
}

/// Puts an object of the lazy class between the global object and `Object.prototype`. A lookup
/// of a global that the global object lacks reaches it; for the name of a lazy intrinsic it adds
/// that intrinsic to the context (which defines its globals on the global object itself, so
/// later lookups never come here) and answers with the new global. Without the class (never in
/// practice), the intrinsics are added at once.
fn install_lazy<'js>(ctx: &Ctx<'js>, globals: &Object<'js>) -> Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: plain QuickJS calls on this live context; every reference taken is released.
    unsafe {
        let Some(id) = crate::shared_rt::lazy_class(qjs::JS_GetRuntime(raw)) else {
            for (_, add) in LAZY {
                add(raw);
            }
            return Ok(());
        };
        let g = globals.as_raw();
        let proto = qjs::JS_GetPrototype(raw, g);
        let lazy = qjs::JS_NewObjectProtoClass(raw, proto, id);
        qjs::JS_FreeValue(raw, proto);
        if qjs::JS_IsException(lazy) {
            return Err(rquickjs::Error::Exception);
        }
        let r = qjs::JS_SetPrototype(raw, g, lazy);
        qjs::JS_FreeValue(raw, lazy);
        if r < 0 {
            return Err(rquickjs::Error::Exception);
        }
    }
    Ok(())
}

/// Adds the typed-array intrinsics to this VU's context if no script used them yet (native code
/// calls this before it creates an ArrayBuffer).
pub(crate) fn ensure_typed_arrays(ctx: &Ctx<'_>) {
    let names = LAZY[TYPED_ARRAYS].0;
    let _ = ctx.globals().get::<_, Value>(names[0]);
}

/// `get_own_property` of the lazy globals object.
unsafe extern "C" fn lazy_get_own_property(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    obj: qjs::JSValue,
    prop: qjs::JSAtom,
) -> c_int {
    let name = qjs::JS_AtomToCString(ctx, prop);
    if name.is_null() {
        return -1;
    }
    let group = {
        let n = CStr::from_ptr(name).to_bytes();
        LAZY.iter()
            .position(|(names, _)| names.iter().any(|x| x.as_bytes() == n))
    };
    qjs::JS_FreeCString(ctx, name);
    let Some(group) = group else {
        return 0;
    };
    // Which groups were added to this context: bits kept in the object's opaque pointer.
    let id = qjs::JS_GetClassID(obj);
    let added = qjs::JS_GetOpaque(obj, id) as usize;
    if added & (1 << group) != 0 {
        // Added already, and the script deleted that global since: it is gone, as in any engine.
        return 0;
    }
    qjs::JS_SetOpaque(obj, (added | (1 << group)) as *mut std::ffi::c_void);
    (LAZY[group].1)(ctx);
    let global = qjs::JS_GetGlobalObject(ctx);
    let value = qjs::JS_GetProperty(ctx, global, prop);
    qjs::JS_FreeValue(ctx, global);
    if qjs::JS_IsException(value) {
        return -1;
    }
    if desc.is_null() {
        qjs::JS_FreeValue(ctx, value);
    } else {
        (*desc).flags = (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as c_int;
        (*desc).value = value;
        (*desc).getter = qjs::JSValue {
            u: qjs::JSValueUnion { int32: 0 },
            tag: qjs::JS_TAG_UNDEFINED as i64,
        };
        (*desc).setter = (*desc).getter;
    }
    1
}
