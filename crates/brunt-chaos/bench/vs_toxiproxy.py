#!/usr/bin/env python3
"""The fault proxy's bars (issues 5 and 16): wrk direct to the reference nginx, through brunt's
proxy, through a bare C epoll proxy (floor_proxy.c, the floor for any user-space proxy) and
through Toxiproxy, in rounds whose order is reversed every round. nginx and every proxy share the
target core (1 unless --target-cpu); wrk runs on the generator core (0 unless --gen-cpu).

Per run it reports requests/s and the proxy's CPU per request: the user+sys time of the proxy
process (all its threads, from /proc/PID/stat) over the requests wrk completed. CPU per request
moves far less with the machine's load than requests/s, so the bar is read from both: per round,
brunt over the floor in throughput and the floor's CPU per request over brunt's (both >= 0.9 to
meet the bar), then their medians.

A round is kept only if processes other than these used at most --max-foreign CPU ticks (10 ms
each) during every run of the round, so a busy machine does not skew the throughput; --keep-all
keeps every round (and still prints the foreign ticks).

--instr adds user-space instructions per request under callgrind for brunt's proxy and the floor:
each runs under valgrind for S and 2S seconds of wrk, and the difference of instructions over the
difference of requests is the figure (start-up cancels out); it does not move with the load.

usage: vs_toxiproxy.py --brunt target/release/brunt [--bench DIR] [--toxiproxy PATH]
                       [--rounds N] [--secs S] [--port P] [--gen-cpu N] [--target-cpu N]
                       [--max-foreign T] [--keep-all] [--lat] [--instr [S]]
--bench: the shared bench folder holding target/start (default: $BRUNT_BENCH, else shared/bench
in the repository or beside it). --toxiproxy: the Toxiproxy server binary (default:
toxiproxy-server on PATH; without one, the rounds run without Toxiproxy). Build it from
github.com/Shopify/toxiproxy (`go build ./cmd/server`). --port: nginx's port; the proxies listen
on the next ones (P+1 brunt, P+2 the floor, P+3 Toxiproxy, P+4 and P+5 their APIs, P+6 to P+8
under callgrind)."""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ap = argparse.ArgumentParser()
ap.add_argument("--brunt", required=True, help="the brunt binary (its `proxy` subcommand is run)")
ap.add_argument("--bench", default=os.environ.get("BRUNT_BENCH"))
ap.add_argument("--toxiproxy", default=shutil.which("toxiproxy-server"))
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--secs", type=int, default=3)
ap.add_argument("--conns", type=int, default=50)
ap.add_argument("--port", "--nginx-port", dest="port", type=int, default=18180)
ap.add_argument("--gen-cpu", type=int, default=0)
ap.add_argument("--target-cpu", type=int, default=1)
ap.add_argument("--max-foreign", type=int, default=30)
ap.add_argument("--max-try", type=int, default=30)
ap.add_argument("--keep-all", action="store_true", help="keep busy rounds too")
ap.add_argument("--lat", action="store_true", help="also p50/p99 at one connection")
ap.add_argument("--instr", type=int, nargs="?", const=2, default=0, metavar="S",
                help="also instructions per request under callgrind (runs of S and 2S seconds)")
a = ap.parse_args()
NP = a.port
GEN, TGT = str(a.gen_cpu), str(a.target_cpu)
tmp = tempfile.mkdtemp(prefix="brunt-proxy-bench-")


def bench_dir():
    """The shared bench folder: --bench, or shared/bench in the repository or beside it."""
    tries = [a.bench] if a.bench else [os.path.join(REPO, "shared", "bench"),
                                       os.path.join(REPO, "..", "shared", "bench")]
    for d in tries:
        if os.path.exists(os.path.join(d, "target", "start")):
            return os.path.abspath(d)
    sys.exit(f"vs_toxiproxy.py: no bench folder with target/start in {' or '.join(tries)}: pass --bench DIR")


if not os.access(a.brunt, os.X_OK):
    sys.exit(f"vs_toxiproxy.py: --brunt {a.brunt}: not an executable file")
if a.toxiproxy and not os.access(a.toxiproxy, os.X_OK):
    sys.exit(f"vs_toxiproxy.py: --toxiproxy {a.toxiproxy}: not an executable file")
for tool in ["wrk", "taskset", "cc", "curl"] + (["valgrind"] if a.instr else []):
    if not shutil.which(tool):
        sys.exit(f"vs_toxiproxy.py: '{tool}' is missing")
if not a.toxiproxy:
    print("no toxiproxy-server on PATH and no --toxiproxy: running without Toxiproxy", flush=True)
subprocess.run(["bash", os.path.join(bench_dir(), "target", "start"), str(NP), TGT], stdout=subprocess.DEVNULL, check=True)
master = int(open(f"/tmp/brunt-target-{NP}/nginx.pid").read())


def parent(pid):
    """The parent of a process, None if it is gone."""
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()[1])
    except OSError:
        return None


ngx = [master] + [int(p) for p in os.listdir("/proc") if p.isdigit() and parent(p) == master]
floor = os.path.join(tmp, "floor_proxy")
subprocess.run(["cc", "-O2", "-o", floor, os.path.join(HERE, "floor_proxy.c")], check=True)


def brunt_cmd(listen, api):
    """brunt's proxy forwarding `listen` to nginx, its API on `api`."""
    cfg = os.path.join(tmp, f"proxies-{listen}.json")
    json.dump([{"name": "p", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{NP}", "enabled": True}],
              open(cfg, "w"))
    return [a.brunt, "proxy", "--listen", f"127.0.0.1:{api}", "--config", cfg]


def floor_cmd(listen):
    return [floor, str(listen), str(NP)]


def wait_port(port, proc):
    for _ in range(300):
        if subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"]).returncode == 0:
            return
        if proc.poll() is not None:
            sys.exit(f"vs_toxiproxy.py: the proxy for port {port} exited with {proc.returncode}")
        time.sleep(0.1)
    sys.exit(f"vs_toxiproxy.py: nothing answers on port {port}")


def wrk(port, secs):
    """Runs wrk on the generator core; returns (requests, requests/s, its output)."""
    out = subprocess.run(["taskset", "-c", GEN, "wrk", "-t1", f"-c{a.conns}", f"-d{secs}s",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    n = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not n or not rps:
        sys.exit(f"vs_toxiproxy.py: wrk on port {port} printed no result:\n{out}")
    return int(n.group(1)), float(rps.group(1)), out


procs = []


def start(cmd, port):
    p = subprocess.Popen(["taskset", "-c", TGT] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_port(port, p)
    return p


def busy():
    f = open("/proc/stat").read().split("\n")[0].split()
    return sum(int(f[i]) for i in (1, 2, 3, 6, 7))


def ptime(pids):
    """User and system ticks of the processes (all their threads)."""
    u = s = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(") ", 1)[1].split()
            u, s = u + int(f[11]), s + int(f[12])
        except OSError:
            pass
    return u, s


def instructions(name, cmd, port):
    """User-space instructions per request of a proxy under callgrind (runs of S and 2S seconds)."""
    got = []
    for secs in (a.instr, 2 * a.instr):
        out = os.path.join(tmp, f"callgrind.{name}.{secs}")
        p = subprocess.Popen(["taskset", "-c", TGT, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, p)
            n, _, _ = wrk(port, secs)
        finally:
            p.send_signal(2)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        total = None
        for line in open(out):
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
        got.append((n, total))
    (n1, i1), (n2, i2) = got
    print(f"  instructions {name:8s} {i1:,} over {n1:,} requests, {i2:,} over {n2:,}: "
          f"{(i2 - i1) / (n2 - n1):,.0f} per request", flush=True)
    return (i2 - i1) / (n2 - n1)


try:
    # Each path: name, port, the pids whose CPU is the proxy's (none for direct).
    paths = [("direct", NP, [])]
    paths.append(("brunt", NP + 1, [start(brunt_cmd(NP + 1, NP + 4), NP + 1).pid]))
    paths.append(("c-floor", NP + 2, [start(floor_cmd(NP + 2), NP + 2).pid]))
    if a.toxiproxy:
        tp = subprocess.Popen(["taskset", "-c", TGT, a.toxiproxy, "-port", str(NP + 5)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(tp)
        time.sleep(1)
        subprocess.run(["curl", "-s", "-XPOST", f"localhost:{NP + 5}/proxies", "-d",
                        json.dumps({"name": "p", "listen": f"127.0.0.1:{NP + 3}", "upstream": f"127.0.0.1:{NP}"})],
                       stdout=subprocess.DEVNULL, check=True)
        wait_port(NP + 3, tp)
        paths.append(("toxiproxy", NP + 3, [tp.pid]))
    ours = ngx + [p.pid for p in procs]

    def run(port, pids):
        """One wrk run: requests/s, the proxy's user and sys µs per request, foreign ticks."""
        b0, o0, c0 = busy(), sum(ptime(ours)), ptime(pids)
        t0 = time.monotonic()
        out = subprocess.run(["/usr/bin/time", "-f", "T %U %S", "taskset", "-c", GEN, "wrk", "-t1",
                              f"-c{a.conns}", f"-d{a.secs}s", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True)
        b1, o1, c1 = busy(), sum(ptime(ours)), ptime(pids)
        m = re.search(r"T ([\d.]+) ([\d.]+)", out.stderr)
        wrk_ticks = round((float(m.group(1)) + float(m.group(2))) * 100)
        n = int(re.search(r"(\d+) requests in", out.stdout).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
        user, sys_ = ((c1[i] - c0[i]) * 1e4 / n for i in (0, 1))
        return {"rps": rps, "user": user, "sys": sys_, "cpu": user + sys_,
                "foreign": (b1 - b0) - (o1 - o0) - wrk_ticks}

    R = {n: [] for n, _, _ in paths}
    ratios = []  # per kept round: (brunt's share of the floor's throughput, floor's CPU/req over brunt's)
    kept = tries = 0
    while kept < a.rounds and tries < a.max_try:
        tries += 1
        order = paths if tries % 2 else paths[::-1]
        got = {name: run(port, pids) for name, port, pids in order}
        line = "  ".join(f"{n}={got[n]['rps']:.0f}/s" + (f" {got[n]['cpu']:.2f}µs" if pids else "")
                         + f" ({got[n]['foreign']})" for n, _, pids in order)
        b, f = got["brunt"], got["c-floor"]
        r = (b["rps"] / f["rps"], f["cpu"] / b["cpu"])
        line += f"  | brunt/floor: throughput {r[0]:.3f}, CPU per request {b['cpu'] / f['cpu']:.3f}"
        if a.keep_all or max(g["foreign"] for g in got.values()) <= a.max_foreign:
            kept += 1
            for n in R:
                R[n].append(got[n])
            ratios.append(r)
            print(f"round {tries} kept: {line}", flush=True)
        else:
            print(f"round {tries} dropped (machine busy): {line}", flush=True)
    if kept:
        med = lambda n, k: statistics.median(g[k] for g in R[n])
        d, f = med("direct", "rps"), med("c-floor", "rps")
        t = med("toxiproxy", "rps") if "toxiproxy" in R else None
        print(f"{kept} rounds kept (order reversed every round); medians (CPU: the proxy's user+sys per request):")
        for n, _, pids in paths:
            m = med(n, "rps")
            cpu = (f"  CPU {med(n, 'cpu'):6.2f} µs (user {med(n, 'user'):.2f}, sys {med(n, 'sys'):.2f})"
                   if pids else "")
            vs_t = f"  vs Toxiproxy's share {m / t:.2f}x" if t else ""
            print(f"  {n:10s} {m:9.0f} req/s  share of direct {m / d:.3f}  of the C floor {m / f:.3f}{cpu}{vs_t}")
        tr = statistics.median(r[0] for r in ratios)
        cr = statistics.median(1 / r[1] for r in ratios)
        print(f"brunt over the floor, median of the per-round ratios: throughput {tr:.3f}, "
              f"CPU per request {cr:.3f} (the floor's over brunt's: {1 / cr:.3f}); bar 0.9 of the floor's "
              f"throughput: {'met' if tr >= 0.9 else 'not met'}; CPU per request within 1/0.9 of the "
              f"floor's: {'met' if 1 / cr >= 0.9 else 'not met'}")
    if a.instr:
        ib = instructions("brunt", brunt_cmd(NP + 6, NP + 8), NP + 6)
        ic = instructions("c-floor", floor_cmd(NP + 7), NP + 7)
        print(f"  instructions per request, brunt over the floor: {ib - ic:,.0f} more ({ib / ic:.1f}x)")
    if a.lat:
        for _ in range(3):
            for n, p, _ in paths:
                out = subprocess.run(["taskset", "-c", GEN, "wrk", "-t1", "-c1", "-d3s", "--latency",
                                      f"http://127.0.0.1:{p}/"], capture_output=True, text=True).stdout
                p50 = re.search(r" 50%\s+(\S+)", out).group(1)
                p99 = re.search(r" 99%\s+(\S+)", out).group(1)
                print(f"  latency {n:10s} p50 {p50} p99 {p99}", flush=True)
finally:
    for p in procs:
        p.terminate()
    shutil.rmtree(tmp, ignore_errors=True)
