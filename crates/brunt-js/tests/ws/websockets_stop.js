// Sockets that never close do not hold the run: the scenario's end interrupts the iteration and
// closes them (k6 sends a normal close); their sessions are still recorded.
import { WebSocket } from 'k6/websockets';

export const options = {
  scenarios: { open: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } },
};

export default function () {
  for (let i = 0; i < 3; i++) {
    const ws = new WebSocket(`${__ENV.WS_URL}/echo`);
    ws.onopen = () => setInterval(() => ws.send('still here'), 100);
  }
}
