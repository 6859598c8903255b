//! Remote modules (`import x from 'https://...'`): each URL is fetched once with brunt-http and
//! kept in an on-disk cache (`--module-cache`), from which later runs, offline ones too, load it.
//! The cache is plain files under `DIR/<host>/<path>`, so a module can be vendored by copying it
//! there.

use brunt_http::{Client, ClientConfig, Request};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `$XDG_CACHE_HOME/brunt/modules`, else `~/.cache/brunt/modules`, else the temporary directory's.
pub(crate) fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("brunt").join("modules")
}

/// Where `url` is (or would be) cached under `dir`: `DIR/host[_port]/path`, `index.js` for a path
/// that ends in `/`, and a query string kept as a suffix of the file name.
pub(crate) fn cache_path(dir: &Path, url: &url::Url) -> PathBuf {
    let mut host = url.host_str().unwrap_or("_").to_string();
    if let Some(port) = url.port() {
        host = format!("{host}_{port}");
    }
    let mut p = dir.join(host);
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty() && *s != "..").collect())
        .unwrap_or_default();
    for s in &segments {
        p.push(s);
    }
    if segments.is_empty() || url.path().ends_with('/') {
        p.push("index.js");
    }
    if let Some(q) = url.query() {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let safe: String = q
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        p.set_file_name(format!("{}@{safe}", name.unwrap_or_default()));
    }
    p
}

/// Makes sure `url` is in the cache under `dir`, fetching it on a miss; returns its file.
pub(crate) fn ensure_cached(dir: &Path, url: &str) -> Result<PathBuf, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("cannot import '{url}': {e}"))?;
    let path = cache_path(dir, &parsed);
    if path.is_file() {
        return Ok(path);
    }
    let body = fetch(url).map_err(|e| {
        format!(
            "cannot import '{url}': it is not in the module cache ({}) and fetching it failed: \
             {e}; run once with network access, or vendor it: save the file there or next to \
             the script and import it by a relative path",
            path.display()
        )
    })?;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        // Written whole, then renamed: a concurrent run never reads half a module.
        let tmp = path.with_extension(format!("part{}", std::process::id()));
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        format!(
            "cannot import '{url}': cannot write the module cache ({}): {e}",
            path.display()
        )
    })?;
    Ok(path)
}

/// GETs `url` on a thread of its own (the caller may be on a worker's event loop).
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let url = url.to_string();
    std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = Client::new(ClientConfig {
                timeout: Duration::from_secs(30),
                ..ClientConfig::default()
            })
            .map_err(|e| e.to_string())?;
            let req = Request::new(http::Method::GET, &url).map_err(|e| e.to_string())?;
            let resp = client.send(&req).await;
            if let Some(e) = resp.error {
                return Err(e);
            }
            if resp.status != 200 {
                return Err(format!("the server answered {}", resp.status));
            }
            Ok(resp.body.to_vec())
        })
    })
    .join()
    .map_err(|_| "the fetch failed".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths_mirror_the_url() {
        let d = Path::new("/c");
        let p = |u: &str| cache_path(d, &url::Url::parse(u).unwrap());
        assert_eq!(
            p("https://jslib.k6.io/k6-utils/1.4.0/index.js"),
            Path::new("/c/jslib.k6.io/k6-utils/1.4.0/index.js")
        );
        assert_eq!(
            p("http://127.0.0.1:8080/"),
            Path::new("/c/127.0.0.1_8080/index.js")
        );
        assert_eq!(p("https://h/a/../../x.js"), Path::new("/c/h/x.js"));
        assert_eq!(p("https://h/x.js?v=1"), Path::new("/c/h/x.js@v_1"));
    }
}
