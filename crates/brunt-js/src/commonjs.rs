//! CommonJS: a module without `import`/`export` that uses `exports`, `module` or `require` is
//! wrapped into an ES module, as k6 runs such files. The wrapper calls the source as a function of
//! `(exports, require, module, __filename, __dirname)` with `this` = `exports`; `module.exports`
//! becomes the default export, and the names it assigns (`exports.x =`, `module.exports.x =`,
//! `module.exports = { x }`, `Object.defineProperty(exports, 'x', ...)`) become named exports.
//! The wrapper's head shares the source's first line, so line numbers stay the file's own.

use swc_common::sync::Lrc;
use swc_common::{FileName, SourceMap};
use swc_ecma_ast::{
    AssignTarget, Callee, Expr, Lit, MemberExpr, MemberProp, ModuleItem, ObjectLit, Prop, PropName,
    PropOrSpread, SimpleAssignTarget,
};
use swc_ecma_parser::{parse_file_as_module, EsSyntax, Syntax};
use swc_ecma_visit::{Visit, VisitWith};

/// The ES module to compile in place of `src` when it is CommonJS; None when it is not.
pub(crate) fn wrap(name: &str, src: &str) -> Option<String> {
    // Most modules are ES modules that never name these: they are not parsed twice.
    if !["exports", "module", "require"]
        .iter()
        .any(|w| src.contains(w))
    {
        return None;
    }
    let cm: Lrc<SourceMap> = Default::default();
    let fm = cm.new_source_file(FileName::Anon.into(), src.to_string());
    // A syntax error is left to QuickJS, which reports it with the module's name.
    let module = parse_file_as_module(
        &fm,
        Syntax::Es(EsSyntax::default()),
        Default::default(),
        None,
        &mut Vec::new(),
    )
    .ok()?;
    if module
        .body
        .iter()
        .any(|item| matches!(item, ModuleItem::ModuleDecl(_)))
    {
        return None;
    }
    let mut names = ExportNames(Vec::new());
    module.visit_with(&mut names);
    let file = serde_json::to_string(name).expect("a string");
    let dir = std::path::Path::new(name)
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = serde_json::to_string(&dir).expect("a string");
    let mut out = String::with_capacity(src.len() + 256);
    out.push_str(
        "const __brunt_module = { exports: {} }; \
         (function (exports, require, module, __filename, __dirname) {",
    );
    out.push_str(src);
    out.push_str(&format!(
        "\n}}).call(__brunt_module.exports, __brunt_module.exports, globalThis.require, \
         __brunt_module, {file}, {dir});\nconst __brunt_exports = __brunt_module.exports;\n\
         export default __brunt_exports;\n"
    ));
    for (i, n) in names.0.iter().enumerate() {
        out.push_str(&format!(
            "const __brunt_{i} = __brunt_exports[{}];\nexport {{ __brunt_{i} as {n} }};\n",
            serde_json::to_string(n).expect("a string")
        ));
    }
    Some(out)
}

/// The names a CommonJS module assigns to its exports, found statically (as Node.js's
/// cjs-module-lexer does): names added at run time under computed keys are reachable through
/// the default export only.
struct ExportNames(Vec<String>);

impl ExportNames {
    fn add(&mut self, name: &str) {
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if ident && name != "default" && !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_string());
        }
    }
}

/// `exports` or `module.exports`.
fn is_exports(e: &Expr) -> bool {
    match e {
        Expr::Ident(i) => &*i.sym == "exports",
        Expr::Member(m) => {
            matches!(&*m.obj, Expr::Ident(i) if &*i.sym == "module")
                && prop_name(&m.prop).as_deref() == Some("exports")
        }
        _ => false,
    }
}

fn prop_name(p: &MemberProp) -> Option<String> {
    match p {
        MemberProp::Ident(i) => Some(i.sym.to_string()),
        MemberProp::Computed(c) => match &*c.expr {
            Expr::Lit(Lit::Str(s)) => s.value.as_str().map(str::to_string),
            _ => None,
        },
        MemberProp::PrivateName(_) => None,
    }
}

fn key_name(k: &PropName) -> Option<String> {
    match k {
        PropName::Ident(i) => Some(i.sym.to_string()),
        PropName::Str(s) => s.value.as_str().map(str::to_string),
        _ => None,
    }
}

impl ExportNames {
    fn object_keys(&mut self, o: &ObjectLit) {
        for p in &o.props {
            let PropOrSpread::Prop(p) = p else { continue };
            let name = match &**p {
                Prop::Shorthand(i) => Some(i.sym.to_string()),
                Prop::KeyValue(kv) => key_name(&kv.key),
                Prop::Method(m) => key_name(&m.key),
                Prop::Getter(g) => key_name(&g.key),
                _ => None,
            };
            if let Some(n) = name {
                self.add(&n);
            }
        }
    }
}

impl Visit for ExportNames {
    fn visit_assign_expr(&mut self, a: &swc_ecma_ast::AssignExpr) {
        if let AssignTarget::Simple(SimpleAssignTarget::Member(MemberExpr { obj, prop, .. })) =
            &a.left
        {
            if is_exports(obj) {
                if let Some(n) = prop_name(prop) {
                    self.add(&n);
                }
            } else if matches!(&**obj, Expr::Ident(i) if &*i.sym == "module")
                && prop_name(prop).as_deref() == Some("exports")
            {
                if let Expr::Object(o) = &*a.right {
                    self.object_keys(o);
                }
            }
        }
        a.visit_children_with(self);
    }

    fn visit_call_expr(&mut self, c: &swc_ecma_ast::CallExpr) {
        if let Callee::Expr(callee) = &c.callee {
            if let Expr::Member(m) = &**callee {
                let define = matches!(&*m.obj, Expr::Ident(i) if &*i.sym == "Object")
                    && prop_name(&m.prop).as_deref() == Some("defineProperty");
                if define && c.args.len() >= 2 && is_exports(&c.args[0].expr) {
                    if let Expr::Lit(Lit::Str(s)) = &*c.args[1].expr {
                        if let Some(n) = s.value.as_str() {
                            self.add(n);
                        }
                    }
                }
            }
        }
        c.visit_children_with(self);
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn es_modules_are_left_alone() {
        assert!(wrap("/a.js", "export const x = 1;").is_none());
        assert!(wrap(
            "/a.js",
            "import http from 'k6/http'; const h = require('k6/http');"
        )
        .is_none());
        assert!(wrap("/a.js", "const x = 1;").is_none());
    }

    #[test]
    fn assigned_names_become_exports_and_lines_are_kept() {
        let src = "exports.a = 1;\nmodule.exports.b = 2;\nObject.defineProperty(exports, 'c', { value: 3 });\nexports['d-e'] = 4;\nexports.delete = 5;";
        let out = wrap("/lib/a.js", src).unwrap();
        assert!(
            out.lines().next().unwrap().ends_with("{exports.a = 1;"),
            "{out}"
        );
        assert_eq!(out.lines().nth(4).unwrap(), "exports.delete = 5;");
        for n in ["as a }", "as b }", "as c }", "as delete }"] {
            assert!(out.contains(n), "{n}: {out}");
        }
        assert!(!out.contains("d-e }"), "{out}");
    }

    #[test]
    fn an_object_assigned_to_module_exports_gives_its_keys() {
        let out = wrap(
            "/a.js",
            "function f() {}\nmodule.exports = { f, g: 1, h() {} };",
        )
        .unwrap();
        for n in ["as f }", "as g }", "as h }"] {
            assert!(out.contains(n), "{n}: {out}");
        }
    }
}
