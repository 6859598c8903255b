//! Native side of `k6/experimental/fs`: files opened in the init context, their bytes read once
//! for the whole run (`Shared::file`) and a read position of each VU's own. Errors carry k6's
//! kind as the message's prefix (`NotFoundError: ...`); the layer (`js/fs.js`) splits them into
//! k6's `{name, message}` rejections.

use super::{array_buffer, def, throw};
use crate::host::{Host, Phase};
use rquickjs::{Ctx, Object, Result, Value};
use std::cell::{Cell, RefCell};
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// One opened file: the run's copy of its bytes and this VU's position in them.
pub(crate) struct Cursor {
    data: Arc<[u8]>,
    offset: Cell<usize>,
}

/// A VU's opened files, shared by `k6/experimental/fs` and `k6/experimental/csv` (whose parsers
/// read from a file's position, as k6's do).
#[derive(Default)]
pub(crate) struct Files(RefCell<Vec<Rc<Cursor>>>);

impl Files {
    /// The file behind a handle that `open` gave out.
    pub(crate) fn get(&self, ctx: &Ctx<'_>, handle: usize) -> Result<Rc<Cursor>> {
        self.0
            .borrow()
            .get(handle)
            .cloned()
            .ok_or_else(|| throw(ctx, "TypeError: not a file opened by k6/experimental/fs"))
    }
}

/// A reader over a file from its current position, which it advances.
pub(crate) struct FileReader(pub(crate) Rc<Cursor>);

impl Read for FileReader {
    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        let (data, at) = (&self.0.data, self.0.offset.get());
        let n = into.len().min(data.len() - at);
        into[..n].copy_from_slice(&data[at..at + n]);
        self.0.offset.set(at + n);
        Ok(n)
    }
}

fn fs_error(ctx: &Ctx<'_>, kind: &str, msg: &str) -> rquickjs::Error {
    throw(ctx, &format!("{kind}: {msg}"))
}

pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    host: &Rc<Host>,
    files: &Rc<Files>,
) -> Result<()> {
    let (h, f) = (host.clone(), files.clone());
    // [handle, absolute path].
    def(
        ctx,
        native,
        "open",
        move |ctx: Ctx<'js>, path: String| -> Result<rquickjs::Array<'js>> {
            if h.phase.get() != Phase::Init {
                return Err(fs_error(
                    &ctx,
                    "ForbiddenError",
                    "open() failed; reason: opening a file is allowed only in the Init context",
                ));
            }
            if path.is_empty() {
                return Err(fs_error(
                    &ctx,
                    "TypeError",
                    "open() failed; reason: path cannot be empty",
                ));
            }
            let rel = Path::new(path.strip_prefix("file://").unwrap_or(&path));
            let dir = Path::new(&h.shared.main).parent().unwrap_or(Path::new("."));
            let abs = crate::loader::normalize(&dir.join(rel));
            let shown = abs.display().to_string();
            if abs.is_dir() {
                return Err(fs_error(
                    &ctx,
                    "InvalidResourceError",
                    &format!("cannot open {shown:?}: opening a directory is not supported"),
                ));
            }
            let data = h.shared.file(&abs).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => fs_error(
                    &ctx,
                    "NotFoundError",
                    &format!("no such file or directory {shown:?}"),
                ),
                _ => throw(&ctx, &format!("open() failed; cannot read {shown:?}: {e}")),
            })?;
            let mut open = f.0.borrow_mut();
            open.push(Rc::new(Cursor {
                data,
                offset: Cell::new(0),
            }));
            let out = rquickjs::Array::new(ctx)?;
            out.set(0, open.len() - 1)?;
            out.set(1, shown)?;
            Ok(out)
        },
    )?;
    let f = files.clone();
    // The size; the layer names the file from its path.
    def(
        ctx,
        native,
        "stat",
        move |ctx: Ctx<'js>, handle: usize| -> Result<usize> {
            Ok(f.get(&ctx, handle)?.data.len())
        },
    )?;
    let f = files.clone();
    // Up to `len` bytes from the position, or null at the end of the file (k6's EOF).
    def(
        ctx,
        native,
        "read",
        move |ctx: Ctx<'js>, handle: usize, len: usize| -> Result<Value<'js>> {
            let file = f.get(&ctx, handle)?;
            if file.offset.get() == file.data.len() {
                return Ok(Value::new_null(ctx));
            }
            let at = file.offset.get();
            let end = file.data.len().min(at + len);
            file.offset.set(end);
            array_buffer(&ctx, file.data[at..end].to_vec())
        },
    )?;
    let f = files.clone();
    // The new position; k6's rules, including `End` counting from the last byte.
    def(
        ctx,
        native,
        "seek",
        move |ctx: Ctx<'js>, handle: usize, offset: f64, whence: u32| -> Result<f64> {
            let file = f.get(&ctx, handle)?;
            let size = file.data.len() as f64;
            let target = match whence {
                0 if offset < 0.0 => {
                    return Err(fs_error(
                        &ctx,
                        "TypeError",
                        "offset cannot be negative when using SeekModeStart",
                    ))
                }
                0 => offset,
                1 => file.offset.get() as f64 + offset,
                2 if offset > 0.0 => {
                    return Err(fs_error(
                        &ctx,
                        "TypeError",
                        "offset cannot be positive when using SeekModeEnd",
                    ))
                }
                2 => size - 1.0 + offset,
                _ => return Err(fs_error(&ctx, "TypeError", "invalid seek mode")),
            };
            if target < 0.0 {
                return Err(fs_error(&ctx, "TypeError", "seeking before start of file"));
            }
            if target > size {
                return Err(fs_error(&ctx, "TypeError", "seeking beyond end of file"));
            }
            file.offset.set(target as usize);
            Ok(target)
        },
    )?;
    Ok(())
}
