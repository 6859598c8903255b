// The browser-like WebSocket API (k6/experimental/websockets, which k6 v1.1 has; brunt also has
// it as k6/websockets) against the target's /ws/echo: two sockets of one VU at once, text,
// ArrayBuffer and typed-array messages, a Blob received, a ping, a timer, listeners and on*
// handlers, a refused handshake and a constructor that refuses a bad URL. (k6 v1.1 sends no
// Blob, has no readyState constants and no `instanceof Blob`; tests/ws/websockets.js covers those.) The checks run in the handlers; the ws_* metrics and
// their tags are checked by the thresholds.
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: {
    ws_sessions: ['count==3'],
    'ws_sessions{status:101}': ['count==2'],
    'ws_sessions{status:404}': ['count==1'],
    'ws_msgs_received{room:a}': ['count==4'],
    'ws_msgs_sent{room:a}': ['count>=5'],
    'ws_msgs_received{room:b}': ['count==1'],
    'ws_ping{room:a}': ['max>=0'],
    ws_connecting: ['max>=0'],
    ws_session_duration: ['max>=0'],
  },
};

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const wsBase = base.replace(/^http/, 'ws');

export default function () {
  const got = [];
  const a = new WebSocket(`${wsBase}/ws/echo`, ['chat'], { tags: { room: 'a' } });
  check(a, {
    'a: connecting at first': (s) => s.readyState === 0,
    'a: url': (s) => s.url === `${wsBase}/ws/echo`,
  });
  a.binaryType = 'arraybuffer';
  let pongs = 0;
  a.onopen = () => {
    check(a, {
      'a: open': (s) => s.readyState === 1,
      'a: subprotocol': (s) => s.protocol === 'chat',
    });
    a.send('hello');
    a.send(new Uint8Array([1, 2, 3]).buffer);
    a.send(new Uint8Array([98, 108, 111, 98]));
    a.ping();
    setTimeout(() => a.send('later'), 10);
  };
  a.onmessage = (e) => {
    got.push(typeof e.data === 'string' ? e.data : new Uint8Array(e.data).join(','));
    if (got.length === 4) a.close();
  };
  a.addEventListener('pong', () => {
    pongs += 1;
  });
  a.onclose = () => {
    check(got, {
      'a: echoed in order': (g) => g.join(' ') === 'hello 1,2,3 98,108,111,98 later',
    });
    check(a, {
      'a: closed': (s) => s.readyState === 3,
      'a: a pong': () => pongs === 1,
    });
  };

  // A second socket of the same VU, open at the same time, with a Blob back by default.
  const b = new WebSocket(`${wsBase}/ws/echo`, null, { tags: { room: 'b' } });
  b.addEventListener('open', () => b.send(new Uint8Array([7, 8]).buffer));
  b.addEventListener('message', (e) => {
    check(e.data, { 'b: a Blob by default': (d) => String(d) === '[object Blob]' && d.size === 2 });
    e.data.arrayBuffer().then((buf) => {
      check(buf, { 'b: its bytes': (x) => new Uint8Array(x).join(',') === '7,8' });
      b.close(1000);
    });
  });

  // A refused handshake: an error, then the close; no open.
  const events = [];
  const c = new WebSocket(`${wsBase}/ws/nope`);
  c.onopen = () => events.push('open');
  c.onerror = (e) => events.push(`error ${e.error !== ''}`);
  c.onclose = () => {
    events.push('close');
    check(events, { 'refused: error then close': (x) => x.join('|') === 'error true|close' });
  };

  let threw = '';
  try {
    new WebSocket(`${base}/ws/echo`);
  } catch (e) {
    threw = String(e);
  }
  check(threw, { 'http: scheme refused': (t) => t.includes('scheme ws or wss') });
}
