// Benchmark (docs/benchmarks.md), not a conformance case: echo ping-pong on one socket per VU
// against the target's /ws/echo, each message sent when the previous one's echo arrives, 1000
// round trips per iteration. VUS (default 10) for DURATION (default 10s); the rate is
// ws_msgs_received's count over the duration. Runs under k6 v1.1 as it is.
import { WebSocket } from 'k6/experimental/websockets';

export const options = {
  scenarios: {
    pingpong: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 10),
      duration: __ENV.DURATION || '10s',
      gracefulStop: '0s',
    },
  },
};

const url = `${(__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/^http/, 'ws')}/ws/echo`;

export default function () {
  const ws = new WebSocket(url);
  let n = 0;
  ws.onopen = () => ws.send('ping');
  ws.onmessage = () => {
    n += 1;
    if (n < 1000) ws.send('ping');
    else ws.close();
  };
}
