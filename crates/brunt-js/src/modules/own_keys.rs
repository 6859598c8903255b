//! An object's own enumerable string-keyed properties, listed and read as QuickJS's
//! `JS_GetOwnPropertyNames(JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY)` and `JS_GetProperty` list and
//! read them, but for a plain object straight from its shape. QuickJS's listing classifies every
//! key twice, allocates a table and holds each atom: about 900 instructions for a three-key
//! object, and a load test lists the same few small objects (its params and headers, its checks,
//! a JSON body) on every request.
//!
//! The layout read here (`JSObject`'s shape and property array, `JSShape`'s property entries,
//! `JSString`'s length) is not QuickJS's public API. It is checked once per process against an
//! object made through the public API; if any check fails, every listing takes QuickJS's path.
//! A key's value is taken from its slot only when, at the moment of reading, the slot still
//! holds that key as a plain data property (a callback between two reads may have changed the
//! object); otherwise `JS_GetProperty` reads it, as on QuickJS's path.

use super::json::CLASS_OBJECT;
use rquickjs::qjs;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, Ordering};

/// Keys read from a plain object's shape at most; an object with more takes QuickJS's path.
const MAX_SLOTS: usize = 16;
/// Byte offsets of QuickJS's structs on 64-bit targets: `JSObject.shape` and `.prop` (after the
/// 24-byte GC header), `JSShape.prop_count` and its property entries, `JSString`'s length word.
const OBJECT_SHAPE: usize = 24;
const OBJECT_PROP: usize = 32;
const SHAPE_PROP_COUNT: usize = 40;
const SHAPE_PROPS: usize = 64;
const STRING_LEN: usize = 4;
/// A shape entry is a word (26 bits of hash link, then 6 bits of `JS_PROP_*` flags) and an atom.
const FLAGS_SHIFT: u32 = 26;
/// Atoms with this bit are integer indices (`JS_ATOM_TAG_INT`).
const ATOM_TAG_INT: u32 = 1 << 31;
/// A string key of this length may be an index past the tagged integers (2^31 to 2^32 - 2).
const INDEX_STRING_LEN: u32 = 10;

/// 0: not checked yet; 1: the layout is as read here; 2: it is not.
static LAYOUT: AtomicU8 = AtomicU8::new(0);

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
    let cwe = qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE | qjs::JS_PROP_ENUMERABLE;
    (0..count)
        .map(|i| {
            let (atom, flags) = entry(shape, i);
            let usual = atom != qjs::JS_ATOM_NULL && atom & ATOM_TAG_INT == 0 && flags == cwe;
            usual.then_some(atom)
        })
        .collect()
}

/// `obj`'s shape.
unsafe fn shape_of(obj: qjs::JSValue) -> *const u8 {
    let p = qjs::JS_VALUE_GET_PTR(obj) as *const u8;
    *(p.add(OBJECT_SHAPE) as *const *const u8)
}

/// `obj`'s property values, one per shape entry.
unsafe fn props_of(obj: qjs::JSValue) -> *const qjs::JSValue {
    let p = qjs::JS_VALUE_GET_PTR(obj) as *const u8;
    *(p.add(OBJECT_PROP) as *const *const qjs::JSValue)
}

/// The number of `shape`'s entries, deleted ones included.
unsafe fn prop_count(shape: *const u8) -> usize {
    (*(shape.add(SHAPE_PROP_COUNT) as *const i32)).max(0) as usize
}

/// Entry `i` of `shape`: its atom (`JS_ATOM_NULL` once deleted) and its `JS_PROP_*` flags.
unsafe fn entry(shape: *const u8, i: usize) -> (qjs::JSAtom, u32) {
    let [word, atom] = *(shape.add(SHAPE_PROPS) as *const [u32; 2]).add(i);
    (atom, word >> FLAGS_SHIFT)
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
    // For an atom that is not a tagged integer this makes no string: it is the atom's own.
    let v = qjs::JS_AtomToValue(ctx, atom);
    let kind = match qjs::JS_VALUE_GET_TAG(v) {
        qjs::JS_TAG_STRING if string_len(v) != INDEX_STRING_LEN => Kind::String,
        qjs::JS_TAG_SYMBOL => Kind::Symbol,
        _ => Kind::Unsure,
    };
    qjs::JS_FreeValue(ctx, v);
    kind
}

/// A string value's length in characters.
unsafe fn string_len(v: qjs::JSValue) -> u32 {
    *((qjs::JS_VALUE_GET_PTR(v) as *const u8).add(STRING_LEN) as *const u32) & 0x7fff_ffff
}

/// Whether this process's QuickJS has the layout read here; checked on the first call.
unsafe fn layout_ok(ctx: *mut qjs::JSContext) -> bool {
    match LAYOUT.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let ok = check_layout(ctx);
            LAYOUT.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
            ok
        }
    }
}

/// Makes `{brunt_layout_probe: 7, b: "xyz", c (not enumerable), d (a getter)}` through the public
/// API, deletes `c`, and reads it back through the offsets above: the entries' atoms and flags
/// in order (the deleted one with no atom), the values' tags, the strings' lengths.
unsafe fn check_layout(ctx: *mut qjs::JSContext) -> bool {
    if !cfg!(target_pointer_width = "64") || std::mem::size_of::<qjs::JSValue>() != 16 {
        return false;
    }
    let names: [&CStr; 4] = [c"brunt_layout_probe", c"b", c"c", c"d"];
    let atoms = names.map(|s| qjs::JS_NewAtom(ctx, s.as_ptr()));
    let obj = qjs::JS_NewObject(ctx);
    let global = qjs::JS_GetGlobalObject(ctx);
    let getter = qjs::JS_GetPropertyStr(ctx, global, c"Object".as_ptr());
    qjs::JS_FreeValue(ctx, global);
    let cwe = (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE | qjs::JS_PROP_ENUMERABLE) as i32;
    let text = qjs::JS_NewStringLen(ctx, c"xyz".as_ptr(), 3);
    let made = !qjs::JS_IsException(obj)
        && atoms.iter().all(|&a| a != qjs::JS_ATOM_NULL)
        && qjs::JS_IsFunction(ctx, getter)
        && qjs::JS_DefinePropertyValue(ctx, obj, atoms[0], qjs::JS_MKVAL(qjs::JS_TAG_INT, 7), cwe)
            >= 0
        && qjs::JS_DefinePropertyValue(ctx, obj, atoms[1], qjs::JS_DupValue(ctx, text), cwe) >= 0
        && qjs::JS_DefinePropertyValue(
            ctx,
            obj,
            atoms[2],
            qjs::JS_MKVAL(qjs::JS_TAG_INT, 1),
            qjs::JS_PROP_CONFIGURABLE as i32,
        ) >= 0
        && qjs::JS_DefinePropertyGetSet(
            ctx,
            obj,
            atoms[3],
            qjs::JS_DupValue(ctx, getter),
            qjs::JS_UNDEFINED,
            (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_ENUMERABLE) as i32,
        ) >= 0
        && qjs::JS_DeleteProperty(ctx, obj, atoms[2], 0) == 1;
    let ok = made && {
        let (shape, props) = (shape_of(obj), props_of(obj));
        let entry = |i: usize| entry(shape, i);
        let key = |i: usize| qjs::JS_AtomToValue(ctx, atoms[i]);
        let (k0, k1) = (key(0), key(1));
        let lengths = string_len(k0) == 18 && string_len(k1) == 1;
        qjs::JS_FreeValue(ctx, k0);
        qjs::JS_FreeValue(ctx, k1);
        let first = *props;
        let second = *props.add(1);
        lengths
            && prop_count(shape) == 4
            && entry(0) == (atoms[0], cwe as u32)
            && entry(1) == (atoms[1], cwe as u32)
            && entry(2) == (qjs::JS_ATOM_NULL, 0)
            && entry(3)
                == (
                    atoms[3],
                    qjs::JS_PROP_GETSET | qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_ENUMERABLE,
                )
            && qjs::JS_VALUE_GET_TAG(first) == qjs::JS_TAG_INT
            && qjs::JS_VALUE_GET_INT(first) == 7
            && qjs::JS_VALUE_GET_TAG(second) == qjs::JS_TAG_STRING
            && qjs::JS_VALUE_GET_PTR(second) == qjs::JS_VALUE_GET_PTR(text)
    };
    qjs::JS_FreeValue(ctx, text);
    qjs::JS_FreeValue(ctx, getter);
    qjs::JS_FreeValue(ctx, obj);
    for a in atoms {
        qjs::JS_FreeAtom(ctx, a);
    }
    ok
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime};

    /// The layout this module reads is this QuickJS's: were it not (a new QuickJS), every listing
    /// would quietly take QuickJS's slower path, so the check fails here instead.
    #[test]
    fn the_layout_read_is_quickjs_own() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        // SAFETY: a live context of a runtime used by this thread only.
        ctx.with(|ctx| assert!(unsafe { super::check_layout(ctx.as_raw().as_ptr()) }));
    }
}
