//! The run's logger, as k6's (logrus) writes it: every log line of a run (the script's
//! `console.*`, `Request Failed`, errors, the engine's and the reporter's warnings) goes through
//! here, so `--log-output`, `--log-format`, `--verbose` and `--console-output` apply to all.
//! It lives in the engine because every part that logs depends on it.
//!
//! Formats, as k6's: `text` is logrus's text form (`INFO[0001] msg  key=value` on a terminal,
//! `time="..." level=info msg=... key=value` anywhere else: pipes, files, `--no-color`), `json`
//! one object per line with sorted keys, `raw` the message alone.
//!
//! Values of `k6/secrets` are redacted from every line, as k6's secrets hook does: see [`redact`].

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// A line's severity; lines under the configured level are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// logrus's name for the level (`level=` and JSON's `"level"`).
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }

    /// The four letters of the terminal form, and their ANSI colour.
    fn tag(self) -> (&'static str, u8) {
        match self {
            Level::Debug => ("DEBU", 37),
            Level::Info => ("INFO", 36),
            Level::Warn => ("WARN", 33),
            Level::Error => ("ERRO", 31),
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "debug" | "trace" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "fatal" | "panic" => Level::Error,
            _ => {
                return Err(format!(
                    "unknown log level '{s}': use debug, info, warning or error"
                ))
            }
        })
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Raw,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" | "" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "raw" => Ok(Format::Raw),
            _ => Err(format!("'{s}' is not a log format: use text, json or raw")),
        }
    }
}

/// `--log-output`: where log lines go, and (for `file=`) the least level written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Stderr,
    Stdout,
    None,
    File {
        path: PathBuf,
        level: Option<Level>,
    },
}

impl FromStr for Output {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stderr" | "" => return Ok(Output::Stderr),
            "stdout" => return Ok(Output::Stdout),
            "none" => return Ok(Output::None),
            _ => {}
        }
        if s.starts_with("loki") {
            return Err(format!(
                "'{s}': brunt does not push logs to Loki; write them to a file \
                 (file=PATH) or stdout and let your log shipper (Promtail, Alloy) send them"
            ));
        }
        let Some(rest) = s.strip_prefix("file=") else {
            return Err(format!(
                "unsupported log output '{s}': use stderr, stdout, none or file=PATH[,level=LEVEL]"
            ));
        };
        let mut parts = rest.split(',');
        let path = parts.next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!("'{s}': file= needs a path"));
        }
        let mut level = None;
        for p in parts {
            match p.split_once('=') {
                Some(("level", l)) => level = Some(l.parse()?),
                _ => return Err(format!("'{s}': unknown setting '{p}' (only level=LEVEL)")),
            }
        }
        Ok(Output::File {
            path: path.into(),
            level,
        })
    }
}

/// How a run logs; [`configure`] installs it before anything logs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub output: Output,
    pub format: Format,
    /// `--verbose`: debug lines too (`console.debug` among them).
    pub verbose: bool,
    /// `--no-color`: never the coloured terminal form.
    pub no_color: bool,
    /// `--console-output FILE`: the script's `console.*` lines go there instead.
    pub console_output: Option<PathBuf>,
}

/// Where one stream of lines goes and how it looks.
struct Sink {
    writer: Box<dyn Write + Send>,
    format: Format,
    /// The coloured `INFO[0001]` form, for a terminal.
    terminal: bool,
    least: Level,
}

struct Logger {
    main: Sink,
    console: Option<Sink>,
}

static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

/// The secrets read so far, in the order they were read; each is replaced in every line.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What a secret is replaced with, k6's text.
pub const REDACTED: &str = "***SECRET_REDACTED***";

/// Redacts `secret` from every later log line (message, field names and values), as k6 does
/// for each value `k6/secrets` gives a script. Blank secrets are not redacted (k6 v2 skips them;
/// v1.1 redacted the empty string between every character).
pub fn redact(secret: &str) {
    if secret.trim().is_empty() {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|x| x == secret) {
        s.push(secret.to_string());
    }
}

/// `text` with each secret replaced, scanning left to right and trying the secrets in the order
/// they were read at each position (Go's `strings.Replacer`, which k6's hook uses).
fn redacted(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        for s in secrets {
            if let Some(after) = rest.strip_prefix(s.as_str()) {
                out.push_str(REDACTED);
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Log lines on a terminal show seconds since the process started, as k6's do.
fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Fixes the start of the run's clock (the `[0001]` of terminal lines); call it first.
pub fn start_clock() {
    started();
}

/// Whole seconds since the clock started (the `[0001]` of terminal lines).
pub fn seconds() -> u64 {
    started().elapsed().as_secs()
}

/// Installs the run's logger; an error names the file that could not be opened.
pub fn configure(c: &Config) -> Result<(), String> {
    start_clock();
    let least = if c.verbose { Level::Debug } else { Level::Info };
    let open = |path: &PathBuf, what: &str| -> Result<Box<dyn Write + Send>, String> {
        File::create(path)
            .map(|f| Box::new(io::LineWriter::new(f)) as Box<dyn Write + Send>)
            .map_err(|e| format!("{what} {}: {e}", path.display()))
    };
    let (writer, terminal, least): (Box<dyn Write + Send>, bool, Level) = match &c.output {
        Output::Stderr => (
            Box::new(io::stderr()),
            io::IsTerminal::is_terminal(&io::stderr()),
            least,
        ),
        Output::Stdout => (
            Box::new(io::stdout()),
            io::IsTerminal::is_terminal(&io::stdout()),
            least,
        ),
        Output::None => (Box::new(io::sink()), false, Level::Error),
        Output::File { path, level } => (
            open(path, "--log-output file=")?,
            false,
            level.unwrap_or(least),
        ),
    };
    let console = match &c.console_output {
        Some(path) => Some(Sink {
            writer: open(path, "--console-output")?,
            format: Format::Text,
            terminal: false,
            least,
        }),
        None => None,
    };
    let logger = Logger {
        main: Sink {
            writer,
            format: c.format,
            terminal: terminal && !c.no_color,
            least,
        },
        console,
    };
    *LOGGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(logger);
    Ok(())
}

/// Whether a line of `level` would be written (to skip building one that would not).
pub fn enabled(level: Level) -> bool {
    let guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    level >= guard.as_ref().map_or(Level::Info, |l| l.main.least)
}

/// Logs `msg` with `fields` (`key=value` after it).
pub fn log(level: Level, msg: &str, fields: &[(&str, &str)]) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_mut() {
        Some(l) => l.main.write(level, msg, fields),
        None => default_sink().write(level, msg, fields),
    }
}

/// A line of the script's `console`: to `--console-output`'s file when given (without the
/// `source` field, as k6), else with the other logs and `source=console`.
pub fn console(level: Level, msg: &str) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_mut() {
        Some(Logger {
            console: Some(c), ..
        }) => c.write(level, msg, &[]),
        Some(l) => l.main.write(level, msg, &[("source", "console")]),
        None => default_sink().write(level, msg, &[("source", "console")]),
    }
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg, &[]);
}

pub fn info(msg: &str) {
    log(Level::Info, msg, &[]);
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg, &[]);
}

pub fn error(msg: &str) {
    log(Level::Error, msg, &[]);
}

/// Before [`configure`] (and in other commands): k6's defaults on stderr.
fn default_sink() -> Sink {
    Sink {
        writer: Box::new(io::stderr()),
        format: Format::Text,
        terminal: io::IsTerminal::is_terminal(&io::stderr()),
        least: Level::Info,
    }
}

impl Sink {
    fn write(&mut self, level: Level, msg: &str, fields: &[(&str, &str)]) {
        if level < self.least {
            return;
        }
        let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        let (msg, fields): (String, Vec<(String, String)>) = if secrets.is_empty() {
            (
                msg.into(),
                fields
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            )
        } else {
            let fields = fields
                .iter()
                .map(|(k, v)| (redacted(k, &secrets), redacted(v, &secrets)));
            (redacted(msg, &secrets), fields.collect())
        };
        drop(secrets);
        let mut fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        fields.sort_by_key(|(k, _)| *k);
        let msg = msg.as_str();
        let line = match self.format {
            Format::Raw => format!("{msg}\n"),
            Format::Json => json_line(level, msg, &fields),
            Format::Text if self.terminal => terminal_line(level, msg, &fields),
            Format::Text => logfmt_line(level, msg, &fields),
        };
        // A log that cannot be written (a closed pipe) must not stop the run.
        let _ = self.writer.write_all(line.as_bytes());
    }
}

fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// logrus's coloured form: `INFO[0001] message (padded to 44)  key=value`.
fn terminal_line(level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    let (tag, color) = level.tag();
    let secs = seconds();
    let mut line = format!("\x1b[{color}m{tag}\x1b[0m[{secs:04}] {msg}");
    if !fields.is_empty() {
        let pad = 44usize.saturating_sub(msg.chars().count());
        line.push_str(&" ".repeat(pad + 1));
        for (k, v) in fields {
            line.push_str(&format!(" \x1b[{color}m{k}\x1b[0m={}", quoted(v)));
        }
    }
    line.push('\n');
    line
}

/// logrus's plain text form: `time="..." level=info msg="..." key=value`.
fn logfmt_line(level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!(
        "time={} level={} msg={}",
        quoted(&now_rfc3339()),
        level.name(),
        quoted(msg)
    );
    for (k, v) in fields {
        line.push_str(&format!(" {k}={}", quoted(v)));
    }
    line.push('\n');
    line
}

fn json_line(level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    let mut m: std::collections::BTreeMap<&str, &str> = fields.iter().copied().collect();
    let time = now_rfc3339();
    m.insert("level", level.name());
    m.insert("msg", msg);
    m.insert("time", &time);
    let mut line = serde_json::to_string(&m).unwrap_or_default();
    line.push('\n');
    line
}

/// A value as logrus writes it: bare when it is only letters, digits and `-._/@^+`, else
/// quoted with escapes.
fn quoted(v: &str) -> String {
    let bare = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_as_k6_spells_them() {
        assert_eq!("stdout".parse::<Output>(), Ok(Output::Stdout));
        assert_eq!(
            "file=/tmp/x.log,level=error".parse::<Output>(),
            Ok(Output::File {
                path: "/tmp/x.log".into(),
                level: Some(Level::Error)
            })
        );
        assert!("loki=http://x"
            .parse::<Output>()
            .unwrap_err()
            .contains("Loki"));
        assert!("file=".parse::<Output>().is_err());
        assert!("file=x,level=loud".parse::<Output>().is_err());
        assert!("syslog".parse::<Output>().is_err());
    }

    #[test]
    fn lines_look_like_logrus() {
        let l = logfmt_line(Level::Warn, "Request Failed", &[("error", "Get \"u\": x")]);
        assert!(l.starts_with("time=\""), "{l}");
        assert!(
            l.ends_with(" level=warning msg=\"Request Failed\" error=\"Get \\\"u\\\": x\"\n"),
            "{l}"
        );
        assert!(logfmt_line(Level::Info, "after", &[]).ends_with(" level=info msg=after\n"));
        let j = json_line(Level::Info, "hi", &[("source", "console")]);
        assert!(
            j.starts_with(r#"{"level":"info","msg":"hi","source":"console","time":""#),
            "{j}"
        );
    }

    #[test]
    fn secrets_are_replaced_leftmost_first_in_the_order_read() {
        let secrets = ["some".to_string(), "zz".to_string(), "o".to_string()];
        assert_eq!(
            redacted("x some zzz", &secrets),
            "x ***SECRET_REDACTED*** ***SECRET_REDACTED***z"
        );
        assert_eq!(redacted("so", &secrets), "s***SECRET_REDACTED***");
        assert_eq!(redacted("nothing here", &[]), "nothing here");
    }
}
