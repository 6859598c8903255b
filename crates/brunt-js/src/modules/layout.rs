//! QuickJS's object, shape, string and atom-table layout, read and written past its public API:
//! where the hot paths would otherwise pay for QuickJS's general-purpose calls on the same few
//! small objects and strings every request (`own_keys.rs` lists keys from a shape and tells them
//! apart by [`atom_name`]; [`add_kept_props`] gives an object brunt made its properties in one
//! step; [`ascii_chars`] reads an ASCII string's characters in place).
//!
//! The offsets are checked once per process against objects made through the public API
//! ([`layout_ok`]); if any check fails, every caller takes QuickJS's public path instead.

use rquickjs::qjs;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Byte offsets of QuickJS's structs on 64-bit targets: `JSObject`'s flag byte (after its
/// reference count and GC mark), `.shape` and `.prop` (after the 24-byte GC header); `JSShape`'s
/// reference count, `is_hashed`, `prop_size`, `prop_count`, `proto` and its property entries;
/// `JSString`'s length word.
const OBJECT_FLAGS: usize = 5;
const OBJECT_SHAPE: usize = 24;
const OBJECT_PROP: usize = 32;
const SHAPE_REF_COUNT: usize = 0;
const SHAPE_IS_HASHED: usize = 24;
const SHAPE_PROP_SIZE: usize = 36;
const SHAPE_PROP_COUNT: usize = 40;
const SHAPE_PROTO: usize = 56;
const SHAPE_PROPS: usize = 64;
const STRING_LEN: usize = 4;
/// `JSRuntime`'s `atom_hash_size`, `atom_count` and `atom_size` (three ints after its malloc
/// functions, malloc state and `rt_info`), and its `atom_array`; `JSString`'s word of hash and
/// atom type (the top two bits), and the type of a string atom.
const RUNTIME_ATOM_HASH_SIZE: usize = 80;
const RUNTIME_ATOM_COUNT: usize = 84;
const RUNTIME_ATOM_SIZE: usize = 88;
const RUNTIME_ATOM_ARRAY: usize = 104;
const STRING_HASH: usize = 8;
const ATOM_TYPE_SHIFT: u32 = 30;
const ATOM_TYPE_STRING: u32 = 1;
/// `JSObject`'s flag bits: `extensible`, `is_exotic`, `fast_array`.
const EXTENSIBLE: u8 = 1;
const EXOTIC: u8 = 1 << 2;
const FAST_ARRAY: u8 = 1 << 3;
/// A shape entry is a word (26 bits of hash link, then 6 bits of `JS_PROP_*` flags) and an atom.
const FLAGS_SHIFT: u32 = 26;
/// The flags of a property an assignment or a literal makes.
pub(crate) const CWE: u32 = qjs::JS_PROP_C_W_E;

/// 0: not checked yet; 1: the layout is as read here; 2: it is not. Stored (Release) after
/// [`STRING_CHARS`], so a thread that reads 1 (Acquire) reads that too.
static LAYOUT: AtomicU8 = AtomicU8::new(0);
/// Where a `JSString`'s characters start: after its header, and after a list link in a QuickJS
/// built with its debug dumps (without `NDEBUG`, as CI's tests build it). Found by the check.
static STRING_CHARS: AtomicUsize = AtomicUsize::new(0);
/// Candidates for [`STRING_CHARS`]: 24 bytes of header, and 16 more of list link.
const STRING_CHARS_AT: [usize; 2] = [24, 40];
/// The length word's bit for 16-bit characters.
const WIDE_CHARS: u32 = 1 << 31;

/// `obj`'s shape.
///
/// # Safety
/// `obj` is a live object and [`layout_ok`] said yes.
pub(crate) unsafe fn shape_of(obj: qjs::JSValue) -> *const u8 {
    let p = qjs::JS_VALUE_GET_PTR(obj) as *const u8;
    *(p.add(OBJECT_SHAPE) as *const *const u8)
}

/// `obj`'s property values, one per shape entry.
///
/// # Safety
/// As for [`shape_of`].
pub(crate) unsafe fn props_of(obj: qjs::JSValue) -> *const qjs::JSValue {
    let p = qjs::JS_VALUE_GET_PTR(obj) as *const u8;
    *(p.add(OBJECT_PROP) as *const *const qjs::JSValue)
}

/// The number of `shape`'s entries, deleted ones included.
///
/// # Safety
/// `shape` is a live object's shape, read while [`layout_ok`].
pub(crate) unsafe fn prop_count(shape: *const u8) -> usize {
    (*(shape.add(SHAPE_PROP_COUNT) as *const i32)).max(0) as usize
}

/// Entry `i` of `shape`: its atom (`JS_ATOM_NULL` once deleted) and its `JS_PROP_*` flags.
///
/// # Safety
/// As for [`prop_count`], and `i` is below it.
pub(crate) unsafe fn entry(shape: *const u8, i: usize) -> (qjs::JSAtom, u32) {
    let [word, atom] = *(shape.add(SHAPE_PROPS) as *const [u32; 2]).add(i);
    (atom, word >> FLAGS_SHIFT)
}

/// A string value's length in characters.
///
/// # Safety
/// `v` is a live string and [`layout_ok`] said yes.
pub(crate) unsafe fn string_len(v: qjs::JSValue) -> u32 {
    *((qjs::JS_VALUE_GET_PTR(v) as *const u8).add(STRING_LEN) as *const u32) & 0x7fff_ffff
}

/// The characters of string `v` when they are 8-bit and all ASCII, and so its UTF-8 as they are
/// (borrowed: valid while `v` is); None for any other string or value. QuickJS's
/// `JS_ToCStringLen2` gives the same bytes, through a call, a scan and a reference to free.
///
/// # Safety
/// `ctx` is a live context and `v` a live value of its runtime.
pub(crate) unsafe fn ascii_chars<'a>(
    ctx: *mut qjs::JSContext,
    v: qjs::JSValue,
) -> Option<&'a [u8]> {
    if qjs::JS_VALUE_GET_TAG(v) != qjs::JS_TAG_STRING || !layout_ok(ctx) {
        return None;
    }
    let chars = raw_chars(v, STRING_CHARS.load(Ordering::Relaxed))?;
    chars.is_ascii().then_some(chars)
}

/// The 8-bit characters of string `v`, read at byte `at`; None when they are 16-bit.
unsafe fn raw_chars<'a>(v: qjs::JSValue, at: usize) -> Option<&'a [u8]> {
    let p = qjs::JS_VALUE_GET_PTR(v) as *const u8;
    let word = *(p.add(STRING_LEN) as *const u32);
    if word & WIDE_CHARS != 0 {
        return None;
    }
    let len = (word & !WIDE_CHARS) as usize;
    Some(std::slice::from_raw_parts(p.add(at), len))
}

/// What a property key's atom names, read from the runtime's atom table.
pub(crate) enum AtomName<'a> {
    /// A string of this many characters, and its characters when they are 8-bit.
    String(u32, Option<&'a [u8]>),
    /// A symbol (or a private name).
    Symbol,
}

/// What `atom`, a live atom that is not a tagged integer, names; None when the layout is not
/// this one (QuickJS's `JS_AtomToValue` then tells). Reading the table costs no call and no
/// reference, where `JS_AtomToValue` makes and frees one.
///
/// # Safety
/// `ctx` is a live context and `atom` a live atom of its runtime, not a tagged integer.
pub(crate) unsafe fn atom_name<'a>(
    ctx: *mut qjs::JSContext,
    atom: qjs::JSAtom,
) -> Option<AtomName<'a>> {
    if !layout_ok(ctx) {
        return None;
    }
    let rt = qjs::JS_GetRuntime(ctx) as *const u8;
    let table = *(rt.add(RUNTIME_ATOM_ARRAY) as *const *const *const u8);
    Some(name_of(*table.add(atom as usize)))
}

/// The name a string struct of the atom table holds.
unsafe fn name_of<'a>(s: *const u8) -> AtomName<'a> {
    if *(s.add(STRING_HASH) as *const u32) >> ATOM_TYPE_SHIFT != ATOM_TYPE_STRING {
        return AtomName::Symbol;
    }
    let v = qjs::JS_MKPTR(qjs::JS_TAG_STRING, s as *mut _);
    AtomName::String(
        string_len(v),
        raw_chars(v, STRING_CHARS.load(Ordering::Relaxed)),
    )
}

unsafe fn flags_of(obj: qjs::JSValue) -> u8 {
    *(qjs::JS_VALUE_GET_PTR(obj) as *const u8).add(OBJECT_FLAGS)
}

unsafe fn ref_count(shape: *const u8) -> *mut i32 {
    shape.add(SHAPE_REF_COUNT) as *mut i32
}

unsafe fn is_hashed(shape: *const u8) -> bool {
    *shape.add(SHAPE_IS_HASHED) != 0
}

unsafe fn prop_size(shape: *const u8) -> usize {
    (*(shape.add(SHAPE_PROP_SIZE) as *const i32)).max(0) as usize
}

unsafe fn proto_of(shape: *const u8) -> *const u8 {
    *(shape.add(SHAPE_PROTO) as *const *const u8)
}

/// Gives `obj` the data properties `atoms` (writable, enumerable, configurable) with `values`,
/// as defining them one by one would, in one step: `obj` moves straight to the shape of `kept`, a
/// live object with `obj`'s properties and then these. QuickJS's own additions each look up the
/// next shape, check the object, grow its property array and move it one shape on: about 300
/// instructions a property, paid on every response for the properties brunt gives it.
///
/// Ok(true): done, `obj` holds its own references to `values`. Ok(false): nothing changed
/// (`obj` is not a plain extensible object at the start of `kept`'s shape, or the layout is not
/// this one), and the caller defines the properties itself. Err: QuickJS threw (out of memory).
///
/// # Safety
/// `ctx` is a live context, `obj` and `kept` live objects of its runtime, `values` live values
/// of it, and `atoms` live atoms.
pub(crate) unsafe fn add_kept_props(
    ctx: *mut qjs::JSContext,
    obj: qjs::JSValue,
    kept: qjs::JSValue,
    atoms: &[qjs::JSAtom],
    values: &[qjs::JSValue],
) -> Result<bool, ()> {
    if !layout_ok(ctx) {
        return Ok(false);
    }
    step(ctx, obj, kept, atoms, values)
}

/// [`add_kept_props`] once the layout is known to be this one.
unsafe fn step(
    ctx: *mut qjs::JSContext,
    obj: qjs::JSValue,
    kept: qjs::JSValue,
    atoms: &[qjs::JSAtom],
    values: &[qjs::JSValue],
) -> Result<bool, ()> {
    if atoms.len() != values.len() {
        return Ok(false);
    }
    if flags_of(obj) & (EXTENSIBLE | EXOTIC | FAST_ARRAY) != EXTENSIBLE {
        return Ok(false);
    }
    let (from, to) = (shape_of(obj), shape_of(kept));
    let (n, m) = (prop_count(from), prop_count(to));
    // Shared shapes are hashed; an unhashed one belongs to its one object and is never moved
    // to or from here. The one left keeps another holder, so dropping this one never frees it.
    if from == to
        || !is_hashed(from)
        || !is_hashed(to)
        || *ref_count(from) < 2
        || proto_of(from) != proto_of(to)
        || m != n + atoms.len()
    {
        return Ok(false);
    }
    for i in 0..n {
        if entry(from, i) != entry(to, i) {
            return Ok(false);
        }
    }
    for (i, &atom) in (n..m).zip(atoms) {
        if entry(to, i) != (atom, CWE) {
            return Ok(false);
        }
    }
    let p = qjs::JS_VALUE_GET_PTR(obj) as *mut u8;
    let slot = p.add(OBJECT_PROP) as *mut *mut qjs::JSValue;
    if prop_size(to) != prop_size(from) {
        let bytes = std::mem::size_of::<qjs::JSValue>() * prop_size(to);
        let grown = qjs::js_realloc(ctx, (*slot).cast(), bytes as _);
        if grown.is_null() {
            return Err(());
        }
        *slot = grown.cast();
    }
    for (i, &v) in values.iter().enumerate() {
        (*slot).add(n + i).write(qjs::JS_DupValue(ctx, v));
    }
    *ref_count(to) += 1;
    *(p.add(OBJECT_SHAPE) as *mut *const u8) = to;
    *ref_count(from) -= 1;
    Ok(true)
}

/// Whether this process's QuickJS has the layout read here; checked on the first call.
///
/// # Safety
/// `ctx` is a live context.
pub(crate) unsafe fn layout_ok(ctx: *mut qjs::JSContext) -> bool {
    match LAYOUT.load(Ordering::Acquire) {
        1 => true,
        2 => false,
        _ => {
            let ok = check_layout(ctx);
            LAYOUT.store(if ok { 1 } else { 2 }, Ordering::Release);
            ok
        }
    }
}

/// The probe's property names, unique to it so that no other object shares its shapes.
const PROBE_NAMES: [&CStr; 4] = [c"brunt_layout_probe", c"b", c"c", c"d"];

/// Checks every offset above against objects made through the public API: the entries, values
/// and strings [`OwnKeys`](super::own_keys::OwnKeys) reads, and the reference counts, sizes,
/// prototype and flags [`add_kept_props`] reads and writes, and then a property added by it.
unsafe fn check_layout(ctx: *mut qjs::JSContext) -> bool {
    if !cfg!(target_pointer_width = "64") || std::mem::size_of::<qjs::JSValue>() != 16 {
        return false;
    }
    let atoms = PROBE_NAMES.map(|s| qjs::JS_NewAtom(ctx, s.as_ptr()));
    let ok = atoms.iter().all(|&a| a != qjs::JS_ATOM_NULL)
        && check_entries(ctx, &atoms)
        && check_shapes(ctx, &atoms)
        && check_strings(ctx)
        && check_atoms(ctx, atoms[0]);
    for a in atoms {
        qjs::JS_FreeAtom(ctx, a);
    }
    ok
}

/// Finds where an 8-bit string's characters start (see [`STRING_CHARS`]) in a string long enough
/// that both candidates lie inside it, and checks that a string of one 16-bit character reads so.
unsafe fn check_strings(ctx: *mut qjs::JSContext) -> bool {
    const TEXT: &[u8] = b"brunt's layout probe: an ASCII string long enough for both reads.";
    let (ascii, wide) = (
        qjs::JS_NewStringLen(ctx, TEXT.as_ptr().cast(), TEXT.len() as _),
        qjs::JS_NewStringLen(ctx, "\u{20ac}".as_ptr().cast(), 3),
    );
    let ok = qjs::JS_VALUE_GET_TAG(ascii) == qjs::JS_TAG_STRING
        && qjs::JS_VALUE_GET_TAG(wide) == qjs::JS_TAG_STRING
        && string_len(ascii) == TEXT.len() as u32
        && string_len(wide) == 1
        && raw_chars(wide, STRING_CHARS_AT[0]).is_none()
        && match STRING_CHARS_AT.into_iter().find(|&at| {
            // 32 bytes: inside the string's block wherever its characters start.
            let p = qjs::JS_VALUE_GET_PTR(ascii) as *const u8;
            std::slice::from_raw_parts(p.add(at), 32) == &TEXT[..32]
        }) {
            Some(at) => {
                STRING_CHARS.store(at, Ordering::Relaxed);
                raw_chars(ascii, at) == Some(TEXT)
            }
            None => false,
        };
    qjs::JS_FreeValue(ctx, ascii);
    qjs::JS_FreeValue(ctx, wide);
    ok
}

/// Reads the runtime's atom counts where [`atom_name`] finds them and compares them with
/// `JS_ComputeMemoryUsage`'s (only then is the table's pointer beside them read), adds up the
/// table's bytes as `JS_ComputeMemoryUsage` does and compares the sums, then reads
/// string atom `probe` ("brunt_layout_probe") and `Symbol.iterator`'s atom from the table: the
/// very strings `JS_AtomToValue` gives, typed and sized as they must be.
unsafe fn check_atoms(ctx: *mut qjs::JSContext, probe: qjs::JSAtom) -> bool {
    let rt = qjs::JS_GetRuntime(ctx);
    let mut usage = std::mem::MaybeUninit::<qjs::JSMemoryUsage>::zeroed();
    qjs::JS_ComputeMemoryUsage(rt, usage.as_mut_ptr());
    let usage = usage.assume_init();
    let base = rt as *const u8;
    let int = |at: usize| i64::from(*(base.add(at) as *const i32));
    let (hash_size, count, size) = (
        int(RUNTIME_ATOM_HASH_SIZE),
        int(RUNTIME_ATOM_COUNT),
        int(RUNTIME_ATOM_SIZE),
    );
    let power_of_two = hash_size > 0 && hash_size & (hash_size - 1) == 0;
    if usage.atom_count != count || !power_of_two || count < 1 || count > size {
        return false;
    }
    let table = *(base.add(RUNTIME_ATOM_ARRAY) as *const *const *const u8);
    if table.is_null() || probe as i64 >= size {
        return false;
    }
    // The table's bytes as `JS_ComputeMemoryUsage` adds them up: its own, the hash's, and each
    // live atom's string (a free entry is an odd number).
    let chars_at = STRING_CHARS.load(Ordering::Relaxed) as i64;
    let mut bytes = 8 * size + 4 * hash_size;
    for i in 0..size as usize {
        let p = *table.add(i);
        if p as usize & 1 == 0 {
            let word = *(p.add(STRING_LEN) as *const u32);
            let (len, wide) = (i64::from(word & !WIDE_CHARS), i64::from(word >> 31));
            bytes += chars_at + (len << wide) + 1 - wide;
        }
    }
    if bytes != usage.atom_size {
        return false;
    }
    let global = qjs::JS_GetGlobalObject(ctx);
    let symbol = qjs::JS_GetPropertyStr(ctx, global, c"Symbol".as_ptr());
    qjs::JS_FreeValue(ctx, global);
    let iterator = qjs::JS_GetPropertyStr(ctx, symbol, c"iterator".as_ptr());
    qjs::JS_FreeValue(ctx, symbol);
    let text = qjs::JS_AtomToValue(ctx, probe);
    let sym_atom = if qjs::JS_VALUE_GET_TAG(iterator) == qjs::JS_TAG_SYMBOL {
        qjs::JS_ValueToAtom(ctx, iterator)
    } else {
        qjs::JS_ATOM_NULL
    };
    let ok = qjs::JS_VALUE_GET_TAG(text) == qjs::JS_TAG_STRING
        && sym_atom != qjs::JS_ATOM_NULL
        && (sym_atom as i64) < size
        && *table.add(probe as usize) == qjs::JS_VALUE_GET_PTR(text) as *const u8
        && *table.add(sym_atom as usize) == qjs::JS_VALUE_GET_PTR(iterator) as *const u8
        && matches!(
            name_of(*table.add(probe as usize)),
            AtomName::String(18, Some(b"brunt_layout_probe"))
        )
        && matches!(name_of(*table.add(sym_atom as usize)), AtomName::Symbol);
    qjs::JS_FreeAtom(ctx, sym_atom);
    qjs::JS_FreeValue(ctx, text);
    qjs::JS_FreeValue(ctx, iterator);
    ok
}

/// Makes `{brunt_layout_probe: 7, b: "xyz", c (not enumerable), d (a getter)}`, deletes `c`, and
/// reads it back: the entries' atoms and flags in order (the deleted one with no atom), the
/// values' tags, the strings' lengths.
unsafe fn check_entries(ctx: *mut qjs::JSContext, atoms: &[qjs::JSAtom; 4]) -> bool {
    let obj = qjs::JS_NewObject(ctx);
    let global = qjs::JS_GetGlobalObject(ctx);
    let getter = qjs::JS_GetPropertyStr(ctx, global, c"Object".as_ptr());
    qjs::JS_FreeValue(ctx, global);
    let cwe = CWE as i32;
    let text = qjs::JS_NewStringLen(ctx, c"xyz".as_ptr(), 3);
    let made = !qjs::JS_IsException(obj)
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
            && entry(0) == (atoms[0], CWE)
            && entry(1) == (atoms[1], CWE)
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
    ok
}

/// Makes `a` with the probe's three first properties, then `b` with the same: they share one
/// hashed shape whose reference count, size (3, grown from QuickJS's 2), prototype and flags read
/// as they must; `b` made non-extensible reads so, an array reads as exotic. Then `c`, given the
/// same properties by [`add_kept_props`], has `a`'s shape and its values, and the empty shape it
/// left, which `empty` keeps, is held once less.
unsafe fn check_shapes(ctx: *mut qjs::JSContext, atoms: &[qjs::JSAtom; 4]) -> bool {
    let keys = &atoms[..3];
    let values = [7, 8, 9].map(|n| qjs::JS_MKVAL(qjs::JS_TAG_INT, n));
    let define = |obj: qjs::JSValue| {
        !qjs::JS_IsException(obj)
            && keys
                .iter()
                .zip(values)
                .all(|(&k, v)| qjs::JS_DefinePropertyValue(ctx, obj, k, v, CWE as i32) >= 0)
    };
    let object_proto = {
        let o = qjs::JS_NewObject(ctx);
        let p = qjs::JS_GetPrototype(ctx, o);
        qjs::JS_FreeValue(ctx, o);
        p
    };
    // `empty` keeps the shape `c` starts with, as a caller's holder does.
    let (a, b, empty, c, array) = (
        qjs::JS_NewObject(ctx),
        qjs::JS_NewObject(ctx),
        qjs::JS_NewObject(ctx),
        qjs::JS_NewObject(ctx),
        qjs::JS_NewArray(ctx),
    );
    let ok = qjs::JS_IsObject(object_proto)
        && !qjs::JS_IsException(array)
        && define(a)
        && {
            let shape = shape_of(a);
            is_hashed(shape)
                && *ref_count(shape) == 1
                && prop_size(shape) == 3
                && prop_count(shape) == 3
                && proto_of(shape) == qjs::JS_VALUE_GET_PTR(object_proto) as *const u8
                && flags_of(a) & (EXTENSIBLE | EXOTIC | FAST_ARRAY) == EXTENSIBLE
                && flags_of(array) & (EXOTIC | FAST_ARRAY) == EXOTIC | FAST_ARRAY
        }
        && define(b)
        && shape_of(b) == shape_of(a)
        && *ref_count(shape_of(a)) == 2
        && qjs::JS_PreventExtensions(ctx, b) == 1
        && flags_of(b) & EXTENSIBLE == 0
        && !qjs::JS_IsException(empty)
        && !qjs::JS_IsException(c)
        && shape_of(c) == shape_of(empty)
        && {
            // Other empty objects of the context may share the shape: its count drops by one.
            let held = *ref_count(shape_of(empty));
            held >= 2
                && step(ctx, c, a, keys, &values) == Ok(true)
                && *ref_count(shape_of(empty)) == held - 1
        }
        && shape_of(c) == shape_of(a)
        && *ref_count(shape_of(a)) == 3
        && {
            let v = qjs::JS_GetProperty(ctx, c, atoms[2]);
            qjs::JS_VALUE_GET_TAG(v) == qjs::JS_TAG_INT && qjs::JS_VALUE_GET_INT(v) == 9
        };
    for v in [a, b, empty, c, array, object_proto] {
        qjs::JS_FreeValue(ctx, v);
    }
    ok
}

#[cfg(test)]
mod tests {
    use rquickjs::{qjs, Context, Object, Runtime, Value};

    /// The layout read is this QuickJS's: were it not (a new QuickJS), every caller would quietly
    /// take QuickJS's slower path, so the check fails here instead.
    #[test]
    fn the_layout_read_is_quickjs_own() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        // SAFETY: a live context of a runtime used by this thread only.
        ctx.with(|ctx| assert!(unsafe { super::check_layout(ctx.as_raw().as_ptr()) }));
    }

    /// Properties given in one step read, list, describe, serialize, change and are deleted as
    /// the same properties of a literal; an object that is not a plain extensible one at the start
    /// of the kept shape is left alone; and every reference is freed once (the runtime's leak
    /// check, on in CI's test builds, fails otherwise).
    #[test]
    fn props_added_in_one_step_are_a_literal_s() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            let raw = ctx.as_raw().as_ptr();
            let kept: Value = ctx.eval("({ x: 0, y: 0, z: 0 })").unwrap();
            let empty = Object::new(ctx.clone()).unwrap();
            let values: Value = ctx.eval("[1, 'two', { n: 3 }]").unwrap();
            let values: Vec<Value> = values.get::<Vec<Value>>().unwrap();
            let values: Vec<qjs::JSValue> = values.iter().map(|v| v.as_raw()).collect();
            // SAFETY: live values and atoms of this context; each atom is freed below.
            let atoms: Vec<qjs::JSAtom> = ["x", "y", "z"]
                .map(|k| unsafe { qjs::JS_NewAtomLen(raw, k.as_ptr().cast(), k.len() as _) })
                .to_vec();
            let add = |obj: &Object| unsafe {
                super::add_kept_props(raw, obj.as_raw(), kept.as_raw(), &atoms, &values)
            };
            let made = Object::new(ctx.clone()).unwrap();
            assert_eq!(add(&made), Ok(true));
            ctx.globals().set("made", made).unwrap();
            let same: bool = ctx
                .eval(
                    r#"
                    const lit = { x: 1, y: 'two', z: { n: 3 } };
                    const show = (o) => JSON.stringify([Object.keys(o), o,
                        Object.getOwnPropertyDescriptors(o), Object.isExtensible(o)]);
                    const before = show(made) === show(lit);
                    for (const o of [made, lit]) { o.w = 4; delete o.y; o.x = 'one'; }
                    const after = show(made) === show(lit);
                    Object.freeze(made); Object.freeze(lit);
                    before && after && show(made) === show(lit) && made.z.n === 3
                    "#,
                )
                .unwrap();
            assert!(same);
            let sealed = Object::new(ctx.clone()).unwrap();
            // SAFETY: a live object of this context.
            unsafe { qjs::JS_PreventExtensions(raw, sealed.as_raw()) };
            let grown: Object = ctx.eval("({ q: 1 })").unwrap();
            let array: Object = ctx.eval("[]").unwrap();
            for obj in [&sealed, &grown, &array, &empty] {
                let keys_before = obj.keys::<String>().count();
                if std::ptr::eq(obj, &empty) {
                    // The right start, the wrong names: left alone too.
                    let other = [atoms[1], atoms[0], atoms[2]];
                    let r = unsafe {
                        super::add_kept_props(raw, obj.as_raw(), kept.as_raw(), &other, &values)
                    };
                    assert_eq!(r, Ok(false));
                } else {
                    assert_eq!(add(obj), Ok(false));
                }
                assert_eq!(obj.keys::<String>().count(), keys_before);
            }
            for a in atoms {
                // SAFETY: the atoms made above, freed once.
                unsafe { qjs::JS_FreeAtom(raw, a) };
            }
        });
    }
}
