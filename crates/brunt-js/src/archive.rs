//! `brunt archive`: a script, its local modules, the files its init context opened and its
//! consolidated options in one tar, laid out as k6's archives are (`metadata.json`, `data` for
//! the main script, `file/<absolute path>` for every file), so that one file carries a test to
//! another machine (k6-operator's initializer makes one, then inspects it). `brunt run` and
//! `brunt inspect` take such a tar in place of a script: it is unpacked into a directory of its
//! own, where imports and `open()` find their files at the same relative places. [`pack`] gives
//! the archive's bytes to whoever ships it otherwise (`brunt k8s manifests` puts it in a
//! ConfigMap).

use crate::run::{prepare, PrepareError, RunArgs};
use anyhow::{anyhow, Context as _};
use brunt_engine::RunControl;
use brunt_metrics::Registry;
use clap::Args;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// `brunt archive`: k6's `archive` flags (the run's option flags, and where to write).
#[derive(Args, Debug, Clone)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Where to write the archive, e.g. `-O test.tar`.
    #[arg(short = 'O', long = "archive-out", default_value = "archive.tar")]
    pub archive_out: PathBuf,
}

/// Writes the archive; k6's exit codes for a script or options that cannot load.
pub fn archive(args: ArchiveArgs) -> anyhow::Result<i32> {
    let bytes = match pack(args.run) {
        Ok(b) => b,
        Err(PrepareError::Exit { code, message }) => {
            brunt_engine::log::error(&message);
            return Ok(code);
        }
        Err(PrepareError::Other(e)) => return Err(e),
    };
    std::fs::write(&args.archive_out, bytes)
        .with_context(|| format!("writing the archive '{}'", args.archive_out.display()))?;
    Ok(0)
}

/// What an unpacked archive brings to the run: its options (in place of the script's) and the
/// compatibility mode it was made in (under the flag and the variable, as k6 runs its archives).
pub(crate) fn apply(run: &mut RunArgs, unpacked: Option<&Unpacked>) {
    run.archived_options = unpacked.map(|a| a.options.clone());
    run.archived_compatibility_mode = unpacked.and_then(|a| a.compatibility_mode.clone());
}

/// The archive of `run.script` with the option flags of `run`, as `brunt archive` writes it (an
/// archive given as the script is packed again, as k6 packs one: its files keep their archived
/// paths, its options and `-e` values stay under the flags given now).
pub fn pack(mut run: RunArgs) -> Result<Vec<u8>, PrepareError> {
    let unpacked =
        open(&mut run.script, &mut run.env, &mut run.module_cache).map_err(PrepareError::Other)?;
    apply(&mut run, unpacked.as_ref());
    let prepared = prepare(&run, Arc::new(Registry::new()), RunControl::new())?;
    let env = crate::run::key_values(&run.env, "--env").map_err(PrepareError::Other)?;
    pack_prepared(&prepared, env, unpacked.as_ref())
        .with_context(|| format!("packing '{}'", run.script.display()))
        .map_err(PrepareError::Other)
}

/// The archive of a prepared script, in memory: [`pack`]'s, and what a coordinator hands its
/// instances (`brunt agent`). `unpacked`: the archive the script came in, if it did, under which
/// files keep their archived paths.
pub(crate) fn pack_prepared(
    prepared: &crate::run::Prepared,
    env: BTreeMap<String, String>,
    unpacked: Option<&Unpacked>,
) -> anyhow::Result<Vec<u8>> {
    // Where a file was before it was archived: under an unpacked archive, its archived path.
    let original = |path: &Path| -> PathBuf {
        match unpacked.and_then(|u| path.strip_prefix(&u.dir).ok()) {
            Some(rel) => Path::new("/").join(rel),
            None => path.to_path_buf(),
        }
    };
    let main = PathBuf::from(prepared.program.main_path());
    let metadata = json!({
        "type": "js",
        "options": Value::Object(prepared.options.clone()),
        "filename": file_url(&original(&main)),
        "pwd": file_url(original(&main).parent().unwrap_or(Path::new("/"))),
        "env": env,
        "compatibilityMode": if prepared.program.shared.global_alias { "extended" } else { "base" },
        "k6version": env!("CARGO_PKG_VERSION"),
        "goos": std::env::consts::OS,
    });
    let mut tar = tar::Builder::new(Vec::new());
    append(
        &mut tar,
        "metadata.json",
        &serde_json::to_vec_pretty(&metadata)?,
    )?;
    append(&mut tar, "data", &std::fs::read(&main)?)?;
    for path in prepared
        .program
        .local_files()
        .iter()
        .filter(|p| **p != main)
    {
        let bytes = std::fs::read(path).with_context(|| format!("reading '{}'", path.display()))?;
        append(&mut tar, &entry_name(&original(path)), &bytes)?;
    }
    for (url, file) in prepared.program.remote_modules() {
        let bytes = std::fs::read(&file)
            .with_context(|| format!("reading '{}' ({url})", file.display()))?;
        append(&mut tar, &remote_entry_name(&url), &bytes)?;
    }
    Ok(tar.into_inner()?)
}

fn append(tar: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)
}

/// `file/tmp/dist/s.js` for `/tmp/dist/s.js`, as k6 names an archived file.
fn entry_name(path: &Path) -> String {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    format!("file/{}", rel.to_string_lossy())
}

/// `https/jslib.k6.io/k6-utils/1.4.0/index.js` for that URL, as k6 names an archived remote
/// module (the URL without its scheme's `:/`, under the scheme); `http/...` for the `http://`
/// imports that brunt takes and k6 does not.
fn remote_entry_name(url: &url::Url) -> String {
    let mut name = format!("{}/{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        name.push_str(&format!(":{port}"));
    }
    name.push_str(url.path());
    if let Some(q) = url.query() {
        name.push('?');
        name.push_str(q);
    }
    name
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// When `script` is an archive: unpacks it and points `script` at its main script and `env` at
/// its `-e` values under those given now; the caller runs with [`Unpacked::options`] as the
/// script's options. None for a script.
/// Its remote modules are found in a module cache of its own (`module_cache`), without network.
pub(crate) fn open(
    script: &mut PathBuf,
    env: &mut Vec<String>,
    module_cache: &mut Option<PathBuf>,
) -> anyhow::Result<Option<Unpacked>> {
    if !is_archive(script) {
        return Ok(None);
    }
    let unpacked = unpack(script)?;
    script.clone_from(&unpacked.script);
    if let Some(cache) = &unpacked.module_cache {
        *module_cache = Some(cache.clone());
    }
    let given = std::mem::take(env);
    env.extend(unpacked.env.iter().map(|(k, v)| format!("{k}={v}")));
    env.extend(given);
    Ok(Some(unpacked))
}

/// Whether `path` is an archive rather than a script: a tar (ustar magic at byte 257).
pub fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 263];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[257..262] == b"ustar"
}

/// An archive unpacked into a directory of its own, removed when dropped.
pub struct Unpacked {
    dir: PathBuf,
    /// The main script, at its archived path under the directory.
    pub script: PathBuf,
    /// The archive's `-e` values.
    pub env: BTreeMap<String, String>,
    /// The archived options, as the script's options layer (k6 runs an archive with them).
    pub options: String,
    /// A module cache (`--module-cache`'s layout) holding the archived remote modules, if any.
    pub module_cache: Option<PathBuf>,
    /// The `compatibilityMode` it was archived with (k6 runs an archive in it).
    pub compatibility_mode: Option<String>,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unpacks `archive`; errors name the archive and what is wrong with it.
pub fn unpack(archive: &Path) -> anyhow::Result<Unpacked> {
    let what = || format!("the archive '{}'", archive.display());
    let dir = std::env::temp_dir().join(format!(
        "brunt-archive-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).with_context(what)?;
    let mut unpacked = Unpacked {
        dir: dir.clone(),
        script: PathBuf::new(),
        env: BTreeMap::new(),
        options: "{}".into(),
        module_cache: None,
        compatibility_mode: None,
    };
    let mut metadata: Option<Value> = None;
    // The main script is `data` (k6 links its `file/` entry to it).
    let mut main: Option<Vec<u8>> = None;
    let file = std::fs::File::open(archive).with_context(what)?;
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().with_context(what)? {
        let mut entry = entry.with_context(what)?;
        let name = entry.path().with_context(what)?.into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(what)?;
        if name == Path::new("metadata.json") {
            metadata = Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: metadata.json", what()))?,
            );
            continue;
        }
        if name == Path::new("data") {
            main = Some(bytes);
            continue;
        }
        // A remote module: into the archive's own module cache, where its URL finds it.
        if let Some(url) = remote_entry_url(&name) {
            if entry.header().entry_type().is_file() {
                let cache = unpacked
                    .module_cache
                    .get_or_insert_with(|| dir.join(".modules"));
                let to = crate::remote::cache_path(cache, &url);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).with_context(what)?;
                }
                std::fs::write(&to, &bytes).with_context(what)?;
            }
            continue;
        }
        // Only regular files under `file/`, and no way out of the directory.
        let Ok(rel) = name.strip_prefix("file") else {
            continue;
        };
        if !entry.header().entry_type().is_file()
            || rel.components().any(|c| !matches!(c, Component::Normal(_)))
        {
            continue;
        }
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(what)?;
        }
        std::fs::write(&to, &bytes).with_context(what)?;
    }
    let metadata = metadata.ok_or_else(|| anyhow!("{}: no metadata.json", what()))?;
    let filename = metadata["filename"]
        .as_str()
        .and_then(|f| f.strip_prefix("file://"))
        .ok_or_else(|| anyhow!("{}: metadata.json has no file:// filename", what()))?;
    unpacked.script = dir.join(filename.trim_start_matches('/'));
    let main = main.ok_or_else(|| anyhow!("{}: no data (the main script)", what()))?;
    if let Some(parent) = unpacked.script.parent() {
        std::fs::create_dir_all(parent).with_context(what)?;
    }
    std::fs::write(&unpacked.script, main).with_context(what)?;
    if let Some(env) = metadata["env"].as_object() {
        for (k, v) in env {
            unpacked
                .env
                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    if let Some(Value::Object(options)) = metadata.get("options") {
        unpacked.options = Value::Object(without_nulls(options)).to_string();
    }
    unpacked.compatibility_mode = metadata["compatibilityMode"]
        .as_str()
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    Ok(unpacked)
}

/// The URL of an archived remote module (`https/HOST[:PORT]/PATH`, or brunt's `http/...`).
fn remote_entry_url(name: &Path) -> Option<url::Url> {
    let name = name.to_str()?;
    let (scheme, rest) = name.split_once('/')?;
    if !matches!(scheme, "https" | "http") || rest.is_empty() {
        return None;
    }
    url::Url::parse(&format!("{scheme}://{rest}")).ok()
}

/// k6 writes every option, unset ones as null (and objects of nulls): keep only what is set.
fn without_nulls(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::Object(inner) => {
                let inner = without_nulls(inner);
                (!inner.is_empty()).then(|| (k.clone(), Value::Object(inner)))
            }
            other => Some((k.clone(), other.clone())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_names_follow_k6() {
        assert_eq!(
            entry_name(Path::new("/tmp/dist/s.js")),
            "file/tmp/dist/s.js"
        );
        assert_eq!(file_url(Path::new("/tmp/dist")), "file:///tmp/dist");
        for (url, name) in [
            (
                "https://jslib.k6.io/k6-utils/1.4.0/index.js",
                "https/jslib.k6.io/k6-utils/1.4.0/index.js",
            ),
            (
                "https://127.0.0.1:8443/m.js?v=1",
                "https/127.0.0.1:8443/m.js?v=1",
            ),
            (
                "http://127.0.0.1:8080/lib/m.js",
                "http/127.0.0.1:8080/lib/m.js",
            ),
        ] {
            let u = url::Url::parse(url).unwrap();
            assert_eq!(remote_entry_name(&u), name);
            assert_eq!(remote_entry_url(Path::new(name)), Some(u));
        }
        assert_eq!(remote_entry_url(Path::new("file/tmp/x.js")), None);
    }

    #[test]
    fn unset_options_are_dropped() {
        let m = json!({"vus": 2, "paused": null, "dns": {"ttl": null}, "tags": {"a": "b"}});
        let Value::Object(m) = m else { unreachable!() };
        assert_eq!(
            Value::Object(without_nulls(&m)),
            json!({"vus": 2, "tags": {"a": "b"}})
        );
    }
}
