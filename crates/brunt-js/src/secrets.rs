//! `--secret-source` (and `K6_SECRET_SOURCE`): the sources that `k6/secrets` reads, parsed as
//! k6 (v2) parses them. A spec is `TYPE=CONFIG`, where CONFIG is a comma-separated list that may
//! name the source (`name=NAME`, else its type) and make it the default (`default`); a single
//! source is the default. Types: `file` (`file=PATH` or `file=filename=PATH`, `key=value` lines),
//! `mock` (`mock=key=value,...`) and brunt's own `env` (`env` or `env=prefix=APP_`: the process's
//! environment variables, the prefix taken off, so CI secrets need no file on disk). Every value
//! given to a script is redacted from the logs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The name of the source that `secrets.get` reads.
const DEFAULT: &str = "default";

/// The configured sources by name; `default` is one of them when any is configured.
#[derive(Debug, Default)]
pub struct SecretSources {
    sources: HashMap<String, Arc<HashMap<String, String>>>,
}

impl SecretSources {
    /// Parses the `--secret-source` specs, reading `file` sources relative to the working
    /// directory. An error names the spec (and the file) it is about.
    pub fn parse(specs: &[String]) -> Result<SecretSources, String> {
        let mut sources: HashMap<String, Arc<HashMap<String, String>>> = HashMap::new();
        let mut default = None;
        for spec in specs {
            let (kind, config) = match spec.split_once('=') {
                Some(kc) => kc,
                None if spec.trim().is_empty() => {
                    return Err(format!(
                        "couldn't parse secret source configuration {spec:?}"
                    ))
                }
                None => (spec.as_str(), ""),
            };
            let (name, is_default, config) = name_and_default(config);
            let values = Arc::new(match kind {
                "file" => file_source(&config)?,
                "mock" => key_values(config.split(','))?,
                "env" => env_source(&config, std::env::vars())?,
                _ => {
                    return Err(format!(
                        "no secret source for type {kind:?} for configuration {spec:?} \
                         (brunt has the file, mock and env sources)"
                    ))
                }
            });
            let name = name.unwrap_or_else(|| kind.to_string());
            if sources.contains_key(&name) {
                return Err(format!(
                    "secret source for name {name:?} already registered before configuration {spec:?}"
                ));
            }
            if is_default {
                if default.is_some() {
                    return Err(format!(
                        "can't have two secret sources that are default ones, second one was {spec:?}"
                    ));
                }
                default = Some(values.clone());
            }
            sources.insert(name, values);
        }
        if sources.len() == 1 {
            default = sources.values().next().cloned();
        }
        if let Some(d) = default {
            sources.insert(DEFAULT.to_string(), d);
        }
        Ok(SecretSources { sources })
    }

    /// The value of `key` in the source `source`, redacted from the logs from now on. The error
    /// is k6's message.
    pub(crate) fn get(&self, source: &str, key: &str) -> Result<String, String> {
        if self.sources.is_empty() {
            return Err("no secret sources are configured".into());
        }
        let values = self
            .sources
            .get(source)
            .ok_or_else(|| format!("no secret source with name {source:?} is configured"))?;
        let value = values.get(key).ok_or("no value")?;
        brunt_engine::log::redact(value);
        Ok(value.clone())
    }
}

/// Takes `name=NAME` and `default` out of a source's configuration.
fn name_and_default(config: &str) -> (Option<String>, bool, String) {
    let (mut name, mut is_default, mut rest) = (None, false, Vec::new());
    for item in config.split(',') {
        match item.split_once('=') {
            _ if item == DEFAULT => is_default = true,
            Some(("name", n)) => name = Some(n.to_string()),
            _ => rest.push(item),
        }
    }
    (name, is_default, rest.join(","))
}

/// `key=value` items; one without `=` is an error, as in k6.
fn key_values<'a>(items: impl Iterator<Item = &'a str>) -> Result<HashMap<String, String>, String> {
    items
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("parsing {kv:?}, needs ="))
        })
        .collect()
}

/// A `file` source: `PATH` or `filename=PATH`, a file of `key=value` lines.
fn file_source(config: &str) -> Result<HashMap<String, String>, String> {
    let mut filename = "";
    for item in config.split(',') {
        match item.split_once('=') {
            None => filename = item,
            Some(("filename", f)) => filename = f,
            Some((k, _)) => {
                return Err(format!(
                    "unknown configuration key for file secret source {k:?}"
                ))
            }
        }
    }
    if filename.is_empty() {
        return Err("the file secret source needs a file: file=PATH".into());
    }
    let text = std::fs::read_to_string(Path::new(filename))
        .map_err(|e| format!("secret source file {filename}: {e}"))?;
    key_values(text.lines()).map_err(|e| format!("secret source file {filename}: {e}"))
}

/// An `env` source: every environment variable (`env`), or those whose name starts with a
/// prefix (`env=prefix=APP_`), keyed by the name without it.
fn env_source(
    config: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, String> {
    let mut prefix = "";
    for item in config.split(',').filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some(("prefix", p)) => prefix = p,
            _ => {
                return Err(format!(
                "unknown configuration {item:?} for the env secret source (it takes prefix=PREFIX)"
            ))
            }
        }
    }
    Ok(vars
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
        .filter(|(k, _)| !k.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(list: &[&str]) -> Result<SecretSources, String> {
        SecretSources::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_single_source_is_the_default_and_named_by_its_type() {
        let s = specs(&["mock=cool=a,else=b"]).unwrap();
        assert_eq!(s.get("default", "cool").unwrap(), "a");
        assert_eq!(s.get("mock", "else").unwrap(), "b");
        assert_eq!(s.get("default", "x").unwrap_err(), "no value");
        assert_eq!(
            s.get("other", "cool").unwrap_err(),
            "no secret source with name \"other\" is configured"
        );
    }

    #[test]
    fn several_sources_have_a_default_only_when_one_says_so() {
        let s = specs(&["mock=name=a,k=1", "mock=name=b,k=2"]).unwrap();
        assert!(s.get("default", "k").unwrap_err().contains("\"default\""));
        assert_eq!(s.get("b", "k").unwrap(), "2");
        let s = specs(&["mock=name=a,k=1", "mock=name=b,default,k=2"]).unwrap();
        assert_eq!(s.get("default", "k").unwrap(), "2");
        assert!(specs(&["mock=default,k=1", "mock=name=b,default,k=2"])
            .unwrap_err()
            .contains("two secret sources"));
        assert!(specs(&["mock=k=1", "mock=k=2"])
            .unwrap_err()
            .contains("already registered"));
    }

    #[test]
    fn bad_specs_are_named() {
        assert_eq!(
            specs(&[""]).unwrap_err(),
            "couldn't parse secret source configuration \"\""
        );
        assert_eq!(specs(&["mock=a"]).unwrap_err(), "parsing \"a\", needs =");
        assert!(specs(&["vault=x"]).unwrap_err().contains("\"vault\""));
        assert!(specs(&["file=/nonexistent/brunt-secrets"])
            .unwrap_err()
            .contains("/nonexistent/brunt-secrets"));
        assert_eq!(
            SecretSources::default().get("default", "k").unwrap_err(),
            "no secret sources are configured"
        );
    }

    #[test]
    fn file_sources_read_key_value_lines() {
        let dir = std::env::temp_dir().join(format!("brunt-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.secret");
        std::fs::write(&path, "cool=some=thing\nelse=\n").unwrap();
        let p = path.display();
        let s = specs(&[&format!("file=name=f,filename={p}")]).unwrap();
        assert_eq!(s.get("f", "cool").unwrap(), "some=thing");
        assert_eq!(s.get("default", "else").unwrap(), "");
        std::fs::write(&path, "cool=x\n\n").unwrap();
        assert!(specs(&[&format!("file={p}")])
            .unwrap_err()
            .contains("parsing \"\", needs ="));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_sources_read_variables_by_prefix() {
        let vars = || {
            [
                ("APP_TOKEN", "t"),
                ("APP_", "empty name"),
                ("HOME", "/root"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
        };
        let s = env_source("prefix=APP_", vars()).unwrap();
        assert_eq!(s.get("TOKEN").map(String::as_str), Some("t"));
        assert_eq!(s.len(), 1);
        assert_eq!(env_source("", vars()).unwrap().len(), 3);
        assert!(env_source("path=x", vars())
            .unwrap_err()
            .contains("prefix=PREFIX"));
        let s = specs(&["env=name=ci,prefix=PATH"]).unwrap();
        assert!(s.get("ci", "").is_err(), "the bare prefix is not a key");
    }
}
