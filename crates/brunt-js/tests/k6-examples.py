#!/usr/bin/env python3
"""Runs the scripts of k6's own examples/ folder under k6 and under brunt against a local
`brunt target` and compares their verdicts: exit code, check pass/fail counts and threshold
results (from --summary-export). Each script runs from a temporary copy of the folder in which
every remote http(s) URL points at the target instead, once VU for one iteration (`-u 1 -i 1`,
the same for both tools), so that no run needs the network or takes long.

Scripts that need a browser, an extension, a protocol brunt lacks (gRPC), a remote WebSocket server or a remote
site that cannot be replaced by the target (remote modules, TLS sites, output services) are
skipped with the reason. Prints one line per script and exits 1 if any verdict differs.

Needs k6 on PATH and a checkout of k6's examples folder; takes a few minutes, so CI does not run
it. Usage: k6-examples.py --examples DIR [--brunt PATH] [script ...]
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# k6-compare.py's helpers (start_target, verdict_problems): verdicts are compared the same way.
_spec = importlib.util.spec_from_file_location("k6_compare", os.path.join(HERE, "k6-compare.py"))
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)

# Path prefixes (relative to examples/) and why they are not run.
SKIP = [
    ("browser/", "needs a browser"),
    ("grpc_", "calls the Go example server of k6's repository (brunt target serves the same call kinds)"),
    ("websocket.js", "needs a remote WebSocket server (ws://echo.websocket.org)"),
    ("websockets/", "needs a remote WebSocket server (wss://echo.websocket.org)"),
    ("experimental/redis.js", "k6/experimental/redis, removed in k6 v2 (an extension now)"),
    ("docker-compose/", "sends its metrics to services started with docker compose"),
    ("secrets/url-source.test.js", "the url secret source, which brunt does not have"),
    ("secrets/totp.test.js", "imports a jslib from jslib.k6.io (remote module)"),
    ("ocsp.js", "needs a remote TLS site with a stapled OCSP response"),
    ("tlsconfig.js", "needs remote TLS sites"),
    ("tls_skip_cert_verification.js", "needs a remote TLS site with a bad certificate"),
    ("http_2.js", "needs a remote HTTP/2 (TLS) site"),
    ("experimental/writable-streams.js", "WritableStream is k6 v2 only (k6 v1.1 lacks it)"),
    ("source_map/typescript_template/test1.js", "a bundler's output that imports jslib.k6.io"),
    ("malicious.js", "loops forever on purpose (both tools stop it at the scenario's maxDuration)"),
    ("es6sample.js", "its checks and thresholds depend on Math.random()"),
]
# Command-line arguments some examples document at their top.
ARGS = {
    "secrets/secrets.test.js": ["--secret-source=file=file.secret"],
    "secrets/multi-source.test.js": [
        "--secret-source=mock=default,cool=cool secret",
        "--secret-source=mock=name=another,cool=not cool secret",
    ],
}
URL = re.compile(r"https?://([A-Za-z0-9_.-]+(:[^@/\s'\"`]*)?@)?([A-Za-z0-9_.-]+)(:\d+)?")


def rewrite(tree, base):
    """Points every remote URL in the tree's scripts at the target (keeping any user:pass@)."""
    for dirpath, _, files in os.walk(tree):
        for f in files:
            if not f.endswith((".js", ".ts", ".json")):
                continue
            p = os.path.join(dirpath, f)
            with open(p) as fh:
                text = fh.read()
            new = URL.sub(lambda m: f"http://{m.group(1) or ''}{base}", text)
            if new != text:
                with open(p, "w") as fh:
                    fh.write(new)


def run(cmd, cwd, export):
    env = dict(os.environ, K6_NO_USAGE_REPORT="true")
    try:
        p = subprocess.run(cmd + ["-u", "1", "-i", "1", "-q", "--summary-export", export],
                           cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=120, text=True)
        code, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        code, err = "timeout", ""
    data = {}
    if os.path.exists(export):
        with open(export) as f:
            text = f.read()
        os.remove(export)
        data = json.loads(text) if text.strip() else {}
    return code, data, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", required=True, help="k6's examples/ folder")
    ap.add_argument("--brunt", default=os.environ.get("BRUNT", os.path.join(ROOT, "target", "debug", "brunt")))
    ap.add_argument("scripts", nargs="*")
    a = ap.parse_args()
    k6 = os.environ.get("K6") or shutil.which("k6")
    if not k6:
        print("k6-examples: k6 is not installed", file=sys.stderr)
        return 2
    brunt = os.path.abspath(a.brunt)
    target, host = compare.start_target(brunt)
    differs = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tree = os.path.join(tmp, "examples")
            shutil.copytree(a.examples, tree)
            rewrite(tree, host)
            scripts = a.scripts or sorted(
                os.path.relpath(os.path.join(d, f), tree)
                for d, _, files in os.walk(tree) for f in files
                if f.endswith((".js", ".ts")) and not f.startswith("mock_"))
            for rel in scripts:
                why = next((w for prefix, w in SKIP if rel.startswith(prefix)), None)
                if why:
                    print(f"skip    {rel}: {why}")
                    continue
                path = os.path.join(tree, rel)
                cwd = os.path.dirname(path)
                extra = ARGS.get(rel, [])
                kc, ke, kerr = run([k6, "run", *extra, path], cwd, os.path.join(tmp, "k6.json"))
                bc, be, berr = run([brunt, "run", *extra, path], cwd, os.path.join(tmp, "brunt.json"))
                problems = compare.verdict_problems(kc, ke, bc, be)
                if problems:
                    differs += 1
                    print(f"DIFFERS {rel}")
                    for p in problems:
                        print(f"        {p}")
                    for who, err in (("k6", kerr), ("brunt", berr)):
                        tail = [l for l in err.strip().splitlines() if "level=error" in l or "rror" in l][-2:]
                        for l in tail:
                            print(f"        {who}: {l[:300]}")
                else:
                    print(f"same    {rel} (exit {kc})")
        print(f"k6-examples: {differs} differ")
        return 1 if differs else 0
    finally:
        target.terminate()
        target.wait()


if __name__ == "__main__":
    sys.exit(main())
