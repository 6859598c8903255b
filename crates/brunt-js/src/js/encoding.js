// k6/encoding: base64.
const n = globalThis.__brunt_native('encoding');

export function b64encode(input, encoding) {
  return n.b64encode(input, encoding);
}

export function b64decode(input, encoding, format) {
  return n.b64decode(String(input), encoding, format);
}

export default { b64encode, b64decode };
