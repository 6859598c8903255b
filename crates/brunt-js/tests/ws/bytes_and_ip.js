// Both WebSocket modules: the `ip` system tag (when enabled) and the connections' bytes in
// data_sent/data_received (the script makes no HTTP request, so all of them are WebSocket bytes:
// two handshakes and a few frames, each way).
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';

export const options = {
  iterations: 1,
  systemTags: ['ip', 'status', 'url'],
  thresholds: {
    'ws_sessions{ip:127.0.0.1}': ['count==2'],
    'ws_msgs_received{ip:127.0.0.1}': ['count==2'],
    data_sent: ['count>300'],
    data_received: ['count>200'],
  },
};

export default function () {
  ws.connect(`${__ENV.WS_URL}/echo`, (socket) => {
    socket.on('open', () => socket.send('a'));
    socket.on('message', () => socket.close(1000));
  });
  const s = new WebSocket(`${__ENV.WS_URL}/echo`);
  s.onopen = () => s.send('b');
  s.onmessage = () => s.close();
}
