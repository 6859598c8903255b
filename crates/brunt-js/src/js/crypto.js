// k6/crypto: digests, HMACs and random bytes.
const n = globalThis.__brunt_native('crypto');
const enc = globalThis.__brunt_native('encoding');



export function hmac(algorithm, secret, data, outputEncoding) {
  return n.hmac(algorithm, secret, data, outputEncoding);
}

export function randomBytes(size) {
  return n.randomBytes(size);
}

class Hasher {
  constructor(algorithm, key) {
    this.algorithm = algorithm;
    this.key = key;
    this.parts = [];
  }
  update(data) {
    this.parts.push(typeof data === 'string' ? data : new Uint8Array(data));
  }
  digest(outputEncoding) {
    let data;
    if (this.parts.every((p) => typeof p === 'string')) {
      data = this.parts.join('');
    } else {
      const chunks = this.parts.map((p) => (typeof p === 'string' ? new Uint8Array(enc.b64decode(enc.b64encode(p))) : p));
      const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
      let o = 0;
      for (const c of chunks) { out.set(c, o); o += c.length; }
      data = out.buffer;
    }
    return this.key === undefined
      ? n.hash(this.algorithm, data, outputEncoding)
      : n.hmac(this.algorithm, this.key, data, outputEncoding);
  }
}

export function createHash(algorithm) { return new Hasher(algorithm); }
export function createHMAC(algorithm, secret) { return new Hasher(algorithm, secret); }

export const md4 = (input, enc) => n.hash('md4', input, enc);
export const md5 = (input, enc) => n.hash('md5', input, enc);
export const sha1 = (input, enc) => n.hash('sha1', input, enc);
export const sha256 = (input, enc) => n.hash('sha256', input, enc);
export const sha384 = (input, enc) => n.hash('sha384', input, enc);
export const sha512 = (input, enc) => n.hash('sha512', input, enc);
export const sha512_224 = (input, enc) => n.hash('sha512_224', input, enc);
export const sha512_256 = (input, enc) => n.hash('sha512_256', input, enc);
export const ripemd160 = (input, enc) => n.hash('ripemd160', input, enc);

// Lower-case hex of a string's UTF-8 bytes or of an ArrayBuffer or typed array.
export function hexEncode(data) {
  return n.hexEncode(data);
}

export default {
  hmac, randomBytes, createHash, createHMAC, hexEncode, md4, md5, ripemd160, sha1, sha256, sha384, sha512, sha512_224, sha512_256,
};
