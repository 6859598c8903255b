//! `--monitor` values and `options.monitors` entries: `[NAME:]KIND=VALUE`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// One monitor as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSpec {
    /// The `monitor` tag of its metrics: given as `NAME:`, or made from the spec (`pid-1234`,
    /// `nginx`, the cgroup's last path part, the endpoint's `host:port`).
    pub name: String,
    pub source: Source,
    /// The text it was parsed from, for messages.
    pub text: String,
}

/// What a monitor watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Pid(i32),
    PidFile(PathBuf),
    /// Every process whose command name (`/proc/PID/comm`) is this, and their descendants.
    Cmd(String),
    /// A cgroup v2 directory.
    Cgroup(PathBuf),
    /// A Prometheus text-format endpoint, and the metric names to keep (all when empty).
    Prometheus {
        url: String,
        metrics: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("monitor '{spec}': {why}")]
pub struct SpecError {
    pub spec: String,
    pub why: String,
}

const KINDS: &str =
    "pid=PID, pidfile=PATH, cmd=NAME, cgroup=/sys/fs/cgroup/PATH or prometheus=URL[,METRIC...]";

impl FromStr for MonitorSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let fail = |why: String| SpecError {
            spec: text.to_string(),
            why,
        };
        let eq = text
            .find('=')
            .ok_or_else(|| fail(format!("expected KIND=VALUE, one of {KINDS}")))?;
        // A name comes before the first '=' and ends at a ':' (URLs have theirs after the '=').
        let (name, rest) = match text[..eq].find(':') {
            Some(colon) => (Some(&text[..colon]), &text[colon + 1..]),
            None => (None, text),
        };
        if let Some(n) = name {
            if !valid_name(n) {
                return Err(fail(format!(
                    "name '{n}' must be 1 to 64 letters, digits, '_', '-' or '.'"
                )));
            }
        }
        let (kind, value) = rest.split_once('=').unwrap_or((rest, ""));
        let value = value.trim();
        if value.is_empty() {
            return Err(fail(format!("{kind}= needs a value")));
        }
        let source = match kind.trim() {
            "pid" => match value.parse::<i32>() {
                Ok(p) if p > 0 => Source::Pid(p),
                _ => return Err(fail(format!("pid '{value}' is not a process id"))),
            },
            "pidfile" => Source::PidFile(PathBuf::from(value)),
            "cmd" => Source::Cmd(value.to_string()),
            "cgroup" => Source::Cgroup(PathBuf::from(value)),
            "prometheus" => {
                let mut parts = value.split(',').map(str::trim);
                let url = parts.next().unwrap_or_default().to_string();
                if !(url.starts_with("http://")) {
                    return Err(fail(format!(
                        "prometheus URL '{url}' must start with http:// (https is not supported)"
                    )));
                }
                let metrics: Vec<String> = parts.map(String::from).collect();
                if let Some(bad) = metrics.iter().find(|m| !valid_metric(m)) {
                    return Err(fail(format!("'{bad}' is not a Prometheus metric name")));
                }
                Source::Prometheus { url, metrics }
            }
            other => return Err(fail(format!("unknown kind '{other}', expected {KINDS}"))),
        };
        let name = match name {
            Some(n) => n.to_string(),
            None => default_name(&source),
        };
        Ok(MonitorSpec {
            name,
            source,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for MonitorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn default_name(source: &Source) -> String {
    match source {
        Source::Pid(p) => format!("pid-{p}"),
        Source::PidFile(p) | Source::Cgroup(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string()),
        Source::Cmd(c) => c.clone(),
        Source::Prometheus { url, .. } => url::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| url.clone()),
    }
}

fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_metric(m: &str) -> bool {
    !m.is_empty()
        && !m.starts_with(|c: char| c.is_ascii_digit())
        && m.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<MonitorSpec, SpecError> {
        s.parse()
    }

    #[test]
    fn names_come_before_the_kind() {
        let s = parse("api:pid=1234").unwrap();
        assert_eq!((s.name.as_str(), &s.source), ("api", &Source::Pid(1234)));
        assert_eq!(parse("pid=7").unwrap().name, "pid-7");
        assert_eq!(parse("cmd=nginx").unwrap().name, "nginx");
        assert_eq!(
            parse("cgroup=/sys/fs/cgroup/system.slice/db.service")
                .unwrap()
                .name,
            "db"
        );
    }

    #[test]
    fn prometheus_urls_keep_their_colons_and_list_metrics() {
        let s = parse("prometheus=http://127.0.0.1:9090/metrics,pool_in_use,queue_depth").unwrap();
        assert_eq!(s.name, "127.0.0.1:9090");
        assert_eq!(
            s.source,
            Source::Prometheus {
                url: "http://127.0.0.1:9090/metrics".into(),
                metrics: vec!["pool_in_use".into(), "queue_depth".into()],
            }
        );
        let named = parse("db:prometheus=http://db:9187/metrics").unwrap();
        assert_eq!(named.name, "db");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let why = |s: &str| parse(s).unwrap_err().to_string();
        assert!(why("pid").contains("expected KIND=VALUE"));
        assert!(why("pid=abc").contains("'abc' is not a process id"));
        assert!(why("pid=-3").contains("not a process id"));
        assert!(why("disk=/dev/sda").contains("unknown kind 'disk'"));
        assert!(why("cmd=").contains("cmd= needs a value"));
        assert!(why("a b:pid=1").contains("name 'a b'"));
        assert!(why("prometheus=https://x/metrics").contains("https is not supported"));
        assert!(why("prometheus=http://x/metrics,9bad").contains("'9bad'"));
        assert!(why("pid=abc").starts_with("monitor 'pid=abc': "));
    }
}
