// WebCrypto (W3C Web Cryptography API) as k6 has it: the `crypto` global with getRandomValues,
// randomUUID and `subtle`. Algorithm normalisation, CryptoKey objects, usages and errors live
// here; the primitives are native (modules/webcrypto/). Every subtle method returns a promise,
// settled before it returns (the work is synchronous and short).
const n = globalThis.__brunt_native('webcrypto');
const enc = globalThis.__brunt_native('encoding');

// The names of WebCrypto's errors (DOMException names) that natives throw.
const ERROR_NAMES = new Set([
  'NotSupportedError', 'InvalidAccessError', 'OperationError', 'DataError', 'SyntaxError',
  'QuotaExceededError', 'TypeMismatchError',
]);

// The error a rejected promise carries: `name` and `message` own and enumerable, as in k6.
class WebCryptoError extends Error {
  constructor(name, message) {
    super(message);
    Object.defineProperty(this, 'name', { value: name, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(this, 'message', { value: message, enumerable: true, writable: true, configurable: true });
  }
}

const fail = (name, message) => { throw new WebCryptoError(name, message); };
const asError = (e) => (e && !(e instanceof WebCryptoError) && ERROR_NAMES.has(e.name) ? new WebCryptoError(e.name, e.message) : e);

function settle(fn) {
  return new Promise((resolve, reject) => {
    try {
      resolve(fn());
    } catch (e) {
      reject(asError(e));
    }
  });
}

const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
const AES = ['AES-CBC', 'AES-CTR', 'AES-GCM'];
const EC = ['ECDSA', 'ECDH'];
const RSA = ['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'RSA-OAEP'];
const KEYS = [...AES, 'HMAC', ...EC, ...RSA];
// The algorithms each operation knows (k6's set: no HKDF, no AES-KW, no Ed25519/X25519).
const OPS = {
  digest: HASHES,
  generateKey: KEYS,
  importKey: [...KEYS, 'PBKDF2'],
  exportKey: KEYS,
  sign: ['HMAC', 'ECDSA', 'RSASSA-PKCS1-v1_5', 'RSA-PSS'],
  verify: ['HMAC', 'ECDSA', 'RSASSA-PKCS1-v1_5', 'RSA-PSS'],
  encrypt: [...AES, 'RSA-OAEP'],
  decrypt: [...AES, 'RSA-OAEP'],
  deriveBits: ['ECDH', 'PBKDF2'],
  deriveKey: ['ECDH', 'PBKDF2'],
  // The algorithm of the key deriveKey makes.
  derivedKey: [...AES, 'HMAC'],
};

// Usages each kind of key may have: [secret or private, public].
const USAGES = {
  'AES-CBC': [['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']],
  'AES-CTR': [['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']],
  'AES-GCM': [['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']],
  HMAC: [['sign', 'verify']],
  PBKDF2: [['deriveKey', 'deriveBits']],
  ECDSA: [['sign'], ['verify']],
  ECDH: [['deriveKey', 'deriveBits'], []],
  'RSASSA-PKCS1-v1_5': [['sign'], ['verify']],
  'RSA-PSS': [['sign'], ['verify']],
  'RSA-OAEP': [['decrypt', 'unwrapKey'], ['encrypt', 'wrapKey']],
};

function normalize(algorithm, op) {
  const alg = typeof algorithm === 'string' ? { name: algorithm } : algorithm;
  if (alg === null || typeof alg !== 'object' || typeof alg.name !== 'string') {
    fail('SyntaxError', 'algorithm cannot be interpreted as a string or an object');
  }
  let name = alg.name.toUpperCase();
  if (name === 'RSASSA-PKCS1-V1_5') name = 'RSASSA-PKCS1-v1_5';
  if (!OPS[op].includes(name)) {
    fail('NotSupportedError', `algorithm "${alg.name}" doesn't support (in implementation) operation "${op}"`);
  }
  return Object.assign({}, alg, { name });
}

function hashOf(alg) {
  if (alg.hash === undefined) throw new TypeError(`${alg.name} needs a 'hash' parameter`);
  return normalize(alg.hash, 'digest').name;
}

function isBuffer(x) {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

// The bytes of a BufferSource as an ArrayBuffer of their own: a key does not change when the
// script's array does, and natives get ArrayBuffers only.
function buffer(x, what) {
  if (!isBuffer(x)) throw new TypeError(`${what} must be an ArrayBuffer, a TypedArray or a DataView`);
  return copy(x);
}

function copy(x) {
  const view = x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return view.slice().buffer;
}

const MATERIAL = Symbol('key material');

export class CryptoKey {
  constructor() {
    throw new TypeError('Illegal constructor');
  }
}

function makeKey(type, extractable, algorithm, usages, material) {
  const key = Object.create(CryptoKey.prototype);
  key.type = type;
  key.extractable = extractable;
  key.algorithm = algorithm;
  key.usages = usages;
  Object.defineProperty(key, MATERIAL, { value: material });
  return key;
}

// The usages a key of `type` keeps out of those asked for; SyntaxError for one it cannot have.
function usagesFor(name, type, usages, allowed) {
  if (!Array.isArray(usages)) throw new TypeError('keyUsages must be an array');
  const ok = USAGES[name][type === 'public' ? 1 : 0];
  for (const u of usages) {
    if (!allowed.includes(u)) fail('SyntaxError', `invalid key usage "${u}" for ${name}`);
  }
  const mine = usages.filter((u) => ok.includes(u));
  if (type !== 'public' && mine.length === 0) {
    fail('SyntaxError', `a ${type} ${name} key needs at least one usage of ${ok.join(', ')}`);
  }
  return mine;
}

function allUsages(name) {
  return USAGES[name].flat();
}

function checkKey(key, name, usage) {
  if (!(key instanceof CryptoKey) || !key[MATERIAL]) throw new TypeError('key must be a CryptoKey');
  if (key.algorithm.name !== name) {
    fail('InvalidAccessError', `the key is a ${key.algorithm.name} key, not ${name}`);
  }
  if (!key.usages.includes(usage)) fail('InvalidAccessError', `the key's usages do not include "${usage}"`);
  return key[MATERIAL];
}

const blockBits = (hash) => (hash === 'SHA-384' || hash === 'SHA-512' ? 1024 : 512);

function aesLength(length) {
  const bits = Number(length);
  if (bits !== 128 && bits !== 192 && bits !== 256) fail('OperationError', 'AES key length must be 128, 192 or 256 bits');
  return bits;
}

const b64url = (bytes) => enc.b64encode(bytes, 'rawurl');
function fromB64url(s, field) {
  if (typeof s !== 'string') fail('DataError', `JWK '${field}' is missing`);
  try {
    return enc.b64decode(s.replace(/=+$/, ''), 'rawurl');
  } catch (e) {
    return fail('DataError', `JWK '${field}' is not base64url`);
  }
}

// The JWK `alg` of a key, by algorithm and hash or length.
function jwkAlg(alg) {
  const h = alg.hash ? alg.hash.name.replace('SHA-', '') : '';
  switch (alg.name) {
    case 'HMAC': return `HS${h}`;
    case 'RSASSA-PKCS1-v1_5': return `RS${h}`;
    case 'RSA-PSS': return `PS${h}`;
    case 'RSA-OAEP': return h === '1' ? 'RSA-OAEP' : `RSA-OAEP-${h}`;
    default: return `A${alg.length}${alg.name.slice(4)}`;
  }
}

function checkJwk(jwk, kty, extractable, usages) {
  if (jwk === null || typeof jwk !== 'object' || isBuffer(jwk)) throw new TypeError('keyData must be a JWK object for format "jwk"');
  if (jwk.kty !== kty) fail('DataError', `JWK 'kty' must be "${kty}"`);
  if (jwk.ext === false && extractable) fail('DataError', "an extractable key cannot come from a JWK with 'ext' false");
  if (Array.isArray(jwk.key_ops) && !usages.every((u) => jwk.key_ops.includes(u))) {
    fail('DataError', "the usages asked for are not all in the JWK's 'key_ops'");
  }
}

function importSecret(format, data, alg, extractable, usages) {
  let bytes;
  if (format === 'raw') {
    bytes = buffer(data, 'keyData');
  } else if (format === 'jwk' && alg.name !== 'PBKDF2') {
    checkJwk(data, 'oct', extractable, usages);
    bytes = fromB64url(data.k, 'k');
  } else {
    fail('NotSupportedError', `format "${format}" is not supported for ${alg.name} keys`);
  }
  const bits = bytes.byteLength * 8;
  let algorithm;
  if (alg.name === 'HMAC') {
    algorithm = { name: 'HMAC', hash: { name: hashOf(alg) }, length: bits };
    if (bits === 0) fail('DataError', 'an HMAC key cannot be empty');
  } else if (alg.name === 'PBKDF2') {
    if (extractable) fail('SyntaxError', 'a PBKDF2 key cannot be extractable');
    algorithm = { name: 'PBKDF2' };
  } else {
    if (bits !== 128 && bits !== 192 && bits !== 256) fail('DataError', `an AES key is 128, 192 or 256 bits long, not ${bits}`);
    algorithm = { name: alg.name, length: bits };
  }
  if (format === 'jwk' && data.alg !== undefined && data.alg !== jwkAlg(algorithm)) {
    fail('DataError', `JWK 'alg' "${data.alg}" does not match ${jwkAlg(algorithm)}`);
  }
  const kept = usagesFor(alg.name, 'secret', usages, allUsages(alg.name));
  return makeKey('secret', extractable, algorithm, kept, { bytes });
}

// A key of `parts` from a native; `allowed` are the usages the caller may ask for (both halves'
// for a generated pair, the key's own for an import).
function ecKey(alg, [priv, key, raw], extractable, usages, allowed) {
  const type = priv ? 'private' : 'public';
  const kept = usagesFor(alg.name, type, usages, allowed || USAGES[alg.name][priv ? 0 : 1]);
  return makeKey(type, extractable, { name: alg.name, namedCurve: alg.namedCurve }, kept, { key, raw });
}

function rsaKey(alg, hash, [priv, key, spki, bits, e], extractable, usages, allowed) {
  const type = priv ? 'private' : 'public';
  const algorithm = { name: alg.name, modulusLength: bits, publicExponent: new Uint8Array(e), hash: { name: hash } };
  const kept = usagesFor(alg.name, type, usages, allowed || USAGES[alg.name][priv ? 0 : 1]);
  return makeKey(type, extractable, algorithm, kept, { key, spki });
}

function importKey(format, data, algorithm, extractable, usages) {
  const alg = normalize(algorithm, 'importKey');
  if (!['raw', 'pkcs8', 'spki', 'jwk'].includes(format)) {
    throw new TypeError(`format must be raw, pkcs8, spki or jwk, not "${format}"`);
  }
  if (AES.includes(alg.name) || alg.name === 'HMAC' || alg.name === 'PBKDF2') {
    return importSecret(format, data, alg, extractable, usages);
  }
  if (EC.includes(alg.name)) {
    if (typeof alg.namedCurve !== 'string') throw new TypeError(`${alg.name} needs a 'namedCurve' parameter`);
    let parts;
    if (format === 'jwk') {
      checkJwk(data, 'EC', extractable, usages);
      if (data.crv !== alg.namedCurve) fail('DataError', `JWK 'crv' "${data.crv}" does not match namedCurve ${alg.namedCurve}`);
      const strip = (v, f) => (typeof v === 'string' ? v.replace(/=+$/, '') : fail('DataError', `JWK '${f}' is missing`));
      const d = data.d === undefined ? undefined : strip(data.d, 'd');
      parts = n.ecImportJwk(alg.namedCurve, strip(data.x, 'x'), strip(data.y, 'y'), d);
    } else {
      parts = n.ecImport(alg.namedCurve, format, buffer(data, 'keyData'));
    }
    return ecKey(alg, parts, extractable, usages);
  }
  const hash = hashOf(alg);
  let parts;
  if (format === 'jwk') {
    checkJwk(data, 'RSA', extractable, usages);
    if (data.alg !== undefined && data.alg !== jwkAlg({ name: alg.name, hash: { name: hash } })) {
      fail('DataError', `JWK 'alg' "${data.alg}" does not match ${alg.name} with ${hash}`);
    }
    parts = n.rsaImportJwk(data);
  } else {
    parts = n.rsaImport(format, buffer(data, 'keyData'));
  }
  return rsaKey(alg, hash, parts, extractable, usages);
}

function generateKey(algorithm, extractable, usages) {
  const alg = normalize(algorithm, 'generateKey');
  if (AES.includes(alg.name)) {
    const bits = aesLength(alg.length);
    const kept = usagesFor(alg.name, 'secret', usages, allUsages(alg.name));
    return makeKey('secret', extractable, { name: alg.name, length: bits }, kept, { bytes: n.randomBytes(bits / 8) });
  }
  if (alg.name === 'HMAC') {
    const hash = hashOf(alg);
    const bits = alg.length === undefined ? blockBits(hash) : Number(alg.length);
    if (!(bits > 0)) fail('OperationError', 'HMAC key length must be a positive number of bits');
    const kept = usagesFor('HMAC', 'secret', usages, allUsages('HMAC'));
    return makeKey('secret', extractable, { name: 'HMAC', hash: { name: hash }, length: bits }, kept, { bytes: n.randomBytes(Math.ceil(bits / 8)) });
  }
  const all = allUsages(alg.name);
  let priv;
  let pub;
  if (EC.includes(alg.name)) {
    if (typeof alg.namedCurve !== 'string') throw new TypeError(`${alg.name} needs a 'namedCurve' parameter`);
    const [, key, raw] = n.ecGenerate(alg.namedCurve);
    priv = ecKey(alg, [true, key, raw], extractable, usages, all);
    pub = ecKey(alg, [false, raw, raw], true, usages, all);
  } else {
    const hash = hashOf(alg);
    if (!isBuffer(alg.publicExponent)) throw new TypeError(`${alg.name} needs a 'publicExponent' Uint8Array`);
    const bits = Number(alg.modulusLength);
    if (!(bits >= 256 && bits <= 16384 && bits % 8 === 0)) fail('OperationError', 'modulusLength must be a multiple of 8 from 256 to 16384');
    const [, key, spki, len, e] = n.rsaGenerate(bits, copy(alg.publicExponent));
    priv = rsaKey(alg, hash, [true, key, spki, len, e], extractable, usages, all);
    pub = rsaKey(alg, hash, [false, spki, spki, len, e], true, usages, all);
  }
  return { privateKey: priv, publicKey: pub };
}

function exportKey(format, key) {
  if (!(key instanceof CryptoKey) || !key[MATERIAL]) throw new TypeError('key must be a CryptoKey');
  if (!['raw', 'pkcs8', 'spki', 'jwk'].includes(format)) throw new TypeError(`format must be raw, pkcs8, spki or jwk, not "${format}"`);
  if (!key.extractable) fail('InvalidAccessError', 'the key is not extractable');
  const alg = key.algorithm;
  const m = key[MATERIAL];
  if (key.type === 'secret') {
    if (alg.name === 'PBKDF2') fail('NotSupportedError', 'PBKDF2 keys cannot be exported');
    if (format === 'raw') return m.bytes.slice(0);
    if (format !== 'jwk') fail('NotSupportedError', `a ${alg.name} key cannot be exported as "${format}"`);
    return { kty: 'oct', ext: key.extractable, key_ops: key.usages.slice(), alg: jwkAlg(alg), k: b64url(m.bytes) };
  }
  const priv = key.type === 'private';
  if (EC.includes(alg.name)) {
    if (format !== 'jwk') return n.ecExport(alg.namedCurve, format, m.key, priv);
    const [x, y, d] = n.ecJwk(alg.namedCurve, m.key, priv);
    const jwk = { kty: 'EC', crv: alg.namedCurve, x, y };
    if (d !== undefined) jwk.d = d;
    return Object.assign(jwk, { ext: key.extractable, key_ops: key.usages.slice() });
  }
  if (format === 'jwk') {
    return Object.assign({ kty: 'RSA' }, n.rsaJwk(m.key, priv), { alg: jwkAlg(alg), ext: key.extractable, key_ops: key.usages.slice() });
  }
  if (format === (priv ? 'pkcs8' : 'spki')) return m.key.slice(0);
  return fail('InvalidAccessError', `a ${key.type} ${alg.name} key cannot be exported as "${format}"`);
}

function sign(algorithm, key, data) {
  const alg = normalize(algorithm, 'sign');
  const m = checkKey(key, alg.name, 'sign');
  buffer(data, 'data');
  switch (alg.name) {
    case 'HMAC': return n.hmacSign(key.algorithm.hash.name, m.bytes, data);
    case 'ECDSA': return n.ecdsaSign(key.algorithm.namedCurve, hashOf(alg), m.key, data);
    default: return n.rsaSign(alg.name, key.algorithm.hash.name, m.key, data, saltLength(alg));
  }
}

function verify(algorithm, key, signature, data) {
  const alg = normalize(algorithm, 'verify');
  const m = checkKey(key, alg.name, 'verify');
  buffer(signature, 'signature');
  buffer(data, 'data');
  switch (alg.name) {
    case 'HMAC': return n.hmacVerify(key.algorithm.hash.name, m.bytes, signature, data);
    case 'ECDSA': return n.ecdsaVerify(key.algorithm.namedCurve, hashOf(alg), m.raw, signature, data);
    default: return n.rsaVerify(alg.name, key.algorithm.hash.name, m.key, signature, data, saltLength(alg));
  }
}

function saltLength(alg) {
  if (alg.name !== 'RSA-PSS') return 0;
  if (typeof alg.saltLength !== 'number' || alg.saltLength < 0) throw new TypeError("RSA-PSS needs a 'saltLength' parameter");
  return alg.saltLength;
}

function crypt(encrypt, algorithm, key, data) {
  const alg = normalize(algorithm, encrypt ? 'encrypt' : 'decrypt');
  const m = checkKey(key, alg.name, encrypt ? 'encrypt' : 'decrypt');
  buffer(data, 'data');
  if (alg.name === 'RSA-OAEP') {
    const label = alg.label === undefined ? new Uint8Array(0) : buffer(alg.label, 'label');
    return n.rsaOaep(encrypt, key.algorithm.hash.name, m.key, data, label);
  }
  let iv;
  let aad = new Uint8Array(0);
  if (alg.name === 'AES-CTR') {
    iv = buffer(alg.counter, 'counter');
    if (!(alg.length >= 1 && alg.length <= 128)) fail('OperationError', 'AES-CTR length must be from 1 to 128 bits');
  } else {
    iv = buffer(alg.iv, 'iv');
  }
  if (alg.name === 'AES-GCM') {
    if (alg.additionalData !== undefined) aad = buffer(alg.additionalData, 'additionalData');
    const tag = alg.tagLength === undefined ? 128 : alg.tagLength;
    if (tag !== 128) {
      if ([32, 64, 96, 104, 112, 120].includes(tag)) fail('NotSupportedError', 'brunt supports AES-GCM with 128-bit tags only');
      fail('OperationError', `invalid AES-GCM tagLength ${tag}`);
    }
  }
  return n.aes(alg.name, encrypt, m.bytes, iv, aad, data);
}

function deriveBits(alg, key, length, usage) {
  const m = checkKey(key, alg.name, usage);
  if (alg.name === 'ECDH') {
    const peer = alg.public;
    if (!(peer instanceof CryptoKey) || peer.type !== 'public') fail('InvalidAccessError', "ECDH needs the other party's public key as 'public'");
    if (peer.algorithm.name !== 'ECDH' || peer.algorithm.namedCurve !== key.algorithm.namedCurve) {
      fail('InvalidAccessError', "the 'public' key must be an ECDH key on the same curve");
    }
    const secret = new Uint8Array(n.ecdh(key.algorithm.namedCurve, m.key, peer[MATERIAL].raw));
    if (length === null || length === undefined) return secret.buffer;
    if (length > secret.length * 8) fail('OperationError', `ECDH on ${key.algorithm.namedCurve} derives at most ${secret.length * 8} bits`);
    const out = secret.slice(0, Math.ceil(length / 8));
    if (length % 8) out[out.length - 1] &= 0xff << (8 - (length % 8));
    return out.buffer;
  }
  const hash = hashOf(alg);
  const salt = buffer(alg.salt, 'salt');
  if (length === null || length === undefined || length % 8 !== 0 || length <= 0) {
    fail('OperationError', 'PBKDF2 length must be a positive multiple of 8');
  }
  if (!(alg.iterations > 0)) fail('OperationError', 'PBKDF2 iterations must be more than 0');
  return n.pbkdf2(hash, m.bytes, salt, alg.iterations, length);
}

function deriveKey(algorithm, key, derivedKeyType, extractable, usages) {
  const alg = normalize(algorithm, 'deriveKey');
  const target = normalize(derivedKeyType, 'derivedKey');
  const bits = target.name === 'HMAC'
    ? (target.length === undefined ? blockBits(hashOf(target)) : Number(target.length))
    : aesLength(target.length);
  const raw = deriveBits(alg, key, bits, 'deriveKey');
  return importKey('raw', raw, target, extractable, usages);
}

export class SubtleCrypto {
  digest(algorithm, data) {
    return settle(() => n.digest(normalize(algorithm, 'digest').name, buffer(data, 'data')));
  }
  generateKey(algorithm, extractable, keyUsages) {
    return settle(() => generateKey(algorithm, Boolean(extractable), keyUsages));
  }
  importKey(format, keyData, algorithm, extractable, keyUsages) {
    return settle(() => importKey(format, keyData, algorithm, Boolean(extractable), keyUsages));
  }
  exportKey(format, key) {
    return settle(() => exportKey(format, key));
  }
  sign(algorithm, key, data) {
    return settle(() => sign(algorithm, key, data));
  }
  verify(algorithm, key, signature, data) {
    return settle(() => verify(algorithm, key, signature, data));
  }
  encrypt(algorithm, key, data) {
    return settle(() => crypt(true, algorithm, key, data));
  }
  decrypt(algorithm, key, data) {
    return settle(() => crypt(false, algorithm, key, data));
  }
  deriveBits(algorithm, baseKey, length) {
    return settle(() => deriveBits(normalize(algorithm, 'deriveBits'), baseKey, length, 'deriveBits'));
  }
  deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
    return settle(() => deriveKey(algorithm, baseKey, derivedKeyType, Boolean(extractable), keyUsages));
  }
}

const INTEGER_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

export class Crypto {
  get subtle() { return subtle; }
  getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || !INTEGER_ARRAYS.includes(array.constructor.name)) {
      fail('TypeMismatchError', "typedArray parameter isn't an integer TypedArray instance");
    }
    if (array.byteLength > 65536) fail('QuotaExceededError', 'typedArray parameter is too big; maximum length is 65536');
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(new Uint8Array(n.randomBytes(array.byteLength)));
    return array;
  }
  randomUUID() {
    return n.randomUUID();
  }
}

const subtle = new SubtleCrypto();
export const crypto = new Crypto();
