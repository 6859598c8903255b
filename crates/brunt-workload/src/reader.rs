//! Streams a log (plain or gzip, told by its first bytes) line by line through a parser into a
//! [`Sink`] (the model's [`Fitter`], `brunt replay`'s feed): one reused line buffer, so memory
//! does not grow with the log.

use crate::fit::Fitter;
use crate::format::{JsonFields, LogFormat, Parser, Record};
use crate::model::{Lines, Unparsed};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Unparsed lines kept as samples.
const SAMPLES: usize = 5;
/// Lines looked at to guess the format when `--format` is not given.
const DETECT_LINES: usize = 20;

/// Opens `path` for reading, through a gzip decoder when it starts with gzip's magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    })
}

/// Where the parsed requests go, one at a time with their line number. `Ok(Err(reason))`
/// refuses the line (counted and sampled as one that does not parse, fatal with `strict`);
/// `Err` ends the read.
pub trait Sink {
    fn push(&mut self, rec: &Record, line: u64) -> Result<Result<(), String>>;
}

impl Sink for Fitter {
    fn push(&mut self, rec: &Record, line: u64) -> Result<Result<(), String>> {
        Fitter::push(self, rec, line);
        Ok(Ok(()))
    }
}

/// What reading a log gave: the lines' tally and the format used.
pub struct ReadOutcome {
    pub lines: Lines,
    pub format: LogFormat,
}

/// Reads every line of `input` (named `source` in messages) into `sink`. Lines that do not
/// parse are counted and sampled, or, with `strict`, end the read with the line's number and
/// reason. Without `format`, the first non-empty lines decide it.
pub fn read(
    source: &str,
    mut input: impl BufRead,
    format: Option<LogFormat>,
    fields: JsonFields,
    strict: bool,
    sink: &mut impl Sink,
) -> Result<ReadOutcome> {
    let mut buf = Vec::with_capacity(4096);
    let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut lineno = 0u64;
    let mut lines = Lines {
        total: 0,
        parsed: 0,
        unparsed: 0,
        samples: Vec::new(),
    };
    // Without --format: hold the first lines until one of them tells the format.
    let format = match format {
        Some(f) => f,
        None => loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("cannot read {source}"))?;
            if n == 0 {
                match pending.len() {
                    0 => bail!("{source}: the log is empty"),
                    _ => bail!(
                        "{source}: cannot tell the format from its first lines (line 1: '{}'); name it with --format combined|common|json|nginx-json|alb|envoy",
                        crate::format::cut(String::from_utf8_lossy(trim(&pending[0].1)).as_ref())
                    ),
                }
            }
            lineno += 1;
            let line = trim(&buf);
            if line.is_empty() {
                continue;
            }
            if let Some(f) = std::str::from_utf8(line).ok().and_then(LogFormat::detect) {
                pending.push((lineno, buf.clone()));
                break f;
            }
            pending.push((lineno, buf.clone()));
            if pending.len() >= DETECT_LINES {
                bail!(
                    "{source}: cannot tell the format from its first {DETECT_LINES} lines (line {}: '{}'); name it with --format combined|common|json|nginx-json|alb|envoy",
                    pending[0].0,
                    crate::format::cut(String::from_utf8_lossy(trim(&pending[0].1)).as_ref())
                );
            }
        },
    };
    let mut parser = Parser::new(format, fields);
    let mut one = |no: u64, raw: &[u8], lines: &mut Lines| -> Result<()> {
        let raw = trim(raw);
        if raw.is_empty() {
            return Ok(());
        }
        lines.total += 1;
        let outcome = match std::str::from_utf8(raw).map(|text| parser.parse(text)) {
            Ok(Ok(rec)) => sink.push(&rec, no)?,
            Ok(Err(e)) => Err(e.0),
            Err(_) => Err("not UTF-8 text".to_string()),
        };
        match outcome {
            Ok(()) => lines.parsed += 1,
            Err(reason) => {
                if strict {
                    bail!(
                        "{source}:{no}: {reason} (not a {} line; --strict)",
                        format.name()
                    );
                }
                lines.unparsed += 1;
                if lines.samples.len() < SAMPLES {
                    lines.samples.push(Unparsed {
                        line: no,
                        reason,
                        text: crate::format::cut(&String::from_utf8_lossy(raw)).to_string(),
                    });
                }
            }
        }
        Ok(())
    };
    for (no, raw) in &pending {
        one(*no, raw, &mut lines)?;
    }
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {source} after line {lineno}"))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        one(lineno, &buf, &mut lines)?;
    }
    Ok(ReadOutcome { lines, format })
}

/// A line without its `\n` / `\r\n`.
fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}
