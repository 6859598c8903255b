//! `http.CookieJar` and `http.cookieJar()`. A jar object is an instance of [`JarRef`]: the VU's
//! jars and an index into them (0 is the VU's own jar, which every request uses unless its params
//! name another). The prototype is made once per runtime and frozen, like Response's.

use super::cookies::{parse_set_cookie, Jar};
use crate::modules::{tag_pairs, throw};
use rquickjs::function::{Opt, This};
use rquickjs::object::Property;
use rquickjs::{Class, Coerced, Ctx, Function, Object, Result, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// The VU's cookie jars: index 0 is the VU's own.
pub(super) type Jars = Rc<RefCell<Vec<Jar>>>;

/// A cookie jar object: one of its VU's jars.
pub(crate) struct JarRef {
    jars: Jars,
    id: usize,
}

native_data_class!(JarRef, "CookieJar");

/// A jar object for jar `id` of `jars`.
pub(super) fn jar_object<'js>(ctx: &Ctx<'js>, jars: &Jars, id: usize) -> Result<Value<'js>> {
    let proto = super::response::jar_prototype(ctx)?;
    Ok(Class::instance_proto(
        JarRef {
            jars: jars.clone(),
            id,
        },
        proto,
    )?
    .into_value())
}

/// A new, empty jar of the VU's (`new http.CookieJar()`).
pub(super) fn new_jar<'js>(ctx: &Ctx<'js>, jars: &Jars) -> Result<Value<'js>> {
    let id = {
        let mut j = jars.borrow_mut();
        j.push(Jar::default());
        j.len() - 1
    };
    jar_object(ctx, jars, id)
}

/// The index of the jar `v` names in `jars` (a request's `params.jar`).
pub(super) fn jar_id<'js>(ctx: &Ctx<'js>, jars: &Jars, v: &Value<'js>) -> Result<usize> {
    let jar = v.as_object().and_then(Class::<JarRef>::from_object);
    match jar {
        Some(j) if Rc::ptr_eq(&j.borrow().jars, jars) => Ok(j.borrow().id),
        _ => Err(throw(
            ctx,
            "params.jar must be a cookie jar from http.cookieJar() or new http.CookieJar()",
        )),
    }
}

fn parse_url(ctx: &Ctx<'_>, u: &str) -> Result<url::Url> {
    url::Url::parse(u).map_err(|e| throw(ctx, &format!("invalid URL '{u}': {e}")))
}

/// Runs `f` on the jar the method was called on.
fn with_jar<'js, R>(
    ctx: &Ctx<'js>,
    this: &Value<'js>,
    f: impl FnOnce(&mut Jar) -> Result<R>,
) -> Result<R> {
    let jar = this
        .as_object()
        .and_then(Class::<JarRef>::from_object)
        .ok_or_else(|| throw(ctx, "a CookieJar method was called on something else"))?;
    let jar = jar.borrow();
    let mut jars = jar.jars.borrow_mut();
    match jars.get_mut(jar.id) {
        Some(j) => f(j),
        None => Err(throw(ctx, "unknown cookie jar")),
    }
}

/// `CookieJar.prototype`: cookiesForURL, set, clear and delete, with k6's semantics. Adds what
/// it makes to `made` (to be frozen).
pub(super) fn prototype<'js>(ctx: &Ctx<'js>, made: &mut Vec<Value<'js>>) -> Result<Object<'js>> {
    let proto = Object::new(ctx.clone())?;
    let methods = [
        (
            "cookiesForURL",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 this: This<Value<'js>>,
                 u: Coerced<String>|
                 -> Result<Object<'js>> {
                    let url = parse_url(&ctx, &u.0)?;
                    let out = Object::new(ctx.clone())?;
                    with_jar(&ctx, &this.0, |jar| {
                        for c in jar.matching(&url) {
                            let mut list: Vec<String> = out
                                .get::<_, Option<Vec<String>>>(c.name.as_str())?
                                .unwrap_or_default();
                            list.push(c.value.clone());
                            out.set(c.name.as_str(), list)?;
                        }
                        Ok(())
                    })?;
                    Ok(out)
                },
            )?,
        ),
        (
            "set",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 this: This<Value<'js>>,
                 u: Coerced<String>,
                 Coerced(name): Coerced<String>,
                 Coerced(value): Coerced<String>,
                 opts: Opt<Option<Object<'js>>>|
                 -> Result<()> {
                    let url = parse_url(&ctx, &u.0)?;
                    let mut header = format!("{name}={value}");
                    if let Some(o) = opts.0.flatten() {
                        for (k, v) in tag_pairs(Some(o))? {
                            match k.as_str() {
                                "domain" | "path" | "expires" => {
                                    header.push_str(&format!("; {k}={v}"))
                                }
                                "max_age" => header.push_str(&format!("; Max-Age={v}")),
                                "secure" if v == "true" => header.push_str("; Secure"),
                                "http_only" if v == "true" => header.push_str("; HttpOnly"),
                                _ => {}
                            }
                        }
                    }
                    let cookie = parse_set_cookie(&url, &header)
                        .ok_or_else(|| throw(&ctx, &format!("invalid cookie '{name}'")))?;
                    with_jar(&ctx, &this.0, |jar| {
                        jar.store(cookie);
                        Ok(())
                    })
                },
            )?,
        ),
        (
            "clear",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, this: This<Value<'js>>, u: Coerced<String>| -> Result<()> {
                    let url = parse_url(&ctx, &u.0)?;
                    with_jar(&ctx, &this.0, |jar| {
                        jar.clear_for(&url);
                        Ok(())
                    })
                },
            )?,
        ),
        (
            "delete",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 this: This<Value<'js>>,
                 u: Coerced<String>,
                 Coerced(name): Coerced<String>|
                 -> Result<()> {
                    let url = parse_url(&ctx, &u.0)?;
                    with_jar(&ctx, &this.0, |jar| {
                        jar.delete(&url, &name);
                        Ok(())
                    })
                },
            )?,
        ),
    ];
    for (name, f) in methods {
        let f = f.with_name(name)?;
        made.push(f.clone().into_value());
        proto.prop(name, Property::from(f).writable().configurable())?;
    }
    made.push(proto.clone().into_value());
    Ok(proto)
}
