// k6/websockets (and the deprecated k6/experimental/websockets): the browser's WebSocket API as
// k6 has it, with Blob. `new WebSocket(url, protocols, params)` hands the socket to the VU's I/O
// driver and returns at once; the VU's event loop then delivers what happens on it to
// `deliver` below, which keeps readyState and fires the listeners (the on* handler first, then
// those of addEventListener, in order). An open socket keeps the iteration going until it
// closes, as in k6. params: headers, tags, jar, compression ('deflate': permessage-deflate).
import { ReadableStream } from 'k6/experimental/streams';

const n = globalThis.__brunt_native('websockets');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const TYPES = ['open', 'message', 'error', 'close', 'ping', 'pong'];

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
    return new ReadableStream({
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

// Calls the socket's listeners of `type` with `ev`. A throwing open or message listener drops
// the connection, reports the error and the close, and ends the iteration with it, as in k6.
function fire(s, type, ev) {
  const all = s.on[type] ? [s.on[type], ...s.listeners[type]] : s.listeners[type];
  for (const f of all) {
    if (type !== 'open' && type !== 'message') {
      f.call(s.self, ev);
      continue;
    }
    try {
      f.call(s.self, ev);
    } catch (e) {
      n.abort(s.id);
      closed(s, 0, '', String(e));
      throw e;
    }
  }
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

function deliver(e) {
  const s = sockets.get(e.id);
  if (s === undefined) return;
  switch (e.type) {
    case 'open': {
      if (s.readyState !== CONNECTING) return;
      s.readyState = OPEN;
      s.protocol = e.protocol;
      s.extensions = e.extensions;
      fire(s, 'open', newEvent(s, 'open'));
      break;
    }
    case 'message': {
      if (s.readyState !== OPEN) return;
      const ev = newEvent(s, 'message');
      ev.data =
        typeof e.data === 'string' || s.binaryType === 'arraybuffer' ? e.data : new Blob([e.data]);
      ev.origin = s.url;
      fire(s, 'message', ev);
      break;
    }
    case 'ping':
    case 'pong':
      fire(s, e.type, newEvent(s, e.type));
      break;
    case 'close':
      closed(s, e.code || (e.error ? 0 : s.closeCode), e.reason, e.error);
      break;
    default:
      break;
  }
}
n.listen((e) => deliver(e));

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
    const listeners = {};
    for (const t of TYPES) listeners[t] = [];
    const s = {
      id,
      self: this,
      url: shown,
      readyState: CONNECTING,
      binaryType: 'blob',
      protocol: '',
      extensions: [],
      closeCode: 0,
      on: {},
      listeners,
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
    return states.get(this).extensions;
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
    const list = states.get(this).listeners[type];
    if (list === undefined || !Object.hasOwn(states.get(this).listeners, type)) {
      n.warn(`can't add event handler: unknown event type: ${type}`);
      return;
    }
    list.push(handler);
  }

  send(data) {
    const s = states.get(this);
    if (s.readyState !== OPEN) throw new Error('InvalidStateError');
    n.send(s.id, blobData.has(data) ? blobData.get(data).slice().buffer : data);
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
      return states.get(this).on[t] || null;
    },
    set(f) {
      if (f === undefined || f === null) {
        delete states.get(this).on[t];
        return;
      }
      if (typeof f !== 'function') throw new Error(`a value for '${prop}' should be callable`);
      states.get(this).on[t] = f;
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
