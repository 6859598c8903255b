// k6/net/grpc against a server of hello.proto's services (brunt target's, or tests/grpc/server.py):
// load, connect, invoke, asyncInvoke, healthCheck, metadata, statuses, limits and bad input.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

export const options = {
  thresholds: {
    'grpc_req_duration{name:custom}': ['max>=0'],
    'grpc_req_duration{method:SayHello,status:0}': ['max>=0'],
    'grpc_req_duration{service:hello.Probe,status:5}': ['max>=0'],
  },
};

const ADDR = __ENV.GRPC_ADDR;
const client = new grpc.Client();
const methods = client.load(['../../../brunt-target/src/grpc'], 'hello.proto');

// Bad input, caught in the init context to be checked below.
const bad = new grpc.Client();
let badProto = '';
try {
  bad.load(['data'], 'bad.proto');
} catch (e) {
  badProto = e.message;
}
let missingProto = '';
try {
  bad.load([], 'no-such.proto');
} catch (e) {
  missingProto = e.message;
}

export default async function () {
  check(methods, {
    'load lists the methods': (m) => m.length === 5
      && m[0].full_method === '/hello.HelloService/SayHello' && m[0].package === 'hello'
      && m[0].service === 'HelloService',
    'a bad .proto names file and line': () => badProto.startsWith('bad.proto:3:'),
    'a missing .proto is named': () => missingProto.includes('no-such.proto'),
  });
  let connectErr = '';
  try {
    client.invoke('hello.HelloService/SayHello', {});
  } catch (e) {
    connectErr = e.message;
  }
  check(connectErr, { 'invoke before connect fails': (e) => e === 'no gRPC connection, you must call connect first' });

  check(client.connect(ADDR, { plaintext: true, timeout: '5s' }), { 'connect is true': (r) => r === true });

  const res = client.invoke('hello.HelloService/SayHello', { greeting: 'Bert' });
  check(res, {
    'unary is OK': (r) => r.status === grpc.StatusOK && r.error === null,
    'unary replies': (r) => r.message.reply === 'hello Bert',
    'headers are arrays': (r) => r.headers['content-type'][0].startsWith('application/grpc'),
  });

  const echo = client.invoke('hello.Probe/Echo', { message: 'hi', size: 3 }, {
    metadata: { 'x-trace': 'abc' }, tags: { name: 'custom' },
  });
  check(echo, {
    'int64 comes as a string': (r) => r.message.size === '3',
    'bytes come in base64': (r) => r.message.payload === 'eHh4',
    'metadata goes out and back': (r) => r.headers['x-trace'] && r.headers['x-trace'][0] === 'abc',
  });

  const failed = client.invoke('hello.Probe/Echo', { message: 'nope', status: 5 });
  check(failed, {
    'a status error is the response': (r) => r.status === grpc.StatusNotFound,
    'its error object is k6s': (r) => r.error.code === 5 && r.error.message === 'nope',
    'its message has the defaults': (r) => r.message && r.message.size === '0' && r.message.message === '',
  });

  const late = client.invoke('hello.Probe/Echo', { delayMs: 3000 }, { timeout: '200ms' });
  check(late, { 'a timeout is DeadlineExceeded': (r) => r.status === grpc.StatusDeadlineExceeded });

  const throws = (f) => { try { f(); return ''; } catch (e) { return e.message; } };
  check(null, {
    'an unknown method is named': () => throws(() => client.invoke('hello.Nope/Call', {}))
      === 'method "/hello.Nope/Call" not found in file descriptors',
    'a bad field is refused': () => throws(() => client.invoke('hello.HelloService/SayHello', { nope: 1 }))
      .startsWith('unable to serialise request object to protocol buffer:'),
    'a bad param is refused': () => throws(() => client.invoke('hello.HelloService/SayHello', {}, { bogus: 1 }))
      === 'invalid GRPC\'s client.invoke() parameters: unknown param: "bogus"',
    'a bad connect param is refused': () => throws(() => client.connect(ADDR, { plaintext: 'yes' }))
      .startsWith('invalid grpc.connect() parameters: invalid plaintext value'),
  });

  const [a, b] = await Promise.all([
    client.asyncInvoke('hello.HelloService/SayHello', { greeting: 'a' }),
    client.asyncInvoke('hello.HelloService/SayHello', { greeting: 'b' }),
  ]);
  check([a, b], { 'asyncInvoke resolves': ([x, y]) => x.message.reply === 'hello a' && y.message.reply === 'hello b' });

  // k6 has healthCheck from v1.2; this also runs under k6 v1.1 to compare.
  if (typeof client.healthCheck === 'function') {
    check(client.healthCheck(), { 'the server is serving': (r) => r.status === grpc.HealthCheckServing });
  }
  client.close();

  // A small receive limit: the answer is refused with grpc-go's words.
  client.connect(ADDR, { plaintext: true, maxReceiveSize: 100 });
  const big = client.invoke('hello.Probe/Echo', { size: 500 });
  check(big, {
    'over maxReceiveSize is ResourceExhausted': (r) => r.status === grpc.StatusResourceExhausted
      && r.error.message.startsWith('grpc: received message larger than max ('),
  });
  client.close();
}
