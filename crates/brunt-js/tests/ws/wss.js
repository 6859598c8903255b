// wss:// against tests/ws/server.py's TLS port (WSS_URL), whose certificate is self-signed: the
// run's TLS settings apply, so it is refused unless insecureSkipTLSVerify (INSECURE=1).
import ws from 'k6/ws';
import { check } from 'k6';

const insecure = __ENV.INSECURE === '1';

export const options = {
  scenarios: { wss: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } },
  insecureSkipTLSVerify: insecure,
};

export default function () {
  let echoed = '';
  const res = ws.connect(`${__ENV.WSS_URL}/echo`, (socket) => {
    socket.on('open', () => socket.send('over tls'));
    socket.on('message', (m) => {
      echoed = m;
      socket.close();
    });
  });
  if (insecure) {
    check(res, {
      'wss: status 101': (r) => r.status === 101 && r.error === '',
      'wss: echoed': () => echoed === 'over tls',
    });
  } else {
    check(res, {
      'wss: untrusted certificate refused': (r) =>
        r.status === 0 && /certificate/i.test(r.error) && echoed === '',
    });
  }
}
