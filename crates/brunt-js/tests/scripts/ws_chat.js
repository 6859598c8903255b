// The target's /ws/chat broadcast: three sockets of one VU join a room; each announces itself,
// and once the first has heard all three (so all are in the room), it says 'hi', which every
// one of them receives.
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: { 'ws_msgs_received{room:r}': ['count>=6'], ws_sessions: ['count==3'] },
};

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const url = `${base.replace(/^http/, 'ws')}/ws/chat?room=r${__VU}`;

export default function () {
  const heard = [new Set(), new Set(), new Set()];
  const his = [0, 0, 0];
  const sockets = [0, 1, 2].map((i) => {
    const ws = new WebSocket(url, null, { tags: { room: 'r' } });
    ws.onopen = () => ws.send(`join ${i}`);
    ws.onmessage = (e) => {
      if (e.data === 'hi') {
        his[i] += 1;
        ws.close();
        return;
      }
      heard[i].add(e.data);
      if (i === 0 && heard[0].size === 3) ws.send('hi');
    };
    return ws;
  });
  let closed = 0;
  for (const ws of sockets) {
    ws.addEventListener('close', () => {
      closed += 1;
      if (closed === 3) check(his, { 'chat: every client got the broadcast once': (h) => h.join() === '1,1,1' });
    });
  }
}
