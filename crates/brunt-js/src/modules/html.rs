//! Native side of `k6/html`. k6 parses with Go's `x/net/html` and queries with goquery and
//! cascadia; brunt parses with `scraper` (html5ever, the same WHATWG parsing algorithm, so the
//! same tree) and matches with its CSS selectors (Servo's `selectors`).
//!
//! A parsed document is a JavaScript object of the `HtmlDocument` class that owns the tree; the
//! garbage collector frees it with the last Selection or Element that holds it. Nodes are
//! numbered by their place in the tree's arena, and a Selection is the document plus a list of
//! node numbers: every function here maps node numbers to node numbers with goquery's rules
//! (result order, no duplicates, which kinds of node count), and `html` renders the way Go's
//! `html.Render` does, so markup compares equal with k6's. An invalid selector matches nothing,
//! as in goquery.

use super::def;
use rquickjs::class::{JsClass, Readable, Trace, Tracer};
use rquickjs::function::Constructor;
use rquickjs::function::Opt;
use rquickjs::{Class, Ctx, JsLifetime, Object, Result, Value};
use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

type NodeRef<'a> = ego_tree::NodeRef<'a, Node>;
type NodeId = ego_tree::NodeId;

/// A parsed HTML document, owned by its JavaScript object.
pub(crate) struct Doc {
    html: Html,
    /// Node number -> node id: the arena in order, so ids are sorted and searchable.
    ids: Vec<NodeId>,
}

impl<'js> Trace<'js> for Doc {
    fn trace<'a>(&self, _: Tracer<'a, 'js>) {}
}

// SAFETY: `Doc` holds no JavaScript values.
unsafe impl<'js> JsLifetime<'js> for Doc {
    type Changed<'to> = Doc;
}

impl<'js> JsClass<'js> for Doc {
    const NAME: &'static str = "HtmlDocument";
    type Mutable = Readable;

    /// None: documents are opaque, and QuickJS keeps one prototype per runtime, which the VUs
    /// of a worker share.
    fn prototype(_: &Ctx<'js>) -> Result<Option<Object<'js>>> {
        Ok(None)
    }

    fn constructor(_: &Ctx<'js>) -> Result<Option<Constructor<'js>>> {
        Ok(None)
    }
}

impl Doc {
    fn parse(src: &str) -> Doc {
        let mut html = Html::parse_document(src);
        // html5ever keeps a <template>'s contents in a fragment below it; Go's parser, and so
        // k6, makes them the template's children.
        let fragments: Vec<(NodeId, NodeId)> = html
            .tree
            .nodes()
            .filter(|n| n.value().is_fragment())
            .filter_map(|n| n.parent().filter(is_element).map(|p| (p.id(), n.id())))
            .collect();
        for (template, fragment) in fragments {
            if let Some(mut t) = html.tree.get_mut(template) {
                t.reparent_from_id_append(fragment);
            }
            if let Some(mut f) = html.tree.get_mut(fragment) {
                f.detach();
            }
        }
        let ids = html.tree.nodes().map(|n| n.id()).collect();
        Doc { html, ids }
    }

    fn node(&self, num: u32) -> Option<NodeRef<'_>> {
        self.ids
            .get(num as usize)
            .and_then(|id| self.html.tree.get(*id))
    }

    fn num(&self, n: NodeRef<'_>) -> u32 {
        self.ids.binary_search(&n.id()).unwrap_or(0) as u32
    }

    fn nodes<'a>(&'a self, nums: &'a [u32]) -> impl Iterator<Item = NodeRef<'a>> + 'a {
        nums.iter().filter_map(|n| self.node(*n))
    }
}

const SELECTOR_CACHE: usize = 256;

thread_local! {
    /// Parsed selectors by text (scripts use a handful, each many times); None for invalid ones.
    static SELECTORS: RefCell<HashMap<String, Option<Rc<Css>>>> = RefCell::default();
}

fn selector(text: &str) -> Option<Rc<Css>> {
    SELECTORS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(s) = c.get(text) {
            return s.clone();
        }
        if c.len() >= SELECTOR_CACHE {
            c.clear();
        }
        let s = Css::parse(text).map(Rc::new);
        c.insert(text.to_string(), s.clone());
        s
    })
}

/// cascadia's (goquery's) pseudo-classes for form fields, which scraper's selectors do not
/// know, written as the selectors that match the same elements.
const FORM_PSEUDO_CLASSES: &[(&str, &str)] = &[
    (
        "checked",
        ":is(input:is([type=checkbox i],[type=radio i])[checked],option[selected])",
    ),
    (
        "disabled",
        ":is(:is(optgroup,fieldset)[disabled],:is(button,input,select,textarea,option):is([disabled],fieldset[disabled] *))",
    ),
    (
        "enabled",
        ":is(:is(a,area,link)[href],:is(optgroup,fieldset):not([disabled]),:is(button,input,select,textarea,option):not([disabled]):not(fieldset[disabled] *))",
    ),
    ("input", ":is(input,select,textarea,button)"),
];

/// Replaces `:checked`, `:disabled`, `:enabled` and `:input` outside quotes and attribute
/// brackets.
fn with_form_pseudo_classes(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(':') {
        return text.into();
    }
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut brackets = 0usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), '\\') => {
                out.push(c);
                if let Some(next) = rest.chars().next() {
                    out.push(next);
                    rest = &rest[next.len_utf8()..];
                }
                continue;
            }
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => brackets += 1,
            (None, ']') => brackets = brackets.saturating_sub(1),
            (None, ':') if brackets == 0 && !out.ends_with(':') && !rest.starts_with(':') => {
                let len = rest.find(|ch: char| !ident(ch)).unwrap_or(rest.len());
                let (name, after) = rest.split_at(len);
                if !after.starts_with('(') {
                    if let Some((_, with)) = FORM_PSEUDO_CLASSES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        out.push_str(with);
                        rest = after;
                        continue;
                    }
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out.into()
}

/// A selector as goquery's cascadia reads it: a CSS selector list whose selectors may end in
/// cascadia's `:contains(text)` or `:containsOwn(text)` (case-insensitive, on the text below the
/// element or its own text nodes), which scraper's selectors do not know; each is matched as the
/// selector without them, then tested on the element's text. (`:contains` before the last
/// compound selector is not supported: the selector then matches nothing.)
pub(crate) struct Css {
    alternatives: Vec<(Selector, Vec<(String, bool)>)>,
}

impl Css {
    fn parse(text: &str) -> Option<Css> {
        let text = with_form_pseudo_classes(text);
        if !text.to_ascii_lowercase().contains(":contains") {
            let s = Selector::parse(&text).ok()?;
            return Some(Css {
                alternatives: vec![(s, Vec::new())],
            });
        }
        let mut alternatives = Vec::new();
        for part in split_top_level(&text) {
            let (base, texts) = take_contains(part.trim())?;
            alternatives.push((Selector::parse(&base).ok()?, texts));
        }
        Some(Css { alternatives })
    }

    fn matches(&self, e: ElementRef<'_>) -> bool {
        self.alternatives.iter().any(|(s, texts)| {
            s.matches(&e)
                && texts.iter().all(|(t, own)| {
                    let mut buf = String::new();
                    if *own {
                        for c in e.children() {
                            if let Node::Text(x) = c.value() {
                                buf.push_str(x);
                            }
                        }
                    } else {
                        text_of(*e, &mut buf);
                    }
                    buf.to_lowercase().contains(t.as_str())
                })
        })
    }
}

/// Walks a selector, telling for each character whether it stands outside quotes, brackets and
/// parentheses.
fn top_level(text: &str) -> Vec<(usize, char, bool)> {
    let mut out = Vec::with_capacity(text.len());
    let (mut quote, mut depth, mut escaped) = (None::<char>, 0usize, false);
    for (i, c) in text.char_indices() {
        let top = quote.is_none() && depth == 0 && !escaped;
        out.push((i, c, top && !matches!(c, '"' | '\'' | '(' | '[')));
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// The selectors of a list (split at top-level commas).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c, top) in top_level(text) {
        if top && c == ',' {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Removes the top-level `:contains(...)` and `:containsOwn(...)` of one selector, which must
/// be in its last compound selector; returns the rest and the (lowercased) texts with their
/// own-text flags.
fn take_contains(sel: &str) -> Option<(String, Vec<(String, bool)>)> {
    let chars = top_level(sel);
    let lower = sel.to_ascii_lowercase();
    let mut base = String::with_capacity(sel.len());
    let mut texts = Vec::new();
    let mut last = None;
    let mut k = 0;
    while k < chars.len() {
        let (i, c, top) = chars[k];
        let own = lower[i..].starts_with(":containsown(");
        if top && c == ':' && (own || lower[i..].starts_with(":contains(")) {
            let mut rest = sel[i..].split_once('(')?.1.trim_start();
            let value = match rest.chars().next()? {
                q @ ('"' | '\'') => {
                    let end = rest[1..].find(q)? + 1;
                    let v = rest[1..end].to_string();
                    rest = &rest[end + 1..];
                    v
                }
                _ => {
                    let end = rest.find(|ch: char| ch == ')' || ch.is_whitespace())?;
                    if end == 0 {
                        return None;
                    }
                    let v = rest[..end].to_string();
                    rest = &rest[end..];
                    v
                }
            };
            rest = rest.trim_start().strip_prefix(')')?;
            texts.push((value.to_lowercase(), own));
            base.push_str(":is(*)");
            last = Some(base.len());
            let consumed = sel.len() - rest.len();
            while k < chars.len() && chars[k].0 < consumed {
                k += 1;
            }
            continue;
        }
        base.push(c);
        k += 1;
    }
    if let Some(pos) = last {
        let tail = &base[pos..];
        if top_level(tail)
            .iter()
            .any(|(_, c, top)| *top && (c.is_whitespace() || matches!(c, '>' | '+' | '~')))
        {
            return None;
        }
    }
    Some((base, texts))
}

/// What a selector argument can be: a CSS selector, or nodes (of a Selection or an Element).
enum Matcher {
    Nothing,
    Css(Rc<Css>),
    Nodes(HashSet<u32>),
}

impl Matcher {
    /// A string is a selector, an array holds node numbers, anything else matches nothing.
    fn from_js(v: &Value<'_>) -> Result<Matcher> {
        if let Some(s) = v.as_string() {
            return Ok(match selector(&s.to_string()?) {
                Some(s) => Matcher::Css(s),
                None => Matcher::Nothing,
            });
        }
        if let Some(a) = v.as_array() {
            let mut set = HashSet::with_capacity(a.len());
            for x in a.iter::<u32>() {
                set.insert(x?);
            }
            return Ok(Matcher::Nodes(set));
        }
        Ok(Matcher::Nothing)
    }

    fn opt(v: &Opt<Value<'_>>) -> Result<Option<Matcher>> {
        match &v.0 {
            Some(v) if !v.is_undefined() && !v.is_null() => Matcher::from_js(v).map(Some),
            _ => Ok(None),
        }
    }

    /// goquery's `Match`: selectors match elements only; node sets match by identity.
    fn matches(&self, doc: &Doc, n: NodeRef<'_>) -> bool {
        match self {
            Matcher::Nothing => false,
            Matcher::Css(s) => ElementRef::wrap(n).is_some_and(|e| s.matches(e)),
            Matcher::Nodes(set) => set.contains(&doc.num(n)),
        }
    }
}

/// Collects node numbers without duplicates, in first-seen order (goquery's `mapNodes`).
struct Out<'d> {
    doc: &'d Doc,
    seen: HashSet<u32>,
    list: Vec<u32>,
}

impl<'d> Out<'d> {
    fn new(doc: &'d Doc) -> Self {
        Out {
            doc,
            seen: HashSet::new(),
            list: Vec::new(),
        }
    }

    fn push(&mut self, n: NodeRef<'_>) {
        let num = self.doc.num(n);
        if self.seen.insert(num) {
            self.list.push(num);
        }
    }

    /// The result, kept to the nodes `filter` matches when there is one (goquery's
    /// `filterAndPush`).
    fn done(self, filter: Option<Matcher>) -> Vec<u32> {
        match filter {
            None => self.list,
            Some(m) => self
                .list
                .into_iter()
                .filter(|num| self.doc.node(*num).is_some_and(|n| m.matches(self.doc, n)))
                .collect(),
        }
    }
}

fn is_element(n: &NodeRef<'_>) -> bool {
    n.value().is_element()
}

/// True when `a` is a strict ancestor of `n`.
fn contains(a: NodeRef<'_>, n: NodeRef<'_>) -> bool {
    n.ancestors().any(|p| p.id() == a.id())
}

/// Elements below `n` (not `n` itself) that `m` matches, in document order.
fn descendants_matching<'a>(
    doc: &'a Doc,
    n: NodeRef<'a>,
    m: &'a Matcher,
) -> impl Iterator<Item = NodeRef<'a>> + 'a {
    n.descendants()
        .skip(1)
        .filter(move |d| is_element(d) && m.matches(doc, *d))
}

/// goquery's sibling walks: -3 prevUntil, -2 prevAll, -1 prev, 0 all other siblings, 1 next,
/// 2 nextAll, 3 nextUntil. Only elements count.
fn siblings_of<'a>(
    doc: &Doc,
    n: NodeRef<'a>,
    kind: i32,
    until: &Option<Matcher>,
    out: &mut Out<'_>,
) {
    let step = |c: NodeRef<'a>| {
        if kind < 0 {
            c.prev_sibling()
        } else {
            c.next_sibling()
        }
    };
    if kind == 0 {
        let Some(parent) = n.parent() else { return };
        for c in parent.children() {
            if c.id() != n.id() && is_element(&c) {
                out.push(c);
            }
        }
        return;
    }
    let mut cur = step(n);
    while let Some(c) = cur {
        cur = step(c);
        if !is_element(&c) {
            continue;
        }
        if kind.abs() == 3 && until.as_ref().is_some_and(|m| m.matches(doc, c)) {
            return;
        }
        out.push(c);
        if kind.abs() == 1 {
            return;
        }
    }
}

/// goquery's `Text`: the text nodes below each node, in order, comments left out.
fn text_of(n: NodeRef<'_>, buf: &mut String) {
    for d in n.descendants() {
        if let Node::Text(t) = d.value() {
            buf.push_str(t);
        }
    }
}

const SVG: &str = "http://www.w3.org/2000/svg";
const MATHML: &str = "http://www.w3.org/1998/Math/MathML";

/// The namespace as Go's parser names it: "" for HTML, "svg", "math".
fn ns_prefix(ns: &str) -> &'static str {
    match ns {
        SVG => "svg",
        MATHML => "math",
        _ => "",
    }
}

/// Go's `escape`: what `html.Render` escapes in text and attribute values.
fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Go's `escapeComment`: `&` always, `>` at the start or after `!` or `-`.
fn escape_comment(s: &str, out: &mut String) {
    let mut prev: Option<char> = None;
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '>' if prev.is_none() || prev == Some('!') || prev == Some('-') => out.push_str("&gt;"),
            c => out.push(c),
        }
        prev = Some(ch);
    }
}

fn doctype_quoted(s: &str, out: &mut String) {
    let q = if s.contains('"') { '\'' } else { '"' };
    out.push(q);
    out.push_str(&s.replace('>', "&gt;"));
    out.push(q);
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// An SVG or MathML element inside which HTML content is parsed as HTML.
fn html_integration_point(e: &scraper::node::Element) -> bool {
    let name = e.name();
    match &*e.name.ns {
        MATHML if name == "annotation-xml" => e.attrs().any(|(k, v)| {
            k == "encoding"
                && (v.eq_ignore_ascii_case("text/html")
                    || v.eq_ignore_ascii_case("application/xhtml+xml"))
        }),
        SVG => matches!(name, "foreignObject" | "desc" | "title"),
        _ => false,
    }
}

/// Go's `childTextNodesAreLiteral`.
fn raw_text_parent(n: NodeRef<'_>, e: &scraper::node::Element) -> bool {
    if !ns_prefix(&e.name.ns).is_empty() {
        return false;
    }
    if !matches!(
        e.name(),
        "iframe" | "noembed" | "noframes" | "noscript" | "plaintext" | "script" | "style" | "xmp"
    ) {
        return false;
    }
    for p in n.ancestors() {
        if let Node::Element(pe) = p.value() {
            if !ns_prefix(&pe.name.ns).is_empty() {
                return html_integration_point(pe);
            }
        }
    }
    true
}

/// Go's `html.Render` of one node. False once a `<plaintext>` was rendered (nothing may follow).
fn render(n: NodeRef<'_>, out: &mut String) -> bool {
    match n.value() {
        Node::Text(t) => escape(t, out),
        Node::Document | Node::Fragment => {
            for c in n.children() {
                if !render(c, out) {
                    return false;
                }
            }
        }
        Node::Comment(c) => {
            out.push_str("<!--");
            escape_comment(c, out);
            out.push_str("-->");
        }
        Node::Doctype(d) => {
            out.push_str("<!DOCTYPE ");
            escape(d.name(), out);
            let (p, s) = (d.public_id(), d.system_id());
            if !p.is_empty() {
                out.push_str(" PUBLIC ");
                doctype_quoted(p, out);
                if !s.is_empty() {
                    out.push(' ');
                    doctype_quoted(s, out);
                }
            } else if !s.is_empty() {
                out.push_str(" SYSTEM ");
                doctype_quoted(s, out);
            }
            out.push('>');
        }
        Node::ProcessingInstruction(_) => {}
        Node::Element(e) => {
            let name = e.name();
            out.push('<');
            out.push_str(name);
            for (k, v) in e.attrs.iter() {
                out.push(' ');
                if let Some(prefix) = &k.prefix {
                    out.push_str(prefix);
                    out.push(':');
                }
                out.push_str(&k.local);
                out.push_str("=\"");
                escape(v, out);
                out.push('"');
            }
            if VOID.contains(&name) {
                out.push_str("/>");
                return true;
            }
            out.push('>');
            if let Some(Node::Text(t)) = n.first_child().map(|c| c.value()) {
                if t.starts_with('\n') && matches!(name, "pre" | "listing" | "textarea") {
                    out.push('\n');
                }
            }
            if raw_text_parent(n, e) {
                for c in n.children() {
                    match c.value() {
                        Node::Text(t) => out.push_str(t),
                        _ => {
                            if !render(c, out) {
                                return false;
                            }
                        }
                    }
                }
                if name == "plaintext" {
                    return false;
                }
            } else {
                for c in n.children() {
                    if !render(c, out) {
                        return false;
                    }
                }
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    true
}

/// goquery's `Html`: the first node's children, rendered.
fn inner_html(n: NodeRef<'_>) -> String {
    let mut out = String::new();
    for c in n.children() {
        if !render(c, &mut out) {
            break;
        }
    }
    out
}

/// k6's node types: 1 element, 3 text, 8 comment, 9 document, 10 doctype; 0 for others.
fn node_type(n: NodeRef<'_>) -> i32 {
    match n.value() {
        Node::Element(_) => 1,
        Node::Text(_) => 3,
        Node::Comment(_) => 8,
        Node::Document => 9,
        Node::Doctype(_) => 10,
        _ => 0,
    }
}

/// goquery's `NodeName`.
fn node_name(n: NodeRef<'_>) -> String {
    match n.value() {
        Node::Element(e) => e.name().to_string(),
        Node::Doctype(d) => d.name().to_string(),
        Node::Text(_) => "#text".into(),
        Node::Document => "#document".into(),
        Node::Comment(_) => "#comment".into(),
        _ => String::new(),
    }
}

/// Resolves `href` against `base` (empty: none) and splits it into the parts k6's anchor
/// elements report: [href, protocol scheme, host, hostname, port, username, password, path,
/// query, fragment]. A reference that cannot be made absolute is split by hand.
fn url_parts(base: &str, href: &str) -> Vec<String> {
    let parsed = if base.is_empty() {
        url::Url::parse(href).ok()
    } else {
        url::Url::parse(base).and_then(|b| b.join(href)).ok()
    };
    if let Some(u) = parsed {
        let host = u.host_str().unwrap_or("").to_string();
        let port = u.port().map(|p| p.to_string()).unwrap_or_default();
        let host_port = if port.is_empty() {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        return vec![
            u.to_string(),
            u.scheme().to_string(),
            host_port,
            host,
            port,
            u.username().to_string(),
            u.password().unwrap_or("").to_string(),
            u.path().to_string(),
            u.query().unwrap_or("").to_string(),
            u.fragment().unwrap_or("").to_string(),
        ];
    }
    let (rest, fragment) = href.split_once('#').unwrap_or((href, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut parts = vec![String::new(); 10];
    parts[0] = href.to_string();
    parts[7] = path.to_string();
    parts[8] = query.to_string();
    parts[9] = fragment.to_string();
    parts
}

type DocArg<'js> = Class<'js, Doc>;

pub(crate) fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    def(
        ctx,
        native,
        "parse",
        |ctx: Ctx<'js>, src: String| -> Result<DocArg<'js>> {
            Class::instance(ctx, Doc::parse(&src))
        },
    )?;
    // find(doc, nodes, selector | nodes): descendants that match, or the given nodes that lie
    // below the selection.
    def(
        ctx,
        native,
        "find",
        |doc: DocArg<'js>, nums: Vec<u32>, m: Value<'js>| -> Result<Vec<u32>> {
            let d = doc.borrow();
            let mut out = Out::new(&d);
            match Matcher::from_js(&m)? {
                Matcher::Nodes(_) => {
                    let targets: Vec<u32> = m.as_array().map_or(Ok(Vec::new()), |a| {
                        a.iter::<u32>().collect::<Result<Vec<u32>>>()
                    })?;
                    for t in d.nodes(&targets) {
                        if d.nodes(&nums).any(|n| contains(n, t)) {
                            out.push(t);
                        }
                    }
                }
                m => {
                    for n in d.nodes(&nums) {
                        for c in descendants_matching(&d, n, &m) {
                            out.push(c);
                        }
                    }
                }
            }
            Ok(out.done(None))
        },
    )?;
    // children(doc, nodes, all, filter?): element children, or every child when `all`.
    def(
        ctx,
        native,
        "children",
        |doc: DocArg<'js>,
         nums: Vec<u32>,
         all: bool,
         filter: Opt<Value<'js>>|
         -> Result<Vec<u32>> {
            let d = doc.borrow();
            let mut out = Out::new(&d);
            for n in d.nodes(&nums) {
                for c in n.children() {
                    if all || is_element(&c) {
                        out.push(c);
                    }
                }
            }
            Ok(out.done(Matcher::opt(&filter)?))
        },
    )?;
    def(
        ctx,
        native,
        "parent",
        |doc: DocArg<'js>, nums: Vec<u32>, filter: Opt<Value<'js>>| -> Result<Vec<u32>> {
            let d = doc.borrow();
            let mut out = Out::new(&d);
            for n in d.nodes(&nums) {
                if let Some(p) = n.parent().filter(is_element) {
                    out.push(p);
                }
            }
            Ok(out.done(Matcher::opt(&filter)?))
        },
    )?;
    // parents(doc, nodes, until?, filter?): element ancestors, nearest first, up to `until`.
    def(
        ctx,
        native,
        "parents",
        |doc: DocArg<'js>,
         nums: Vec<u32>,
         until: Opt<Value<'js>>,
         filter: Opt<Value<'js>>|
         -> Result<Vec<u32>> {
            let d = doc.borrow();
            let until = Matcher::opt(&until)?;
            let mut out = Out::new(&d);
            for n in d.nodes(&nums) {
                for p in n.ancestors() {
                    if until.as_ref().is_some_and(|m| m.matches(&d, p)) {
                        break;
                    }
                    if is_element(&p) {
                        out.push(p);
                    }
                }
            }
            Ok(out.done(Matcher::opt(&filter)?))
        },
    )?;
    // closest(doc, nodes, selector | nodes): each node or its nearest ancestor that matches.
    def(
        ctx,
        native,
        "closest",
        |doc: DocArg<'js>, nums: Vec<u32>, m: Value<'js>| -> Result<Vec<u32>> {
            let d = doc.borrow();
            let m = Matcher::from_js(&m)?;
            let mut out = Out::new(&d);
            for n in d.nodes(&nums) {
                if let Some(c) = std::iter::once(n)
                    .chain(n.ancestors())
                    .find(|c| m.matches(&d, *c))
                {
                    out.push(c);
                }
            }
            Ok(out.done(None))
        },
    )?;
    def(
        ctx,
        native,
        "siblings",
        |doc: DocArg<'js>,
         nums: Vec<u32>,
         kind: i32,
         until: Opt<Value<'js>>,
         filter: Opt<Value<'js>>|
         -> Result<Vec<u32>> {
            let d = doc.borrow();
            let until = Matcher::opt(&until)?;
            let mut out = Out::new(&d);
            for n in d.nodes(&nums) {
                siblings_of(&d, n, kind, &until, &mut out);
            }
            Ok(out.done(Matcher::opt(&filter)?))
        },
    )?;
    // filter(doc, nodes, selector | nodes, keep): goquery's Filter (keep) and Not.
    def(
        ctx,
        native,
        "filter",
        |doc: DocArg<'js>, nums: Vec<u32>, m: Value<'js>, keep: bool| -> Result<Vec<u32>> {
            let d = doc.borrow();
            let m = Matcher::from_js(&m)?;
            Ok(nums
                .into_iter()
                .filter(|num| d.node(*num).is_some_and(|n| m.matches(&d, n) == keep))
                .collect())
        },
    )?;
    def(
        ctx,
        native,
        "is",
        |doc: DocArg<'js>, nums: Vec<u32>, m: Value<'js>| -> Result<bool> {
            let d = doc.borrow();
            let m = Matcher::from_js(&m)?;
            let any = d.nodes(&nums).any(|n| m.matches(&d, n));
            Ok(any)
        },
    )?;
    // has(doc, nodes, selector | nodes): the nodes with a match below them.
    def(
        ctx,
        native,
        "has",
        |doc: DocArg<'js>, nums: Vec<u32>, m: Value<'js>| -> Result<Vec<u32>> {
            let d = doc.borrow();
            let targets: Vec<u32> = match Matcher::from_js(&m)? {
                Matcher::Nodes(_) => m.as_array().map_or(Ok(Vec::new()), |a| {
                    a.iter::<u32>().collect::<Result<Vec<u32>>>()
                })?,
                m => descendants_matching(&d, d.html.tree.root(), &m)
                    .map(|n| d.num(n))
                    .collect(),
            };
            Ok(nums
                .into_iter()
                .filter(|num| {
                    d.node(*num)
                        .is_some_and(|n| d.nodes(&targets).any(|t| contains(n, t)))
                })
                .collect())
        },
    )?;
    def(
        ctx,
        native,
        "text",
        |doc: DocArg<'js>, nums: Vec<u32>| -> Result<String> {
            let d = doc.borrow();
            let mut buf = String::new();
            for n in d.nodes(&nums) {
                text_of(n, &mut buf);
            }
            Ok(buf)
        },
    )?;
    def(
        ctx,
        native,
        "html",
        |doc: DocArg<'js>, num: u32| -> Result<String> {
            let d = doc.borrow();
            Ok(d.node(num).map(inner_html).unwrap_or_default())
        },
    )?;
    def(
        ctx,
        native,
        "attr",
        |doc: DocArg<'js>, num: u32, name: String| -> Result<Option<String>> {
            let d = doc.borrow();
            Ok(d.node(num).and_then(|n| match n.value() {
                Node::Element(e) => e
                    .attrs
                    .iter()
                    .find(|(k, _)| *k.local == *name)
                    .map(|(_, v)| v.to_string()),
                _ => None,
            }))
        },
    )?;
    // attrs(doc, node): [namespace prefix, name, value, ...] in source order.
    def(
        ctx,
        native,
        "attrs",
        |doc: DocArg<'js>, num: u32| -> Result<Vec<String>> {
            let d = doc.borrow();
            let mut out = Vec::new();
            if let Some(Node::Element(e)) = d.node(num).map(|n| n.value()) {
                for (k, v) in e.attrs.iter() {
                    out.push(k.prefix.as_deref().unwrap_or("").to_string());
                    out.push(k.local.to_string());
                    out.push(v.to_string());
                }
            }
            Ok(out)
        },
    )?;
    // info(doc, node): [node type, node name, namespace ("", "svg", "math")].
    def(
        ctx,
        native,
        "info",
        |doc: DocArg<'js>, num: u32| -> Result<rquickjs::convert::List<(i32, String, String)>> {
            let d = doc.borrow();
            let Some(n) = d.node(num) else {
                return Ok(rquickjs::convert::List((0, String::new(), String::new())));
            };
            let ns = match n.value() {
                Node::Element(e) => ns_prefix(&e.name.ns),
                _ => "",
            };
            Ok(rquickjs::convert::List((
                node_type(n),
                node_name(n),
                ns.to_string(),
            )))
        },
    )?;
    // rel(doc, node, which): 0 parent, 1 first child, 2 last child, 3 previous sibling, 4 next
    // sibling, of any node type; -1 when there is none.
    def(
        ctx,
        native,
        "rel",
        |doc: DocArg<'js>, num: u32, which: u32| -> Result<i64> {
            let d = doc.borrow();
            let r = d.node(num).and_then(|n| match which {
                0 => n.parent(),
                1 => n.first_child(),
                2 => n.last_child(),
                3 => n.prev_sibling(),
                _ => n.next_sibling(),
            });
            Ok(r.map_or(-1, |r| i64::from(d.num(r))))
        },
    )?;
    // load(): evaluates k6/html (once per VU), for k6/http's Response.html() in a script that
    // does not import it; the module leaves its parser in a hidden global.
    def(ctx, native, "load", |ctx: Ctx<'js>| -> Result<()> {
        rquickjs::Module::import(&ctx, "k6/html")?.finish::<Value>()?;
        Ok(())
    })?;
    def(
        ctx,
        native,
        "urlParts",
        |base: String, href: String| -> Result<Vec<String>> { Ok(url_parts(&base, &href)) },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(src: &str) -> Doc {
        Doc::parse(src)
    }

    #[test]
    fn renders_as_go_html_render() {
        let d =
            doc("<!DOCTYPE html><p class=\"a\" id='x'>it's \"q\" &amp; <b>b</b><br><!-- c --></p>");
        let p = d
            .html
            .select(&Selector::parse("p").unwrap())
            .next()
            .unwrap();
        let mut out = String::new();
        render(*p, &mut out);
        assert_eq!(
            out,
            "<p class=\"a\" id=\"x\">it&#39;s &#34;q&#34; &amp; <b>b</b><br/><!-- c --></p>"
        );
        let all = inner_html(d.html.tree.root());
        assert!(
            all.starts_with("<!DOCTYPE html><html><head></head><body>"),
            "{all}"
        );
    }

    #[test]
    fn script_text_is_literal_and_pre_keeps_its_newline() {
        let d = doc("<script>if (a < b && c) {}</script><pre>\n\nx</pre>");
        let all = inner_html(d.html.tree.root());
        assert!(all.contains("<script>if (a < b && c) {}</script>"), "{all}");
        assert!(all.contains("<pre>\n\nx</pre>"), "{all}");
    }

    #[test]
    fn attributes_keep_source_order() {
        let d = doc("<a z=\"1\" a=\"2\" m=\"3\"></a>");
        let a = d
            .html
            .select(&Selector::parse("a").unwrap())
            .next()
            .unwrap();
        let mut out = String::new();
        render(*a, &mut out);
        assert_eq!(out, "<a z=\"1\" a=\"2\" m=\"3\"></a>");
    }

    #[test]
    fn template_contents_are_the_templates_children() {
        let d = doc("<template><b>t</b>u</template>");
        let t = d
            .html
            .select(&Selector::parse("template > b").unwrap())
            .count();
        assert_eq!(t, 1);
        let tpl = d
            .html
            .select(&Selector::parse("template").unwrap())
            .next()
            .unwrap();
        assert_eq!(inner_html(*tpl), "<b>t</b>u");
    }

    #[test]
    fn node_numbers_round_trip() {
        let d = doc("<ul><li>a</li><li>b</li></ul>");
        for (i, id) in d.ids.iter().enumerate() {
            let n = d.html.tree.get(*id).unwrap();
            assert_eq!(d.num(n), i as u32);
        }
    }

    #[test]
    fn invalid_selectors_match_nothing() {
        assert!(selector("li[").is_none());
        assert!(selector("").is_none());
        assert!(selector("ul > li.x, p").is_some());
    }

    #[test]
    fn form_pseudo_classes_match_as_in_cascadia() {
        let d = doc(concat!(
            "<form><input type=checkbox name=a checked><input type=CHECKBOX name=b>",
            "<input name=c checked><select><option selected>x</option></select>",
            "<fieldset disabled><input name=d></fieldset><input name=e disabled>",
            "<input name='f:checked'></form>"
        ));
        let names = |sel: &str| -> Vec<String> {
            let s = selector(sel).expect(sel);
            d.html
                .tree
                .nodes()
                .filter_map(ElementRef::wrap)
                .filter(|e| s.matches(*e))
                .map(|e| e.attr("name").unwrap_or(e.value().name()).to_string())
                .collect()
        };
        assert_eq!(names("input:checked"), ["a"]);
        assert_eq!(names(":checked"), ["a", "option"]);
        assert_eq!(names("input:disabled"), ["d", "e"]);
        assert_eq!(names("input:enabled").len(), 4);
        assert_eq!(names("form :input").len(), 7);
        assert_eq!(names("input[name='f:checked']"), ["f:checked"]);
        assert_eq!(names("input:not(:checked)[type=checkbox i]"), ["b"]);
    }

    #[test]
    fn contains_matches_text_case_insensitively_in_the_last_compound() {
        let d = doc("<ul><li>First <b>One</b></li><li class=x>Second</li><li>third, (x)</li></ul>");
        let count = |sel: &str| -> usize {
            match selector(sel) {
                None => usize::MAX,
                Some(s) => d
                    .html
                    .tree
                    .nodes()
                    .filter_map(ElementRef::wrap)
                    .filter(|e| s.matches(*e))
                    .count(),
            }
        };
        assert_eq!(count("li:contains('one')"), 1);
        assert_eq!(count("li:containsOwn('one')"), 0);
        assert_eq!(count("li:containsOwn(first)"), 1);
        assert_eq!(count("ul > :contains(\"SECOND\").x"), 1);
        assert_eq!(count(":contains(\"third, (x)\")"), 4);
        assert_eq!(count("li:contains(second), b:contains(one)"), 2);
        assert_eq!(count("li:contains(o) b"), usize::MAX);
        assert_eq!(count("li:contains(o"), usize::MAX);
        assert_eq!(count("li:contains()"), usize::MAX);
        assert_eq!(count("li:contains('')"), 3);
    }

    #[test]
    fn urls_resolve_against_the_page() {
        let p = url_parts("http://h:8080/a/b", "../c?x=1#f");
        assert_eq!(p[0], "http://h:8080/c?x=1#f");
        assert_eq!(&p[1..5], ["http", "h:8080", "h", "8080"]);
        assert_eq!(&p[7..], ["/c", "x=1", "f"]);
        let rel = url_parts("", "/get?page=2");
        assert_eq!(rel[0], "/get?page=2");
        assert_eq!(rel[1], "");
        assert_eq!(rel[7], "/get");
    }
}
