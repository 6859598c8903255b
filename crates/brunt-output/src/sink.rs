//! Per-sample outputs (`--out json=FILE`, `--out csv=FILE`): the [`SampleSink`] trait the
//! collector thread feeds once a second, and the parser of `--out` values.

use crate::csv::CsvSink;
use crate::json_lines::JsonLinesSink;
use crate::OutputError;
use brunt_metrics::{MetricId, RawSample, Registry, Thresholds};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::str::FromStr;

/// Buffer size of output files: large enough that a second's samples cost few system calls.
const BUFFER: usize = 256 * 1024;

/// A per-sample output. Called on the collector thread, never by workers; writes are buffered.
pub trait SampleSink: Send {
    /// Writes a batch of samples.
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()>;
    /// Flushes everything written; call once at the end of the run.
    fn finish(&mut self) -> io::Result<()>;
}

/// The per-sample output kinds brunt knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Json,
    Csv,
}

const KNOWN: &str = "json, csv";

/// One parsed `--out` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutSpec {
    pub kind: OutKind,
    /// `None` writes to standard output (`json`, `json=` or `json=-`, as k6).
    pub path: Option<PathBuf>,
}

impl FromStr for OutSpec {
    type Err = OutputError;

    /// `KIND` or `KIND=FILE`.
    fn from_str(s: &str) -> Result<Self, OutputError> {
        let (kind, path) = s.split_once('=').unwrap_or((s, ""));
        let kind = match kind {
            "json" => OutKind::Json,
            "csv" => OutKind::Csv,
            _ => {
                return Err(OutputError::UnknownOutput {
                    kind: kind.to_string(),
                    known: KNOWN,
                })
            }
        };
        let path = match path {
            "" | "-" => None,
            p => Some(PathBuf::from(p)),
        };
        Ok(OutSpec { kind, path })
    }
}

impl OutSpec {
    /// Creates the file (or takes stdout) and returns the sink. `thresholds` are listed in the
    /// JSON output's metric lines, as k6 does.
    pub fn open(&self, thresholds: &Thresholds) -> Result<Box<dyn SampleSink>, OutputError> {
        let out = match &self.path {
            None => Target::Stdout(BufWriter::with_capacity(BUFFER, io::stdout())),
            Some(p) => {
                let f = File::create(p).map_err(|source| OutputError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                let f = BufWriter::with_capacity(BUFFER, f);
                if p.extension().is_some_and(|e| e == "gz") {
                    Target::Gzip(GzEncoder::new(f, Compression::default()))
                } else {
                    Target::File(f)
                }
            }
        };
        Ok(match self.kind {
            OutKind::Json => Box::new(JsonLinesSink::new(out, thresholds)),
            OutKind::Csv => Box::new(CsvSink::new(out).map_err(|source| OutputError::Io {
                path: self.to_string(),
                source,
            })?),
        })
    }
}

/// As the user writes it: `json=out.json`, or `json` for standard output.
impl fmt::Display for OutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            OutKind::Json => "json",
            OutKind::Csv => "csv",
        })?;
        match &self.path {
            Some(p) => write!(f, "={}", p.display()),
            None => Ok(()),
        }
    }
}

/// Where a sink writes: a buffered file, a gzip-compressed one (a name ending in `.gz`, as k6),
/// or standard output.
pub(crate) enum Target {
    File(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
    Stdout(BufWriter<io::Stdout>),
}

impl Target {
    /// Flushes everything, ending the gzip stream.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Target::File(w) => w.flush(),
            Target::Gzip(w) => {
                w.try_finish()?;
                w.get_mut().flush()
            }
            Target::Stdout(w) => w.flush(),
        }
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::File(w) => w.write(buf),
            Target::Gzip(w) => w.write(buf),
            Target::Stdout(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Target::File(w) => w.write_all(buf),
            Target::Gzip(w) => w.write_all(buf),
            Target::Stdout(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::File(w) => w.flush(),
            Target::Gzip(w) => w.flush(),
            Target::Stdout(w) => w.flush(),
        }
    }
}

/// Metric names by id, looked up in the registry once per metric rather than per sample.
#[derive(Default)]
pub(crate) struct NameCache(Vec<Option<String>>);

impl NameCache {
    /// The name, and whether this is the first time the metric is seen.
    pub(crate) fn get(&mut self, id: MetricId, registry: &Registry) -> (&str, bool) {
        let i = id.0 as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        let first = self.0[i].is_none();
        let name = self.0[i].get_or_insert_with(|| registry.def(id).name);
        (name, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_values_parse_and_unknown_kinds_list_the_known_ones() {
        let s: OutSpec = "json=results.json".parse().unwrap();
        assert_eq!(s.kind, OutKind::Json);
        assert_eq!(s.path, Some(PathBuf::from("results.json")));
        assert_eq!("csv=-".parse::<OutSpec>().unwrap().path, None);
        assert_eq!("csv".parse::<OutSpec>().unwrap().kind, OutKind::Csv);
        assert_eq!(s.to_string(), "json=results.json");
        assert_eq!("csv=-".parse::<OutSpec>().unwrap().to_string(), "csv");
        let e = "influxdb=http://x"
            .parse::<OutSpec>()
            .unwrap_err()
            .to_string();
        assert_eq!(e, "unknown output 'influxdb'; known outputs: json, csv");
    }

    #[test]
    fn an_unwritable_file_names_its_path() {
        let s: OutSpec = "json=/nonexistent-dir/x.json".parse().unwrap();
        let e = s.open(&Thresholds::default()).err().unwrap().to_string();
        assert!(e.contains("/nonexistent-dir/x.json"), "{e}");
    }
}
