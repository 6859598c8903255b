#!/usr/bin/env bash
# How faithfully `brunt replay` keeps a log's timing (issue 18: requests within 1 ms of their
# scheduled offset at 5,000 req/s). Writes a JSON log of RATE requests a second for SECS seconds
# (Poisson gaps, microsecond times), replays it against the reference nginx (generator on core
# 0, nginx on core 1) and prints the summary's `replay_lag` (intended start to send) and
# `http_req_scheduled_duration`, the generator's CPU time and the load average.
#
# REPLAY is `brunt replay`: by default the crate's example, the same code without the rest of
# the binary (`cargo build --release -p brunt-replay --example replay`); `--replay "brunt
# replay"` takes the binary's.
#
# CPUS is the cores the generator may use (taskset's list; default 0, one core beside nginx's;
# `--cpus 0,1` lets the replay's clock thread and its worker run on both).
#
# usage: bench/replay_lag.sh [--replay CMD] [--bench DIR] [--rate RATE] [--secs SECS] [--port PORT]
#                            [--cpus LIST]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REPLAY="${CARGO_TARGET_DIR:-$REPO/target}/release/examples/replay"
BENCH="${BRUNT_BENCH:-}"
RATE=5000 SECS=20 PORT=18097 CPUS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --replay) REPLAY=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for d in "$BENCH" "$REPO/shared/bench" "$REPO/../shared/bench"; do
  [ -n "$d" ] && [ -x "$d/target/start" ] && { BENCH=$d; break; }
done
[ -x "$BENCH/target/start" ] || { echo "no shared bench folder (--bench DIR)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'kill "$(cat /tmp/brunt-target-$PORT/nginx.pid)" 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 - "$RATE" "$SECS" > "$WORK/app.jsonl" <<'EOF'
import random, sys, datetime
rate, secs = float(sys.argv[1]), float(sys.argv[2])
random.seed(1)
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
t, i = 0.0, 0
out = sys.stdout
while t < secs:
    at = (t0 + datetime.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out.write('{"time":"%s","method":"GET","path":"/api/orders/%d","status":200}\n' % (at, i % 1000))
    t += random.expovariate(rate)
    i += 1
EOF
echo "log: $(wc -l < "$WORK/app.jsonl") requests over ${SECS}s at ${RATE}/s"

bash "$BENCH/target/start" "$PORT" 1 > /dev/null
uptime
/usr/bin/time -f 'generator: %e s wall, %U s user, %S s sys, %M KB max RSS' \
  taskset -c "$CPUS" $REPLAY "$WORK/app.jsonl" --target "http://127.0.0.1:$PORT" --quiet \
  --no-color --summary-trend-stats 'p(50),p(99),p(99.9),max' \
  | grep -E 'replay_lag|http_req_scheduled_duration|http_req_duration|http_reqs|dropped'
uptime
