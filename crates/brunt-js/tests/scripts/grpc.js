// k6/net/grpc against the target's gRPC services (its own port, HTTP/2 cleartext): .proto
// loading, reflection, unary calls with metadata and a status error, a server stream, and the
// grpc_* metrics with k6's tags (checked by the thresholds).
import grpc from 'k6/net/grpc';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: {
    'grpc_req_duration{method:SayHello,service:hello.HelloService,status:0}': ['max>=0'],
    'grpc_req_duration{name:/hello.Probe/Echo,status:5}': ['max>=0'],
    'grpc_req_duration{name:greet}': ['max>=0'],
    grpc_streams: ['count==1'],
    grpc_streams_msgs_sent: ['count==1'],
    grpc_streams_msgs_received: ['count==10'],
  },
};

const ADDR = __ENV.BASE_URL.replace('http://', '');
const loaded = new grpc.Client();
const methods = loaded.load(['../../../brunt-target/src/grpc'], 'hello.proto');
const reflected = new grpc.Client();

export default function () {
  check(methods, {
    'load lists five methods': (m) => m.length === 5,
    'with k6 names': (m) => JSON.stringify(m[0]) === '{"package":"hello","service":"HelloService","full_method":"/hello.HelloService/SayHello","name":"SayHello","is_client_stream":false,"is_server_stream":false}',
  });
  loaded.connect(ADDR, { plaintext: true });
  const r = loaded.invoke('hello.HelloService/SayHello', { greeting: 'k6' }, { metadata: { 'x-a': 'b' } });
  check(r, {
    'unary OK': (x) => x.status === grpc.StatusOK,
    'unary reply': (x) => JSON.stringify(x.message) === '{"reply":"hello k6"}',
    'no error': (x) => x.error === null || x.error === undefined,
  });
  const e = loaded.invoke('hello.Probe/Echo', { message: 'gone', status: 5 });
  check(e, {
    'status error': (x) => x.status === grpc.StatusNotFound,
    'error object': (x) => x.error.code === 5 && x.error.message === 'gone',
  });
  let missing = '';
  try {
    loaded.invoke('hello.Nope/Call', {});
  } catch (err) {
    missing = String(err.message || err);
  }
  check(missing, { 'unknown method named': (m) => m.includes('method "/hello.Nope/Call" not found in file descriptors') });
  loaded.close();

  reflected.connect(ADDR, { plaintext: true, reflect: true });
  const rr = reflected.invoke('/hello.HelloService/SayHello', { greeting: 'r' }, { tags: { name: 'greet' } });
  check(rr, { 'reflection finds methods': (x) => x.message.reply === 'hello r' });

  let replies = 0;
  let ended = false;
  const s = new grpc.Stream(reflected, 'hello.HelloService/LotsOfReplies');
  s.on('data', (m) => { if (m.reply === 'hello s') replies += 1; });
  s.on('end', () => {
    ended = true;
    check(replies, { 'server stream gives ten': (n) => n === 10 });
    reflected.close();
  });
  s.write({ greeting: 's' });
}
