//! `--out csv=FILE`: k6's CSV columns. The tag columns are k6's default indexable system tags in
//! name order; other tags go to `extra_tags` as `k=v&k=v`, and the per-sample `vu`/`iter` (k6's
//! metadata) to `metadata`. Timestamps are Unix seconds and values have six decimals, as k6's
//! defaults; fields are quoted by Go's `encoding/csv` rules.

use crate::sink::{NameCache, SampleSink, Target};
use brunt_metrics::{RawSample, Registry};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::UNIX_EPOCH;

/// k6's indexable system tags, sorted: the CSV's tag columns.
const TAG_COLUMNS: [&str; 14] = [
    "check",
    "error",
    "error_code",
    "expected_response",
    "group",
    "method",
    "name",
    "proto",
    "scenario",
    "service",
    "status",
    "subproto",
    "tls_version",
    "url",
];

/// Tags k6 keeps as sample metadata rather than indexed tags.
const METADATA: [&str; 2] = ["iter", "vu"];

pub(crate) struct CsvSink {
    out: Target,
    names: NameCache,
    row: String,
}

impl CsvSink {
    /// Writes the header line.
    pub(crate) fn new(mut out: Target) -> io::Result<Self> {
        let mut header = vec!["metric_name", "timestamp", "metric_value"];
        header.extend(TAG_COLUMNS);
        header.extend(["extra_tags", "metadata"]);
        writeln!(out, "{}", header.join(","))?;
        Ok(CsvSink {
            out,
            names: NameCache::default(),
            row: String::with_capacity(256),
        })
    }
}

/// Go's `encoding/csv` quotes a field holding a comma, quote or line break, one starting with
/// a space, and the field `\.`.
fn push_field(row: &mut String, field: &str) {
    let needs = field == r"\."
        || field.contains([',', '"', '\r', '\n'])
        || field.starts_with(char::is_whitespace);
    if needs {
        row.push('"');
        row.push_str(&field.replace('"', "\"\""));
        row.push('"');
    } else {
        row.push_str(field);
    }
}

fn joined<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push('&');
        }
        let _ = write!(s, "{k}={v}");
    }
    s
}

impl SampleSink for CsvSink {
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()> {
        for s in samples {
            let row = &mut self.row;
            row.clear();
            let (name, _) = self.names.get(s.metric, registry);
            push_field(row, name);
            let secs = s.time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let _ = write!(row, ",{secs},{:.6}", s.value);
            for col in TAG_COLUMNS {
                row.push(',');
                push_field(row, s.tags.get(col).unwrap_or(""));
            }
            let extra = joined(
                s.tags
                    .iter()
                    .filter(|(k, _)| !TAG_COLUMNS.contains(k) && !METADATA.contains(k)),
            );
            let metadata = joined(s.tags.iter().filter(|(k, _)| METADATA.contains(k)));
            row.push(',');
            push_field(row, &extra);
            row.push(',');
            push_field(row, &metadata);
            row.push('\n');
            self.out.write_all(row.as_bytes())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}
