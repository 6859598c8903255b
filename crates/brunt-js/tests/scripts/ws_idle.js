// Benchmark (docs/benchmarks.md), not a conformance case: 10 idle sockets per VU (1,000 VUs by
// default, VUS: 10,000 sockets) to the target's /ws/echo, each closed HOLD ms (default 10000)
// after it opened; the peak RSS of the run is the figure. Runs under k6 v1.1 as it is.
import { WebSocket } from 'k6/experimental/websockets';

const vus = Number(__ENV.VUS || 1000);

export const options = {
  scenarios: {
    idle: { executor: 'per-vu-iterations', vus, iterations: 1, maxDuration: '300s' },
  },
  thresholds: { 'ws_sessions{status:101}': [`count==${vus * 10}`] },
};

const url = `${(__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/^http/, 'ws')}/ws/echo`;

export default function () {
  for (let i = 0; i < 10; i++) {
    const ws = new WebSocket(url);
    ws.onopen = () => setTimeout(() => ws.close(), Number(__ENV.HOLD || 10000));
  }
}
