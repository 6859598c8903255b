#!/usr/bin/env python3
"""Runs each experiment in experiments/ under Chaos Toolkit (`chaos run`) and under
`brunt experiment run`, against a `brunt target` and a `brunt proxy` this script starts, and
compares what users rely on: the exit code, status, deviated, the sequence of activities (phase,
name, status) and each steady-state probe's tolerance_met.

An experiment whose file name starts with `interrupted` gets SIGTERM 2 s into its run; there the
rollbacks are left out of the comparison, because brunt plays them and Chaos Toolkit does not
(docs/experiments.md), and brunt's must have run.

Skips (exit 0) when `chaos` is not on PATH. Usage: chaos-compare.py [--brunt PATH] [file ...]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EXPERIMENTS = os.path.join(HERE, "experiments")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"a helper exited early: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def clear_proxies(api):
    """Removes every proxy so each run starts from the same state."""
    with urllib.request.urlopen(f"http://127.0.0.1:{api}/proxies") as r:
        names = list(json.load(r))
    for name in names:
        req = urllib.request.Request(f"http://127.0.0.1:{api}/proxies/{name}", method="DELETE")
        urllib.request.urlopen(req).close()


def summary(journal):
    """What must agree between the two tools."""
    seq = []
    for phase in ("before", "after"):
        state = journal["steady_states"].get(phase)
        for p in (state or {}).get("probes", []):
            seq.append((phase, p["activity"]["name"], p["status"], p.get("tolerance_met")))
    for phase in ("run", "rollbacks"):
        for r in journal.get(phase) or []:
            seq.append((phase, r["activity"]["name"], r.get("status"), r.get("tolerance_met")))
    return {"status": journal["status"], "deviated": journal["deviated"], "activities": seq}


def run_one(cmd, journal_path, env, interrupt):
    p = subprocess.Popen(cmd + ["--journal-path", journal_path], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if interrupt:
        time.sleep(2)
        p.terminate()
    _, err = p.communicate(timeout=60)
    with open(journal_path) as f:
        journal = json.load(f)
    s = summary(journal)
    if interrupt:
        s["rollbacks played"] = len(journal.get("rollbacks") or [])
        s["activities"] = [a for a in s["activities"] if a[0] != "rollbacks"]
    return p.returncode, s, err


def main():
    args = sys.argv[1:]
    brunt = os.environ.get("BRUNT", "target/debug/brunt")
    if args[:1] == ["--brunt"]:
        brunt, args = args[1], args[2:]
    chaos = shutil.which("chaos")
    if chaos is None:
        print("chaos (chaostoolkit) not on PATH: the Chaos Toolkit comparison is skipped")
        return 0
    files = args or sorted(
        os.path.join(EXPERIMENTS, f) for f in os.listdir(EXPERIMENTS)
        if f.endswith((".json", ".yaml", ".yml")))
    target_port, api_port = free_port(), free_port()
    helpers = [
        subprocess.Popen([brunt, "target", "--listen", f"127.0.0.1:{target_port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([brunt, "proxy", "--listen", f"127.0.0.1:{api_port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    failures = 0
    try:
        wait_port(target_port, helpers[0])
        wait_port(api_port, helpers[1])
        with tempfile.TemporaryDirectory() as tmp:
            marker = os.path.join(tmp, "marker")
            env = dict(os.environ, TARGET_PORT=str(target_port), TOXIPROXY_PORT=str(api_port),
                       TARGET_URL=f"http://127.0.0.1:{target_port}",
                       CLOSED_URL=f"http://127.0.0.1:{free_port()}", MARKER_FILE=marker)
            for path in files:
                name = os.path.basename(path)
                interrupt = name.startswith("interrupted")
                results = {}
                for tool, cmd in (("chaos", [chaos, "--no-log-file", "run", path]),
                                  ("brunt", [brunt, "experiment", "run", path])):
                    clear_proxies(api_port)
                    open(marker, "w").close()
                    results[tool] = run_one(cmd, os.path.join(tmp, f"{tool}.json"), env,
                                            interrupt)
                (c_code, c, c_err), (b_code, b, b_err) = results["chaos"], results["brunt"]
                if interrupt:
                    # Chaos Toolkit skips the rollbacks of an interrupted run; brunt plays them.
                    agree = c.pop("rollbacks played") == 0 and b.pop("rollbacks played") > 0
                else:
                    agree = True
                if agree and (c_code, c) == (b_code, b):
                    print(f"ok   {name}: exit {b_code}, {b['status']}, deviated={b['deviated']}, "
                          f"{len(b['activities'])} activities")
                else:
                    failures += 1
                    print(f"FAIL {name}\n  chaos exit {c_code}: {json.dumps(c)}\n"
                          f"  brunt exit {b_code}: {json.dumps(b)}\n  brunt stderr: {b_err}")
    finally:
        for h in helpers:
            h.terminate()
            h.wait()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
