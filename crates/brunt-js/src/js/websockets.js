// k6/websockets (and the deprecated k6/experimental/websockets): the browser's WebSocket API as
// k6 has it, with Blob. `new WebSocket(url, protocols, params)` hands the socket to the VU's I/O
// driver and returns at once; the VU's event loop then delivers what happens on it to
// `deliver` below, which keeps readyState and fires the listeners (the on* handler first, then
// those of addEventListener, in order). An open socket keeps the iteration going until it
// closes, as in k6. params: headers, tags, jar, compression ('deflate': permessage-deflate).
const n = globalThis.__brunt_native('websockets');

// k6/experimental/streams, evaluated the first time a Blob is read as a stream: a VU that never
// does pays nothing for it.
let streams = null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const TYPES = ['open', 'message', 'error', 'close', 'ping', 'pong'];
// The kinds of event the native side delivers (`websockets.rs`, `Kind`).
const OPENED = 0;
const MESSAGE = 1;
const PING = 2;
const PONG = 3;
const CLOSE = 4;

// Open sockets' states by id, and every socket's state by its object.
const sockets = new Map();
const states = new WeakMap();

function utf8(s) {
  return new TextEncoder().encode(s);
}

// The bytes of one part of a Blob.
const blobData = new WeakMap();
const blobTypes = new WeakMap();
function partBytes(part) {
  if (typeof part === 'string') return utf8(part);
  if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
  if (ArrayBuffer.isView(part)) {
    return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
  }
  if (blobData.has(part)) return blobData.get(part);
  const type = part === null ? 'null' : typeof part;
  throw new Error(`failed to process [blobParts]: unsupported type: ${type}`);
}

export class Blob {
  constructor(parts, options) {
    const chunks = [];
    if (parts !== undefined && parts !== null) {
      if (typeof parts[Symbol.iterator] !== 'function' || typeof parts === 'string') {
        throw new Error('failed to process [blobParts]: expected an array');
      }
      for (const p of parts) chunks.push(partBytes(p));
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new Error('[options] must be an object');
    }
    blobTypes.set(this, options && options.type !== undefined ? String(options.type) : '');
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    blobData.set(this, all);
  }

  get size() {
    return blobData.get(this).length;
  }

  get type() {
    return blobTypes.get(this);
  }

  arrayBuffer() {
    return Promise.resolve(blobData.get(this).slice().buffer);
  }

  bytes() {
    return Promise.resolve(blobData.get(this).slice());
  }

  text() {
    return Promise.resolve(new TextDecoder().decode(blobData.get(this)));
  }

  // As k6 (v1.1 on): a stream of the bytes read 1024 at a time, each piece as a string (decoded
  // as UTF-8), then an empty string at the end. (k6's reading also empties the Blob; not here.)
  stream() {
    const data = blobData.get(this);
    const decoder = new TextDecoder();
    let at = 0;
    if (streams === null) streams = n.streams();
    return new streams.ReadableStream({
      pull(controller) {
        const piece = data.subarray(at, at + 1024);
        at += piece.length;
        controller.enqueue(decoder.decode(piece));
        if (piece.length === 0) controller.close();
      },
    });
  }

  slice(start, end, type) {
    const data = blobData.get(this);
    const from = start === undefined ? 0 : Math.trunc(Number(start));
    let to = end === undefined ? data.length : Math.trunc(Number(end));
    if (to < 0) to += data.length;
    return new Blob([data.subarray(from, to)], { type: type === undefined ? '' : String(type) });
  }

  toString() {
    return '[object Blob]';
  }
}

function isValidCloseCode(code) {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

function parseParams(params) {
  const out = { headers: null, tags: null, jar: null, compress: false };
  if (params === undefined || params === null) return out;
  for (const k of Object.keys(params)) {
    const v = params[k];
    switch (k) {
      case 'headers':
        if (v !== undefined && v !== null) out.headers = Object(v);
        break;
      case 'tags':
        if (v !== undefined && v !== null) {
          if (typeof v !== 'object') {
            throw new Error(`invalid WebSocket tags option: tags must be an object, got ${typeof v}`);
          }
          out.tags = v;
        }
        break;
      case 'jar':
        out.jar = v === undefined ? null : v;
        break;
      case 'compression': {
        const algo = String(v).trim();
        if (algo !== 'deflate') {
          throw new Error(
            `unsupported compression algorithm '${algo}', supported algorithm is 'deflate'`,
          );
        }
        out.compress = true;
        break;
      }
      default:
        throw new Error(`unknown WebSocket's option ${k}`);
    }
  }
  return out;
}

function newEvent(s, type) {
  return { type, target: s.self, timestamp: Date.now() };
}

// Calls `f`, a listener of `type`. A throwing open or message listener drops the connection,
// reports the error and the close, and ends the iteration with it, as in k6.
function call(s, type, f, ev) {
  if (type !== 'open' && type !== 'message') {
    f.call(s.self, ev);
    return;
  }
  try {
    f.call(s.self, ev);
  } catch (e) {
    n.abort(s.id);
    closed(s, 0, '', String(e));
    throw e;
  }
}

// Calls the socket's listeners of `type` with `ev`: the on* handler first, then those of
// addEventListener, in order.
function fire(s, type, ev) {
  if (s.on !== null) {
    const f = s.on[type];
    if (f !== undefined) call(s, type, f, ev);
  }
  const list = s.listeners === null ? undefined : s.listeners[type];
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) call(s, type, list[i], ev);
}

function closed(s, code, reason, error) {
  if (s.readyState === CLOSED) return;
  s.readyState = CLOSED;
  sockets.delete(s.id);
  if (error) {
    const ev = newEvent(s, 'error');
    ev.error = error;
    fire(s, 'error', ev);
  }
  const ev = newEvent(s, 'close');
  if (code) ev.code = code;
  ev.reason = reason;
  fire(s, 'close', ev);
}

// What happened on socket `id`, from the native side (`websockets.rs`, `deliver_next`), which
// passes each kind's fields as arguments: open (protocol, the extensions header), message
// (data), ping, pong, close (code, reason, error).
function deliver(id, kind, a, b, c) {
  const s = sockets.get(id);
  if (s === undefined) return;
  switch (kind) {
    case OPENED: {
      if (s.readyState !== CONNECTING) return;
      s.readyState = OPEN;
      s.protocol = a;
      s.extensions = b ? [b] : [];
      fire(s, 'open', newEvent(s, 'open'));
      break;
    }
    case MESSAGE: {
      if (s.readyState !== OPEN) return;
      const data = typeof a === 'string' || s.binaryType === 'arraybuffer' ? a : new Blob([a]);
      const ev = { type: 'message', target: s.self, timestamp: Date.now(), data, origin: s.url };
      fire(s, 'message', ev);
      break;
    }
    case PING:
      fire(s, 'ping', newEvent(s, 'ping'));
      break;
    case PONG:
      fire(s, 'pong', newEvent(s, 'pong'));
      break;
    case CLOSE:
      closed(s, a || (c ? 0 : s.closeCode), b, c);
      break;
    default:
      break;
  }
}
n.listen(deliver);

export class WebSocket {
  constructor(url, protocols, params) {
    if (url === undefined || url === null) throw new Error('WebSocket requires a url');
    const p = parseParams(params);
    let subprotocols = [];
    if (typeof protocols === 'string' || protocols instanceof String) {
      subprotocols = [String(protocols)];
    } else if (Array.isArray(protocols)) {
      subprotocols = protocols.map(String);
    }
    const [id, shown] = n.open(String(url), subprotocols, p.headers, p.tags, p.jar, p.compress);
    // Listeners, handlers and extensions are made when first set or read: an idle socket
    // holds only this object.
    const s = {
      id,
      self: this,
      url: shown,
      readyState: CONNECTING,
      binaryType: 'blob',
      protocol: '',
      extensions: null,
      closeCode: 0,
      on: null,
      listeners: null,
    };
    states.set(this, s);
    sockets.set(id, s);
  }

  get url() {
    return states.get(this).url;
  }

  get readyState() {
    return states.get(this).readyState;
  }

  get bufferedAmount() {
    return n.buffered(states.get(this).id);
  }

  get protocol() {
    return states.get(this).protocol;
  }

  get extensions() {
    const s = states.get(this);
    if (s.extensions === null) s.extensions = [];
    return s.extensions;
  }

  get binaryType() {
    return states.get(this).binaryType;
  }

  set binaryType(t) {
    if (t !== 'blob' && t !== 'arraybuffer') {
      throw new Error(`unknown binaryType ${t}, the supported ones are "blob" and "arraybuffer"`);
    }
    states.get(this).binaryType = t;
  }

  addEventListener(type, handler) {
    if (typeof handler !== 'function') {
      throw new Error(`handler for event type "${type}" isn't a callable function`);
    }
    if (!TYPES.includes(type)) {
      n.warn(`can't add event handler: unknown event type: ${type}`);
      return;
    }
    const s = states.get(this);
    if (s.listeners === null) s.listeners = {};
    if (!Object.hasOwn(s.listeners, type)) s.listeners[type] = [];
    s.listeners[type].push(handler);
  }

  send(data) {
    const s = states.get(this);
    if (s.readyState !== OPEN) throw new Error('InvalidStateError');
    if (typeof data !== 'string' && blobData.has(data)) data = blobData.get(data).slice().buffer;
    n.send(s.id, data);
  }

  ping() {
    const s = states.get(this);
    if (s.readyState !== OPEN) throw new Error('InvalidStateError');
    n.ping(s.id);
  }

  close(code, reason) {
    const s = states.get(this);
    if (s.readyState === CLOSED || s.readyState === CLOSING) return;
    const c = code === undefined || code === null ? 0 : Math.trunc(Number(code));
    const r = reason === undefined || reason === null ? '' : String(reason);
    if (c !== 0 && !isValidCloseCode(c)) {
      throw new Error(
        "InvalidAccessError: Failed to execute 'close' on 'WebSocket': " +
          `The close code must be either 1000, or between 3000 and 4999. ${c} is neither`,
      );
    }
    if (utf8(r).length > 123) {
      throw new Error(
        "SyntaxError: Failed to execute 'close' on 'WebSocket': The message must not be greater than 123 bytes",
      );
    }
    s.readyState = CLOSING;
    s.closeCode = c || 1000;
    n.close(s.id, s.closeCode, r);
  }
}

for (const t of TYPES) {
  const prop = `on${t}`;
  Object.defineProperty(WebSocket.prototype, prop, {
    get() {
      const on = states.get(this).on;
      return (on !== null && on[t]) || null;
    },
    set(f) {
      const s = states.get(this);
      if (f === undefined || f === null) {
        if (s.on !== null) delete s.on[t];
        return;
      }
      if (typeof f !== 'function') throw new Error(`a value for '${prop}' should be callable`);
      if (s.on === null) s.on = {};
      s.on[t] = f;
    },
    enumerable: false,
    configurable: true,
  });
}

for (const [name, value] of [['CONNECTING', CONNECTING], ['OPEN', OPEN], ['CLOSING', CLOSING], ['CLOSED', CLOSED]]) {
  Object.defineProperty(WebSocket, name, { value, enumerable: false });
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: false });
}

export default { WebSocket, Blob };
