//! Native side of `k6/experimental/csv`: records read from a `k6/experimental/fs` file's
//! position with k6's options (its line counting, its checks, its error messages).

use super::fs::{FileReader, Files};
use super::{def, throw};
use crate::host::{Host, Phase};
use rquickjs::{Array, Ctx, Object, Result, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// k6's parser options, as the layer (`js/csv.js`) reads them from the script's object.
struct Options {
    delimiter: String,
    skip_first_line: bool,
    from_line: Option<f64>,
    to_line: Option<f64>,
    as_objects: bool,
}

impl Options {
    fn from_js(o: &Object<'_>) -> Result<Self> {
        Ok(Options {
            delimiter: o.get("delimiter")?,
            skip_first_line: o.get("skipFirstLine")?,
            // The layer has checked that fromLine is below toLine.
            from_line: o.get("fromLine")?,
            to_line: o.get("toLine")?,
            as_objects: o.get("asObjects")?,
        })
    }
}

struct Parser {
    reader: csv::Reader<FileReader>,
    /// Records read so far, k6's `currentLine` (the header and skipped records count).
    line: f64,
    to_line: Option<f64>,
    header: Option<Vec<String>>,
}

impl Parser {
    fn new(ctx: &Ctx<'_>, file: FileReader, o: Options) -> Result<Self> {
        let fail = |msg: String| Err(throw(ctx, &msg));
        let objects = o.as_objects;
        if objects && o.skip_first_line {
            return fail(
                "the 'header' option cannot be enabled when 'skipFirstLine' is true".into(),
            );
        }
        if objects && o.from_line.is_some_and(|f| f > 0.0) {
            return fail(
                "the 'header' option cannot be enabled when 'fromLine' is set to a value greater than 0"
                    .into(),
            );
        }
        for (name, v) in [("fromLine", o.from_line), ("toLine", o.to_line)] {
            if let Some(v) = v.filter(|v| *v < 0.0) {
                return fail(format!(
                    "the '{name}' option must be greater than or equal to 0; got {v}"
                ));
            }
        }
        let delimiter = match o.delimiter.as_bytes() {
            [] => b',',
            [d] => *d,
            _ => return fail("delimiter must be a single character".into()),
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .from_reader(file);
        let mut p = Parser {
            reader,
            line: 0.0,
            to_line: o.to_line,
            header: None,
        };
        if objects {
            let header = p
                .record(ctx)
                .and_then(|r| r.ok_or_else(|| throw(ctx, "EOF")))
                .map_err(|e| prefixed(ctx, "failed to read the first line; reason: ", e))?;
            p.header = Some(header.iter().map(str::to_string).collect());
        }
        if o.skip_first_line && o.from_line.is_none_or(|f| f == 0.0) {
            p.skip(ctx, "failed to skip the first line; reason: ")?;
        }
        if let Some(from) = o.from_line.filter(|f| *f > 0.0) {
            while p.line < from {
                p.skip(
                    ctx,
                    &format!("failed to skip lines until line {from}; reason: "),
                )?;
            }
        }
        Ok(p)
    }

    /// The next record, counted; None at the end of the file.
    fn record(&mut self, ctx: &Ctx<'_>) -> Result<Option<csv::StringRecord>> {
        let mut rec = csv::StringRecord::new();
        match self.reader.read_record(&mut rec) {
            Ok(true) => {
                self.line += 1.0;
                Ok(Some(rec))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(throw(ctx, &go_message(&e))),
        }
    }

    fn skip(&mut self, ctx: &Ctx<'_>, why: &str) -> Result<()> {
        match self.record(ctx) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(throw(ctx, &format!("{why}EOF"))),
            Err(e) => Err(prefixed(ctx, why, e)),
        }
    }

    /// The next row (an array, or an object by the header's names); undefined when done.
    fn next<'js>(&mut self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        if self.to_line.is_some_and(|to| to > 0.0 && self.line > to) {
            return Ok(Value::new_undefined(ctx.clone()));
        }
        let Some(rec) = self.record(ctx)? else {
            return Ok(Value::new_undefined(ctx.clone()));
        };
        match &self.header {
            Some(names) => {
                if rec.len() != names.len() {
                    return Err(throw(
                        ctx,
                        &format!(
                            "record length ({}) doesn't match header length ({})",
                            rec.len(),
                            names.len()
                        ),
                    ));
                }
                let row = Object::new(ctx.clone())?;
                for (k, v) in names.iter().zip(rec.iter()) {
                    row.set(k.as_str(), v)?;
                }
                Ok(row.into_value())
            }
            None => {
                let row = Array::new(ctx.clone())?;
                for (i, v) in rec.iter().enumerate() {
                    row.set(i, v)?;
                }
                Ok(row.into_value())
            }
        }
    }
}

/// Go's `encoding/csv` wording, which k6's messages carry.
fn go_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, .. } => format!(
            "record on line {}: wrong number of fields",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        _ => e.to_string(),
    }
}

/// `e`'s message (the pending exception's) behind `prefix`.
fn prefixed(ctx: &Ctx<'_>, prefix: &str, e: rquickjs::Error) -> rquickjs::Error {
    let msg = match rquickjs::CaughtError::from_error(ctx, e) {
        rquickjs::CaughtError::Exception(ex) => ex.message().unwrap_or_default(),
        other => other.to_string(),
    };
    throw(ctx, &format!("{prefix}{msg}"))
}

pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    host: &Rc<Host>,
    files: &Rc<Files>,
) -> Result<()> {
    let parsers: Rc<RefCell<Vec<Parser>>> = Rc::default();
    let (h, f, p) = (host.clone(), files.clone(), parsers.clone());
    def(
        ctx,
        native,
        "parser",
        move |ctx: Ctx<'js>, file: usize, options: Object<'js>| -> Result<usize> {
            if h.phase.get() != Phase::Init {
                return Err(throw(
                    &ctx,
                    "csv Parser constructor must be called in the init context",
                ));
            }
            let reader = FileReader(f.get(&ctx, file)?);
            let parser = Parser::new(&ctx, reader, Options::from_js(&options)?)
                .map_err(|e| prefixed(&ctx, "failed to create a new parser; reason: ", e))?;
            let mut all = p.borrow_mut();
            all.push(parser);
            Ok(all.len() - 1)
        },
    )?;
    def(
        ctx,
        native,
        "next",
        move |ctx: Ctx<'js>, parser: usize| -> Result<Value<'js>> {
            let mut all = parsers.borrow_mut();
            match all.get_mut(parser) {
                Some(p) => p.next(&ctx),
                None => Err(throw(&ctx, "not a csv Parser")),
            }
        },
    )?;
    Ok(())
}
