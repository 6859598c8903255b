// k6/net/grpc streams of each kind against a server of hello.proto's services: handlers run on
// the VU's event loop, the iteration ends when the streams have, with k6's stream metrics.
import { Client, Stream } from 'k6/net/grpc';
import { check } from 'k6';

export const options = {
  thresholds: {
    grpc_streams: ['count==4'],
    grpc_streams_msgs_sent: ['count==6'],
    grpc_streams_msgs_received: ['count==13'],
    'grpc_req_duration{method:BidiHello}': ['max>=0'],
  },
};

const client = new Client();
if (!__ENV.GRPC_REFLECT) client.load(['../../../brunt-target/src/grpc'], 'hello.proto');

export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: !!__ENV.GRPC_REFLECT });
  const got = { replies: [], greetings: [], bidi: [], ends: 0, errors: [], order: [] };

  const replies = new Stream(client, 'hello.HelloService/LotsOfReplies');
  replies.on('data', (m, meta) => { got.replies.push(m.reply); got.meta = meta; });
  replies.on('end', () => { got.ends += 1; got.order.push('replies'); });
  replies.write({ greeting: 'x' });

  const greetings = new Stream(client, 'hello.HelloService/LotsOfGreetings');
  greetings.on('data', (m) => got.greetings.push(m.reply));
  greetings.on('end', () => { got.ends += 1; });
  greetings.write({ greeting: 'a' });
  greetings.write({ greeting: 'b' });
  greetings.end();

  const bidi = new Stream(client, 'hello.HelloService/BidiHello', { metadata: { 'x-a': 'b' } });
  bidi.on('data', (m) => {
    got.bidi.push(m.reply);
    if (got.bidi.length === 2) bidi.end();
  });
  bidi.on('end', () => { got.ends += 1; });
  bidi.write({ greeting: 'one' });
  bidi.write({ greeting: 'two' });

  // A stream that fails: a timeout ends it with an error, then 'end'.
  const late = new Stream(client, 'hello.Probe/Echo', { timeout: '100ms' });
  late.on('error', (e) => got.errors.push(e));
  late.on('end', () => { got.ends += 1; got.order.push('late'); });
  late.write({ delayMs: 2000 });

  // Checked once every stream has ended (a timer runs after them).
  setTimeout(() => {
    check(got, {
      'server streaming gives ten replies': (g) => g.replies.length === 10 && g.replies[0] === 'hello x',
      'data handlers get a timestamp': (g) => typeof g.meta.ts === 'number',
      'client streaming gives one reply': (g) => g.greetings.length === 1 && g.greetings[0] === 'hello a, b',
      'bidirectional streaming answers each': (g) => g.bidi.join('|') === 'hello one|hello two',
      'every stream ended': (g) => g.ends === 4,
      'a failed stream reports its error': (g) => g.errors.length === 1 && Number(g.errors[0].code) === 4,
    });
  }, 2500);
}
