//! Objects a VU keeps for their shapes only.
//!
//! QuickJS gives an object the shape (prototype, then each property's name and flags, in
//! order) of a live object that has exactly those properties; when no live object has it, the
//! object's shape is cloned, hashed and later freed again. What a script makes on every
//! iteration dies with the iteration, and with it the shapes that only those objects had, so
//! each iteration made them again: an object literal's first property (`{ headers: ... }`), and
//! a new function's `length` before its `name`. These objects, one per shape kept, hold no
//! value of the script and are never seen by it. They hold the VU's prototypes, and with them
//! its context, so they are released when the VU ends ([`KeptShapes::release`]), before its
//! context is freed.

use crate::modules::layout::CWE;
use crate::modules::own_keys;
use crate::modules::{HeldAtom, HeldValue};
use rquickjs::{qjs, Ctx};
use std::cell::RefCell;

/// Objects a VU keeps for literals' shapes at most, and the keys of a literal it keeps.
const MAX_HOLDERS: usize = 24;
const MAX_KEYS: usize = 8;

#[derive(Default)]
pub(crate) struct KeptShapes {
    /// A function's shape between its `length` and its `name` (see [`Self::keep_function`]).
    function: RefCell<Option<HeldValue>>,
    /// Per literal kept: its final shape's address and one object per prefix of its keys.
    literals: RefCell<Vec<(usize, Vec<HeldValue>)>>,
}

impl KeptShapes {
    /// Keeps the shape a new function has between its `length` and its `name`. QuickJS gives
    /// every function it makes (a closure such as a check's `(r) => r.status === 201`, made on
    /// each iteration of most scripts) `length` and then `name`; the shape with both lives on
    /// in the VU's other functions, but the one with `length` alone lived only while a function
    /// was being made. Kept by a plain object with the functions' prototype and that property.
    pub(crate) fn keep_function(&self, ctx: &Ctx<'_>) {
        let raw = ctx.as_raw().as_ptr();
        let Ok(length) = HeldAtom::new(ctx, "length") else {
            return;
        };
        // SAFETY: plain QuickJS calls on this live context; the prototype's reference is
        // freed once, and the object's is handed to the HeldValue (or freed when it fails).
        let held = unsafe {
            let proto = qjs::JS_GetFunctionProto(raw);
            let obj = qjs::JS_NewObjectProto(raw, proto);
            qjs::JS_FreeValue(raw, proto);
            holder(raw, obj, &[length.atom], qjs::JS_PROP_CONFIGURABLE)
        };
        *self.function.borrow_mut() = held;
    }

    /// Keeps the shapes plain object `obj` went through, when it is as an object literal makes
    /// it (see [`own_keys::literal_keys`]) and not kept yet: a request's params, headers and
    /// tags, a check's set of checks, which a script writes as literals and makes anew on every
    /// iteration. Once kept, the next literal with these keys finds every shape on its way.
    ///
    /// # Safety
    /// `ctx` is a live context of the VU and `obj` a live value of it.
    pub(crate) unsafe fn keep_literal(&self, ctx: *mut qjs::JSContext, obj: qjs::JSValue) {
        let Some(shape) = own_keys::plain_shape(ctx, obj) else {
            return;
        };
        let held: usize = {
            let literals = self.literals.borrow();
            if literals.iter().any(|(s, _)| *s == shape) {
                return;
            }
            literals.iter().map(|(_, h)| h.len()).sum()
        };
        if held >= MAX_HOLDERS {
            return; // full: no literal would fit, so none is read
        }
        let Some(keys) = own_keys::literal_keys(obj, MAX_KEYS) else {
            return;
        };
        if held + keys.len() > MAX_HOLDERS {
            return;
        }
        let proto = qjs::JS_GetPrototype(ctx, obj);
        if qjs::JS_IsException(proto) {
            qjs::JS_FreeValue(ctx, qjs::JS_GetException(ctx));
            return;
        }
        let holders: Option<Vec<HeldValue>> = (1..=keys.len())
            .map(|n| holder(ctx, qjs::JS_NewObjectProto(ctx, proto), &keys[..n], CWE))
            .collect();
        qjs::JS_FreeValue(ctx, proto);
        // The last holder's shape is the one the literal's next copies end with.
        let last = holders
            .as_ref()
            .and_then(|h| h.last())
            .and_then(|h| own_keys::plain_shape(ctx, h.raw()));
        if let (Some(holders), Some(last)) = (holders, last) {
            self.literals.borrow_mut().push((last, holders));
        }
    }

    /// Releases every object kept: called when the VU's script is done, before its context is
    /// freed.
    pub(crate) fn release(&self) {
        drop(self.function.borrow_mut().take());
        self.literals.borrow_mut().clear();
    }
}

/// `obj` (a new object, or an exception) with the properties `keys`, each `undefined` with
/// `flags`, held; None (and nothing pending) when QuickJS failed.
///
/// # Safety
/// `ctx` is a live context; the caller gives up its reference to `obj`, and `keys` are atoms
/// of its runtime that live through the call.
unsafe fn holder(
    ctx: *mut qjs::JSContext,
    obj: qjs::JSValue,
    keys: &[qjs::JSAtom],
    flags: u32,
) -> Option<HeldValue> {
    if qjs::JS_IsException(obj) {
        qjs::JS_FreeValue(ctx, qjs::JS_GetException(ctx));
        return None;
    }
    for &key in keys {
        if qjs::JS_DefinePropertyValue(ctx, obj, key, qjs::JS_UNDEFINED, flags as _) < 0 {
            qjs::JS_FreeValue(ctx, qjs::JS_GetException(ctx));
            qjs::JS_FreeValue(ctx, obj);
            return None;
        }
    }
    Some(HeldValue::take(ctx, obj))
}

#[cfg(test)]
mod tests {
    use super::KeptShapes;
    use crate::modules::own_keys::plain_shape;
    use rquickjs::{Context, Runtime, Value};

    /// Once a literal is kept, the next literal with its keys ends with the kept shape, and a
    /// literal with the first of those keys finds the first prefix's; released, nothing is left
    /// (the runtime's leak check passes in test builds).
    #[test]
    fn a_kept_literal_gives_the_next_its_shapes() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        let kept = KeptShapes::default();
        ctx.with(|ctx| {
            kept.keep_function(&ctx);
            let raw = ctx.as_raw().as_ptr();
            let first: Value = ctx
                .eval("({ headers: { a: 1 }, tags: { name: 'x' } })")
                .unwrap();
            // SAFETY: a live context and value of it.
            unsafe { kept.keep_literal(raw, first.as_raw()) };
            drop(first);
            let shape = |v: &Value| unsafe { plain_shape(raw, v.as_raw()) }.unwrap();
            let (last, prefix) = {
                let literals = kept.literals.borrow();
                let (last, holders) = &literals[0];
                assert_eq!(holders.len(), 2);
                (
                    *last,
                    unsafe { plain_shape(raw, holders[0].raw()) }.unwrap(),
                )
            };
            let next: Value = ctx.eval("({ headers: {}, tags: {} })").unwrap();
            assert_eq!(shape(&next), last);
            let one: Value = ctx.eval("({ headers: 1 })").unwrap();
            assert_eq!(shape(&one), prefix);
            // Kept once: the same keys again add nothing.
            unsafe { kept.keep_literal(raw, next.as_raw()) };
            assert_eq!(kept.literals.borrow().len(), 1);
            // Not literals: an accessor, an index key.
            for source in ["({ get a() { return 1; } })", "({ 0: 1, b: 2 })"] {
                let v: Value = ctx.eval(source).unwrap();
                unsafe { kept.keep_literal(raw, v.as_raw()) };
            }
            assert_eq!(kept.literals.borrow().len(), 1);
            kept.release();
        });
    }
}
