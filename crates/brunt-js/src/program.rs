//! A loaded script: its modules compiled once to bytecode, its `options` export, and the state all
//! VUs of a run share read-only (files from `open()`, SharedArray data, custom metrics).

use crate::host::ScriptError;
use crate::secrets::SecretSources;
use brunt_engine::RunControl;
use brunt_http::retry::{Retries, RetryMetrics, RetryPolicy, RetrySpec};
use brunt_metrics::{Registry, SystemTags, TagSet};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A SharedArray's elements, each kept once as JSON text and parsed when a VU reads it.
pub(crate) struct SharedArrayData {
    pub items: Vec<Box<str>>,
}

/// State of a run that every VU (on any worker thread) reads.
pub(crate) struct Shared {
    pub registry: Arc<Registry>,
    /// The main script's module name (its absolute path).
    pub main: String,
    /// `__ENV`: `-e` values, plus the system environment with `--include-system-env-vars`.
    pub env: BTreeMap<String, String>,
    /// `--tag` values and the options' `tags`: the tags of setup's and teardown's samples.
    pub run_tags: Mutex<TagSet>,
    /// `--http-debug`: 0 off, 1 headers, 2 with bodies.
    pub http_debug: AtomicU8,
    /// Whether `global` aliases `globalThis` (k6's extended mode; not in base mode).
    pub global_alias: bool,
    /// The `User-Agent` a request without one goes out with, for `--http-debug`'s log.
    pub user_agent: OnceLock<http::HeaderValue>,
    /// The consolidated options as JSON, for `exec.test.options`.
    pub options_json: Mutex<String>,
    /// Print `console.*` output (embedders and tests may silence it).
    pub console_enabled: bool,
    /// `--module-cache`: where remote modules are kept.
    pub module_cache: PathBuf,
    bytecode: Mutex<HashMap<String, Arc<[u8]>>>,
    /// Remote URLs resolved so far, to their module names.
    remote: Mutex<HashMap<String, String>>,
    /// Modules compiled as CommonJS (their default export is `module.exports`).
    commonjs: Mutex<Vec<String>>,
    files: Mutex<HashMap<PathBuf, Arc<[u8]>>>,
    shared_arrays: Mutex<HashMap<String, Arc<SharedArrayData>>>,
    /// Group and check paths in the order the script first ran them (the summary's order).
    definitions: Mutex<Vec<String>>,
    /// What the main module exports that is a function (`default`, `setup`, named exec functions...).
    pub exports: Mutex<Vec<String>>,
    /// The `options` export as JSON, from the first VU's init.
    pub script_options: Mutex<Option<String>>,
    /// Set by `exec.test.abort()`; the engine's stop is triggered by the caller.
    pub aborted: AtomicBool,
    /// `discardResponseBodies`: requests without a `responseType` read no body.
    pub discard_bodies: AtomicBool,
    /// `noVUConnectionReuse`: each iteration opens new connections.
    pub no_vu_connection_reuse: AtomicBool,
    /// `maxRedirects` (k6's default 10), unless a request sets `redirects`.
    pub max_redirects: AtomicU32,
    /// k6's `throw`: a request that got no response throws instead of returning.
    pub throw: AtomicBool,
    /// k6's `systemTags` (as [`SystemTags::bits`]): the system tags samples carry.
    pub system_tags: AtomicU32,
    /// Set by `exec.test.fail()`: the run goes on and exits with 110.
    pub marked_failed: AtomicBool,
    /// Set when the script imports a module that opens connections (`k6/http`, `k6/ws`...):
    /// each VU may then hold a socket, so the VU count is checked against the open-file limit.
    pub connects: AtomicBool,
    pub abort_reason: Mutex<Option<String>>,
    /// The run's stop (Ctrl-C, SIGTERM), which also interrupts init contexts that are running.
    pub interrupt: RunControl,
    /// `--secret-source`: what `k6/secrets` reads.
    pub secrets: SecretSources,
    /// `k6/net/grpc`'s loaded protos, parsed once per run whatever the number of VUs.
    grpc_protos: Mutex<HashMap<String, GrpcProtos>>,
    /// `k6/http`'s `retry` param: the retry metrics and budgets, made on first use, and each
    /// policy by its JSON, so that every VU that writes the same one shares its budget.
    retries: Mutex<Option<Arc<Retries>>>,
    retry_policies: Mutex<HashMap<String, ParsedRetry>>,
}

/// A `retry` param's policy and the metrics it records into, or why the param is wrong.
type ParsedRetry = Result<(Arc<RetryPolicy>, RetryMetrics), String>;

/// What one `client.load()` (or `loadProtoset()`) gave, or its error.
type GrpcProtos = Result<(brunt_grpc::Protos, Vec<brunt_grpc::MethodInfo>), String>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The run's consolidated options as JSON (`{}` until the run sets them).
    pub(crate) fn options_json(&self) -> String {
        lock(&self.options_json).clone()
    }

    pub(crate) fn bytecode(&self, name: &str) -> Option<Arc<[u8]>> {
        lock(&self.bytecode).get(name).cloned()
    }

    pub(crate) fn store_bytecode(&self, name: &str, bytes: Vec<u8>) {
        lock(&self.bytecode).insert(name.to_string(), bytes.into());
    }

    pub(crate) fn remote(&self, url: &str) -> Option<String> {
        lock(&self.remote).get(url).cloned()
    }

    pub(crate) fn store_remote(&self, url: &str, name: &str) {
        lock(&self.remote).insert(url.to_string(), name.to_string());
    }

    pub(crate) fn mark_commonjs(&self, name: &str) {
        let mut c = lock(&self.commonjs);
        if !c.iter().any(|n| n == name) {
            c.push(name.to_string());
        }
    }

    pub(crate) fn is_commonjs(&self, name: &str) -> bool {
        lock(&self.commonjs).iter().any(|n| n == name)
    }

    /// Reads a file once per run, whatever the number of VUs that open it.
    pub(crate) fn file(&self, path: &Path) -> std::io::Result<Arc<[u8]>> {
        if let Some(f) = lock(&self.files).get(path) {
            return Ok(f.clone());
        }
        let data: Arc<[u8]> = std::fs::read(path)?.into();
        lock(&self.files).insert(path.to_path_buf(), data.clone());
        Ok(data)
    }

    /// The protos loaded under `key`, loaded by `load` the first time.
    pub(crate) fn grpc_protos(&self, key: &str, load: impl FnOnce() -> GrpcProtos) -> GrpcProtos {
        if let Some(p) = lock(&self.grpc_protos).get(key) {
            return p.clone();
        }
        let p = load();
        lock(&self.grpc_protos).insert(key.to_string(), p.clone());
        p
    }

    /// The run's retry state, its metrics registered on first use.
    pub(crate) fn retries(&self) -> Result<Arc<Retries>, String> {
        let mut r = lock(&self.retries);
        if let Some(r) = &*r {
            return Ok(r.clone());
        }
        let made = Arc::new(Retries::new(&self.registry).map_err(|e| e.to_string())?);
        *r = Some(made.clone());
        Ok(made)
    }

    /// The policy a `retry` param describes (its JSON, from `js/http.js`), parsed once per run.
    pub(crate) fn retry_policy(&self, json: &str) -> ParsedRetry {
        if let Some(p) = lock(&self.retry_policies).get(json) {
            return p.clone();
        }
        let made = serde_json::from_str(json)
            .map_err(|e| format!("retry: {e}"))
            .and_then(|v| RetrySpec::from_json(&v))
            .and_then(|spec| {
                let retries = self.retries()?;
                Ok((Arc::new(retries.policy(spec)), retries.metrics()))
            });
        lock(&self.retry_policies).insert(json.to_string(), made.clone());
        made
    }

    pub(crate) fn shared_array(&self, name: &str) -> Option<Arc<SharedArrayData>> {
        lock(&self.shared_arrays).get(name).cloned()
    }

    /// Keeps the first data stored under `name` (two VUs may build it at once; both get the same).
    pub(crate) fn store_shared_array(
        &self,
        name: &str,
        data: SharedArrayData,
    ) -> Arc<SharedArrayData> {
        lock(&self.shared_arrays)
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(data))
            .clone()
    }

    pub(crate) fn abort(&self, reason: String) {
        let mut r = lock(&self.abort_reason);
        if r.is_none() {
            *r = Some(reason);
        }
        self.aborted.store(true, Ordering::SeqCst);
    }

    /// Notes a group or check path the first time any VU runs it.
    pub(crate) fn define(&self, path: &str) {
        let mut d = lock(&self.definitions);
        if !d.iter().any(|p| p == path) {
            d.push(path.to_string());
        }
    }

    /// The system tags samples carry (k6's `systemTags`).
    pub(crate) fn system_tags(&self) -> SystemTags {
        SystemTags::from_bits(self.system_tags.load(Ordering::Relaxed))
    }

    pub(crate) fn has_export(&self, name: &str) -> bool {
        lock(&self.exports).iter().any(|e| e == name)
    }
}

/// What [`Program::new`] needs besides the script.
pub struct ProgramConfig {
    pub env: BTreeMap<String, String>,
    pub console: bool,
    /// Stopping it interrupts the script's init context wherever it runs (a loop in the init
    /// code would otherwise hold off Ctrl-C); give the run's control.
    pub interrupt: RunControl,
    /// Where remote modules are cached (`--module-cache`; `--module-cache`).
    pub module_cache: PathBuf,
    /// The sources `k6/secrets` reads (`--secret-source`).
    pub secrets: SecretSources,
    /// k6's extended compatibility mode, its default: `global` is an alias of `globalThis`.
    /// False for `--compatibility-mode=base`.
    pub global_alias: bool,
}

/// A script ready to be instantiated into VUs.
pub struct Program {
    pub(crate) shared: Arc<Shared>,
}

impl Program {
    /// Prepares `script` for a run; modules are compiled by the first VU that loads them.
    pub fn new(
        script: &Path,
        registry: Arc<Registry>,
        cfg: ProgramConfig,
    ) -> Result<Arc<Program>, ScriptError> {
        let abs = std::path::absolute(script).map_err(|e| {
            ScriptError::plain(format!("cannot resolve '{}': {e}", script.display()))
        })?;
        let abs = crate::loader::normalize(&abs);
        if !abs.is_file() {
            return Err(ScriptError::plain(format!(
                "the script '{}' does not exist or is not a file",
                script.display()
            )));
        }
        Ok(Arc::new(Program {
            shared: Arc::new(Shared {
                registry,
                main: abs.to_string_lossy().into_owned(),
                env: cfg.env,
                run_tags: Mutex::new(TagSet::empty()),
                http_debug: AtomicU8::new(0),
                global_alias: cfg.global_alias,
                user_agent: OnceLock::new(),
                options_json: Mutex::new("{}".into()),
                console_enabled: cfg.console,
                module_cache: cfg.module_cache,
                bytecode: Mutex::new(HashMap::new()),
                remote: Mutex::new(HashMap::new()),
                commonjs: Mutex::new(Vec::new()),
                files: Mutex::new(HashMap::new()),
                shared_arrays: Mutex::new(HashMap::new()),
                exports: Mutex::new(Vec::new()),
                definitions: Mutex::new(Vec::new()),
                script_options: Mutex::new(None),
                aborted: AtomicBool::new(false),
                discard_bodies: AtomicBool::new(false),
                no_vu_connection_reuse: AtomicBool::new(false),
                max_redirects: AtomicU32::new(10),
                throw: AtomicBool::new(false),
                system_tags: AtomicU32::new(SystemTags::default().bits()),
                marked_failed: AtomicBool::new(false),
                connects: AtomicBool::new(false),
                abort_reason: Mutex::new(None),
                interrupt: cfg.interrupt,
                secrets: cfg.secrets,
                grpc_protos: Mutex::default(),
                retries: Mutex::default(),
                retry_policies: Mutex::default(),
            }),
        }))
    }

    /// The script's `export const options`, as JSON (`{}` when it has none); known after one VU's init.
    pub fn script_options(&self) -> String {
        lock(&self.shared.script_options)
            .clone()
            .unwrap_or_else(|| "{}".into())
    }

    /// Sets the consolidated options that `exec.test.options` shows.
    pub fn set_options_json(&self, json: String) {
        *lock(&self.shared.options_json) = json;
    }

    /// True when the main module exports a function of this name.
    pub fn has_export(&self, name: &str) -> bool {
        self.shared.has_export(name)
    }

    /// The reason given to `exec.test.abort()`, once a VU called it.
    pub fn abort_reason(&self) -> Option<String> {
        if self.shared.aborted.load(Ordering::SeqCst) {
            Some(lock(&self.shared.abort_reason).clone().unwrap_or_default())
        } else {
            None
        }
    }

    /// Tags on every sample of the run (the plan's), for setup and teardown too.
    pub fn set_run_tags(&self, tags: &BTreeMap<String, String>) {
        *lock(&self.shared.run_tags) = TagSet::new(tags.iter());
    }

    /// Group and check paths in the order the script first ran them.
    pub fn definition_order(&self) -> Vec<String> {
        lock(&self.shared.definitions).clone()
    }

    /// The local files the script used so far: its modules (the main one included) and what
    /// `open()` and `k6/experimental/fs` read; what `brunt archive` packs.
    pub fn local_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = lock(&self.shared.bytecode)
            .keys()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .collect();
        out.extend(lock(&self.shared.files).keys().cloned());
        out.sort();
        out.dedup();
        out
    }

    /// The remote modules the script imported, each with the module cache's file that holds it
    /// (not those a built-in jslib copy served); what `brunt archive` packs beside the files.
    pub fn remote_modules(&self) -> Vec<(url::Url, PathBuf)> {
        let mut out: Vec<(url::Url, PathBuf)> = lock(&self.shared.remote)
            .iter()
            .filter(|(url, name)| url == name)
            .filter_map(|(url, _)| url::Url::parse(url).ok())
            .map(|u| {
                let file = crate::remote::cache_path(&self.shared.module_cache, &u);
                (u, file)
            })
            .collect();
        out.sort();
        out
    }

    /// The main script's path.
    pub fn main_path(&self) -> &str {
        &self.shared.main
    }
}
