//! Module resolution and loading: local files relative to the importing module, k6's built-in
//! modules, remote URLs through the module cache (`remote.rs`), with built-in copies of popular
//! jslib.k6.io libraries for offline first runs. TypeScript is stripped and CommonJS wrapped on
//! the way in. Every module is compiled once to QuickJS bytecode, which later VUs load instead of
//! parsing the source again.

use crate::program::Shared;
use rquickjs::loader::{Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Context, Ctx, Error, Module, Result, Runtime};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// k6's built-in modules, implemented as small JavaScript layers over the VU's native functions,
/// and brunt's own.
const BUILTIN: &[(&str, &str)] = &[
    // Native: `modules::k6::K6Module`.
    ("k6", ""),
    // Native: `modules::http::HttpModule`, with the layer below.
    ("k6/http", ""),
    ("k6/metrics", include_str!("js/metrics.js")),
    ("k6/data", include_str!("js/data.js")),
    ("k6/execution", include_str!("js/execution.js")),
    ("k6/encoding", include_str!("js/encoding.js")),
    ("k6/crypto", include_str!("js/crypto.js")),
    ("k6/html", include_str!("js/html.js")),
    ("k6/timers", include_str!("js/timers.js")),
    ("k6/experimental/fs", include_str!("js/fs.js")),
    ("k6/experimental/csv", include_str!("js/csv.js")),
    ("k6/secrets", include_str!("js/secrets.js")),
    ("k6/experimental/streams", include_str!("js/streams.js")),
    ("k6/ws", include_str!("js/ws.js")),
    ("k6/net/grpc", include_str!("js/grpc.js")),
    ("k6/websockets", include_str!("js/websockets.js")),
    // brunt's own: a client of the fault proxy (`brunt proxy`, or any Toxiproxy 2.x).
    ("brunt/chaos", include_str!("js/brunt/chaos.js")),
    // The xk6-sse extension's API, built in; and LLM requests measured per token.
    ("k6/x/sse", include_str!("js/sse.js")),
    ("brunt/llm", include_str!("js/brunt/llm.js")),
];

/// The built-in modules through which a VU opens connections of its own.
const CONNECTING: &[&str] = &["k6/http", "k6/ws", "k6/x/sse", "brunt/llm"];

/// k6 modules that brunt will not have, with what to use instead.
const UNAVAILABLE: &[(&str, &str)] = &[
    (
        "k6/browser",
        "brunt does not run browsers; use k6 for browser tests",
    ),
    (
        "k6/experimental/browser",
        "brunt does not run browsers; use k6 (and its k6/browser module) for browser tests",
    ),
    (
        "k6/experimental/redis",
        "it was removed in k6 v2 and brunt does not have it; use k6 with the xk6-redis extension",
    ),
    (
        "k6/experimental/tracing",
        "k6 removed it; import the http-instrumentation-tempo jslib \
         (https://jslib.k6.io/http-instrumentation-tempo/) instead",
    ),
];

/// Modules k6 deprecated in favour of another, which they are here: (name, new name, warning).
const DEPRECATED: &[(&str, &str, &str)] = &[(
    "k6/experimental/websockets",
    "k6/websockets",
    "k6/experimental/websockets is deprecated and will be removed in a future release. \
     Please use k6/websockets instead.",
)];

/// Why `spec` cannot be imported, when it names a module brunt will not have or an extension.
fn unavailable(spec: &str) -> Option<String> {
    if let Some((_, why)) = UNAVAILABLE.iter().find(|(n, _)| *n == spec) {
        return Some(format!("cannot import '{spec}': {why}"));
    }
    spec.starts_with("k6/x/").then(|| {
        format!(
            "cannot import '{spec}': it is a k6 extension (xk6), and brunt runs no extensions; \
             use a k6 binary built with it"
        )
    })
}

/// jslib.k6.io libraries by name (any version), as built-in equivalents.
const JSLIB: &[(&str, &str)] = &[
    ("k6-utils", include_str!("js/jslib/k6-utils.js")),
    ("k6-summary", include_str!("js/jslib/k6-summary.js")),
    (
        "http-instrumentation-tempo",
        include_str!("js/jslib/http-instrumentation-tempo.js"),
    ),
];

const JSLIB_PREFIX: &str = "jslib:";

/// Modules that native modules evaluate on first use; scripts cannot import them.
const INTERNAL: &[(&str, &str)] = &[
    (crate::modules::http::LAYER, include_str!("js/http.js")),
    (
        crate::modules::webcrypto::LAYER,
        include_str!("js/webcrypto.js"),
    ),
    (
        crate::modules::text_encoding::LAYER,
        include_str!("js/text_encoding.js"),
    ),
];

/// The built-in jslib.k6.io library that `url` names (any version), if brunt ships one.
fn builtin_jslib(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://jslib.k6.io/")
        .or_else(|| url.strip_prefix("http://jslib.k6.io/"))?;
    let lib = rest.split('/').next().unwrap_or("");
    JSLIB
        .iter()
        .any(|(n, _)| *n == lib)
        .then(|| format!("{JSLIB_PREFIX}{lib}"))
}

/// What an import names: a module by its canonical name, or a remote URL still to be cached.
#[derive(Debug, PartialEq)]
pub(crate) enum Named {
    Module(String),
    Remote(String),
}

/// The canonical module name for `spec` imported from `base`; remote modules are fetched into the
/// program's module cache (once), or served by a built-in copy when that fails.
pub(crate) fn resolve(
    shared: &Shared,
    base: &str,
    spec: &str,
) -> std::result::Result<String, String> {
    if let Some((_, name, warning)) = DEPRECATED.iter().find(|(old, _, _)| *old == spec) {
        // Said once per process, as k6 says it.
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| brunt_engine::log::warn(warning));
        return Ok((*name).to_string());
    }
    match resolve_name(base, spec)? {
        Named::Module(name) => Ok(name),
        Named::Remote(url) => {
            if let Some(name) = shared.remote(&url) {
                return Ok(name);
            }
            let name = match crate::remote::ensure_cached(&shared.module_cache, &url) {
                Ok(_) => url.clone(),
                Err(e) => builtin_jslib(&url).ok_or(e)?,
            };
            shared.store_remote(&url, &name);
            Ok(name)
        }
    }
}

/// What `spec` imported from the module named `base` names, without touching the network.
pub(crate) fn resolve_name(base: &str, spec: &str) -> std::result::Result<Named, String> {
    let known = |n: &str| {
        BUILTIN.iter().any(|(b, _)| *b == n)
            || n.strip_prefix(JSLIB_PREFIX)
                .is_some_and(|l| JSLIB.iter().any(|(j, _)| *j == l))
    };
    if known(spec) {
        return Ok(Named::Module(spec.to_string()));
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(Named::Remote(spec.to_string()));
    }
    // A remote module's relative imports are URLs relative to its own.
    if is_remote(base)
        && (spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/'))
    {
        let url = url::Url::parse(base)
            .and_then(|b| b.join(spec))
            .map_err(|e| format!("cannot import '{spec}' from '{base}': {e}"))?;
        return Ok(Named::Remote(url.into()));
    }
    let spec_path = spec.strip_prefix("file://").unwrap_or(spec);
    let path = if Path::new(spec_path).is_absolute() {
        PathBuf::from(spec_path)
    } else if spec.starts_with("./") || spec.starts_with("../") {
        if base.starts_with(JSLIB_PREFIX) || BUILTIN.iter().any(|(n, _)| *n == base) {
            return Err(format!(
                "cannot import '{spec}' from the built-in module '{base}'"
            ));
        }
        let dir = Path::new(base).parent().unwrap_or(Path::new("."));
        dir.join(spec)
    } else if let Some(why) = unavailable(spec) {
        return Err(why);
    } else if spec.starts_with("k6/") {
        return Err(format!(
            "unknown k6 module '{spec}': brunt implements {}",
            BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        return Err(format!(
            "cannot import '{spec}' from '{base}': only relative paths ('./', '../'), absolute paths, \
             k6 modules and http(s) URLs can be imported"
        ));
    };
    Ok(Named::Module(
        normalize(&path).to_string_lossy().into_owned(),
    ))
}

fn is_remote(name: &str) -> bool {
    name.starts_with("https://") || name.starts_with("http://")
}

/// Removes `.` and `..` without touching the file system (the file may not exist yet: the loader
/// reports that with the name).
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The source of a module by canonical name, its types stripped and CommonJS wrapped.
fn source(shared: &Shared, name: &str) -> std::result::Result<String, String> {
    if let Some((_, src)) = BUILTIN.iter().chain(INTERNAL).find(|(n, _)| *n == name) {
        return Ok((*src).to_string());
    }
    if let Some(lib) = name.strip_prefix(JSLIB_PREFIX) {
        if let Some((_, src)) = JSLIB.iter().find(|(n, _)| *n == lib) {
            return Ok((*src).to_string());
        }
    }
    let file = if is_remote(name) {
        let url = url::Url::parse(name).map_err(|e| format!("cannot import '{name}': {e}"))?;
        crate::remote::cache_path(&shared.module_cache, &url)
    } else {
        PathBuf::from(name)
    };
    let mut src = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read module '{name}' ({}): {e}", file.display()))?;
    if crate::typescript::is_typescript(name) {
        src = crate::typescript::strip(name, src)?;
    }
    if let Some(wrapped) = crate::commonjs::wrap(name, &src) {
        shared.mark_commonjs(name);
        src = wrapped;
    }
    Ok(src)
}

/// Resolves imports for one VU.
pub(crate) struct ModuleResolver(pub Arc<Shared>);

impl Resolver for ModuleResolver {
    fn resolve<'js>(&mut self, ctx: &Ctx<'js>, base: &str, name: &str) -> Result<String> {
        resolve(&self.0, base, name).map_err(|msg| throw(ctx, &msg))
    }
}

/// Loads modules from the program's bytecode cache, compiling (once per program) on a miss.
pub(crate) struct BytecodeLoader(pub Arc<Shared>);

impl Loader for BytecodeLoader {
    fn load<'js>(&mut self, ctx: &Ctx<'js>, name: &str) -> Result<Module<'js, Declared>> {
        if CONNECTING.contains(&name) {
            self.0
                .connects
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        match name {
            "k6" => Module::declare_def::<crate::modules::k6::K6Module, _>(ctx.clone(), name),
            "k6/http" => {
                Module::declare_def::<crate::modules::http::HttpModule, _>(ctx.clone(), name)
            }
            _ => load(ctx, &self.0, name),
        }
    }
}

/// A module from the program's bytecode cache, compiled on a miss.
fn load<'js>(ctx: &Ctx<'js>, shared: &Arc<Shared>, name: &str) -> Result<Module<'js, Declared>> {
    let bytes = match shared.bytecode(name) {
        Some(b) => b,
        None => {
            let src = source(shared, name).map_err(|msg| throw(ctx, &msg))?;
            let builtin = !Path::new(name).is_absolute() && !is_remote(name);
            let bytes = compile(shared, name, &src, builtin).map_err(|msg| {
                // Keep a syntax error a SyntaxError, with QuickJS's location in its message.
                match msg.strip_prefix("SyntaxError: ") {
                    Some(m) => rquickjs::Exception::throw_syntax(ctx, m),
                    None => throw(ctx, &msg),
                }
            })?;
            shared.store_bytecode(name, bytes);
            shared.bytecode(name).expect("just stored")
        }
    };
    // SAFETY: `compile` wrote these bytes with this QuickJS build.
    unsafe { Module::load(ctx.clone(), &bytes) }
}

/// Evaluates an internal module (one that imports nothing) at once and returns its namespace.
/// Unlike a dynamic `import()`, this runs no queued promise jobs of the script's meanwhile.
pub(crate) fn evaluate_internal<'js>(
    ctx: &Ctx<'js>,
    shared: &Arc<Shared>,
    name: &str,
) -> Result<rquickjs::Object<'js>> {
    let (module, done) = load(ctx, shared, name)?.eval()?;
    // A module without top-level await has finished evaluating when `eval` returns.
    match done.state() {
        rquickjs::promise::PromiseState::Rejected => {
            done.result::<rquickjs::Value>().transpose()?;
            Err(throw(ctx, &format!("'{name}' failed to evaluate")))
        }
        _ => module.namespace(),
    }
}

/// Compiles a module to bytecode in a throwaway runtime (so the VU's context never holds a
/// second, unevaluated copy of the module). Function sources are left out (each VU would keep its
/// own copy); the line tables that stack traces need are kept for the script's own files.
fn compile(
    shared: &Arc<Shared>,
    name: &str,
    src: &str,
    strip_debug: bool,
) -> std::result::Result<Vec<u8>, String> {
    use rquickjs::qjs;
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    // The parser recurses; its limit is measured from here, on the compiling VU's stack (1 MiB,
    // little of it used at this point), so deeply nested source is a SyntaxError, not a crash.
    rt.set_max_stack_size(256 * 1024);
    // QuickJS resolves a module's imports when compiling it; they come from the same cache.
    rt.set_loader(
        ModuleResolver(shared.clone()),
        BytecodeLoader(shared.clone()),
    );
    let ctx = Context::custom::<crate::runtime::Intrinsics>(&rt).map_err(|e| e.to_string())?;
    ctx.with(|ctx| {
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        let csrc = CString::new(src).map_err(|_| format!("'{name}' contains a NUL byte"))?;
        let raw = ctx.as_raw().as_ptr();
        let eval_flags =
            qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
        // SAFETY: plain QuickJS calls on this context; every value made here is freed here.
        unsafe {
            let module = qjs::JS_Eval(
                raw,
                csrc.as_ptr(),
                src.len() as _,
                cname.as_ptr(),
                eval_flags as i32,
            );
            if qjs::JS_IsException(module) {
                let e = rquickjs::CaughtError::from_error(&ctx, Error::Exception);
                return Err(crate::runtime::caught(&ctx, e).to_string());
            }
            let mut flags = qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE;
            if strip_debug {
                flags |= qjs::JS_WRITE_OBJ_STRIP_DEBUG;
            }
            let mut len = 0;
            let buf = qjs::JS_WriteObject(raw, &mut len, module, flags as i32);
            qjs::JS_FreeValue(raw, module);
            if buf.is_null() {
                return Err(format!("cannot compile '{name}'"));
            }
            let bytes = std::slice::from_raw_parts(buf, len as usize).to_vec();
            qjs::js_free(raw, buf as _);
            Ok(bytes)
        }
    })
}

fn throw(ctx: &Ctx<'_>, msg: &str) -> Error {
    rquickjs::Exception::throw_message(ctx, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(base: &str, spec: &str) -> String {
        match resolve_name(base, spec).unwrap() {
            Named::Module(m) => m,
            Named::Remote(u) => panic!("remote {u}"),
        }
    }

    #[test]
    fn relative_imports_resolve_against_the_importing_file() {
        assert_eq!(module("/a/b/script.js", "./lib/x.js"), "/a/b/lib/x.js");
        assert_eq!(module("/a/b/script.js", "../x.js"), "/a/x.js");
        assert_eq!(module("/a/b/script.js", "k6/http"), "k6/http");
    }

    #[test]
    fn urls_are_remote_and_relative_to_a_remote_importer() {
        let remote = |base: &str, spec: &str| resolve_name(base, spec).unwrap();
        assert_eq!(
            remote("/s.js", "https://jslib.k6.io/k6-utils/1.4.0/index.js"),
            Named::Remote("https://jslib.k6.io/k6-utils/1.4.0/index.js".into())
        );
        assert_eq!(
            remote("https://h/lib/1.0/index.js", "./util.js"),
            Named::Remote("https://h/lib/1.0/util.js".into())
        );
        assert_eq!(
            builtin_jslib("https://jslib.k6.io/k6-utils/1.1.0/index.js").as_deref(),
            Some("jslib:k6-utils")
        );
        assert_eq!(builtin_jslib("https://example.com/k6-utils/index.js"), None);
        assert!(resolve_name("/s.js", "k6/nope")
            .unwrap_err()
            .contains("k6/nope"));
        assert!(resolve_name("/s.js", "k6/browser")
            .unwrap_err()
            .contains("use k6 for browser tests"));
        assert!(resolve_name("/s.js", "k6/x/kafka")
            .unwrap_err()
            .contains("extension"));
        assert!(resolve_name("/s.js", "lodash")
            .unwrap_err()
            .contains("lodash"));
    }
}
