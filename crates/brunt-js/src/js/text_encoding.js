// TextEncoder and TextDecoder (WHATWG Encoding), globals as in k6 v2.
const n = globalThis.__brunt_native('text');

export class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(input = '') {
    return new Uint8Array(n.encode(String(input)));
  }
  encodeInto(source, destination) {
    const bytes = new Uint8Array(n.encode(String(source)));
    let read = 0;
    let written = 0;
    for (const ch of String(source)) {
      const len = new Uint8Array(n.encode(ch)).length;
      if (written + len > destination.length) break;
      destination.set(bytes.subarray(written, written + len), written);
      written += len;
      read += ch.length;
    }
    return { read, written };
  }
}

export class TextDecoder {
  #encoding; #fatal; #ignoreBOM; #pending = null; #started = false;
  constructor(label = 'utf-8', options = {}) {
    this.#encoding = n.canonical(String(label));
    this.#fatal = Boolean(options && options.fatal);
    this.#ignoreBOM = Boolean(options && options.ignoreBOM);
  }
  get encoding() { return this.#encoding; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }
  decode(input, options = {}) {
    const stream = Boolean(options && options.stream);
    let bytes = input === undefined ? new Uint8Array(0) : input;
    if (!(bytes instanceof ArrayBuffer) && !ArrayBuffer.isView(bytes)) {
      throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or an ArrayBufferView');
    }
    // Natives get an ArrayBuffer of the bytes, after any held back by a streamed call.
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes)
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pending = this.#pending || new Uint8Array(0);
    const joined = new Uint8Array(pending.length + view.length);
    joined.set(pending);
    joined.set(view, pending.length);
    bytes = joined.buffer;
    let text;
    let rest;
    try {
      [text, rest] = n.decode(this.#encoding, bytes, this.#fatal, stream);
    } catch (e) {
      this.#pending = null;
      this.#started = false;
      throw e;
    }
    if (!this.#started && !this.#ignoreBOM && text.startsWith('\uFEFF')) text = text.slice(1);
    this.#started = stream && (this.#started || text.length > 0);
    this.#pending = stream && rest.byteLength > 0 ? new Uint8Array(rest) : null;
    return text;
  }
}
