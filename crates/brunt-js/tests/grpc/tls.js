// connect()'s tls param against tests/grpc/server.py's TLS port (TLS_ADDR), which asks for a
// client certificate signed by its own CA (CERTS: the folder of the PEM files it made): the CA
// trusted through `cacerts`, a client certificate with a plain key and with a key encrypted under
// a password; refused without the certificate, without the CA and with a wrong password; k6's
// errors for bad values. It runs under k6 v1.1 as well.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

export const options = {
  scenarios: { s: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } },
};

const dir = __ENV.CERTS;
const ca = open(`${dir}/ca.pem`);
const cert = open(`${dir}/client.pem`);
const key = open(`${dir}/client.key`);
const encrypted = open(`${dir}/client-enc.key`);
const client = new grpc.Client();
client.load(['../../../brunt-target/src/grpc'], 'hello.proto');

// The reply to SayHello over a connection with these tls params, or the error.
function hello(tls) {
  try {
    client.connect(__ENV.TLS_ADDR, { tls, timeout: '5s' });
    const r = client.invoke('hello.HelloService/SayHello', { greeting: 'tls' });
    return r.status === grpc.StatusOK ? r.message.reply : `status ${r.status}: ${r.error && r.error.message}`;
  } catch (e) {
    return String(e);
  } finally {
    client.close();
  }
}

function thrown(tls) {
  try {
    client.connect(__ENV.TLS_ADDR, { tls });
  } catch (e) {
    return String(e);
  } finally {
    client.close();
  }
  return '';
}

export default function () {
  check(hello({ cacerts: [ca], cert, key }), { 'client certificate: the call goes through': (r) => r === 'hello tls' });
  check(hello({ cacerts: ca, cert, key: encrypted, password: 'k6-secret' }), {
    'encrypted key and its password: the call goes through': (r) => r === 'hello tls',
  });
  check(hello({ cacerts: [ca] }), { 'no client certificate: refused': (r) => r !== 'hello tls' });
  check(hello({ cert, key }), { 'the CA not trusted: refused': (r) => r !== 'hello tls' });
  check(thrown({ cacerts: [ca], cert, key: encrypted, password: 'wrong' }), {
    'a wrong password: k6\'s error': (e) => e.includes('x509: decryption password incorrect'),
  });
  check(thrown({ cacerts: ['nope'] }), {
    'a CA that is not PEM: k6\'s error': (e) => e.includes('failed to append ca certificate [0] from PEM'),
  });
  check(thrown('x'), { 'tls not an object': (e) => e.includes('invalid tls value') });
  check(thrown({ cert: 5 }), { 'cert not a string': (e) => e.includes('invalid tls cert value') });
  check(thrown({ cacerts: [5] }), { 'cacerts not strings': (e) => e.includes('invalid tls cacerts value') });
}
