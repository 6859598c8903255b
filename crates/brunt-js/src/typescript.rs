//! TypeScript: a `.ts` module's types are erased before QuickJS compiles it, as k6 (v1.1 and
//! later) does by default. The erasure is swc's strip-only mode (the one Node.js uses), which
//! overwrites type syntax with blanks and so keeps every line and column: a stack trace points at
//! the `.ts` file's own lines with no source map. Scripts without TypeScript never reach it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use swc_common::errors::{EmitterWriter, Handler};
use swc_common::sync::Lrc;
use swc_common::{SourceMap, GLOBALS};
use swc_ts_fast_strip::{operate, ErrorCode, Mode, Options};

/// True for the module names whose source is TypeScript.
pub(crate) fn is_typescript(name: &str) -> bool {
    name.ends_with(".ts") || name.ends_with(".mts") || name.ends_with(".cts")
}

/// `src` with its type syntax blanked out, or swc's diagnostics (file, line, column and the
/// offending code) as the error.
pub(crate) fn strip(name: &str, src: String) -> Result<String, String> {
    let cm: Lrc<SourceMap> = Default::default();
    let out = Diagnostics::default();
    let emitter = EmitterWriter::new(Box::new(out.clone()), Some(cm.clone()), false, false);
    let handler = Handler::with_emitter(true, false, Box::new(emitter));
    let options = Options {
        module: Some(true),
        filename: Some(name.to_string()),
        mode: Mode::StripOnly,
        ..serde_json::from_str("{}").expect("swc's options have defaults")
    };
    GLOBALS
        .set(&Default::default(), || operate(&cm, &handler, src, options))
        .map(|o| o.code)
        .map_err(|e| {
            let detail = out.text();
            let hint = if matches!(e.code, ErrorCode::UnsupportedSyntax) {
                "\nbrunt erases types without rewriting code, as Node.js does: enums, namespaces \
                 and constructor parameter properties need a rewrite; use plain objects, modules \
                 and explicit fields instead, or compile the script to JavaScript first"
            } else {
                ""
            };
            format!("SyntaxError: cannot strip the types of '{name}': {e}\n{detail}{hint}")
        })
}

/// swc's diagnostics, written as text.
#[derive(Clone, Default)]
struct Diagnostics(Arc<Mutex<Vec<u8>>>);

impl Diagnostics {
    fn text(&self) -> String {
        let buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buf).trim_end().to_string()
    }
}

impl Write for Diagnostics {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_blanked_and_lines_kept() {
        let src = "interface P { n: number }\nconst p: P = { n: 1 };\nexport default function (): void { throw new Error(String(p.n as number)); }\n";
        let js = strip("/s.ts", src.to_string()).unwrap();
        assert_eq!(js.lines().count(), src.lines().count());
        assert!(
            js.lines()
                .nth(1)
                .unwrap()
                .starts_with("const p    = { n: 1 };"),
            "{js}"
        );
        assert!(!js.contains("number"), "{js}");
    }

    #[test]
    fn enums_are_refused_with_the_place_and_a_way_out() {
        let err = strip("/s.ts", "\nenum Color { Red }\n".to_string()).unwrap_err();
        assert!(err.contains("/s.ts"), "{err}");
        assert!(err.contains("enum"), "{err}");
        assert!(err.contains(":2:"), "{err}");
    }
}
