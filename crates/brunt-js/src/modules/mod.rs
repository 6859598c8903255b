//! The native side of k6's modules. Each file adds its functions to the VU's hidden `__brunt`
//! object; the JavaScript layers in `src/js/` (compiled once per run) give them k6's shapes.

pub(crate) mod console;
pub(crate) mod crypto;
pub(crate) mod csv;
pub(crate) mod data;
pub(crate) mod direct_fn;
pub(crate) mod encoding;
pub(crate) mod execution;
pub(crate) mod fs;
pub(crate) mod globals;
pub(crate) mod grpc;
pub(crate) mod grpc_tls;
pub(crate) mod html;
pub(crate) mod http;
pub(crate) mod json;
pub(crate) mod k6;
pub(crate) mod layout;
pub(crate) mod llm;
pub(crate) mod metrics;
pub(crate) mod own_keys;
pub(crate) mod secrets;
pub(crate) mod sse;
pub(crate) mod text_encoding;
pub(crate) mod timers;
pub(crate) mod webcrypto;
pub(crate) mod websockets;
pub(crate) mod ws;
pub(crate) mod ws_deflate;
pub(crate) mod ws_handshake;
pub(crate) mod ws_read;

use crate::host::Host;
use rquickjs::function::IntoJsFunc;
use rquickjs::{qjs, ArrayBuffer, Ctx, Exception, Function, Object, Result, Value};
use std::cell::OnceCell;
use std::rc::Rc;

/// Name of the global function that gives a JS layer its module's native functions.
pub(crate) const NATIVE: &str = "__brunt_native";

/// Installs the globals (`__ENV`, `__VU`, `open`, `console`, timers) and `__brunt_native(name)`,
/// which builds a module's native functions when the module is first imported: a VU pays only
/// for the modules its script uses.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> Result<()> {
    let globals = ctx.globals();
    // `console`, the timers and `open` are added on first use (see `globals`).
    globals::install(ctx, &globals, host)?;
    json::install(ctx)?;
    let h = host.clone();
    // k6/http's state, shared by the module and its JavaScript layer.
    let http_state: OnceCell<Rc<http::State>> = OnceCell::new();
    // The files k6/experimental/fs opened, which k6/experimental/csv parses.
    let files: Rc<fs::Files> = Rc::default();
    def(
        ctx,
        &globals,
        NATIVE,
        move |ctx: Ctx<'js>, name: String| -> Result<Object<'js>> {
            let native = Object::new(ctx.clone())?;
            let http = || http_state.get_or_init(|| Rc::new(http::State::new(h.clone())));
            match name.as_str() {
                "k6" => k6::install(&ctx, &native, &h)?,
                "k6:module" => k6::module_functions(&ctx, &native, &h)?,
                "http" => http::install(&ctx, &native, http())?,
                "http:module" => http::install_state(&ctx, http())?,
                "metrics" => metrics::install(&ctx, &native, &h)?,
                "data" => data::install(&ctx, &native, &h)?,
                "execution" => execution::install(&ctx, &native, &h)?,
                "encoding" => encoding::install(&ctx, &native)?,
                "crypto" => crypto::install(&ctx, &native)?,
                "html" => html::install(&ctx, &native)?,
                "webcrypto" => webcrypto::install(&ctx, &native)?,
                "text" => text_encoding::install(&ctx, &native)?,
                "fs" => fs::install(&ctx, &native, &h, &files)?,
                "csv" => csv::install(&ctx, &native, &h, &files)?,
                "secrets" => secrets::install(&ctx, &native, &h)?,
                "sse" => sse::install(&ctx, &native, &h)?,
                "llm" => llm::install(&ctx, &native, &h)?,
                "ws" => ws::install(&ctx, &native, &h, http())?,
                "grpc" => grpc::install(&ctx, &native, &h)?,
                "websockets" => websockets::install(&ctx, &native, &h, http())?,
                other => return Err(throw(&ctx, &format!("no native module '{other}'"))),
            }
            Ok(native)
        },
    )
}

/// Adds a native function named `name` to `obj`, for the JavaScript layers' own use (a module's
/// native object): its prototype is the shared, frozen `Function.prototype` of a context that
/// runs no script (see `shared_rt::neutral_context`).
pub(crate) fn def<'js, P, F>(ctx: &Ctx<'js>, obj: &Object<'js>, name: &str, f: F) -> Result<()>
where
    F: IntoJsFunc<'js, P> + 'js,
{
    obj.set(name, Function::new(ctx.clone(), f)?.with_name(name)?)
}

/// Adds a native function that scripts see (`console.log`, `sleep`, ...) to `obj`.
pub(crate) fn def_public<'js, P, F>(
    ctx: &Ctx<'js>,
    obj: &Object<'js>,
    name: &str,
    f: F,
) -> Result<()>
where
    F: IntoJsFunc<'js, P> + 'js,
{
    obj.set(name, native_fn(ctx, name, f)?)
}

/// A native function that scripts see. rquickjs gives every Rust function the
/// `Function.prototype` of the first context of the runtime that made one (it caches class
/// prototypes per runtime), and the VUs of a worker share runtimes: this one gets its own
/// context's, so that `f.call`, `f.bind` and `instanceof Function` work in the VU's realm. (It
/// costs the function a shape of its own, about 100 bytes, so internal functions skip it.)
pub(crate) fn native_fn<'js, P, F>(ctx: &Ctx<'js>, name: &str, f: F) -> Result<Function<'js>>
where
    F: IntoJsFunc<'js, P> + 'js,
{
    let func = Function::new(ctx.clone(), f)?.with_name(name)?;
    func.set_prototype(Some(&Function::prototype(ctx.clone())))?;
    Ok(func)
}

/// The bytes of a string (UTF-8), ArrayBuffer or typed array, as k6's binary-accepting functions take.
pub(crate) fn bytes_of<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> Result<Vec<u8>> {
    if let Some(s) = v.as_string() {
        return Ok(s.to_string()?.into_bytes());
    }
    if let Some(obj) = v.as_object() {
        if let Some(ab) = obj.as_array_buffer() {
            return Ok(ab.as_bytes().unwrap_or_default().to_vec());
        }
        // rquickjs's check asks QuickJS for the object's ArrayBuffer, which leaves a TypeError
        // pending for any other object; left there, it is never freed (QuickJS aborts on the
        // leak when the runtime is dropped).
        let _ = ctx.catch();
        let buffer: Option<Object> = obj.get("buffer").ok();
        if let Some(ab) = buffer.as_ref().and_then(|b| b.as_array_buffer()) {
            let off: usize = obj.get("byteOffset").unwrap_or(0);
            let len: usize = obj.get("byteLength").unwrap_or(0);
            let all = ab.as_bytes().unwrap_or_default();
            return Ok(all.get(off..off + len).unwrap_or_default().to_vec());
        }
    }
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    Err(Exception::throw_type(
        ctx,
        "expected a string, an ArrayBuffer or a typed array",
    ))
}

/// An ArrayBuffer holding `bytes`.
pub(crate) fn array_buffer<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>) -> Result<Value<'js>> {
    globals::ensure_typed_arrays(ctx);
    Ok(ArrayBuffer::new(ctx.clone(), bytes)?.into_value())
}

/// The UTF-8 bytes of a JavaScript string, borrowed from QuickJS: ASCII strings are not copied.
pub(crate) struct Utf8<'js> {
    ctx: Ctx<'js>,
    ptr: *const std::ffi::c_char,
    len: usize,
    /// The string itself, held, when `ptr` points into its own characters (an ASCII string read
    /// in place, see [`layout::ascii_chars`]); None when QuickJS made the bytes, freed in drop.
    held: Option<qjs::JSValue>,
}

impl<'js> Utf8<'js> {
    pub(crate) fn of(ctx: &Ctx<'js>, s: &rquickjs::String<'js>) -> Result<Self> {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: `s` is a live string of this context; its characters live while it is held.
        if let Some(chars) = unsafe { layout::ascii_chars(raw, s.as_raw()) } {
            return Ok(Utf8 {
                ctx: ctx.clone(),
                ptr: chars.as_ptr().cast(),
                len: chars.len(),
                // SAFETY: a live value; the reference is this value's, freed in drop.
                held: Some(unsafe { qjs::JS_DupValue(raw, s.as_raw()) }),
            });
        }
        let mut len: qjs::size_t = 0;
        // SAFETY: `s` is a live string of this context; the bytes stay valid until freed in drop.
        let ptr = unsafe { qjs::JS_ToCStringLen2(raw, &mut len, s.as_raw(), false) };
        if ptr.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Utf8 {
            ctx: ctx.clone(),
            ptr,
            len: len as usize,
            held: None,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes at `ptr`, alive until drop (see `held`).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// The text, as `String::from_utf8_lossy` reads the bytes.
    pub(crate) fn str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes())
    }
}

impl Drop for Utf8<'_> {
    fn drop(&mut self) {
        let raw = self.ctx.as_raw().as_ptr();
        // SAFETY: the held string's reference, or the bytes JS_ToCStringLen2 made on this
        // context, freed once.
        unsafe {
            match self.held {
                Some(s) => qjs::JS_FreeValue(raw, s),
                None => qjs::JS_FreeCString(raw, self.ptr),
            }
        }
    }
}

/// An atom made once and held until dropped, for a property a native function reads on every
/// call (making it from its name each time hashes the name and looks it up). Held by a native
/// function's closure or by the runtime's userdata ([`HeldValue`] holds values the same way).
pub(crate) struct HeldAtom {
    rt: *mut qjs::JSRuntime,
    pub(crate) atom: qjs::JSAtom,
}

impl HeldAtom {
    pub(crate) fn new(ctx: &Ctx<'_>, name: &str) -> Result<Self> {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: a live context; the atom's reference is this value's, freed in drop.
        unsafe {
            let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
            if atom == qjs::JS_ATOM_NULL {
                return Err(rquickjs::Error::Exception);
            }
            Ok(HeldAtom {
                rt: qjs::JS_GetRuntime(raw),
                atom,
            })
        }
    }

    /// Another reference to `atom`, held by the result.
    ///
    /// # Safety
    /// `ctx` is a live context and `atom` a live atom of its runtime.
    pub(crate) unsafe fn dup(ctx: *mut qjs::JSContext, atom: qjs::JSAtom) -> Self {
        HeldAtom {
            rt: qjs::JS_GetRuntime(ctx),
            atom: qjs::JS_DupAtom(ctx, atom),
        }
    }
}

impl Drop for HeldAtom {
    fn drop(&mut self) {
        // SAFETY: the runtime outlives what holds this: a function's closure is dropped when
        // QuickJS frees the function, which JS_FreeRuntime does (in its collection) before it
        // frees the atoms, and rquickjs drops a runtime's userdata before JS_FreeRuntime.
        unsafe { qjs::JS_FreeAtomRT(self.rt, self.atom) };
    }
}

/// Held atoms are found by their number (a map keyed by them is looked up by a plain atom).
impl std::borrow::Borrow<qjs::JSAtom> for HeldAtom {
    fn borrow(&self) -> &qjs::JSAtom {
        &self.atom
    }
}

impl PartialEq for HeldAtom {
    fn eq(&self, other: &Self) -> bool {
        self.atom == other.atom
    }
}

impl Eq for HeldAtom {}

impl std::hash::Hash for HeldAtom {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.atom.hash(state);
    }
}

/// A value held until dropped, as [`HeldAtom`] holds an atom: by the runtime, not by a context
/// (a `Persistent` also holds the context it was saved in, which would keep a VU's context alive
/// in what the runtime keeps for all its VUs).
pub(crate) struct HeldValue {
    rt: *mut qjs::JSRuntime,
    value: qjs::JSValue,
}

impl HeldValue {
    pub(crate) fn new(v: &Value<'_>) -> Self {
        let raw = v.ctx().as_raw().as_ptr();
        // SAFETY: a live value of a live context; the new reference is this value's, freed in
        // drop.
        unsafe {
            HeldValue {
                rt: qjs::JS_GetRuntime(raw),
                value: qjs::JS_DupValue(raw, v.as_raw()),
            }
        }
    }

    /// Holds `value`, taking over the caller's reference to it.
    ///
    /// # Safety
    /// `ctx` is a live context, `value` a live value of its runtime whose reference the caller
    /// owns and gives up.
    pub(crate) unsafe fn take(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> Self {
        HeldValue {
            rt: qjs::JS_GetRuntime(ctx),
            value,
        }
    }

    /// The value held (borrowed: valid while `self` is).
    pub(crate) fn raw(&self) -> qjs::JSValue {
        self.value
    }
}

impl Drop for HeldValue {
    fn drop(&mut self) {
        // SAFETY: as for HeldAtom: the runtime outlives what holds this.
        unsafe { qjs::JS_FreeValueRT(self.rt, self.value) };
    }
}

/// Throws a JavaScript `Error` with `msg`.
pub(crate) fn throw(ctx: &Ctx<'_>, msg: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, msg)
}

/// The error that unwinds a cancelled VU (the interrupt handler makes it uncatchable).
pub(crate) fn cancelled(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(ctx, "the VU was stopped")
}

/// Calls `f` with the atom and the value of each own enumerable string-keyed property of `obj`,
/// in property order, each value read when its turn comes (a getter runs then), as
/// rquickjs's `props` does, but with QuickJS's values as they are: no name string is made and
/// no context reference taken per property. `f` borrows the value (freed after it returns) and
/// returns false to stop (no later value is read); the result is false when it stopped.
pub(crate) fn own_props(
    ctx: &Ctx<'_>,
    obj: qjs::JSValue,
    mut f: impl FnMut(qjs::JSAtom, qjs::JSValue) -> Result<bool>,
) -> Result<bool> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `obj` is a live value of this context that the caller holds for the call; the
    // listed keys are released when `keys` drops, and each value read is freed once after `f`
    // returned.
    unsafe {
        let keys = own_keys::OwnKeys::list(raw, obj).map_err(|()| rquickjs::Error::Exception)?;
        for i in 0..keys.len() {
            let v = keys.get(obj, i);
            if qjs::JS_IsException(v) {
                return Err(rquickjs::Error::Exception);
            }
            let go = f(keys.atom(i), v);
            qjs::JS_FreeValue(raw, v);
            if !go? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// String pairs of a tags object (`{name: 'x'}`), values turned to strings as k6 does.
pub(crate) fn tag_pairs<'js>(obj: Option<Object<'js>>) -> Result<Vec<(String, String)>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for kv in obj.props::<String, Value>() {
        let (k, v) = kv?;
        let s = if let Some(s) = v.as_string() {
            s.to_string()?
        } else if let Some(n) = v.as_number() {
            crate::modules::globals::number_to_string(n)
        } else if let Some(b) = v.as_bool() {
            b.to_string()
        } else {
            continue;
        };
        out.push((k, s));
    }
    Ok(out)
}
