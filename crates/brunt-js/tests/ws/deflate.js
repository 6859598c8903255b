// compression: 'deflate' (permessage-deflate) under both WebSocket modules, against
// tests/ws/server.py, whose `websockets` server takes the offer: the extension the server
// answered with, and a large compressible text, incompressible binary, an empty and a small
// message echoed back whole. The thresholds on data_sent and data_received show that the
// bytes went compressed both ways (uncompressed, the large texts alone are 1.8 MB each way).
// It runs under k6 v1.1 as well (k6/experimental/websockets).
import ws from 'k6/ws';
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';

export const options = {
  scenarios: { s: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } },
  thresholds: {
    ws_msgs_received: ['count==9'],
    data_sent: ['count<400000'],
    data_received: ['count<400000'],
  },
};

const big = 'brunt compresses this line of text; '.repeat(25000);

// 20,000 bytes of a linear congruential generator: deflate cannot shrink them.
function noise() {
  const b = new Uint8Array(20000);
  let x = 7;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}

function same(buf, want) {
  const got = new Uint8Array(buf);
  return got.length === want.length && got.every((v, i) => v === want[i]);
}

function negotiated(value) {
  const params = (value || '').split(';').map((p) => p.trim());
  return ['permessage-deflate', 'server_no_context_takeover', 'client_no_context_takeover'].every(
    (p) => params.includes(p),
  );
}

export default function () {
  const got = [];
  const res = ws.connect(`${__ENV.WS_URL}/echo`, { compression: 'deflate' }, (socket) => {
    socket.on('open', () => {
      socket.send(big);
      socket.sendBinary(noise().buffer);
      socket.send('');
      socket.send('hi');
    });
    const take = (m) => {
      got.push(m);
      if (got.length === 4) socket.close();
    };
    socket.on('message', take);
    socket.on('binaryMessage', take);
  });
  check(res, { 'k6/ws: permessage-deflate negotiated': (r) => negotiated(r.headers['Sec-Websocket-Extensions']) });
  check(got, {
    'k6/ws: the large text back whole': (g) => g[0] === big,
    'k6/ws: the binary back whole': (g) => same(g[1], noise()),
    'k6/ws: the empty and the small text': (g) => g[2] === '' && g[3] === 'hi',
  });

  // A blank algorithm is none, as in k6.
  const plain = ws.connect(`${__ENV.WS_URL}/echo`, { compression: ' ' }, (socket) => {
    socket.on('open', () => socket.send('x'));
    socket.on('message', () => socket.close());
  });
  check(plain, { 'k6/ws: blank compression offers nothing': (r) => !r.headers['Sec-Websocket-Extensions'] });

  const seen = [];
  const s = new WebSocket(`${__ENV.WS_URL}/echo`, null, { compression: 'deflate' });
  s.binaryType = 'arraybuffer';
  s.onopen = () => {
    check(s, { 'k6/websockets: permessage-deflate in extensions': (x) => negotiated(x.extensions[0]) });
    s.send(big);
    s.send(noise().buffer);
    s.send('');
    s.send('hi');
  };
  s.onmessage = (e) => {
    seen.push(e.data);
    if (seen.length === 4) s.close();
  };
  s.onclose = () => {
    check(seen, {
      'k6/websockets: the large text back whole': (g) => g[0] === big,
      'k6/websockets: the binary back whole': (g) => same(g[1], noise()),
      'k6/websockets: the empty and the small text': (g) => g[2] === '' && g[3] === 'hi',
    });
  };
}
