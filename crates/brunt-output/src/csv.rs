//! `--out csv=FILE`: k6's CSV columns. The tag columns are k6's default indexable system tags in
//! name order; other tags go to `extra_tags` as `k=v&k=v`, and the per-sample `vu`/`iter` (k6's
//! metadata) to `metadata`. Timestamps are Unix seconds and values have six decimals, as k6's
//! defaults; fields are quoted by Go's `encoding/csv` rules.

use crate::sink::{NameCache, SampleSink, Target};
use crate::tag_cache::TagCache;
use brunt_metrics::{RawSample, Registry, TagSet};
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

/// Rows are gathered into one buffer and handed to the writer in chunks of about this size.
const FLUSH_AT: usize = 64 * 1024;

pub(crate) struct CsvSink {
    out: Target,
    names: NameCache,
    tags: TagCache,
    rows: String,
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
            tags: TagCache::default(),
            rows: String::with_capacity(FLUSH_AT + 4096),
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

/// The end of a row for a tag set: its tag columns, `extra_tags` and `metadata`.
fn tag_columns(tags: &TagSet) -> String {
    let mut row = String::new();
    for col in TAG_COLUMNS {
        row.push(',');
        push_field(&mut row, tags.get(col).unwrap_or(""));
    }
    let extra = joined(
        tags.iter()
            .filter(|(k, _)| !TAG_COLUMNS.contains(k) && !METADATA.contains(k)),
    );
    let metadata = joined(tags.iter().filter(|(k, _)| METADATA.contains(k)));
    row.push(',');
    push_field(&mut row, &extra);
    row.push(',');
    push_field(&mut row, &metadata);
    row.push('\n');
    row
}

impl SampleSink for CsvSink {
    fn write(&mut self, samples: &[RawSample], registry: &Registry) -> io::Result<()> {
        self.rows.clear();
        for s in samples {
            let rows = &mut self.rows;
            let name = self.names.get(s.metric, registry);
            push_field(rows, name);
            let secs = s.time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let _ = write!(rows, ",{secs},{:.6}", s.value);
            rows.push_str(self.tags.get(&s.tags, tag_columns));
            if rows.len() >= FLUSH_AT {
                self.out.write_all(rows.as_bytes())?;
                rows.clear();
            }
        }
        self.out.write_all(self.rows.as_bytes())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}
