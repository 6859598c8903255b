// Benchmark (docs/benchmarks.md), not a conformance case: PER_VU (default 10) idle sockets per VU
// (VUS, default 1,000: 10,000 sockets) to the target's /ws/echo, each closed HOLD ms (default
// 10000) after it opened; the peak RSS of the run is the figure (PER_VU=0 gives the VUs' own
// share). Runs under k6 v1.1 as it is.
import { WebSocket } from 'k6/experimental/websockets';

const vus = Number(__ENV.VUS || 1000);
const perVu = Number(__ENV.PER_VU || 10);

export const options = {
  scenarios: {
    idle: { executor: 'per-vu-iterations', vus, iterations: 1, maxDuration: '300s' },
  },
  thresholds: { 'ws_sessions{status:101}': [`count==${vus * perVu}`] },
};

const url = `${(__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/^http/, 'ws')}/ws/echo`;

export default function () {
  for (let i = 0; i < perVu; i++) {
    const ws = new WebSocket(url);
    ws.onopen = () => setTimeout(() => ws.close(), Number(__ENV.HOLD || 10000));
  }
}
