// k6's examples/webcrypto as checks: known-answer digests and HMACs, AES with fixed keys and IVs,
// ECDSA/RSA sign-then-verify, ECDH agreement, import/export round trips, WebCrypto's errors.
import { check } from 'k6';
import { b64decode } from 'k6/encoding';
import k6crypto from 'k6/crypto';

export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };

const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const bytes = (s) => Uint8Array.from(s.split(''), (c) => c.charCodeAt(0));
const errName = (p) => p.then(() => 'resolved', (e) => e.name);
const s = crypto.subtle;

export default async function () {
  check(null, {
    'randomUUID is a v4 UUID': () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
    'getRandomValues fills and returns its array': () => crypto.getRandomValues(new Uint32Array(10)).length === 10,
    'k6/crypto md4': () => k6crypto.md4('abc', 'hex') === 'a448017aaf21d8525fc10ae87aa6729d',
    'k6/crypto ripemd160': () => k6crypto.ripemd160('abc', 'hex') === '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc',
    'k6/crypto hexEncode': () => k6crypto.hexEncode('hi') === '6869' && k6crypto.hexEncode(new Uint8Array([1, 255]).buffer) === '01ff',
    'k6/crypto sha256 of a Uint8Array': () => k6crypto.sha256(new Uint8Array([97, 98, 99]), 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  });
  let quota = '';
  try { crypto.getRandomValues(new Uint8Array(70000)); } catch (e) { quota = e.message; }
  check(quota, { 'getRandomValues refuses more than 65536 bytes': (m) => m.includes('65536') });

  const sha256 = hex(await s.digest('SHA-256', bytes('Hello, world!')));
  const sha1 = hex(await s.digest({ name: 'sha-1' }, bytes('abc')));
  const sha512 = hex(await s.digest('SHA-512', bytes('abc')));
  check(null, {
    'digest SHA-256': () => sha256 === '315f5bdb76d078c43b8ac0064e4a0164612b1fce77c869345bfc94c75894edd3',
    'digest SHA-1': () => sha1 === 'a9993e364706816aba3e25717850c26c9cd0d89d',
    'digest SHA-512': () => sha512.startsWith('ddaf35a193617aba'),
  });
  check(await errName(s.digest('MD5', bytes('x'))), { 'digest MD5 is NotSupportedError': (n) => n === 'NotSupportedError' });

  const hkey = await s.importKey('raw', bytes('key'), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);
  const mac = await s.sign('HMAC', hkey, bytes('The quick brown fox jumps over the lazy dog'));
  check(null, {
    'HMAC SHA-256 known answer': () => hex(mac) === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
  });
  check(await s.verify('HMAC', hkey, mac, bytes('other')), { 'HMAC verify of other data is false': (v) => v === false });
  const hjwk = await s.exportKey('jwk', hkey);
  check(hjwk, { 'HMAC jwk export': (j) => j.kty === 'oct' && j.alg === 'HS256' && j.k === 'a2V5' });

  // import-raw-base64-decrypt.js and import-jwk-base64-decrypt.js
  const sealed = new Uint8Array(b64decode('whzEN310mrlWIH/icf0dMquRZ2ENyfOzkvPuu92WR/9F8dbeFM8EGUVNIhaS'));
  const gkey = await s.importKey('raw', new Uint8Array([109, 151, 76, 33, 232, 253, 176, 90, 94, 40, 146, 227, 139, 208, 245, 139,
    69, 215, 55, 197, 43, 122, 160, 178, 228, 104, 4, 115, 138, 159, 119, 49]), { name: 'AES-GCM', length: '256' }, true, ['decrypt']);
  const plain = await s.decrypt({ name: 'AES-GCM', iv: new Uint8Array(sealed.subarray(0, 12)) }, gkey, new Uint8Array(sealed.subarray(12)));
  check(String.fromCharCode(...new Uint8Array(plain)), { 'AES-GCM decrypts the example': (t) => t === 'my secret message' });
  const jsealed = new Uint8Array(b64decode('drCfxl4O+5FcrHe8Bs0CvKlw3gZpv+S5if3zn7c4BJzHJ35QDFV4sJB0pbDT'));
  const jkey = await s.importKey('jwk', { kty: 'oct', ext: true, key_ops: ['decrypt', 'encrypt'], alg: 'A256GCM', k: '9Id_8iG6FkGOWmc1S203vGVnTExtpDGxdQN7v7OV9Uc' },
    { name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const jplain = await s.decrypt({ name: 'AES-GCM', iv: new Uint8Array(jsealed.subarray(0, 12)) }, jkey, new Uint8Array(jsealed.subarray(12)));
  check(String.fromCharCode(...new Uint8Array(jplain)), { 'AES-GCM with a JWK key decrypts the example': (t) => t === 'my secret message' });
  check(await errName(s.decrypt({ name: 'AES-GCM', iv: new Uint8Array(sealed.subarray(0, 12)) }, jkey, new Uint8Array(sealed.subarray(12)))),
    { 'AES-GCM with the wrong key is OperationError': (n) => n === 'OperationError' });
  check(await errName(s.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, gkey, bytes('x'))),
    { 'encrypt without the usage is InvalidAccessError': (n) => n === 'InvalidAccessError' });

  // AES-CBC and AES-CTR with fixed keys and IVs (NIST SP 800-38A F.2.1 and F.5.1, first block)
  const nistKey = new Uint8Array([0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c]);
  const block = new Uint8Array([0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a]);
  const cbcKey = await s.importKey('raw', nistKey, 'AES-CBC', true, ['encrypt', 'decrypt']);
  const cbcIv = Uint8Array.from({ length: 16 }, (_, i) => i);
  const cbc = await s.encrypt({ name: 'AES-CBC', iv: cbcIv }, cbcKey, block);
  const ctrKey = await s.importKey('raw', nistKey, 'AES-CTR', true, ['encrypt', 'decrypt']);
  const counter = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  const ctr = await s.encrypt({ name: 'AES-CTR', counter, length: 64 }, ctrKey, block);
  check(null, {
    'AES-CBC known answer (with a padding block)': () => hex(cbc).startsWith('7649abac8119b246cee98e9b12e9197d') && cbc.byteLength === 32,
    'AES-CTR known answer': () => hex(ctr) === '874d6191b620e3261bef6864990db6ce',
  });
  const cbcBack = await s.decrypt({ name: 'AES-CBC', iv: cbcIv }, cbcKey, cbc);
  check(hex(cbcBack), { 'AES-CBC round trip': (h) => h === hex(block) });
  const aesJwk = await s.exportKey('jwk', cbcKey);
  check(aesJwk, { 'AES jwk export': (j) => j.alg === 'A128CBC' && j.k === 'K34VFiiu0qar9xWICc9PPA' });
  check(await errName(s.importKey('raw', new Uint8Array(7), 'AES-CBC', true, ['encrypt'])),
    { 'a 7-byte AES key is DataError': (n) => n === 'DataError' });

  // ECDSA: verify-spki-ecdsa-valid.js's vector, then sign-then-verify on each curve.
  for (const curve of ['P-256', 'P-384', 'P-521']) {
    const pair = await s.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify']);
    const sig = await s.sign({ name: 'ECDSA', hash: 'SHA-384' }, pair.privateKey, bytes('Hello World'));
    const ok = await s.verify({ name: 'ECDSA', hash: 'SHA-384' }, pair.publicKey, sig, bytes('Hello World'));
    const bad = await s.verify({ name: 'ECDSA', hash: 'SHA-384' }, pair.publicKey, sig, bytes('Hello world'));
    const spki = await s.exportKey('spki', pair.publicKey);
    const again = await s.importKey('spki', spki, { name: 'ECDSA', namedCurve: curve }, true, ['verify']);
    const jwk = await s.exportKey('jwk', pair.privateKey);
    const fromJwk = await s.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: curve }, true, ['sign']);
    const pkcs8 = await s.exportKey('pkcs8', fromJwk);
    const fromPkcs8 = await s.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve }, true, ['sign']);
    const sig2 = await s.sign({ name: 'ECDSA', hash: 'SHA-384' }, fromPkcs8, bytes('x'));
    check(null, {
      [`ECDSA ${curve} sign then verify`]: () => ok === true && bad === false,
      [`ECDSA ${curve} spki, jwk and pkcs8 round trips`]: () => again.type === 'public' && jwk.crv === curve && fromPkcs8.type === 'private',
      [`ECDSA ${curve} P1363 signature length`]: () => sig2.byteLength === { 'P-256': 64, 'P-384': 96, 'P-521': 132 }[curve],
    });
  }
  check(await errName(s.importKey('raw', new Uint8Array([4, 1, 2]), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])),
    { 'a bad EC point is DataError': (n) => n === 'DataError' });

  // ECDH: both sides agree (derive-bits-ecdh.js), on generated keys.
  const alice = await s.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveKey', 'deriveBits']);
  const bob = await s.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveKey', 'deriveBits']);
  const ab = await s.deriveBits({ name: 'ECDH', public: bob.publicKey }, alice.privateKey, 256);
  const ba = await s.deriveBits({ name: 'ECDH', public: alice.publicKey }, bob.privateKey, 256);
  check(null, { 'ECDH shared secrets agree': () => hex(ab) === hex(ba) && ab.byteLength === 32 });

  // RSA: sign then verify in both schemes, OAEP round trip, spki/pkcs8/jwk exports.
  const rsa = await s.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  const rsig = await s.sign('RSASSA-PKCS1-v1_5', rsa.privateKey, bytes('Hello World'));
  const pss = await s.importKey('pkcs8', await s.exportKey('pkcs8', rsa.privateKey), { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['sign']);
  const pssPub = await s.importKey('spki', await s.exportKey('spki', rsa.publicKey), { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['verify']);
  const psig = await s.sign({ name: 'RSA-PSS', saltLength: 32 }, pss, bytes('Hello World'));
  check(null, {
    'RSASSA-PKCS1-v1_5 signature is the modulus long': () => rsig.byteLength === 128,
    'RSA key algorithm': () => rsa.privateKey.algorithm.modulusLength === 1024 && rsa.publicKey.algorithm.hash.name === 'SHA-256',
  });
  check(await s.verify('RSASSA-PKCS1-v1_5', rsa.publicKey, rsig, bytes('Hello World')), { 'RSASSA-PKCS1-v1_5 verifies': (v) => v === true });
  check(await s.verify({ name: 'RSA-PSS', saltLength: 32 }, pssPub, psig, bytes('Hello World')), { 'RSA-PSS verifies': (v) => v === true });
  const rjwk = await s.exportKey('jwk', rsa.publicKey);
  check(rjwk, { 'RSA public jwk': (j) => j.kty === 'RSA' && j.e === 'AQAB' });
  check(await errName(s.exportKey('spki', rsa.privateKey)), { 'spki export of a private key is InvalidAccessError': (n) => n === 'InvalidAccessError' });
}
