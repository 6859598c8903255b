//! An object's own enumerable string-keyed properties, listed and read as QuickJS's
//! `JS_GetOwnPropertyNames(JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY)` and `JS_GetProperty` list and
//! read them, but for a plain object straight from its shape. QuickJS's listing classifies every
//! key twice, allocates a table and holds each atom: about 900 instructions for a three-key
//! object, and a load test lists the same few small objects (its params and headers, its checks,
//! a JSON body) on every request.
//!
//! The layout read here (`layout.rs`) is not QuickJS's public API; where it is not this
//! QuickJS's, every listing takes QuickJS's path.
//! A key's value is taken from its slot only when, at the moment of reading, the slot still
//! holds that key as a plain data property (a callback between two reads may have changed the
//! object); otherwise `JS_GetProperty` reads it, as on QuickJS's path.

use super::json::CLASS_OBJECT;
use super::layout::{
    atom_name, entry, layout_ok, prop_count, props_of, shape_of, string_len, AtomName, CWE,
};
use rquickjs::qjs;

/// Keys read from a plain object's shape at most; an object with more takes QuickJS's path.
const MAX_SLOTS: usize = 16;
/// Atoms with this bit are integer indices (`JS_ATOM_TAG_INT`).
const ATOM_TAG_INT: u32 = 1 << 31;
/// A string key of this length may be an index past the tagged integers (2^31 to 2^32 - 2).
const INDEX_STRING_LEN: u32 = 10;

/// The listed keys of one object, held until this is dropped.
pub(crate) struct OwnKeys {
    ctx: *mut qjs::JSContext,
    keys: Keys,
}

enum Keys {
    /// Read from the shape: each key's atom (held) and its slot then.
    Slots {
        keys: [(qjs::JSAtom, u32); MAX_SLOTS],
        n: usize,
    },
    /// QuickJS's table.
    Listed {
        tab: *mut qjs::JSPropertyEnum,
        n: u32,
    },
}

/// What a listed key is, for `JS_GPN_STRING_MASK`.
enum Kind {
    String,
    Symbol,
    /// A string that may be an index, or anything unexpected: QuickJS's path decides.
    Unsure,
}

impl OwnKeys {
    /// Lists `obj`'s own enumerable string keys in QuickJS's order; Err when QuickJS threw.
    ///
    /// # Safety
    /// `ctx` is a live context and `obj` a live object of its runtime, held by the caller for as
    /// long as this lives.
    pub(crate) unsafe fn list(ctx: *mut qjs::JSContext, obj: qjs::JSValue) -> Result<Self, ()> {
        if qjs::JS_GetClassID(obj) == CLASS_OBJECT && layout_ok(ctx) {
            if let Some(keys) = slots(ctx, obj) {
                return Ok(OwnKeys { ctx, keys });
            }
        }
        let mut tab: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
        let mut n: u32 = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as std::ffi::c_int;
        if qjs::JS_GetOwnPropertyNames(ctx, &mut tab, &mut n, obj, flags) < 0 {
            return Err(());
        }
        Ok(OwnKeys {
            ctx,
            keys: Keys::Listed { tab, n },
        })
    }

    pub(crate) fn len(&self) -> usize {
        match &self.keys {
            Keys::Slots { n, .. } => *n,
            Keys::Listed { n, .. } => *n as usize,
        }
    }

    /// Key `i`'s atom, held while this lives.
    pub(crate) fn atom(&self, i: usize) -> qjs::JSAtom {
        match &self.keys {
            Keys::Slots { keys, .. } => keys[i].0,
            // SAFETY: `i` is below the table's length (`len`), and the table lives with `self`.
            Keys::Listed { tab, .. } => unsafe { (*tab.add(i)).atom },
        }
    }

    /// Key `i`'s value now, as `JS_GetProperty` reads it (a new reference, or an exception).
    ///
    /// # Safety
    /// `obj` is the object listed.
    pub(crate) unsafe fn get(&self, obj: qjs::JSValue, i: usize) -> qjs::JSValue {
        if let Keys::Slots { keys, .. } = &self.keys {
            let (atom, slot) = keys[i];
            let (slot, shape) = (slot as usize, shape_of(obj));
            if slot < prop_count(shape) {
                let (held, flags) = entry(shape, slot);
                if held == atom && flags & qjs::JS_PROP_TMASK == qjs::JS_PROP_NORMAL {
                    return qjs::JS_DupValue(self.ctx, *props_of(obj).add(slot));
                }
            }
        }
        qjs::JS_GetProperty(self.ctx, obj, self.atom(i))
    }
}

impl Drop for OwnKeys {
    fn drop(&mut self) {
        // SAFETY: the atoms and the table are this value's own references, freed once, on the
        // context they were taken on.
        unsafe {
            match &self.keys {
                Keys::Slots { keys, n } => {
                    for &(atom, _) in &keys[..*n] {
                        qjs::JS_FreeAtom(self.ctx, atom);
                    }
                }
                Keys::Listed { tab, n } => qjs::JS_FreePropertyEnum(self.ctx, *tab, *n),
            }
        }
    }
}

/// The shape of `obj` when it is a plain object whose layout this module reads (its address only
/// names the shape: it is not read through).
///
/// # Safety
/// As for [`OwnKeys::list`].
pub(crate) unsafe fn plain_shape(ctx: *mut qjs::JSContext, obj: qjs::JSValue) -> Option<usize> {
    if qjs::JS_GetClassID(obj) != CLASS_OBJECT || !layout_ok(ctx) {
        return None;
    }
    Some(shape_of(obj) as usize)
}

/// The keys of plain object `obj` (see [`plain_shape`]) in order when it is as an object literal
/// of at most `max` keys makes it: every property an ordinary writable, enumerable, configurable
/// data property named by a string or symbol (no index key), none deleted.
///
/// # Safety
/// As for [`OwnKeys::list`], and `plain_shape` gave `obj`'s shape.
pub(crate) unsafe fn literal_keys(obj: qjs::JSValue, max: usize) -> Option<Vec<qjs::JSAtom>> {
    let shape = shape_of(obj);
    let count = prop_count(shape);
    if count < 1 || count > max {
        return None;
    }
    (0..count)
        .map(|i| {
            let (atom, flags) = entry(shape, i);
            let usual = atom != qjs::JS_ATOM_NULL && atom & ATOM_TAG_INT == 0 && flags == CWE;
            usual.then_some(atom)
        })
        .collect()
}

/// The keys of plain object `obj` read from its shape, in shape order (QuickJS's order for
/// string keys); None when QuickJS's path must list them: an index key (they come first, sorted),
/// an accessor or any other special property, or more than [`MAX_SLOTS`] keys.
unsafe fn slots(ctx: *mut qjs::JSContext, obj: qjs::JSValue) -> Option<Keys> {
    let shape = shape_of(obj);
    let mut keys = [(0, 0); MAX_SLOTS];
    let mut n = 0;
    for slot in 0..prop_count(shape) {
        let (atom, flags) = entry(shape, slot);
        if atom == qjs::JS_ATOM_NULL {
            continue; // a deleted property
        }
        if flags & qjs::JS_PROP_TMASK != qjs::JS_PROP_NORMAL || atom & ATOM_TAG_INT != 0 {
            return None;
        }
        if flags & qjs::JS_PROP_ENUMERABLE == 0 {
            continue;
        }
        match kind(ctx, atom) {
            Kind::String if n < MAX_SLOTS => {
                keys[n] = (atom, slot as u32);
                n += 1;
            }
            Kind::Symbol => {}
            _ => return None,
        }
    }
    for &(atom, _) in &keys[..n] {
        qjs::JS_DupAtom(ctx, atom);
    }
    Some(Keys::Slots { keys, n })
}

/// Whether non-integer atom `atom` is a string key, a symbol, or maybe an index.
unsafe fn kind(ctx: *mut qjs::JSContext, atom: qjs::JSAtom) -> Kind {
    match atom_name(ctx, atom) {
        Some(AtomName::Symbol) => return Kind::Symbol,
        Some(AtomName::String(len, _)) if len != INDEX_STRING_LEN => return Kind::String,
        Some(AtomName::String(_, Some(chars))) => {
            return if may_be_index(chars) {
                Kind::Unsure
            } else {
                Kind::String
            }
        }
        _ => {}
    }
    // For an atom that is not a tagged integer this makes no string: it is the atom's own.
    let v = qjs::JS_AtomToValue(ctx, atom);
    let kind = match qjs::JS_VALUE_GET_TAG(v) {
        qjs::JS_TAG_STRING if string_len(v) != INDEX_STRING_LEN || !maybe_index(ctx, v) => {
            Kind::String
        }
        qjs::JS_TAG_SYMBOL => Kind::Symbol,
        _ => Kind::Unsure,
    };
    qjs::JS_FreeValue(ctx, v);
    kind
}

/// Whether string `s`, of [`INDEX_STRING_LEN`] characters, may be an array index (2^31 to
/// 2^32 - 2, written without a leading zero): a key such as `"is created"` is only a string.
unsafe fn maybe_index(ctx: *mut qjs::JSContext, s: qjs::JSValue) -> bool {
    let mut len = 0;
    let p = qjs::JS_ToCStringLen2(ctx, &mut len, s, false);
    if p.is_null() {
        return true; // QuickJS threw (out of memory): its own path meets the same
    }
    let index = may_be_index(std::slice::from_raw_parts(p.cast::<u8>(), len as usize));
    qjs::JS_FreeCString(ctx, p);
    index
}

/// Whether `text` is an array index past the tagged integers, as a 10-character key can be.
fn may_be_index(text: &[u8]) -> bool {
    text.first() != Some(&b'0')
        && text.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|n| n < u64::from(u32::MAX))
}
