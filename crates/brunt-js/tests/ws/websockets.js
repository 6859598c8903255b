// k6/websockets against tests/ws/server.py (WS_URL, and BAD_URL for the port that breaks the
// protocol): several sockets of one VU at once, each checked in its close handler: k6's close
// code rules, the server's close codes and pings, headers, cookies and subprotocols, failed
// handshakes and invalid frames, and the constructor's and setters' errors.
import http from 'k6/http';
import { WebSocket, Blob } from 'k6/websockets';
import { check } from 'k6';

export const options = {
  scenarios: { ws: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } },
  thresholds: {
    ws_sessions: ['count==8'],
    'ws_sessions{status:101}': ['count==5'],
    'ws_sessions{status:403}': ['count==1'],
    'ws_sessions{subproto:chat}': ['count==1'],
    'ws_msgs_received{room:a}': ['count==3'],
    'ws_session_duration{room:a}': ['max>0'],
  },
};

const base = __ENV.WS_URL;
const httpBase = base.replace(/^ws/, 'http');

function throws(f) {
  try {
    f();
  } catch (e) {
    return String(e);
  }
  return '';
}

export default function () {
  // Echo, with a subprotocol; k6's close code rules on the way out.
  const a = new WebSocket(`${base}/echo`, 'chat', { tags: { room: 'a' } });
  check(a, { 'send before open: InvalidStateError': (s) => throws(() => s.send('x')).includes('InvalidStateError') });
  check(a, {
    'handlers read null until set': (s) => s.onmessage === null && s.onpong === null,
    'no extensions before the open': (s) => Array.isArray(s.extensions) && s.extensions.length === 0,
  });
  const got = [];
  a.binaryType = 'arraybuffer';
  a.onopen = () => {
    check(a, {
      'constants on the class and instances': (s) =>
        s.readyState === WebSocket.OPEN && s.OPEN === 1 && WebSocket.CLOSED === 3,
    });
    a.send('one');
    a.send('two');
    a.send(new Blob(['thr', new Uint8Array([101, 101])]));
  };
  a.onmessage = (e) => {
    got.push(typeof e.data === 'string' ? e.data : `[${new TextDecoder().decode(e.data)}]`);
    if (got.length < 3) return;
    check(a, {
      'close(1001): InvalidAccessError': (s) =>
        throws(() => s.close(1001)).includes('InvalidAccessError') && s.readyState === 1,
      'close(1000, long reason): SyntaxError': (s) =>
        throws(() => s.close(1000, 'x'.repeat(124))).includes('SyntaxError'),
    });
    a.close(3001, 'bye');
    check(a, { 'closing': (s) => s.readyState === WebSocket.CLOSING });
  };
  a.onclose = (e) => {
    check(e, {
      'echo: messages (a Blob sent as binary)': () => got.join(' ') === 'one two [three]',
      'echo: subprotocol': () => a.protocol === 'chat',
      'echo: the close code echoed': (ev) => ev.code === 3001 && ev.reason === 'bye',
    });
  };

  // The server closes with 1011: an error, then the close with its code and reason.
  const events = [];
  const b = new WebSocket(`${base}/close1011`);
  b.onerror = (e) => events.push(e.error);
  b.onclose = (e) => {
    events.push(`close ${e.code} ${e.reason}`);
    check(events, {
      'close 1011: error then close': (x) =>
        x.join('|') === 'websocket: close 1011 (internal server error): boom|close 1011 boom',
    });
  };

  // The server pings: onping fires (the pong is sent for it), then its message.
  const c = new WebSocket(`${base}/ping`);
  let pinged = false;
  c.onping = () => {
    pinged = true;
  };
  c.onmessage = (e) => {
    check(e, { 'ping: onping before the message': (ev) => pinged && ev.data === 'done' });
    c.close();
  };

  // Headers and the VU's cookie jar go with the handshake.
  http.cookieJar().set(httpBase, 'k', 'v');
  const d = new WebSocket(`${base}/hdr`, null, { headers: { 'X-Test': 'yes' } });
  d.onmessage = (e) => {
    const [x, ua, cookie] = e.data.split('|');
    check(e, {
      'headers: X-Test': () => x === 'yes',
      'headers: User-Agent': () => ua.length > 0,
      'headers: the jar cookie': () => cookie.includes('k=v'),
    });
  };

  // A refused handshake (403), nothing listening, a hang-up mid-handshake: each an error then a
  // close, no open; an invalid frame after the handshake: the open, then an error and the close.
  for (const [name, url, expected] of [
    ['403', `${base}/reject`, 'error close'],
    ['refused', 'ws://127.0.0.1:1/', 'error close'],
    ['hangup', `${__ENV.BAD_URL}/hangup`, 'error close'],
    ['invalid frame', `${__ENV.BAD_URL}/garbage`, 'open error close'],
  ]) {
    const seen = [];
    const s = new WebSocket(url);
    s.onopen = () => seen.push('open');
    s.onerror = (e) => seen.push(e.error === '' ? 'no message' : 'error');
    s.onclose = () => {
      seen.push('close');
      check(seen, { [`${name}: ${expected}`]: (x) => x.join(' ') === expected });
    };
  }

  // Bad arguments throw at once, with k6's words.
  check(null, {
    'no url': () => throws(() => new WebSocket()).includes('WebSocket requires a url'),
    'fragment': () => throws(() => new WebSocket(`${base}/echo#x`)).includes('no url fragment'),
    'unknown option': () =>
      throws(() => new WebSocket(`${base}/echo`, null, { nope: 1 })).includes("unknown WebSocket's option nope"),
    'compression': () =>
      throws(() => new WebSocket(`${base}/echo`, null, { compression: 'gzip' })).includes(
        "unsupported compression algorithm 'gzip'",
      ),
    'binaryType': () => throws(() => { a.binaryType = 'text'; }).includes('unknown binaryType text'),
    'onmessage not callable': () =>
      throws(() => { a.onmessage = 5; }).includes("a value for 'onmessage' should be callable"),
    'listener not callable': () =>
      throws(() => a.addEventListener('message', 5)).includes("isn't a callable function"),
    'an unknown event type is ignored': () => throws(() => a.addEventListener('toString', () => {})) === '',
    'a handler set to null reads null': () => {
      a.onpong = () => {};
      a.onpong = null;
      return a.onpong === null;
    },
  });
}
