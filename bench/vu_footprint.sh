#!/usr/bin/env bash
# The cache lines one iteration of each VU touches, by what holds them (docs/benchmarks.md,
# "Session 15"): the order script under `valgrind --tool=lackey --trace-mem=yes` at two VU counts,
# each with an allocation log, then bench/vu_footprint/footprint.py. Needs valgrind, gcc, python3
# with numpy, about 4 GB of disk, and the reference nginx on PORT. Takes about five minutes.
#
# usage: bench/vu_footprint.sh BRUNT [VUS_A VUS_B] [--port P] [--secs S] [--instr N]
#   --instr  instructions a request (bench/cpu_per_request.sh --instr), for the window length
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BRUNT=${1:?usage: bench/vu_footprint.sh BRUNT [VUS_A VUS_B] [--port P] [--secs S] [--instr N]}
shift
VA=50 VB=25
if [ $# -ge 2 ] && [[ $1 =~ ^[0-9]+$ ]]; then VA=$1 VB=$2; shift 2; fi
PORT=18191 SECS=70 INSTR=52000
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --instr) INSTR=$2; shift 2 ;;
    *) echo "vu_footprint.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for tool in valgrind gcc python3; do
  command -v $tool >/dev/null || { echo "vu_footprint.sh: $tool is missing" >&2; exit 2; }
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { echo "vu_footprint.sh: nothing answers on port $PORT (start the reference nginx)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
gcc -O2 -o "$OUT/lines" "$HERE/vu_footprint/lines.c"
gcc -O2 -shared -fPIC -o "$OUT/malloc_log.so" "$HERE/vu_footprint/malloc_log.c" -ldl
trace() { # VUS CPU DIR
  mkdir -p "$3"
  (MLOG="$3/malloc.log" LD_PRELOAD="$OUT/malloc_log.so" taskset -c "$2" valgrind --tool=lackey \
    --trace-mem=yes --log-fd=9 "$BRUNT" run -q --no-summary --vus "$1" --duration "${SECS}s" \
    -e "BASE_URL=http://127.0.0.1:$PORT" "$HERE/order_create.js" 9>&1 >/dev/null 2>/dev/null \
    | "$OUT/lines" > "$3/trace.bin") &
  local job=$!
  sleep $((SECS / 2 + 10))
  cat "/proc/$(pgrep -n -f "lackey.*--vus $1 ")/maps" > "$3/maps"
  wait $job
}
trace "$VA" 0 "$OUT/a" & trace "$VB" 1 "$OUT/b" & wait
python3 "$HERE/vu_footprint/footprint.py" "$OUT/a" "$VA" "$OUT/b" "$VB" "$INSTR"
