//! A native request's params (`headers` and `tags`) read with QuickJS's own calls, and the pairs
//! of the VU's last request kept for the next one.
//!
//! A load test passes the same params every iteration: a new object, but the same property names
//! (atoms) and, for string literals, the same value strings (QuickJS keeps one string per literal
//! of a script). A pair whose name and value are the atom and the string of the pair at the same
//! place last time is not read or converted to UTF-8 again; anything else (another name, a value
//! computed each time, a number) is read as before. Each pair holds its atom and its string, so
//! that the same atom and address cannot come to name other text meanwhile.

use crate::kept_shapes::KeptShapes;
use crate::modules::{own_props, HeldAtom, HeldValue, Utf8};
use rquickjs::{qjs, Ctx, Result, Value};

fn tag(v: qjs::JSValue) -> i32 {
    // SAFETY: reads the value's tag only.
    unsafe { qjs::JS_VALUE_GET_TAG(v) }
}

/// Whether `v` is null or undefined.
pub(super) fn nullish(v: qjs::JSValue) -> bool {
    matches!(tag(v), qjs::JS_TAG_NULL | qjs::JS_TAG_UNDEFINED)
}

/// Whether `v` is an object whose own keys the module reads natively: not an array (a proxy of
/// one included) or a function.
pub(super) fn plain(ctx: &Ctx<'_>, v: qjs::JSValue) -> bool {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `v` is a live value of this context.
    tag(v) == qjs::JS_TAG_OBJECT
        && unsafe { qjs::JS_IsArray(raw, v) == 0 && !qjs::JS_IsFunction(raw, v) }
}

/// The names the native path reads from params, held for the runtime's life.
pub(super) struct Names {
    headers: HeldAtom,
    tags: HeldAtom,
}

impl Names {
    pub(super) fn new(ctx: &Ctx<'_>) -> Result<Self> {
        Ok(Names {
            headers: HeldAtom::new(ctx, "headers")?,
            tags: HeldAtom::new(ctx, "tags")?,
        })
    }
}

/// Whether `v` is the very string `held` holds (held, so no other string can have its address).
fn same_string(held: &HeldValue, v: qjs::JSValue) -> bool {
    // SAFETY: reads the values' pointers only.
    tag(v) == qjs::JS_TAG_STRING
        && unsafe { qjs::JS_VALUE_GET_PTR(v) == qjs::JS_VALUE_GET_PTR(held.raw()) }
}

/// A header or tag as a params object gave it: its name's atom and its value string, held, and
/// their text.
pub(super) struct Pair {
    name: HeldAtom,
    value: HeldValue,
    pub(super) text: (String, String),
}

/// The pairs of one params' `headers` or `tags`: `list[..len]` are the last request's, and pairs
/// past `len` (an earlier request's) stay for reuse.
#[derive(Default)]
pub(super) struct Pairs {
    list: Vec<Pair>,
    len: usize,
}

impl Pairs {
    pub(super) fn get(&self) -> &[Pair] {
        &self.list[..self.len]
    }

    /// Reads `v`, a params' `headers` or `tags`, as the JavaScript layer reads them (`String(value)`
    /// of each own enumerable key); false when the layer must read them (not a plain object, a
    /// symbol value).
    fn read(&mut self, ctx: &Ctx<'_>, v: qjs::JSValue) -> Result<bool> {
        self.len = 0;
        if nullish(v) {
            return Ok(true);
        }
        if !plain(ctx, v) {
            return Ok(false);
        }
        let raw = ctx.as_raw().as_ptr();
        own_props(ctx, v, |atom, value| {
            let t = tag(value);
            if t == qjs::JS_TAG_SYMBOL {
                return Ok(false);
            }
            let i = self.len;
            if let Some(p) = self.list.get(i) {
                if p.name.atom == atom && same_string(&p.value, value) {
                    self.len += 1;
                    return Ok(true);
                }
            }
            // SAFETY: `value` is live for this call; the string made is owned by the
            // `HeldValue` (or freed by the `Value`) that takes it, and the atom's string by its
            // `Value`.
            let (string, name) = unsafe {
                let s = if t == qjs::JS_TAG_STRING {
                    qjs::JS_DupValue(raw, value)
                } else {
                    qjs::JS_ToString(raw, value)
                };
                if qjs::JS_IsException(s) {
                    return Err(rquickjs::Error::Exception);
                }
                let held = HeldValue::take(raw, s);
                let name = Value::from_raw(ctx.clone(), qjs::JS_AtomToString(raw, atom));
                (held, name)
            };
            let Ok(name) = name.try_into_string() else {
                return Err(rquickjs::Error::Exception);
            };
            let name = Utf8::of(ctx, &name)?.str().into_owned();
            // SAFETY: the held value is a live string of this runtime; the `Value` dups it.
            let text = unsafe {
                Value::from_raw(ctx.clone(), qjs::JS_DupValue(raw, string.raw())).into_string()
            }
            .ok_or(rquickjs::Error::Exception)?;
            let text = Utf8::of(ctx, &text)?.str().into_owned();
            let pair = Pair {
                // SAFETY: a live context, and the property's atom, live for this call.
                name: unsafe { HeldAtom::dup(raw, atom) },
                value: string,
                text: (name, text),
            };
            if i < self.list.len() {
                self.list[i] = pair;
            } else {
                self.list.push(pair);
            }
            self.len += 1;
            Ok(true)
        })
    }
}

/// The headers and tags of the VU's last native request (see the module doc).
#[derive(Default)]
pub(super) struct Seen {
    pub(super) headers: Pairs,
    pub(super) tags: Pairs,
}

impl Seen {
    /// Reads `params` (not nullish) into the pairs; false when the JavaScript layer must read
    /// them: not a plain object, a key other than `headers` and `tags`, or either not readable
    /// natively (see [`Pairs::read`]).
    /// The three objects, literals in most scripts, have their shapes kept in `kept`.
    pub(super) fn read(
        &mut self,
        ctx: &Ctx<'_>,
        names: &Names,
        kept: &KeptShapes,
        params: qjs::JSValue,
    ) -> Result<bool> {
        self.headers.len = 0;
        self.tags.len = 0;
        if !plain(ctx, params) {
            return Ok(false);
        }
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: a live context of this VU and live values of it, for the call.
        unsafe { kept.keep_literal(raw, params) };
        own_props(ctx, params, |atom, v| {
            let pairs = if atom == names.headers.atom {
                &mut self.headers
            } else if atom == names.tags.atom {
                &mut self.tags
            } else {
                return Ok(false);
            };
            // SAFETY: as above.
            unsafe { kept.keep_literal(raw, v) };
            pairs.read(ctx, v)
        })
    }

    pub(super) fn clear(&mut self) {
        self.headers.len = 0;
        self.tags.len = 0;
    }
}
