//! TypeScript: a `.ts` module's types are erased before QuickJS compiles it, as k6 (v1.1 and
//! later) does by default. The erasure is swc's strip-only mode (the one Node.js uses), which
//! overwrites type syntax with blanks and so keeps every line and column: a stack trace points at
//! the `.ts` file's own lines with no source map. Scripts without TypeScript never reach it.
//! Like esbuild (k6), two things strip-only mode keeps are left out: an interface or type alias
//! exported by name (`export { User }`), and an import the module never uses as a value (it may
//! name a type; esbuild drops the whole import when none of its names is used).

use std::io::Write;
use std::sync::{Arc, Mutex};
use swc_common::errors::{EmitterWriter, Handler};
use swc_common::sync::Lrc;
use swc_common::{FileName, SourceMap, Spanned, GLOBALS};
use swc_ecma_ast::{
    Decl, ExportSpecifier, Ident, ImportDecl, ImportSpecifier, ModuleDecl, ModuleExportName,
    ModuleItem, Stmt, TsExprWithTypeArgs, TsInterfaceDecl, TsType, TsTypeAliasDecl,
};
use swc_ecma_parser::{parse_file_as_module, Syntax, TsSyntax};
use swc_ecma_visit::{Visit, VisitWith};
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
    let original = src.clone();
    GLOBALS
        .set(&Default::default(), || operate(&cm, &handler, src, options))
        .map(|o| drop_type_only_names(&original, o.code))
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

/// `code` (the stripped `src`, byte for byte in place) without the names of `export { ... }`
/// lists that only name a type, and without imports never used as values: QuickJS would refuse
/// the module for exporting, or importing, what the other module lacks.
fn drop_type_only_names(src: &str, code: String) -> String {
    if !(code.contains("export") || code.contains("import")) || code.len() != src.len() {
        return code;
    }
    let cm: Lrc<SourceMap> = Default::default();
    let fm = cm.new_source_file(FileName::Anon.into(), src.to_string());
    let syntax = Syntax::Typescript(TsSyntax::default());
    let Ok(module) = parse_file_as_module(&fm, syntax, Default::default(), None, &mut Vec::new())
    else {
        return code;
    };
    let (mut types, mut values) = (Vec::new(), Vec::new());
    for item in &module.body {
        let decl = match item {
            ModuleItem::Stmt(Stmt::Decl(d)) => d,
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(e)) => &e.decl,
            _ => continue,
        };
        match decl {
            Decl::TsInterface(i) => types.push(i.id.sym.to_string()),
            Decl::TsTypeAlias(t) => types.push(t.id.sym.to_string()),
            Decl::Fn(f) => values.push(f.ident.sym.to_string()),
            Decl::Class(c) => values.push(c.ident.sym.to_string()),
            Decl::Var(v) => values.extend(
                v.decls
                    .iter()
                    .filter_map(|d| d.name.as_ident().map(|i| i.id.sym.to_string())),
            ),
            _ => {}
        }
    }
    let mut out = code.into_bytes();
    let start = fm.start_pos.0 as usize;
    let mut used = ValueNames(Vec::new());
    module.visit_with(&mut used);
    for item in &module.body {
        if let ModuleItem::ModuleDecl(ModuleDecl::Import(import)) = item {
            drop_unused_imports(&mut out, start, import, &used.0);
        }
        let ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(list)) = item else {
            continue;
        };
        if list.src.is_some() || list.type_only {
            continue;
        }
        for spec in &list.specifiers {
            let ExportSpecifier::Named(named) = spec else {
                continue;
            };
            let ModuleExportName::Ident(orig) = &named.orig else {
                continue;
            };
            let name = orig.sym.to_string();
            if named.is_type_only || !types.contains(&name) || values.contains(&name) {
                continue;
            }
            let span = named.span();
            blank_list_item(
                &mut out,
                span.lo.0 as usize - start,
                span.hi.0 as usize - start,
            );
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Blanks the names `import` brings in that the module never uses as a value, or the whole
/// import when it uses none of them (as esbuild does, so that module is not loaded).
fn drop_unused_imports(out: &mut [u8], start: usize, import: &ImportDecl, used: &[String]) {
    if import.type_only || import.specifiers.is_empty() {
        return;
    }
    let unused: Vec<_> = import
        .specifiers
        .iter()
        .filter(|s| match s {
            ImportSpecifier::Named(n) => {
                !n.is_type_only && !used.contains(&n.local.sym.to_string())
            }
            ImportSpecifier::Default(d) => !used.contains(&d.local.sym.to_string()),
            ImportSpecifier::Namespace(_) => false,
        })
        .map(|s| s.span())
        .collect();
    if unused.len() == import.specifiers.len() {
        let span = import.span;
        let (lo, hi) = (span.lo.0 as usize - start, span.hi.0 as usize - start);
        for b in &mut out[lo..hi] {
            if !b.is_ascii_whitespace() {
                *b = b' ';
            }
        }
        return;
    }
    for span in unused {
        blank_list_item(out, span.lo.0 as usize - start, span.hi.0 as usize - start);
    }
}

/// The identifiers a module names outside types and imports: the names it uses as values (and
/// some it declares, which only keeps an import that might have been dropped).
struct ValueNames(Vec<String>);

impl Visit for ValueNames {
    fn visit_ident(&mut self, i: &Ident) {
        let name = i.sym.to_string();
        if !self.0.contains(&name) {
            self.0.push(name);
        }
    }
    fn visit_import_decl(&mut self, _: &ImportDecl) {}
    fn visit_ts_type(&mut self, _: &TsType) {}
    fn visit_ts_interface_decl(&mut self, _: &TsInterfaceDecl) {}
    fn visit_ts_type_alias_decl(&mut self, _: &TsTypeAliasDecl) {}
    fn visit_ts_expr_with_type_args(&mut self, _: &TsExprWithTypeArgs) {}
}

/// Blanks `out[lo..hi]` and the comma that separates it from its neighbour in the list.
fn blank_list_item(out: &mut [u8], lo: usize, hi: usize) {
    let blank = |out: &mut [u8], i: usize| {
        if !out[i].is_ascii_whitespace() {
            out[i] = b' ';
        }
    };
    for i in lo..hi {
        blank(out, i);
    }
    let after = (hi..out.len()).find(|&i| !out[i].is_ascii_whitespace());
    if let Some(i) = after.filter(|&i| out[i] == b',') {
        blank(out, i);
        return;
    }
    if let Some(i) = (0..lo).rev().find(|&i| !out[i].is_ascii_whitespace()) {
        if out[i] == b',' {
            blank(out, i);
        }
    }
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
    fn types_exported_by_name_leave_the_export_list() {
        let src = "interface User { n: number }\ntype Id = string;\nfunction newUser(): User { return { n: 1 }; }\nexport { User, newUser, type Id };\nexport { Id };\n";
        let js = strip("/u.ts", src.to_string()).unwrap();
        let lines: Vec<String> = js.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines.len(), src.lines().count());
        // `type Id` is swc's to blank, which leaves its comma (a trailing comma is valid).
        assert_eq!(lines[3], "export{newUser,};", "{js}");
        assert_eq!(lines[4], "export{};", "{js}");
    }

    #[test]
    fn imports_used_only_as_types_are_dropped() {
        let src = "import { User, newUser } from './u.ts';\nimport T from './t.ts';\nimport './side.ts';\nconst u: User = newUser();\nlet t: T;\n";
        let js = strip("/s.ts", src.to_string()).unwrap();
        let lines: Vec<String> = js.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], "import{newUser}from'./u.ts';", "{js}");
        assert_eq!(lines[1], "", "an import with no name used goes: {js}");
        assert_eq!(lines[2], "import'./side.ts';", "{js}");
    }

    #[test]
    fn enums_are_refused_with_the_place_and_a_way_out() {
        let err = strip("/s.ts", "\nenum Color { Red }\n".to_string()).unwrap_err();
        assert!(err.contains("/s.ts"), "{err}");
        assert!(err.contains("enum"), "{err}");
        assert!(err.contains(":2:"), "{err}");
    }
}
