// The target's /ws/chat broadcast: three sockets of one VU join a room; each announces itself,
// and again whenever it hears a member it had not heard (a socket that joined the room after an
// announcement missed it), so every socket hears all three; once the first has (so all are in
// the room), it says 'hi', which every one of them receives once.
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
      if (ws.readyState !== 1 || heard[i].has(e.data)) return;
      heard[i].add(e.data);
      if (e.data !== `join ${i}`) ws.send(`join ${i}`);
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
