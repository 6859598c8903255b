//! `JSON.stringify` without a replacer or an indent, written straight into one byte buffer.
//!
//! QuickJS's own builds a JavaScript array of key strings per object, looks each key up again
//! from its string, keeps the cycle stack in a JavaScript array, makes a string of every array
//! index and a quoted string of every key and string value: about 45,900 instructions for the
//! order script's small body. This one performs the same observable steps in the same order
//! (`toJSON` looked up on every object and BigInt and called with its key, each property read
//! once, own enumerable string keys in property order, proxies' traps as QuickJS calls them,
//! boxed primitives unwrapped as QuickJS does) and gives byte-identical output, but makes a
//! JavaScript value only where the script can see one: a `toJSON` call's key, and the result.
//! A replacer or an indent goes to QuickJS's original, kept as the function's data.

use super::own_keys::OwnKeys;
use super::HeldAtom;
use rquickjs::{qjs, Ctx, JsLifetime, Result};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

/// QuickJS's class ids of the objects `JSON.stringify` treats apart (quickjs.c's `JS_CLASS_*`
/// enum; `class_ids_are_quickjs_own` checks them against boxed values). A plain object's, which
/// QuickJS never makes exotic, is `own_keys`' too.
pub(super) const CLASS_OBJECT: u32 = 1;
const CLASS_NUMBER: u32 = 4;
const CLASS_STRING: u32 = 5;
const CLASS_BOOLEAN: u32 = 6;
const CLASS_BIG_INT: u32 = 34;

/// Nesting past this throws QuickJS's stack-overflow RangeError instead of recursing on: a VU's
/// stack is 1 MB (QuickJS's own recursion has no check here and would run off it). Recursing
/// below the VU's JavaScript stack limit throws it too (see [`past_stack_limit`]).
const MAX_DEPTH: usize = 1000;

/// The function's data: QuickJS's original, and `Boolean.prototype.valueOf` as it was at start
/// (to read a boxed boolean's value as QuickJS does, without calling anything the script set).
const DATA_ORIGINAL: usize = 0;
const DATA_BOOLEAN_VALUE_OF: usize = 1;

/// Retained scratch buffers above this size are dropped after a call.
const KEEP_BYTES: usize = 64 * 1024;

/// Keys whose written form [`KeyCache`] keeps: at most this many per runtime, each at most
/// [`KEY_CACHE_BYTES`] long.
const KEY_CACHE_KEYS: usize = 1024;
const KEY_CACHE_BYTES: usize = 64;

/// Each property name's quoted, escaped bytes, by atom, per runtime: a load test stringifies the
/// same keys on every iteration, and writing one from its atom (a string made of the atom, its
/// UTF-8 read back, the escape loop) costs more than the rest of the key's work. Each atom is
/// held while it is here, so its number names the same string until the runtime drops this.
struct KeyCache {
    keys: RefCell<FxHashMap<HeldAtom, Box<[u8]>>>,
    /// `toJSON`, looked up on every object written.
    to_json: HeldAtom,
}

// SAFETY: KeyCache holds no JavaScript value with a lifetime (atoms are plain numbers).
unsafe impl<'js> JsLifetime<'js> for KeyCache {
    type Changed<'to> = KeyCache;
}

thread_local! {
    /// The output buffer and cycle stack of the last call, reused by the next (a nested call from
    /// a `toJSON` finds it taken and makes its own).
    static SCRATCH: Cell<(Vec<u8>, Vec<*mut c_void>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// Replaces this context's `JSON.stringify` with the native one (a context without `JSON` is
/// left alone).
pub(crate) fn install(ctx: &Ctx<'_>) -> Result<()> {
    let raw = ctx.as_raw().as_ptr();
    if ctx.userdata::<KeyCache>().is_none() {
        let cache = KeyCache {
            keys: RefCell::default(),
            to_json: HeldAtom::new(ctx, "toJSON")?,
        };
        ctx.store_userdata(cache)
            .map_err(|_| rquickjs::Error::Unknown)?;
    }
    // SAFETY: plain QuickJS calls on this live context; every value taken is freed or handed
    // over (JS_NewCFunctionData duplicates its data, JS_DefinePropertyValueStr takes the value).
    unsafe {
        let global = qjs::JS_GetGlobalObject(raw);
        let json = qjs::JS_GetPropertyStr(raw, global, c"JSON".as_ptr());
        let boolean = qjs::JS_GetPropertyStr(raw, global, c"Boolean".as_ptr());
        qjs::JS_FreeValue(raw, global);
        let proto = qjs::JS_GetPropertyStr(raw, boolean, c"prototype".as_ptr());
        qjs::JS_FreeValue(raw, boolean);
        let value_of = qjs::JS_GetPropertyStr(raw, proto, c"valueOf".as_ptr());
        qjs::JS_FreeValue(raw, proto);
        let original = if qjs::JS_IsObject(json) {
            qjs::JS_GetPropertyStr(raw, json, c"stringify".as_ptr())
        } else {
            undefined()
        };
        let usable = qjs::JS_IsFunction(raw, original) && qjs::JS_IsFunction(raw, value_of);
        let mut data = [original, value_of];
        let f = if usable {
            qjs::JS_NewCFunctionData(raw, Some(stringify), 3, 0, 2, data.as_mut_ptr())
        } else {
            undefined()
        };
        for v in data {
            qjs::JS_FreeValue(raw, v);
        }
        if !usable {
            qjs::JS_FreeValue(raw, json);
            return Ok(());
        }
        if qjs::JS_IsException(f) {
            qjs::JS_FreeValue(raw, json);
            return Err(rquickjs::Error::Exception);
        }
        let name = qjs::JS_NewStringLen(raw, c"stringify".as_ptr(), 9);
        let flags = (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as c_int;
        let named = qjs::JS_DefinePropertyValueStr(
            raw,
            f,
            c"name".as_ptr(),
            name,
            qjs::JS_PROP_CONFIGURABLE as c_int,
        );
        let set = qjs::JS_DefinePropertyValueStr(raw, json, c"stringify".as_ptr(), f, flags);
        qjs::JS_FreeValue(raw, json);
        if named < 0 || set < 0 {
            return Err(rquickjs::Error::Exception);
        }
    }
    Ok(())
}

fn undefined() -> qjs::JSValue {
    qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0)
}

fn exception() -> qjs::JSValue {
    qjs::JS_MKVAL(qjs::JS_TAG_EXCEPTION, 0)
}

/// `JSON.stringify(value, replacer, space)`.
///
/// # Safety
/// Called by QuickJS only, as the data function `install` made: `ctx` is live, `argv` holds at
/// least 3 values (QuickJS pads a data function's arguments up to its length) and `data` the 2
/// that `install` gave. Every value this module takes ("Takes `val`") is freed exactly once, and
/// no JSValue outlives the call except the result.
unsafe extern "C" fn stringify(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // QuickJS pads a data function's arguments with `undefined` up to its length (3).
    let args = std::slice::from_raw_parts(argv, argc.max(3) as usize);
    let nullish = |v: qjs::JSValue| qjs::JS_IsUndefined(v) || qjs::JS_IsNull(v);
    if !nullish(args[1]) || !nullish(args[2]) {
        return qjs::JS_Call(ctx, *data.add(DATA_ORIGINAL), this, argc, argv);
    }
    let (mut out, mut stack) = SCRATCH.take();
    out.clear();
    stack.clear();
    // The runtime's key cache, stored by `install` (boxed in the runtime's userdata, which stays
    // where it is until the runtime is dropped, so the pointer outlives this call).
    let keys = NonNull::new(ctx).and_then(|c| {
        let c = Ctx::from_raw(c);
        let guard = c.userdata::<KeyCache>()?;
        Some(&*guard as *const KeyCache)
    });
    let mut w = Writer {
        ctx,
        out,
        stack,
        keys,
        to_json: match keys {
            Some(k) => qjs::JS_DupAtom(ctx, (*k).to_json.atom),
            None => qjs::JS_NewAtom(ctx, c"toJSON".as_ptr()),
        },
        boolean_value_of: *data.add(DATA_BOOLEAN_VALUE_OF),
    };
    let result = match w.check(qjs::JS_DupValue(ctx, args[0]), Key::Root) {
        Err(()) => exception(),
        Ok(v) if qjs::JS_IsUndefined(v) => v,
        Ok(v) => match w.value(v) {
            Ok(()) => qjs::JS_NewStringLen(ctx, w.out.as_ptr().cast(), w.out.len() as _),
            Err(()) => exception(),
        },
    };
    qjs::JS_FreeAtom(ctx, w.to_json);
    if w.out.capacity() <= KEEP_BYTES {
        SCRATCH.set((w.out, w.stack));
    }
    result
}

/// The key a value was read by, made into a string only for a `toJSON` call.
#[derive(Clone, Copy)]
enum Key {
    Root,
    Index(i64),
    Atom(qjs::JSAtom),
}

/// One call's state. Its methods are unsafe for the reasons `stringify` states: they run inside
/// that call, on its live context.
struct Writer {
    ctx: *mut qjs::JSContext,
    out: Vec<u8>,
    /// The objects being written, outermost first, for the cycle check.
    stack: Vec<*mut c_void>,
    /// The runtime's [`KeyCache`] (None in a runtime `install` did not see).
    keys: Option<*const KeyCache>,
    to_json: qjs::JSAtom,
    boolean_value_of: qjs::JSValue,
}

type Step<T = ()> = std::result::Result<T, ()>;

impl Writer {
    /// QuickJS's `js_json_check`: `toJSON` applied, then the value if it is written, else
    /// `undefined`. Takes `val`.
    unsafe fn check(&mut self, mut val: qjs::JSValue, key: Key) -> Step<qjs::JSValue> {
        let ctx = self.ctx;
        if qjs::JS_IsObject(val) || qjs::JS_IsBigInt(val) {
            let f = qjs::JS_GetProperty(ctx, val, self.to_json);
            if qjs::JS_IsException(f) {
                qjs::JS_FreeValue(ctx, val);
                return Err(());
            }
            if qjs::JS_IsFunction(ctx, f) {
                let mut k = key_value(ctx, key);
                let v = if qjs::JS_IsException(k) {
                    k
                } else {
                    qjs::JS_Call(ctx, f, val, 1, &mut k)
                };
                qjs::JS_FreeValue(ctx, k);
                qjs::JS_FreeValue(ctx, f);
                qjs::JS_FreeValue(ctx, val);
                if qjs::JS_IsException(v) {
                    return Err(());
                }
                val = v;
            } else {
                qjs::JS_FreeValue(ctx, f);
            }
        }
        Ok(match qjs::JS_VALUE_GET_NORM_TAG(val) {
            qjs::JS_TAG_OBJECT if qjs::JS_IsFunction(ctx, val) => {
                qjs::JS_FreeValue(ctx, val);
                undefined()
            }
            qjs::JS_TAG_OBJECT
            | qjs::JS_TAG_STRING
            | qjs::JS_TAG_INT
            | qjs::JS_TAG_FLOAT64
            | qjs::JS_TAG_BOOL
            | qjs::JS_TAG_NULL
            | qjs::JS_TAG_BIG_INT => val,
            _ => {
                qjs::JS_FreeValue(ctx, val);
                undefined()
            }
        })
    }

    /// QuickJS's `js_json_to_str`: writes a value that `check` kept. Takes `val`.
    unsafe fn value(&mut self, val: qjs::JSValue) -> Step {
        let ctx = self.ctx;
        if !qjs::JS_IsObject(val) {
            return self.primitive(val);
        }
        let unboxed = match qjs::JS_GetClassID(val) {
            CLASS_STRING => Some(qjs::JS_ToString(ctx, val)),
            CLASS_NUMBER => Some(qjs::JS_ToNumber(ctx, val)),
            CLASS_BOOLEAN => Some(qjs::JS_Call(
                ctx,
                self.boolean_value_of,
                val,
                0,
                std::ptr::null_mut(),
            )),
            CLASS_BIG_INT => {
                qjs::JS_FreeValue(ctx, val);
                return bigint_error(ctx);
            }
            _ => None,
        };
        if let Some(v) = unboxed {
            qjs::JS_FreeValue(ctx, val);
            if qjs::JS_IsException(v) {
                return Err(());
            }
            return self.primitive(v);
        }
        let ptr = qjs::JS_VALUE_GET_PTR(val);
        let r = if self.stack.contains(&ptr) {
            qjs::JS_ThrowTypeError(ctx, c"%s".as_ptr(), c"circular reference".as_ptr());
            Err(())
        } else if self.stack.len() >= MAX_DEPTH || past_stack_limit() {
            qjs::JS_ThrowRangeError(
                ctx,
                c"%s".as_ptr(),
                c"Maximum call stack size exceeded".as_ptr(),
            );
            Err(())
        } else {
            self.stack.push(ptr);
            let r = match qjs::JS_IsArray(ctx, val) {
                n if n < 0 => Err(()),
                0 => self.object(val),
                _ => self.array(val),
            };
            self.stack.pop();
            r
        };
        qjs::JS_FreeValue(ctx, val);
        r
    }

    unsafe fn array(&mut self, val: qjs::JSValue) -> Step {
        let ctx = self.ctx;
        let mut len: i64 = 0;
        if qjs::JS_GetLength(ctx, val, &mut len) < 0 {
            return Err(());
        }
        self.out.push(b'[');
        for i in 0..len {
            if i > 0 {
                self.out.push(b',');
            }
            let v = qjs::JS_GetPropertyInt64(ctx, val, i);
            if qjs::JS_IsException(v) {
                return Err(());
            }
            let v = self.check(v, Key::Index(i))?;
            if qjs::JS_IsUndefined(v) {
                self.out.extend_from_slice(b"null");
            } else {
                self.value(v)?;
            }
        }
        self.out.push(b']');
        Ok(())
    }

    unsafe fn object(&mut self, val: qjs::JSValue) -> Step {
        let ctx = self.ctx;
        self.out.push(b'{');
        let mut any = false;
        if qjs::JS_GetClassID(val) == CLASS_OBJECT {
            // A plain object's enumerable flags are filtered as its keys are listed.
            let keys = OwnKeys::list(ctx, val)?;
            for i in 0..keys.len() {
                self.member(&mut any, keys.atom(i), keys.get(val, i))?;
            }
        } else {
            // Any other (a proxy, an exotic class) is asked per key, after listing, as QuickJS's
            // `Object.keys` does.
            let mut tab: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
            let mut n: u32 = 0;
            let flags = qjs::JS_GPN_STRING_MASK as c_int;
            if qjs::JS_GetOwnPropertyNames(ctx, &mut tab, &mut n, val, flags) < 0 {
                return Err(());
            }
            let r = self.enumerable_members(val, tab, n, &mut any);
            qjs::JS_FreePropertyEnum(ctx, tab, n);
            r?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Writes the members of `val`, whose own string keys QuickJS listed in `tab`, that are
    /// enumerable when asked.
    unsafe fn enumerable_members(
        &mut self,
        val: qjs::JSValue,
        tab: *mut qjs::JSPropertyEnum,
        n: u32,
        any: &mut bool,
    ) -> Step {
        let ctx = self.ctx;
        let listed = if n == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(tab, n as usize)
        };
        let mut keys: Vec<qjs::JSAtom> = Vec::new();
        for p in listed {
            let mut desc = std::mem::MaybeUninit::<qjs::JSPropertyDescriptor>::uninit();
            let res = qjs::JS_GetOwnProperty(ctx, desc.as_mut_ptr(), val, p.atom);
            if res < 0 {
                return Err(());
            }
            if res > 0 {
                let desc = desc.assume_init();
                qjs::JS_FreeValue(ctx, desc.value);
                qjs::JS_FreeValue(ctx, desc.getter);
                qjs::JS_FreeValue(ctx, desc.setter);
                if desc.flags & qjs::JS_PROP_ENUMERABLE as c_int != 0 {
                    keys.push(p.atom);
                }
            }
        }
        for atom in keys {
            self.member(any, atom, qjs::JS_GetProperty(ctx, val, atom))?;
        }
        Ok(())
    }

    /// Writes one member, `"key":value`, unless `check` drops it (a comma before it if `any`
    /// was written already). Takes `v`, the property's value as read (or an exception).
    unsafe fn member(&mut self, any: &mut bool, atom: qjs::JSAtom, v: qjs::JSValue) -> Step {
        if qjs::JS_IsException(v) {
            return Err(());
        }
        let v = self.check(v, Key::Atom(atom))?;
        if qjs::JS_IsUndefined(v) {
            return Ok(());
        }
        if *any {
            self.out.push(b',');
        }
        if self.key(atom).is_err() {
            qjs::JS_FreeValue(self.ctx, v);
            return Err(());
        }
        self.out.push(b':');
        self.value(v)?;
        *any = true;
        Ok(())
    }

    /// Writes a property name, quoted, from the runtime's [`KeyCache`] when it is there, and
    /// keeps it there when it was not.
    unsafe fn key(&mut self, atom: qjs::JSAtom) -> Step {
        // SAFETY (of the dereference): see `stringify`, where the pointer is taken. The borrow
        // ends before anything can call back into this runtime.
        let cache = self.keys.map(|k| &*k);
        if let Some(c) = cache {
            if let Some(bytes) = c.keys.borrow().get(&atom) {
                self.out.extend_from_slice(bytes);
                return Ok(());
            }
        }
        let key = qjs::JS_AtomToString(self.ctx, atom);
        if qjs::JS_IsException(key) {
            return Err(());
        }
        let start = self.out.len();
        self.string(key)?;
        let written = &self.out[start..];
        if let Some(c) = cache {
            let mut keys = c.keys.borrow_mut();
            if keys.len() < KEY_CACHE_KEYS
                && written.len() <= KEY_CACHE_BYTES
                && !keys.contains_key(&atom)
            {
                keys.insert(HeldAtom::dup(self.ctx, atom), written.into());
            }
        }
        Ok(())
    }

    /// Writes a primitive as QuickJS's `concat_primitive` does. Takes `val`.
    unsafe fn primitive(&mut self, val: qjs::JSValue) -> Step {
        let ctx = self.ctx;
        match qjs::JS_VALUE_GET_NORM_TAG(val) {
            qjs::JS_TAG_STRING => self.string(val),
            qjs::JS_TAG_INT => {
                let mut b = itoa::Buffer::new();
                self.out
                    .extend_from_slice(b.format(qjs::JS_VALUE_GET_INT(val)).as_bytes());
                Ok(())
            }
            qjs::JS_TAG_FLOAT64 => {
                let d = qjs::JS_VALUE_GET_FLOAT64(val);
                if !d.is_finite() {
                    self.out.extend_from_slice(b"null");
                } else if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 {
                    // An integer: JavaScript writes it without a fraction or exponent (and -0 as 0).
                    let mut b = itoa::Buffer::new();
                    self.out.extend_from_slice(b.format(d as i64).as_bytes());
                } else {
                    let s = qjs::JS_ToString(ctx, val);
                    if qjs::JS_IsException(s) {
                        return Err(());
                    }
                    let r = self.raw(s);
                    qjs::JS_FreeValue(ctx, s);
                    return r;
                }
                Ok(())
            }
            qjs::JS_TAG_BOOL => {
                let b: &[u8] = if qjs::JS_VALUE_GET_BOOL(val) {
                    b"true"
                } else {
                    b"false"
                };
                self.out.extend_from_slice(b);
                Ok(())
            }
            qjs::JS_TAG_NULL => {
                self.out.extend_from_slice(b"null");
                Ok(())
            }
            qjs::JS_TAG_BIG_INT => {
                qjs::JS_FreeValue(ctx, val);
                bigint_error(ctx)
            }
            _ => {
                qjs::JS_FreeValue(ctx, val);
                Ok(())
            }
        }
    }

    /// Writes a string's UTF-8 as it is (a number's digits). Borrows `s`.
    unsafe fn raw(&mut self, s: qjs::JSValue) -> Step {
        let mut len = 0;
        let p = qjs::JS_ToCStringLen2(self.ctx, &mut len, s, false);
        if p.is_null() {
            return Err(());
        }
        self.out
            .extend_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len as usize));
        qjs::JS_FreeCString(self.ctx, p);
        Ok(())
    }

    /// Writes a string quoted and escaped as QuickJS's `JS_ToQuotedString`. Takes `s`.
    unsafe fn string(&mut self, s: qjs::JSValue) -> Step {
        if let Some(chars) = super::layout::ascii_chars(self.ctx, s) {
            quote(&mut self.out, chars);
            qjs::JS_FreeValue(self.ctx, s);
            return Ok(());
        }
        let mut len = 0;
        // UTF-8, with a lone surrogate kept as its three-byte form (QuickJS's own conversion):
        // an ASCII string is read in place.
        let p = qjs::JS_ToCStringLen2(self.ctx, &mut len, s, false);
        qjs::JS_FreeValue(self.ctx, s);
        if p.is_null() {
            return Err(());
        }
        quote(
            &mut self.out,
            std::slice::from_raw_parts(p.cast::<u8>(), len as usize),
        );
        qjs::JS_FreeCString(self.ctx, p);
        Ok(())
    }
}

/// Whether this call is below the running VU's JavaScript stack limit: a script called from deep
/// in its own recursion leaves only the room under that limit, about 256 KB (vu.rs), which 1,000
/// levels of this writer's frames would overrun (a crash, measured at 999 levels in a release
/// build). QuickJS throws at its limit; so does this. Outside a VU there is no limit to check.
fn past_stack_limit() -> bool {
    let limit = crate::shared_rt::stack_limit();
    let marker = 0u8;
    limit != 0 && (std::hint::black_box(&marker) as *const u8 as usize) < limit
}

/// Throws QuickJS's TypeError for a BigInt, boxed or not.
unsafe fn bigint_error(ctx: *mut qjs::JSContext) -> Step {
    qjs::JS_ThrowTypeError(
        ctx,
        c"%s".as_ptr(),
        c"BigInt are forbidden in JSON.stringify".as_ptr(),
    );
    Err(())
}

/// The key argument of a `toJSON` call: "" at the top, the index or the property name.
unsafe fn key_value(ctx: *mut qjs::JSContext, key: Key) -> qjs::JSValue {
    match key {
        Key::Root => qjs::JS_NewStringLen(ctx, c"".as_ptr(), 0),
        Key::Index(i) => {
            let mut b = itoa::Buffer::new();
            let s = b.format(i);
            qjs::JS_NewStringLen(ctx, s.as_ptr().cast(), s.len() as _)
        }
        Key::Atom(a) => qjs::JS_AtomToString(ctx, a),
    }
}

/// Appends `s` (UTF-8 in which a lone surrogate is its three-byte form) as a JSON string the way
/// QuickJS writes one: `"` and `\` escaped, the control characters below U+0020 as `\t`, `\r`,
/// `\n`, `\b`, `\f` or `\u00xx`, lone surrogates as `\udxxx`, everything else as it is.
pub(crate) fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b >= 0x20 && b != b'"' && b != b'\\' && b != 0xED {
            i += 1;
            continue;
        }
        // 0xED 0xA0..=0xBF starts U+D800..U+DFFF: a surrogate that had no pair.
        if b == 0xED && !(i + 2 < s.len() && s[i + 1] >= 0xA0) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        let short: &[u8] = match b {
            b'\t' => b"\\t",
            b'\r' => b"\\r",
            b'\n' => b"\\n",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            _ => b"",
        };
        if !short.is_empty() {
            out.extend_from_slice(short);
            i += 1;
        } else if b == 0xED {
            let c = (u32::from(b & 0x0F) << 12)
                | (u32::from(s[i + 1] & 0x3F) << 6)
                | u32::from(s[i + 2] & 0x3F);
            hex_escape(out, c);
            i += 3;
        } else {
            hex_escape(out, u32::from(b));
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// `\u` and four lowercase hex digits (C's `%04x`).
fn hex_escape(out: &mut Vec<u8>, c: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((c >> shift) & 0xF) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime};

    /// Runs `body` (JavaScript that returns a list of mismatches as a string) in a context whose
    /// `JSON.stringify` is the native one, with QuickJS's original as `orig`.
    fn mismatches(body: &str) -> String {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            ctx.eval::<(), _>("globalThis.orig = JSON.stringify;")
                .unwrap();
            super::install(&ctx).unwrap();
            let script = format!("{HARNESS}\n{body}");
            match ctx.eval::<String, _>(script) {
                Ok(s) => s,
                Err(e) => format!("{e}: {:?}", ctx.catch()),
            }
        })
    }

    /// `same(make, setup?)`: stringifies a fresh `make(log)` with both, and records any
    /// difference in output, thrown error or the order of the script-visible steps in `log`.
    const HARNESS: &str = r#"
const bad = [];
function outcome(f, make, args) {
  const log = [];
  let out;
  try { out = f(make(log), ...args); } catch (e) { out = 'throws ' + e.constructor.name + ': ' + e.message; }
  return orig([typeof out, out === undefined ? null : out, log]);
}
function same(name, make, ...args) {
  const a = outcome(JSON.stringify, make, args), b = outcome(orig, make, args);
  if (a !== b) bad.push(name + ':\n  native   ' + a + '\n  original ' + b);
}
"#;

    #[test]
    fn native_stringify_is_quickjs_byte_for_byte() {
        let r = mismatches(
            r#"
const values = [undefined, null, true, false, 0, -0, 1, -1, 42, 2 ** 31, -(2 ** 31), 2 ** 53,
  2 ** 53 + 2, -(2 ** 60), 1e21, 1e300, 1.5, -0.1, 0.1 + 0.2, 1e-7, 123e-20, 5e-324,
  NaN, Infinity, -Infinity, '', 'abc', '"\\\n\t\r\b\f\v\x00\x1f\x7f', '\u2028\u2029', '\ud800',
  'a\udc00b', '\ud83d\ude00', '\ude00\ud83d', 'é', 'ÿ\u0100', 'ü"', Symbol('x'), () => 1, 10n,
  'x'.repeat(70000)];
values.forEach((v, i) => same('value ' + i, () => v));
values.forEach((v, i) => same('in array ' + i, () => [v, 1]));
values.forEach((v, i) => same('in object ' + i, () => ({ a: v, b: 1 })));
same('order', () => ({ customer: 'c-42', items: [{ sku: 'book-1', qty: 2 }, { sku: 'pen-7', qty: 5 }], note: 'bench' }));
same('empty', () => [{}, [], [[]], { a: {} }]);
same('integer keys first', () => ({ b: 1, 2: 'two', a: 2, 0: 'zero', '-1': 'm', '01': 'z', 4294967295: 'big' }));
same('ten-character keys', () => ({ 'is created': 1, 4000000000: 2, '0123456789': 3, '4294967295': 4, 'x': 5, 1000000000: 6 }));
same('escaped keys', () => ({ 'a"b': 1, 'é': 2, '\ud800': 3, '\n': 4, '': 5 }));
same('skipped', () => ({ a: undefined, b: () => 1, c: Symbol(), d: 1, [Symbol('s')]: 2 }));
same('only skipped', () => ({ a: undefined }));
same('in arrays', () => [undefined, () => 1, Symbol()]);
same('holes', () => [1, , 3, , ]);
same('sparse', () => { const a = []; a[4] = 1; a.extra = 2; return a; });
same('inherited', () => Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true }, hidden: { value: 3 } }));
same('date', () => ({ d: new Date(0) }));
same('toJSON keys', (log) => {
  const t = { toJSON(k) { log.push(k); return 'k=' + k; } };
  return { a: t, b: [t, t], 3: t, t };
});
same('toJSON at the top', () => ({ toJSON() { return undefined; } }));
same('toJSON returns objects', () => ({ a: { toJSON() { return { b: [1, { toJSON() { return 2; } }] }; } } }));
same('toJSON not a function', () => ({ toJSON: 5, a: 1 }));
same('toJSON throws', () => ({ a: { toJSON() { throw new RangeError('no'); } } }));
same('getters in order', (log) => ({
  get a() { log.push('a'); return 1; },
  get b() { log.push('b'); return undefined; },
  get c() { log.push('c'); return { get d() { log.push('d'); return [1]; } }; },
}));
same('getter throws', () => ({ a: 1, get b() { throw new Error('boom'); } }));
same('boxed', () => [new String('s"'), new Number(3.5), new Boolean(false), new Boolean(true), Object('x')]);
same('boxed with own toString', () => { const s = new String('s'); s.toString = () => 'changed'; const n = new Number(1); n.valueOf = () => 7; return [s, n]; });
same('boxed BigInt', () => [Object(10n)]);
same('BigInt deep', () => ({ a: [1, 2n] }));
same('cycle', () => { const a = { b: {} }; a.b.a = a; return a; });
same('array cycle', () => { const a = [1]; a.push([a]); return a; });
same('shared, no cycle', () => { const o = { x: 1 }; return [o, o, { o }]; });
same('proxy', (log) => new Proxy({ a: 1, b: 2 }, {
  get(t, k, r) { log.push('get ' + String(k)); return Reflect.get(t, k, r); },
  ownKeys(t) { log.push('ownKeys'); return Reflect.ownKeys(t); },
  getOwnPropertyDescriptor(t, k) { log.push('gopd ' + String(k)); return Reflect.getOwnPropertyDescriptor(t, k); },
}));
same('proxy of array', (log) => new Proxy([1, 2], {
  get(t, k, r) { log.push('get ' + String(k)); return Reflect.get(t, k, r); },
}));
same('revoked proxy', () => { const p = Proxy.revocable({}, {}); p.revoke(); return [p.proxy]; });
same('exotic objects', () => [new Uint8Array([1, 2]), new Map([[1, 2]]), new Set([1]), /re/g, new Error('e'), (function () { return arguments; })(1, 2), new ArrayBuffer(2)]);
same('class instance', () => { class P { constructor() { this.x = 1; } get y() { return 2; } }; return new P(); });
same('replacer function', () => ({ a: 1, b: [2] }), (k, v) => (typeof v === 'number' ? v * 2 : v));
same('replacer list', () => ({ a: 1, b: 2, c: 3 }), ['c', 'a']);
same('indent', () => ({ a: [1, { b: 2 }], c: {} }), null, 2);
same('indent string', () => [1, [2]], undefined, '--');
same('null replacer', () => ({ a: 1 }), null, null);
same('nested 500', () => { let v = 1; for (let i = 0; i < 500; i++) v = i % 2 ? [v] : { v }; return v; });
same('deleted keys', () => { const o = { a: 1, b: 2, c: 3, d: 4 }; delete o.b; delete o.d; o.e = 5; return o; });
same('index-like keys past 2^31', () => ({ a: 1, 4294967294: 'x', b: 2, 2147483648: 'y', 4294967295: 'z', 1234567890: 'w', abcdefghij: 'v' }));
same('many keys', () => { const o = {}; for (let i = 0; i < 40; i++) o['k' + i] = i; return o; });
same('frozen', () => Object.freeze({ a: 1, b: [2] }));
const later = (change) => (log) => {
  const o = { a: null, b: 2, c: 3, d: 4 };
  o.a = { toJSON() { change(o, log); return 1; } };
  return o;
};
same('toJSON deletes a later key', later((o) => { delete o.c; }));
same('toJSON sets a later value', later((o) => { o.c = 'new'; }));
same('toJSON adds a key', later((o) => { o.e = 5; }));
same('toJSON moves a later key', later((o) => { delete o.c; o.c = 'moved'; }));
same('toJSON makes a later key a getter', later((o, log) => {
  Object.defineProperty(o, 'c', { get() { log.push('getter'); return 9; }, enumerable: true });
}));
same('toJSON hides a later key', later((o) => { Object.defineProperty(o, 'c', { enumerable: false }); }));
same('toJSON deletes every key', later((o) => { for (const k of Object.keys(o)) delete o[k]; }));
same('toJSON on Object.prototype', (log) => {
  Object.prototype.toJSON = function (k) { log.push(k); delete Object.prototype.toJSON; return 'p'; };
  return { a: 1 };
});
same('toJSON on BigInt.prototype', () => {
  BigInt.prototype.toJSON = function () { return this.toString() + 'n'; };
  return { a: 1n, b: [Object(2n)] };
});
delete BigInt.prototype.toJSON;

// Generated values: nested objects and arrays of numbers, strings of any code units, keys that
// look like indexes, and the values JSON skips.
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const str = () => { let s = ''; const n = rnd(6); for (let i = 0; i < n; i++) { const k = rnd(5); s += String.fromCharCode(k === 0 ? rnd(0x30) : k === 1 ? 0xd800 + rnd(0x800) : k === 2 ? rnd(0x10000) : 0x61 + rnd(26)); } return s; };
const num = () => [rnd(1000), -rnd(100), rnd(1e6) / 7, (rnd(2000) - 1000) * 1e18, 2 ** rnd(70), 1 / (rnd(3) + 1e-3) * 1e-9, -0, NaN][rnd(8)];
function gen(depth) {
  switch (depth > 3 ? rnd(6) : rnd(9)) {
    case 0: return num();
    case 1: return str();
    case 2: return [true, false, null, undefined][rnd(4)];
    case 3: return rnd(2) ? () => 0 : Symbol('s');
    case 4: return rnd(1000) + 0.5;
    case 5: return str() + str();
    case 6: case 7: { const o = {}; const n = rnd(5); for (let i = 0; i < n; i++) o[rnd(3) ? str() : String(rnd(20))] = gen(depth + 1); return o; }
    default: { const a = []; const n = rnd(5); for (let i = 0; i < n; i++) a.push(gen(depth + 1)); return a; }
  }
}
for (let i = 0; i < 3000; i++) { const v = gen(0); same('generated ' + i, () => v); }
bad.join('\n')
"#,
        );
        assert_eq!(r, "", "native and original JSON.stringify differ");
    }

    #[test]
    fn cached_keys_write_what_the_original_writes_after_their_objects_are_gone() {
        // More keys than the cache keeps, made and dropped (their atoms freed and their numbers
        // given to later keys), some needing escapes, each written three times.
        let r = mismatches(
            r#"
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < 1500; i++) {
    const k = 'key' + i + (i % 3 ? '' : '"\n\u00e9\ud800');
    same('key ' + i + ' round ' + round, () => ({ [k]: i, [k + 'x'.repeat(i % 80)]: [k], sku: 1 }));
  }
}
bad.join('\n')
"#,
        );
        assert_eq!(r, "", "native and original JSON.stringify differ");
    }

    #[test]
    fn deep_nesting_throws_a_range_error_instead_of_overflowing_the_stack() {
        let r = mismatches(
            r#"
let v = 1; for (let i = 0; i < 5000; i++) v = [v];
let r; try { JSON.stringify(v); r = 'no error'; } catch (e) { r = e.constructor.name + ': ' + e.message; }
r === 'RangeError: Maximum call stack size exceeded' ? '' : r
"#,
        );
        assert_eq!(r, "");
    }

    #[test]
    fn class_ids_are_quickjs_own() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            for (src, id) in [
                ("({})", super::CLASS_OBJECT),
                ("new Number(1)", super::CLASS_NUMBER),
                ("new String('')", super::CLASS_STRING),
                ("new Boolean(true)", super::CLASS_BOOLEAN),
                ("Object(1n)", super::CLASS_BIG_INT),
            ] {
                let v: rquickjs::Value = ctx.eval(src).unwrap();
                // SAFETY: reads the class id of a live object value.
                assert_eq!(
                    unsafe { rquickjs::qjs::JS_GetClassID(v.as_raw()) },
                    id,
                    "{src}"
                );
            }
        });
    }

    #[test]
    fn the_function_looks_like_the_original() {
        let r = mismatches(
            r#"
const d = Object.getOwnPropertyDescriptor(JSON, 'stringify');
[JSON.stringify.name, JSON.stringify.length, d.writable, d.enumerable, d.configurable, JSON.stringify !== orig].join(',') === 'stringify,3,true,false,true,true' ? '' : 'differs'
"#,
        );
        assert_eq!(r, "");
    }
}
