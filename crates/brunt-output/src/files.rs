//! The files and streams a run writes besides its `--out` samples: `--summary-export`,
//! `--report`, handleSummary's keys and the summary on stdout. Paths known before the run are
//! created then ([`create_file`]), so that a bad one fails before the first request; a write that
//! fails names what it was writing, for [`Finished::failed_writes`](crate::Finished).

use crate::OutputError;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Creates (or empties) the file `flag` writes, e.g. `create_file("--summary-export", path)`.
pub fn create_file(flag: &str, path: &Path) -> Result<File, OutputError> {
    File::create(path).map_err(|error| OutputError::io(format!("{flag} {}", path.display()), error))
}

/// Writes the whole file `flag` names.
pub fn write_file(flag: &str, path: &Path, contents: impl AsRef<[u8]>) -> Result<(), OutputError> {
    std::fs::write(path, contents)
        .map_err(|error| OutputError::io(format!("{flag} {}", path.display()), error))
}

/// Prints `text` (`what`, e.g. "the summary") to stdout; an error, not a panic as `print!`'s,
/// when stdout is full or closed.
pub fn write_stdout(what: &str, text: &str) -> Result<(), OutputError> {
    write_stream(io::stdout().lock(), text)
        .map_err(|e| OutputError::io(format!("{what} to stdout"), e))
}

/// Prints `text` (`what`) to stderr, as [`write_stdout`].
pub fn write_stderr(what: &str, text: &str) -> Result<(), OutputError> {
    write_stream(io::stderr().lock(), text)
        .map_err(|e| OutputError::io(format!("{what} to stderr"), e))
}

fn write_stream(mut out: impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_flag_and_the_file() {
        let e = create_file("--summary-export", Path::new("/nonexistent-dir/s.json")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot write --summary-export /nonexistent-dir/s.json: No such file or directory (os error 2)"
        );
        #[cfg(target_os = "linux")]
        {
            let e = write_file("--report", Path::new("/dev/full"), "x").unwrap_err();
            assert_eq!(
                e.to_string(),
                "cannot write --report /dev/full: No space left on device (os error 28)"
            );
        }
    }
}
