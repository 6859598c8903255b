// A socket that never closes does not hold the run: the scenario's end interrupts ws.connect,
// closes the socket (going away) and records its session.
import ws from 'k6/ws';

export const options = {
  scenarios: { open: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } },
};

export default function () {
  ws.connect(`${__ENV.WS_URL}/echo`, (socket) => {
    socket.setInterval(() => socket.send('still here'), 100);
  });
}
