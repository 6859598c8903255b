#!/usr/bin/env python3
"""The fault proxy's throughput bar: wrk direct to the reference nginx, through brunt's proxy,
through a bare C epoll proxy (the floor for any user-space proxy) and through Toxiproxy, in
interleaved rounds. nginx and every proxy share core 1 (as the issue asks); wrk runs on core 0.
A round counts only if processes other than these used less than --max-foreign CPU ticks
(10 ms each) during every run of the round, so a busy machine does not skew the ratios.

usage: vs_toxiproxy.py --brunt target/release/brunt [--bench DIR] [--toxiproxy PATH]
                       [--rounds N] [--secs S] [--max-foreign T] [--lat]
--bench: the shared bench folder holding target/start (default: $BRUNT_BENCH, else shared/bench
in the repository or beside it). --toxiproxy: the Toxiproxy server binary (default:
toxiproxy-server on PATH; without one, the rounds run without Toxiproxy). Build it from
github.com/Shopify/toxiproxy (`go build ./cmd/server`)."""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ap = argparse.ArgumentParser()
ap.add_argument("--brunt", required=True)
ap.add_argument("--bench", default=os.environ.get("BRUNT_BENCH"))
ap.add_argument("--toxiproxy", default=shutil.which("toxiproxy-server"))
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--secs", type=int, default=3)
ap.add_argument("--max-foreign", type=int, default=30)
ap.add_argument("--max-try", type=int, default=30)
ap.add_argument("--lat", action="store_true", help="also p50/p99 at one connection")
ap.add_argument("--nginx-port", type=int, default=18180)
a = ap.parse_args()
NP = a.nginx_port
tmp = tempfile.mkdtemp(prefix="brunt-proxy-bench-")


def bench_dir():
    """The shared bench folder: --bench, or shared/bench in the repository or beside it."""
    tries = [a.bench] if a.bench else [os.path.join(REPO, "shared", "bench"),
                                       os.path.join(REPO, "..", "shared", "bench")]
    for d in tries:
        if os.path.exists(os.path.join(d, "target", "start")):
            return os.path.abspath(d)
    sys.exit(f"vs_toxiproxy.py: no bench folder with target/start in {' or '.join(tries)}: pass --bench DIR")


if a.toxiproxy and not os.access(a.toxiproxy, os.X_OK):
    sys.exit(f"vs_toxiproxy.py: --toxiproxy {a.toxiproxy}: not an executable file")
if not a.toxiproxy:
    print("no toxiproxy-server on PATH and no --toxiproxy: running without Toxiproxy", flush=True)
subprocess.run(["bash", os.path.join(bench_dir(), "target", "start"), str(NP), "1"], stdout=subprocess.DEVNULL, check=True)
master = int(open(f"/tmp/brunt-target-{NP}/nginx.pid").read())
ngx = [master] + [int(p) for p in os.listdir("/proc") if p.isdigit()
                  and open(f"/proc/{p}/stat").read().split(") ")[1].split()[1] == str(master)]

names, ports, procs = ["direct"], [NP], []
cfg = os.path.join(tmp, "proxies.json")
json.dump([{"name": "p", "listen": "127.0.0.1:18100", "upstream": f"127.0.0.1:{NP}", "enabled": True}], open(cfg, "w"))
procs.append(subprocess.Popen(["taskset", "-c", "1", a.brunt, "proxy", "--listen", "127.0.0.1:8500", "--config", cfg],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
names.append("brunt"); ports.append(18100)

floor = os.path.join(tmp, "floor_proxy")
subprocess.run(["cc", "-O2", "-o", floor, os.path.join(HERE, "floor_proxy.c")], check=True)
procs.append(subprocess.Popen(["taskset", "-c", "1", floor, "18101", str(NP)]))
names.append("c-floor"); ports.append(18101)

if a.toxiproxy:
    procs.append(subprocess.Popen(["taskset", "-c", "1", a.toxiproxy, "-port", "8475"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1)
    subprocess.run(["curl", "-s", "-XPOST", "localhost:8475/proxies", "-d",
                    json.dumps({"name": "p", "listen": "127.0.0.1:18099", "upstream": f"127.0.0.1:{NP}"})],
                   stdout=subprocess.DEVNULL, check=True)
    names.append("toxiproxy"); ports.append(18099)
ours = ngx + [p.pid for p in procs]


def busy():
    f = open("/proc/stat").read().split("\n")[0].split()
    return sum(int(f[i]) for i in (1, 2, 3, 6, 7))


def ptime(pids):
    t = 0
    for p in pids:
        try:
            s = open(f"/proc/{p}/stat").read().split(") ")[1].split()
            t += int(s[11]) + int(s[12])
        except OSError:
            pass
    return t


def run(port):
    b0, p0 = busy(), ptime(ours)
    out = subprocess.run(["/usr/bin/time", "-f", "T %U %S", "taskset", "-c", "0", "wrk", "-t1", "-c50",
                          f"-d{a.secs}s", f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
    b1, p1 = busy(), ptime(ours)
    m = re.search(r"T ([\d.]+) ([\d.]+)", out.stderr)
    wrk_ticks = round((float(m.group(1)) + float(m.group(2))) * 100)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
    return rps, (b1 - b0) - (p1 - p0) - wrk_ticks


try:
    R = {n: [] for n in names}
    kept = tries = 0
    while kept < a.rounds and tries < a.max_try:
        tries += 1
        got = [run(p) for p in ports]
        line = " ".join(f"{n}={r:.0f}({f})" for n, (r, f) in zip(names, got))
        if max(f for _, f in got) <= a.max_foreign:
            kept += 1
            for n, (r, _) in zip(names, got):
                R[n].append(r)
            print(f"round {tries} kept: {line}", flush=True)
        else:
            print(f"round {tries} dropped (machine busy): {line}", flush=True)
    if kept:
        d, f = statistics.median(R["direct"]), statistics.median(R["c-floor"])
        t = statistics.median(R["toxiproxy"]) if "toxiproxy" in R else None
        print(f"{kept} rounds kept; medians:")
        for n in names:
            m = statistics.median(R[n])
            vs_t = f"  vs Toxiproxy's share {m / t:.2f}x" if t else ""
            print(f"  {n:10s} {m:9.0f} req/s  share of direct {m / d:.3f}  of the C floor {m / f:.3f}{vs_t}")
    if a.lat:
        for _ in range(3):
            for n, p in zip(names, ports):
                out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c1", "-d3s", "--latency",
                                      f"http://127.0.0.1:{p}/"], capture_output=True, text=True).stdout
                p50 = re.search(r" 50%\s+(\S+)", out).group(1)
                p99 = re.search(r" 99%\s+(\S+)", out).group(1)
                print(f"  latency {n:10s} p50 {p50} p99 {p99}", flush=True)
finally:
    for p in procs:
        p.terminate()
