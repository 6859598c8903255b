// k6/ws against tests/ws/server.py (WS_URL, and BAD_URL for the port that breaks the protocol): the returned response, the handlers, timers, pings,
// closes and failures, and the ws_* metrics with k6's tags (checked by the thresholds).
import http from 'k6/http';
import ws from 'k6/ws';
import { check, group } from 'k6';

export const options = {
  scenarios: { ws: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } },
  thresholds: {
    ws_sessions: ['count==10'],
    'ws_sessions{status:101}': ['count==7'],
    'ws_sessions{status:403}': ['count==1'],
    'ws_sessions{subproto:chat}': ['count==1'],
    'ws_sessions{group:::g}': ['count==1'],
    'ws_msgs_sent{room:a}': ['count==3'],
    'ws_msgs_received{room:a}': ['count==3'],
    'ws_msgs_sent{group:::g}': ['count==3'],
    'ws_ping{room:a}': ['max>=0'],
  },
};

const base = __ENV.WS_URL;
const httpBase = base.replace(/^ws/, 'http');

export default function () {
  // Text, binary, a ping and a timer; the echoes come back in order.
  const got = [];
  const res = ws.connect(
    `${base}/echo`,
    { tags: { room: 'a' }, headers: { 'Sec-WebSocket-Protocol': 'chat' } },
    (socket) => {
      socket.on('open', () => {
        socket.send('hello');
        socket.sendBinary(new Uint8Array([1, 2, 3]).buffer);
        socket.ping();
        socket.setTimeout(() => socket.send('later'), 10);
      });
      socket.on('message', (m) => {
        got.push(m);
        if (m === 'later') socket.close(1000);
      });
      socket.on('binaryMessage', (b) => got.push(new Uint8Array(b).join(',')));
      socket.on('pong', () => got.push('pong'));
      socket.on('close', (code) => got.push(`close ${code}`));
    },
  );
  check(res, {
    'echo: status 101': (r) => r.status === 101,
    'echo: url': (r) => r.url === `${base}/echo`,
    'echo: no error': (r) => r.error === '',
    'echo: subprotocol header': (r) => r.headers['Sec-Websocket-Protocol'] === 'chat',
  });
  check(got, {
    'echo: messages in order': (g) =>
      g.filter((x) => x !== 'pong').join(' ') === 'hello 1,2,3 later close 1000',
    'echo: pong': (g) => g.includes('pong'),
  });

  // setInterval, in a group.
  group('g', () => {
    const ticks = [];
    let n = 0;
    ws.connect(`${base}/echo`, (socket) => {
      socket.setInterval(() => {
        n += 1;
        if (n <= 3) socket.send(`tick${n}`);
      }, 5);
      socket.on('message', (m) => {
        ticks.push(m);
        if (m === 'tick3') socket.close();
      });
    });
    check(ticks, { 'interval: three ticks': (t) => t.join(' ') === 'tick1 tick2 tick3' });
  });

  // A close from the server that is not normal is an error, then the close.
  const events = [];
  ws.connect(`${base}/close1011`, (socket) => {
    socket.on('error', (e) => events.push(e.error()));
    socket.on('close', (code) => events.push(`close ${code}`));
  });
  check(events, {
    'close 1011: error then close': (e) =>
      e.join('|') === 'websocket: close 1011 (internal server error): boom|close 1011',
  });

  // A refused handshake returns the server's response; the setup function does not run.
  let ran = false;
  const rejected = ws.connect(`${base}/reject`, () => {
    ran = true;
  });
  check(rejected, {
    'reject: status 403': (r) => r.status === 403,
    'reject: body': (r) => r.body === 'nope\n',
    'reject: setup not run': () => !ran,
  });

  // Nothing listening: an error on the response.
  const refused = ws.connect('ws://127.0.0.1:1/', () => {
    ran = true;
  });
  check(refused, {
    'refused: error': (r) => r.error !== '' && r.status === 0,
    'refused: setup not run': () => !ran,
  });

  // A ping from the server reaches the 'ping' handler (and is answered).
  const seen = [];
  ws.connect(`${base}/ping`, (socket) => {
    socket.on('ping', () => seen.push('ping'));
    socket.on('message', (m) => {
      seen.push(m);
      socket.close();
    });
  });
  check(seen, { 'ping: handler ran': (s) => s.join(' ') === 'ping done' });

  // A handler that throws closes the socket and ends ws.connect with its error.
  let thrown = '';
  try {
    ws.connect(`${base}/echo`, (socket) => {
      socket.on('open', () => {
        throw new Error('from the handler');
      });
    });
  } catch (e) {
    thrown = String(e);
  }
  check(thrown, { 'throw: propagates': (t) => t.includes('from the handler') });

  // Request headers reach the server, with the User-Agent and the VU's cookies; a handshake's
  // Set-Cookie goes to the VU's jar.
  const jar = http.cookieJar();
  jar.set(httpBase, 'sid', 'abc');
  check(jar.cookiesForURL(httpBase), { 'cookies: stored from the handshake': (c) => c.fromws[0] === '1' });
  let hdr = '';
  ws.connect(`${base}/hdr`, { headers: { 'X-Test': 'yes' } }, (socket) => {
    socket.on('message', (m) => {
      hdr = m;
    });
  });
  check(hdr, {
    'headers: sent': (h) => h.startsWith('yes|brunt/'),
    'headers: cookies sent': (h) => h.endsWith('|fromws=1; sid=abc') || h.endsWith('|sid=abc; fromws=1'),
  });

  // A server that hangs up mid-handshake, and one that sends an invalid frame: errors, no hang.
  const hung = ws.connect(`${__ENV.BAD_URL}/hangup`, () => {
    ran = true;
  });
  check(hung, {
    'hangup: error on the response': (r) => r.error !== '' && r.status === 0 && !ran,
  });
  const bad = [];
  ws.connect(`${__ENV.BAD_URL}/garbage`, (socket) => {
    socket.on('error', (e) => bad.push(e.error() === '' ? 'no message' : 'error'));
    socket.on('close', (code) => bad.push(`close ${code}`));
  });
  check(bad, { 'invalid frame: error then close 1006': (b) => b.join(' ') === 'error close 1006' });

  // Bad arguments are errors, not sessions.
  const errs = [];
  for (const args of [[], [{}, 5]]) {
    try {
      ws.connect(`${base}/echo`, ...args);
    } catch (e) {
      errs.push(String(e));
    }
  }
  check(errs, {
    'bad arguments: clear errors': (e) =>
      e.length === 2 &&
      e[0].includes('invalid number of arguments to ws.connect') &&
      e[1].includes('last argument to ws.connect must be a function'),
  });
}
