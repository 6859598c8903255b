// k6/html: parseHTML and k6's Selection and Element API, with goquery's semantics, over the
// native documents of src/modules/html.rs. A Selection is a document plus node numbers; the
// document (node 0 is its root) lives as long as a Selection or Element refers to it.
const n = globalThis.__brunt_native('html');

const DOC = Symbol('doc');
const NODES = Symbol('nodes');
const NODE = Symbol('node');
const PREV = Symbol('prev');
const URL = Symbol('url');
const ROOT = 0;

// Go's name for the type of a value k6 cannot use, for its error messages.
function goType(v) {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'function') return 'func(sobek.FunctionCall) sobek.Value';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

function toInt(v) {
  const x = Math.trunc(Number(v));
  return Number.isFinite(x) ? x : 0;
}

function union(a, b) {
  const out = a.slice();
  const seen = new Set(a);
  for (const x of b) if (!seen.has(x)) { seen.add(x); out.push(x); }
  return out;
}

// k6's data-* naming: `data-user-id` is `userID`, with Go's common initialisms (snaker).
const INITIALISMS = new Set(['ACL', 'API', 'ASCII', 'CPU', 'CSS', 'DNS', 'EOF', 'ETA', 'GPU', 'GUID',
  'HTML', 'HTTP', 'HTTPS', 'ID', 'IP', 'JSON', 'LHS', 'OS', 'QPS', 'RAM', 'RHS', 'RPC', 'SLA', 'SMTP',
  'SQL', 'SSH', 'TCP', 'TLS', 'TTL', 'UDP', 'UI', 'UID', 'UUID', 'URI', 'URL', 'UTF8', 'VM', 'XML',
  'XMPP', 'XSRF', 'XSS', 'OAuth']);

function snakeToCamel(s) {
  let out = '';
  for (const w of s.split('_')) {
    if (w === 'oauth') { out += 'OAuth'; continue; }
    const up = w.toUpperCase();
    if (INITIALISMS.has(up)) out += up;
    else if (w.length > 0) out += w[0].toUpperCase() + w.slice(1);
  }
  return out;
}

function attrToProperty(s) {
  const i = s.indexOf('-');
  if (i < 0) return s;
  return s.slice(0, i) + snakeToCamel(s.slice(i + 1).replace(/-/g, '_'));
}

function camelToSnake(s) {
  const words = [];
  let last = 0;
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c >= 'A' && c <= 'Z') {
      let ini = '';
      for (let k = 1; k <= 5; k++) if (s.length - last >= k && INITIALISMS.has(s.slice(last, last + k))) ini = s.slice(last, last + k);
      if (ini !== '') {
        words.push(ini);
        i += ini.length - 1;
        last = i;
        continue;
      }
      words.push(s.slice(last, i));
      last = i;
    }
  }
  if (s.slice(last) !== '') words.push(s.slice(last));
  return words.map((w) => w.toLowerCase()).join('_');
}

function propertyToAttr(s) {
  return camelToSnake(s).replace(/_/g, '-');
}

// A data-* value as k6 reads it: JSON for objects and arrays, booleans, numbers whose text
// survives the round trip, undefined for empty, "null" and "undefined", else the string.
function dataValue(v) {
  if (v.length === 0) return undefined;
  if (v[0] === '{' || v[0] === '[') {
    try { return JSON.parse(v); } catch (e) { return v; }
  }
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'null' || v === 'undefined') return undefined;
  if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v)) {
    const f = Number(v);
    if (Number.isFinite(f) && String(f) === v) return f;
  }
  return v;
}

// Go's url.QueryEscape.
function queryEscape(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

export class Selection {
  constructor(doc, nodes, url, prev) {
    this[DOC] = doc;
    this[NODES] = nodes;
    this[PREV] = prev;
    this.url = url;
  }

  _with(nodes) { return new Selection(this[DOC], nodes, this.url, this); }

  // goquery's three ways to name nodes: a selector, a Selection, an Element.
  _arg(arg) {
    if (typeof arg === 'string') return arg;
    if (arg instanceof Selection) return arg[DOC] === this[DOC] ? arg[NODES] : [];
    if (arg instanceof Element) return arg[DOC] === this[DOC] ? [arg[NODE]] : [];
    throw new Error(`invalid argument, cannot use a '${goType(arg)}' as a selector`);
  }

  _matcher(fn) {
    return (idx, num) => !!fn.call(fn, idx, this._single(num));
  }

  _single(num) { return new Selection(this[DOC], [num], this.url, this); }

  add(arg) {
    const a = this._arg(arg);
    return this._with(union(this[NODES], typeof a === 'string' ? n.find(this[DOC], [ROOT], a) : a));
  }

  find(arg) { return this._with(n.find(this[DOC], this[NODES], this._arg(arg))); }

  single(selector) { return this._with(n.find(this[DOC], this[NODES], String(selector)).slice(0, 1)); }

  closest(arg) { return this._with(n.closest(this[DOC], this[NODES], this._arg(arg))); }

  has(arg) { return this._with(n.has(this[DOC], this[NODES], this._arg(arg))); }

  not(v) {
    if (typeof v === 'function') {
      const m = this._matcher(v);
      return this._with(this[NODES].filter((num, i) => !m(i, num)));
    }
    return this._with(n.filter(this[DOC], this[NODES], this._arg(v), false));
  }

  filter(v) {
    if (typeof v === 'string') return this._with(n.filter(this[DOC], this[NODES], v, true));
    if (v instanceof Selection) return this._with(n.filter(this[DOC], this[NODES], this._arg(v), true));
    if (typeof v !== 'function') throw new Error('the argument to filter() must be a function, a selector or a selection');
    const m = this._matcher(v);
    return this._with(this[NODES].filter((num, i) => m(i, num)));
  }

  is(v) {
    if (typeof v === 'string') return n.is(this[DOC], this[NODES], v);
    if (v instanceof Selection) return n.is(this[DOC], this[NODES], this._arg(v));
    if (typeof v !== 'function') throw new Error('the argument to is() must be a function, a selector or a selection');
    const m = this._matcher(v);
    return this[NODES].some((num, i) => m(i, num));
  }

  _adjacent(kind, args) {
    const filter = args.length > 0 ? String(args[0]) : undefined;
    if (kind === 'parent') return this._with(n.parent(this[DOC], this[NODES], filter));
    if (kind === 'parents') return this._with(n.parents(this[DOC], this[NODES], undefined, filter));
    return this._with(n.siblings(this[DOC], this[NODES], kind, undefined, filter));
  }

  next(...a) { return this._adjacent(1, a); }
  nextAll(...a) { return this._adjacent(2, a); }
  prev(...a) { return this._adjacent(-1, a); }
  prevAll(...a) { return this._adjacent(-2, a); }
  siblings(...a) { return this._adjacent(0, a); }
  parent(...a) { return this._adjacent('parent', a); }
  parents(...a) { return this._adjacent('parents', a); }

  // k6's nextUntil/prevUntil/parentsUntil(until?, filter?): `until` a selector, a Selection or
  // null; a second argument is always a filter (even undefined, read as the text "undefined").
  _until(kind, args) {
    let until = '';
    if (args.length > 0) {
      const u = args[0];
      if (typeof u === 'string') until = u;
      else if (u instanceof Selection) until = u[DOC] === this[DOC] ? u[NODES] : [];
      else if (u !== undefined && u !== null) throw new Error(`invalid argument, cannot use a '${goType(u)}' as a selector`);
    }
    const filter = args.length > 1 ? String(args[1]) : undefined;
    if (kind === 'parents') return this._with(n.parents(this[DOC], this[NODES], until, filter));
    return this._with(n.siblings(this[DOC], this[NODES], kind, until, filter));
  }

  nextUntil(...a) { return this._until(3, a); }
  prevUntil(...a) { return this._until(-3, a); }
  parentsUntil(...a) { return this._until('parents', a); }

  children(...a) {
    return this._with(n.children(this[DOC], this[NODES], false, a.length > 0 ? String(a[0]) : undefined));
  }

  contents() { return this._with(n.children(this[DOC], this[NODES], true)); }

  size() { return this[NODES].length; }

  end() { return this[PREV] || this._with([]); }

  eq(i) {
    const nodes = this[NODES];
    let k = toInt(i);
    if (k < 0) k += nodes.length;
    return this._with(k < 0 || k >= nodes.length ? [] : [nodes[k]]);
  }

  first() { return this.eq(0); }

  last() { return this.eq(-1); }

  slice(start, ...end) {
    const nodes = this[NODES];
    let s = toInt(start);
    if (s < 0) s += nodes.length;
    let e = nodes.length;
    if (end.length > 0 && toInt(end[0]) < nodes.length) {
      e = toInt(end[0]);
      if (e < 0) e += nodes.length;
    }
    return this._with(nodes.slice(Math.max(s, 0), Math.max(e, 0)));
  }

  text() { return n.text(this[DOC], this[NODES]); }

  html() { return this[NODES].length > 0 ? n.html(this[DOC], this[NODES][0]) : ''; }

  attr(name, ...def) {
    const v = this[NODES].length > 0 ? n.attr(this[DOC], this[NODES][0], String(name)) : undefined;
    if (v === undefined) return def.length > 0 ? def[0] : undefined;
    return v;
  }

  _nodeName() { return this[NODES].length > 0 ? n.info(this[DOC], this[NODES][0])[1] : ''; }

  _valueOrHTML() {
    const v = this.attr('value');
    return v === undefined ? this.html() : v;
  }

  val() {
    switch (this._nodeName()) {
      case 'input': {
        const v = this.attr('value');
        if (v !== undefined) return v;
        const t = this.attr('type');
        return t === 'radio' || t === 'checkbox' ? 'on' : '';
      }
      case 'button': {
        const v = this.attr('value');
        return v === undefined ? '' : v;
      }
      case 'textarea':
        return this.html();
      case 'option':
        return this._valueOrHTML();
      case 'select': {
        const selected = this.first().find('option[selected]');
        if (this.attr('multiple') !== undefined) return selected.toArray().map((o) => o._valueOrHTML());
        return selected._valueOrHTML();
      }
      default:
        return undefined;
    }
  }

  each(fn) {
    if (typeof fn !== 'function') throw new Error('the argument to each() must be a function');
    this[NODES].forEach((num, i) => {
      try {
        fn.call(fn, i, elementOf(this[DOC], num, this.url));
      } catch (e) {
        throw new Error(`the function passed to each() failed: ${e}`);
      }
    });
    return this;
  }

  // k6 leaves out the values of calls that throw.
  map(fn) {
    if (typeof fn !== 'function') throw new Error('the argument to map() must be a function');
    const out = [];
    this[NODES].forEach((num, i) => {
      try {
        out.push(fn.call(fn, i, this._single(num)));
      } catch (e) { /* as k6 */ }
    });
    return out;
  }

  get(...a) {
    const nodes = this[NODES];
    if (a.length === 0) return nodes.map((num) => elementOf(this[DOC], num, this.url));
    const i = toInt(a[0]);
    if (i < nodes.length && i > -nodes.length) return elementOf(this[DOC], nodes[i < 0 ? i + nodes.length : i], this.url);
    return undefined;
  }

  toArray() { return this[NODES].map((num) => this._single(num)); }

  index(...a) {
    const nodes = this[NODES];
    if (a.length === 0) return nodes.length > 0 ? n.siblings(this[DOC], [nodes[0]], -2).length : -1;
    const v = a[0];
    if (v instanceof Selection) return v[DOC] === this[DOC] && v[NODES].length > 0 ? nodes.indexOf(v[NODES][0]) : -1;
    if (typeof v === 'string') return nodes.length > 0 ? n.find(this[DOC], [ROOT], v).indexOf(nodes[0]) : -1;
    if (v instanceof Element) return v[DOC] === this[DOC] ? nodes.indexOf(v[NODE]) : -1;
    return -1;
  }

  data(...a) {
    if (this[NODES].length === 0) return undefined;
    const attrs = n.attrs(this[DOC], this[NODES][0]);
    if (attrs.length === 0) return undefined;
    if (a.length > 0) {
      const v = this.attr(`data-${propertyToAttr(String(a[0]))}`);
      return v === undefined ? undefined : dataValue(v);
    }
    const out = {};
    for (let i = 0; i < attrs.length; i += 3) {
      const k = attrs[i + 1];
      if (k.startsWith('data-') && k.length > 5) out[attrToProperty(k.slice(5))] = dataValue(attrs[i + 2]);
    }
    return out;
  }

  // k6's rules, `checked="checked"` and `disabled="disabled"` spelled out included.
  serializeArray() {
    const fields = 'input,select,textarea,keygen';
    const els = this.is('form') ? this.find(fields) : this.filter(fields);
    const out = [];
    for (const el of els.toArray()) {
      const name = el.attr('name', '');
      const type = el.attr('type', '');
      const checked = el.attr('checked', '');
      if (name === '' || el.attr('disabled', '') === 'disabled') continue;
      if (['submit', 'button', 'reset', 'image', 'file'].includes(type)) continue;
      if (checked !== 'checked' && (type === 'checkbox' || type === 'radio')) continue;
      out.push({ name, value: el.val() });
    }
    return out;
  }

  serializeObject() {
    const out = {};
    for (const f of this.serializeArray()) out[f.name] = f.value;
    return out;
  }

  // Go's url.Values.Encode: keys sorted, a later field of the same name replaces an earlier one.
  serialize() {
    const values = {};
    for (const f of this.serializeArray()) {
      if (typeof f.value === 'string') values[f.name] = [f.value];
      else if (Array.isArray(f.value)) values[f.name] = f.value;
    }
    const parts = [];
    for (const k of Object.keys(values).sort()) {
      for (const v of values[k]) parts.push(`${queryEscape(k)}=${queryEscape(v)}`);
    }
    return parts.join('&');
  }
}

function namespaceURI(prefix) {
  if (prefix === 'svg') return 'http://www.w3.org/2000/svg';
  if (prefix === 'math') return 'http://www.w3.org/1998/Math/MathML';
  return 'http://www.w3.org/1999/xhtml';
}

class Attribute {
  constructor(owner, ns, name, value) {
    this.owner_element = owner;
    this.name = name;
    this.value = value;
    Object.defineProperty(this, NODE, { value: ns });
  }

  prefix() { return this[NODE]; }
  namespaceURI() { return namespaceURI(this[NODE]); }
  localName() { return this.name; }
}

// The Element of node `num`, with the methods of its tag (k6's AnchorElement, InputElement...).
function elementOf(doc, num, url) {
  if (num === undefined || num < 0) return undefined;
  const info = n.info(doc, num);
  const proto = info[0] === 1 ? protoFor(info[1]) : Element.prototype;
  const el = Object.create(proto);
  el[DOC] = doc;
  el[NODE] = num;
  el[URL] = url;
  return el;
}

export class Element {
  _sel() { return new Selection(this[DOC], [this[NODE]], this[URL]); }
  _el(num) { return elementOf(this[DOC], num, this[URL]); }
  _list(sel) { return sel[NODES].map((num) => this._el(num)); }
  _rel(which) { const r = n.rel(this[DOC], this[NODE], which); return r < 0 ? undefined : this._el(r); }
  _info() { return n.info(this[DOC], this[NODE]); }
  _attr(name) { return n.attr(this[DOC], this[NODE], name); }
  _str(name) { const v = this._attr(name); return v === undefined ? '' : v; }
  _has(name) { return this._attr(name) !== undefined; }
  _int(name, def) {
    const v = this._attr(name);
    return v !== undefined && /^[+-]?\d+$/.test(v) ? parseInt(v, 10) : def;
  }
  _enum(name, opts) { const v = this._str(name); return opts.indexOf(v) > 0 ? v : opts[0]; }
  _nullableEnum(name, opts) { const v = this._attr(name); return opts.includes(v) ? v : undefined; }
  _url(name, def) {
    if (!this[URL]) return this._str(name);
    const v = this._attr(name);
    return v === undefined ? def : n.urlParts(this[URL], v)[0];
  }
  _root() { return new Selection(this[DOC], [ROOT], this[URL]); }
  _ownerForm() {
    const f = this._sel().closest('form');
    if (f.size() > 0) return f;
    const id = this._str('form');
    if (id === '') return undefined;
    const byId = this._root().find(`#${id}`);
    return byId.size() > 0 ? byId : undefined;
  }
  _form() { const f = this._ownerForm(); return f ? this._el(f[NODES][0]) : undefined; }
  _labels() {
    const wrapper = this._sel().closest('label');
    const id = this._str('id');
    if (id === '') return this._list(wrapper);
    const byFor = this._root().find(`label[for="${id}"]`);
    if (byFor.size() === 0) return this._list(wrapper);
    return this._list(wrapper.add(byFor));
  }

  selection() { return this._sel(); }
  nodeName() { return this._info()[1]; }
  nodeType() { const t = this._info()[0]; return t === 0 ? undefined : t; }
  nodeValue() { const t = this._info()[0]; return t === 3 || t === 8 ? n.text(this[DOC], [this[NODE]]) : undefined; }
  id() { return this._str('id'); }
  innerHTML() { return n.html(this[DOC], this[NODE]); }
  textContent() { return n.text(this[DOC], [this[NODE]]); }
  ownerDocument() { return this._el(ROOT); }
  attributes() {
    const a = n.attrs(this[DOC], this[NODE]);
    const out = {};
    for (let i = 0; i < a.length; i += 3) out[a[i + 1]] = new Attribute(this, a[i], a[i + 1], a[i + 2]);
    return out;
  }
  getAttribute(name) { return this._attr(String(name)); }
  getAttributeNode(name) {
    const a = n.attrs(this[DOC], this[NODE]);
    for (let i = 0; i < a.length; i += 3) if (a[i + 1] === String(name)) return new Attribute(this, a[i], a[i + 1], a[i + 2]);
    return undefined;
  }
  hasAttribute(name) { return this._has(String(name)); }
  hasAttributes() { return n.attrs(this[DOC], this[NODE]).length > 0; }
  hasChildNodes() { return n.rel(this[DOC], this[NODE], 1) >= 0; }
  toString() {
    const t = this._info();
    return t[0] === 1 ? '[object html.Node]' : `[object ${t[1]}]`;
  }
  isEqualNode(other) { return other instanceof Element && this.innerHTML() === other.innerHTML(); }
  isSameNode(other) { return other instanceof Element && other[DOC] === this[DOC] && other[NODE] === this[NODE]; }
  getElementsByClassName(name) { return this._list(this._sel().find(`.${name}`)); }
  getElementsByTagName(name) { return this._list(this._sel().find(String(name))); }
  querySelector(selector) { const s = this._sel().find(String(selector)); return s.size() > 0 ? this._el(s[NODES][0]) : undefined; }
  querySelectorAll(selector) { return this._list(this._sel().find(String(selector))); }
  firstChild() { return this._rel(1); }
  lastChild() { return this._rel(2); }
  previousSibling() { return this._rel(3); }
  nextSibling() { return this._rel(4); }
  parentNode() { return this._rel(0); }
  firstElementChild() { const c = this._sel().children(); return c.size() > 0 ? this._el(c[NODES][0]) : undefined; }
  lastElementChild() { const c = this._sel().children(); return c.size() > 0 ? this._el(c[NODES][c.size() - 1]) : undefined; }
  previousElementSibling() { const s = this._sel().prev(); return s.size() > 0 ? this._el(s[NODES][0]) : undefined; }
  nextElementSibling() { const s = this._sel().next(); return s.size() > 0 ? this._el(s[NODES][0]) : undefined; }
  parentElement() { const s = this._sel().parent(); return s.size() > 0 ? this._el(s[NODES][0]) : undefined; }
  childNodes() { return this._list(this._sel().contents()); }
  children() { return this._list(this._sel().children()); }
  childElementCount() { return this._sel().children().size(); }
  classList() { const c = this._attr('class'); return c === undefined ? [] : c.split(/\s+/).filter((x) => x !== ''); }
  className() { return this._attr('class'); }
  lang() { const a = this.getAttributeNode('lang'); return a && a.prefix() === '' ? a.value : undefined; }
  namespaceURI() { return namespaceURI(this._info()[2]); }
  isDefaultNamespace() { return this._info()[2] === ''; }
  contains(other) {
    return other instanceof Element && other[DOC] === this[DOC] && other[NODE] !== this[NODE] &&
      n.find(this[DOC], [this[NODE]], [other[NODE]]).length > 0;
  }
  matches(selector) { return this._sel().is(String(selector)); }
}

// k6's generated attribute accessors (js/modules/k6/html/gen): [method, attribute, kind, arg].
// Kinds: s string, b present, i integer (arg: default), e enum (arg: options, first the
// default), n enum or undefined, c constant, u URL resolved against the page (arg: default).
// Built on first use: a VU that never makes an element of these tags does not hold them.
function accessorTable() {
  const REFERRER = ['', 'no-referrer', 'no-referrer-when-downgrade', 'origin', 'origin-when-cross-origin', 'unsafe-url'];
  const AUTOCOMPLETE = ['on', 'off'];
  const ENCTYPE = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
  const CROSSORIGIN = ['anonymous', 'use-credentials'];
  const INPUT_TYPES = ['text', 'button', 'checkbox', 'color', 'date', 'datetime-local', 'email', 'file', 'hidden', 'image',
    'month', 'number', 'password', 'radio', 'range', 'reset', 'search', 'submit', 'tel', 'time', 'url', 'week'];
  return {
    Href: [['download', 'download', 's'], ['referrerPolicy', 'referrerpolicy', 'e', REFERRER], ['rel', 'rel', 's'],
      ['href', 'href', 'u', ''], ['target', 'target', 's'], ['type', 'type', 's'], ['accessKey', 'accesskey', 's'],
      ['hrefLang', 'hreflang', 's'], ['toString', 'href', 'u', '']],
    Media: [['autoplay', 'autoplay', 'b'], ['controls', 'controls', 'b'], ['loop', 'loop', 'b'], ['muted', 'muted', 'b'],
      ['preload', 'preload', 'e', ['auto', 'metadata', 'none']], ['src', 'src', 'u', ''], ['crossOrigin', 'crossorigin', 'n', CROSSORIGIN],
      ['currentSrc', 'src', 's'], ['defaultMuted', 'muted', 'b'], ['mediaGroup', 'mediagroup', 's']],
    Base: [['href', 'href', 'u', null], ['target', 'target', 's']],
    Button: [['accessKey', 'accesskey', 's'], ['autofocus', 'autofocus', 'b'], ['disabled', 'disabled', 'b'],
      ['tabIndex', 'tabindex', 'i', 0], ['type', 'type', 'e', ['submit', 'button', 'menu', 'reset']]],
    Data: [['value', 'value', 's']],
    Embed: [['height', 'height', 's'], ['width', 'width', 's'], ['src', 'src', 's'], ['type', 'type', 's']],
    FieldSet: [['disabled', 'disabled', 'b'], ['name', 'name', 's']],
    Form: [['action', 'action', 'u', ''], ['name', 'name', 's'], ['target', 'target', 's'], ['enctype', 'enctype', 'e', ENCTYPE],
      ['encoding', 'enctype', 'e', ENCTYPE], ['acceptCharset', 'accept-charset', 's'], ['autocomplete', 'autocomplete', 'e', AUTOCOMPLETE],
      ['noValidate', 'novalidate', 'b']],
    IFrame: [['allowfullscreen', 'allowfullscreen', 'b'], ['referrerPolicy', 'referrerpolicy', 'e', REFERRER],
      ['height', 'height', 's'], ['width', 'width', 's'], ['name', 'name', 's'], ['src', 'src', 'u', '']],
    Image: [['currentSrc', 'src', 'u', ''], ['sizes', 'sizes', 's'], ['srcset', 'srcset', 's'], ['alt', 'alt', 's'],
      ['crossOrigin', 'crossorigin', 'n', CROSSORIGIN], ['height', 'height', 'i', 0], ['width', 'width', 'i', 0],
      ['isMap', 'ismap', 'b'], ['name', 'name', 's'], ['src', 'src', 'u', ''], ['useMap', 'usemap', 's'],
      ['referrerPolicy', 'referrerpolicy', 'e', REFERRER]],
    Input: [['name', 'name', 's'], ['tabIndex', 'tabindex', 'i', 0], ['type', 'type', 'e', INPUT_TYPES], ['disabled', 'disabled', 'b'],
      ['autofocus', 'autofocus', 'b'], ['required', 'required', 'b'], ['value', 'value', 's'], ['checked', 'checked', 'b'],
      ['defaultChecked', 'checked', 'b'], ['alt', 'alt', 's'], ['src', 'src', 'u', ''], ['height', 'height', 's'],
      ['width', 'width', 's'], ['accept', 'accept', 's'], ['autocomplete', 'autocomplete', 'e', AUTOCOMPLETE],
      ['maxLength', 'maxlength', 'i', -1], ['size', 'size', 'i', 0], ['pattern', 'pattern', 's'], ['placeholder', 'placeholder', 's'],
      ['readonly', 'readonly', 'b'], ['min', 'min', 's'], ['max', 'max', 's'], ['defaultValue', 'value', 's'],
      ['dirName', 'dirname', 's'], ['accessKey', 'accesskey', 's'], ['multiple', 'multiple', 'b'], ['step', 'step', 's']],
    Keygen: [['autofocus', 'autofocus', 'b'], ['challenge', 'challenge', 's'], ['disabled', 'disabled', 'b'],
      ['keytype', 'keytype', 'e', ['RSA', 'DSA', 'EC']], ['name', 'name', 's'], ['type', 'type', 'c', 'keygen']],
    Label: [['htmlFor', 'for', 's']],
    Legend: [['accessKey', 'accesskey', 's']],
    Li: [['value', 'value', 'i', 0], ['type', 'type', 'e', ['', '1', 'a', 'A', 'i', 'I', 'disc', 'square', 'circle']]],
    Link: [['crossOrigin', 'crossorigin', 'n', CROSSORIGIN], ['referrerPolicy', 'referrerpolicy', 'e', REFERRER],
      ['href', 'href', 'u', ''], ['hreflang', 'hreflang', 's'], ['media', 'media', 's'], ['rel', 'rel', 's'],
      ['target', 'target', 's'], ['type', 'type', 's']],
    Map: [['name', 'name', 's']],
    Meta: [['content', 'content', 's'], ['name', 'name', 's'], ['httpEquiv', 'http-equiv', 'e', ['content-type', 'default-style', 'refresh']]],
    Meter: [['min', 'min', 'i', 0], ['max', 'max', 'i', 0], ['high', 'high', 'i', 0], ['low', 'low', 'i', 0], ['optimum', 'optimum', 'i', 0]],
    Mod: [['cite', 'cite', 's'], ['datetime', 'datetime', 's']],
    Object: [['data', 'data', 'u', ''], ['height', 'height', 's'], ['name', 'name', 's'], ['type', 'type', 's'],
      ['tabIndex', 'tabindex', 'i', 0], ['typeMustMatch', 'typemustmatch', 'b'], ['useMap', 'usemap', 's'], ['width', 'width', 's']],
    OList: [['reversed', 'reversed', 'b'], ['start', 'start', 'i', 0], ['type', 'type', 'e', ['1', 'a', 'A', 'i', 'I']]],
    OptGroup: [['disabled', 'disabled', 'b'], ['label', 'label', 's']],
    Option: [['defaultSelected', 'selected', 'b'], ['selected', 'selected', 'b']],
    Output: [['htmlFor', 'for', 's'], ['name', 'name', 's'], ['type', 'type', 'c', 'output']],
    Param: [['name', 'name', 's'], ['value', 'value', 's']],
    Pre: [['name', 'name', 's'], ['value', 'value', 's']],
    Quote: [['cite', 'cite', 's']],
    Script: [['crossOrigin', 'crossorigin', 's'], ['type', 'type', 's'], ['src', 'src', 'u', ''], ['charset', 'charset', 's'],
      ['async', 'async', 'b'], ['defer', 'defer', 'b'], ['noModule', 'nomodule', 'b']],
    Select: [['autofocus', 'autofocus', 'b'], ['disabled', 'disabled', 'b'], ['multiple', 'multiple', 'b'], ['name', 'name', 's'],
      ['required', 'required', 'b'], ['tabIndex', 'tabindex', 'i', 0]],
    Source: [['keySystem', 'keysystem', 's'], ['media', 'media', 's'], ['sizes', 'sizes', 's'], ['src', 'src', 'u', ''],
      ['srcset', 'srcset', 's'], ['type', 'type', 's']],
    Style: [['media', 'media', 's']],
    Table: [['sortable', 'sortable', 'b']],
    TableCell: [['colSpan', 'colspan', 'i', 1], ['rowSpan', 'rowspan', 'i', 1], ['headers', 'headers', 's']],
    TableHeaderCell: [['abbr', 'abbr', 's'], ['scope', 'scope', 'e', ['', 'row', 'col', 'colgroup', 'rowgroup']], ['sorted', 'sorted', 'b']],
    TextArea: [['type', 'type', 'c', 'textarea'], ['value', 'value', 's'], ['defaultValue', 'value', 's'], ['placeholder', 'placeholder', 's'],
      ['rows', 'rows', 'i', 0], ['cols', 'cols', 'i', 0], ['maxLength', 'maxlength', 'i', 0], ['tabIndex', 'tabindex', 'i', 0],
      ['accessKey', 'accesskey', 's'], ['readOnly', 'readonly', 'b'], ['required', 'required', 'b'],
      ['autocomplete', 'autocomplete', 'e', AUTOCOMPLETE], ['autocapitalize', 'autocapitalize', 'e', ['sentences', 'none', 'off', 'characters', 'words']],
      ['wrap', 'wrap', 'e', ['soft', 'hard', 'off']]],
    Time: [['datetime', 'datetime', 's']],
    Track: [['kind', 'kind', 'e', ['subtitle', 'captions', 'descriptions', 'chapters', 'metadata']], ['src', 'src', 'u', ''],
      ['srclang', 'srclang', 's'], ['label', 'label', 's'], ['default', 'default', 'b']],
    UList: [['type', 'type', 's']],
  };
}

function accessor(attr, kind, arg) {
  switch (kind) {
    case 's': return function () { return this._str(attr); };
    case 'b': return function () { return this._has(attr); };
    case 'i': return function () { return this._int(attr, arg); };
    case 'e': return function () { return this._enum(attr, arg); };
    case 'n': return function () { return this._nullableEnum(attr, arg); };
    case 'c': return function () { return arg; };
    default: return function () { return this._url(attr, arg === null ? this[URL] : arg); };
  }
}

function hrefParts(el) {
  const v = el._attr('href');
  return v === undefined ? ['', '', '', '', '', '', '', '', '', ''] : n.urlParts(el[URL] || '', v);
}

// k6's hand-written methods (js/modules/k6/html/elements.go).
function methodTable() {
  return {
    Href: {
      hash() { const f = hrefParts(this)[9]; return f === '' ? '' : `#${f}`; },
      host() { return hrefParts(this)[2]; },
      hostname() { return hrefParts(this)[3]; },
      port() { return hrefParts(this)[4]; },
      username() { return hrefParts(this)[5]; },
      password() { return hrefParts(this)[6]; },
      origin() {
        const p = hrefParts(this);
        if (p[1] === '') return '';
        if (p[1] === 'file') return this.href();
        return `${p[1]}://${p[2]}`;
      },
      pathname() { return hrefParts(this)[7]; },
      protocol() { const s = hrefParts(this)[1]; return s === '' ? ':' : s; },
      relList() { const r = this._str('rel'); return r === '' ? [] : r.split(' '); },
      search() { const q = hrefParts(this)[8]; return q === '' ? '' : `?${q}`; },
      text() { return this.textContent(); },
    },
    Media: { textTracks() { return this._list(this._sel().find('track')); } },
    FormField: {
      form() { return this._form(); },
      _formOrElemAttr(name) {
        const own = this._attr(`form${name}`);
        if (own !== undefined) return own;
        const f = this._ownerForm();
        return f ? f.attr(name) : undefined;
      },
      formAction() {
        const action = this._formOrElemAttr('action');
        if (!this[URL]) return action === undefined ? '' : action;
        if (action === undefined || action === '') return this[URL];
        return n.urlParts(this[URL], action)[0];
      },
      formEnctype() {
        const e = this._formOrElemAttr('enctype');
        return e === 'multipart/form-data' || e === 'text/plain' ? e : 'application/x-www-form-urlencoded';
      },
      formMethod() { const m = this._formOrElemAttr('method'); return m !== undefined && m.toLowerCase() === 'post' ? 'post' : 'get'; },
      formNoValidate() { return this._formOrElemAttr('novalidate') !== undefined; },
      formTarget() { const t = this._formOrElemAttr('target'); return t === undefined ? '' : t; },
      labels() { return this._labels(); },
      name() { return this._str('name'); },
    },
    Button: { value() { return this._sel()._valueOrHTML(); } },
    Canvas: { width() { return this._int('width', 150); }, height() { return this._int('height', 150); } },
    DataList: { options() { return this._list(this._sel().find('option')); } },
    FieldSet: {
      form() { return this._form(); },
      type() { return 'fieldset'; },
      elements() { return this._list(this._sel().find('input,select,button,textarea')); },
      validity() { return undefined; },
    },
    Form: {
      elements() { return this._list(this._sel().find('input,select,button,textarea,fieldset')); },
      length() { return this._sel().find('input,select,button,textarea,fieldset').size(); },
      method() { return this._str('method') === 'post' ? 'post' : 'get'; },
    },
    Input: {
      list() {
        const id = this._str('list');
        if (id === '' || ['hidden', 'checkbox', 'radio', 'file', 'button'].includes(this._str('type'))) return undefined;
        const d = this._root().find(`datalist[id="${id}"]`);
        return d.size() > 0 ? this._el(d[NODES][0]) : undefined;
      },
    },
    Keygen: { form() { return this._form(); }, labels() { return this._labels(); } },
    Label: {
      control() {
        const f = this._attr('for');
        if (f === undefined) return undefined;
        const c = this._root().find(`#${f}`);
        return c.size() > 0 ? this._el(c[NODES][0]) : undefined;
      },
      form() { return this._form(); },
    },
    Legend: { form() { return this._form(); } },
    Link: { relList() { const r = this._str('rel'); return r === '' ? [] : r.split(' '); } },
    Map: {
      areas() { return this._list(this._sel().find('area')); },
      images() {
        const name = this._attr('id');
        if (name === undefined) return [];
        return this._list(this._root().find(`img[usemap="#${name}"],object[usemap="#${name}"]`));
      },
    },
    Meter: { labels() { return this._labels(); } },
    Object: { form() { return this._form(); } },
    Option: {
      disabled() {
        if (this._has('disabled')) return true;
        const g = this._sel().parents('optgroup');
        return g.size() > 0 && g.attr('disabled') !== undefined;
      },
      form() {
        const f = this._sel().parents('form');
        if (f.size() > 0) return this._el(f[NODES][0]);
        const id = this._sel().parents('select').attr('form');
        if (id === undefined) return undefined;
        const byId = this._root().find(`form#${id}`);
        return byId.size() > 0 ? this._el(byId[NODES][0]) : undefined;
      },
      index() {
        const holder = this._sel().parents('select,datalist');
        if (holder.size() === 0) return 0;
        return holder.find('option')[NODES].indexOf(this[NODE]);
      },
      label() { const l = this._attr('label'); return l === undefined ? this.textContent() : l; },
      text() { return this.textContent(); },
      value() { return this._sel()._valueOrHTML(); },
    },
    Output: {
      form() { return this._form(); },
      labels() { return this._labels(); },
      value() { return this.textContent(); },
      defaultValue() { return this.textContent(); },
    },
    Progress: {
      max() { const v = parseFloat(this._str('max')); return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(this._str('max')) && v >= 0 ? v : 1; },
      _progress(def) {
        const s = this._str('value');
        const v = parseFloat(s);
        return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && v >= 0 ? v / this.max() : def;
      },
      value() { return this._progress(0); },
      position() { return this._progress(-1); },
      labels() { return this._labels(); },
    },
    Script: { text() { return this.textContent(); } },
    Select: {
      form() { return this._form(); },
      labels() { return this._labels(); },
      length() { return this._sel().find('option').size(); },
      options() { return this._list(this._sel().find('option')); },
      selectedIndex() {
        const o = this._sel().find('option[selected]');
        return o.size() === 0 ? -1 : this._sel().find('option')[NODES].indexOf(o[NODES][0]);
      },
      selectedOptions() { return this._list(this._sel().find('option[selected]')); },
      size() { return this._has('multiple') ? 4 : 1; },
      type() { return this._has('multiple') ? 'select-multiple' : 'select'; },
      value() { const o = this._sel().find('option[selected]'); return o.size() === 0 ? '' : o.first()._valueOrHTML(); },
    },
    Style: { type() { const t = this._str('type'); return t === '' ? 'text/css' : t; } },
    Table: {
      _child(name) { const c = this._sel().children(name); return c.size() === 0 ? undefined : this._el(c[NODES][0]); },
      caption() { return this._child('caption'); },
      tHead() { return this._child('thead'); },
      tFoot() { return this._child('tfoot'); },
      rows() { return this._list(this._sel().find('tr')); },
      tBodies() { return this._list(this._sel().find('tbody')); },
    },
    TableSection: { rows() { return this._list(this._sel().find('tr')); } },
    TableCell: {
      cellIndex() {
        const row = this._sel().parents('tr');
        return row.size() === 0 ? -1 : row.find('th,td')[NODES].indexOf(this[NODE]);
      },
    },
    TableRow: {
      cells() { return this._list(this._sel().find('th,td')); },
      rowIndex() {
        const t = this._sel().parents('table');
        return t.size() === 0 ? -1 : t.find('tr')[NODES].indexOf(this[NODE]);
      },
      sectionRowIndex() {
        const s = this._sel().parents('thead,tbody,tfoot');
        return s.size() === 0 ? -1 : s.find('tr')[NODES].indexOf(this[NODE]);
      },
    },
    TextArea: {
      form() { return this._form(); },
      length() { return this._str('value').length; },
      labels() { return this._labels(); },
    },
    TableCol: { span() { const s = this._int('span', 1); return s < 1 ? 1 : s; } },
    Title: { text() { return this.textContent(); } },
  };
}

// Tag -> k6's element type and the types it embeds, outermost last.
const TAGS = {
  a: ['Href', 'Anchor'], area: ['Href', 'Area'], audio: ['Media', 'Audio'], base: ['Base'], button: ['FormField', 'Button'],
  canvas: ['Canvas'], data: ['Data'], datalist: ['DataList'], del: ['Mod', 'Del'], embed: ['Embed'], fieldset: ['FieldSet'],
  form: ['Form'], iframe: ['IFrame'], img: ['Image'], input: ['FormField', 'Input'], ins: ['Mod', 'Ins'], keygen: ['Keygen'],
  label: ['Label'], legend: ['Legend'], li: ['Li'], link: ['Link'], map: ['Map'], meta: ['Meta'], meter: ['Meter'],
  object: ['Object'], ol: ['OList'], optgroup: ['OptGroup'], option: ['Option'], output: ['Output'], param: ['Param'],
  pre: ['Pre'], progress: ['Progress'], quote: ['Quote'], script: ['Script'], select: ['Select'], source: ['Source'],
  style: ['Style'], table: ['Table'], thead: ['TableSection', 'TableHead'], tfoot: ['TableSection', 'TableFoot'],
  tbody: ['TableSection', 'TableBody'], tr: ['TableRow'], col: ['TableCol'], td: ['TableCell', 'TableDataCell'],
  th: ['TableCell', 'TableHeaderCell'], textarea: ['TextArea'], time: ['Time'], title: ['Title'], track: ['Track'],
  ul: ['UList'], video: ['Media', 'Video'],
};

const protos = new Map();
let tables;

function protoFor(tag) {
  const types = TAGS[tag];
  if (!types) return Element.prototype;
  let p = protos.get(tag);
  if (p) return p;
  if (!tables) tables = [accessorTable(), methodTable()];
  p = Object.create(Element.prototype);
  for (const t of types) {
    for (const [method, attr, kind, arg] of tables[0][t] || []) p[method] = accessor(attr, kind, arg);
    Object.assign(p, tables[1][t] || {});
  }
  protos.set(tag, p);
  return p;
}

// The document's root as a Selection; `url` is the page's address (Response.html() sets it).
function parse(src, url) {
  return new Selection(n.parse(String(src)), [ROOT], url === undefined ? '' : String(url), undefined);
}

export function parseHTML(src) {
  return parse(src);
}

// k6/http's Response.html() reaches the parser through this hidden global (see http.js).
Object.defineProperty(globalThis, '__brunt_html', { value: parse, configurable: true });

export default { parseHTML };
