#!/usr/bin/env python3
"""brunt llm beside GuideLLM against the same mock (brunt target), each tool pinned to core 0,
the mock to core 1, in one of two load shapes (docs/benchmarks.md, "LLM streams against an
anchor"):

  burst   closed model, N streams started at once, 2N requests: brunt `-c N -n 2N`, GuideLLM
          `--profile kind=concurrent,streams=N --constraint kind=max_requests,count=2N`; every
          stream starts (and restarts) in the same instant, twice.
  steady  open model, Poisson arrivals at N / 1.75 requests per second for 12 s, so that about N
          streams are in flight (an answer streams for 0.2 + 31 x 0.05 = 1.75 s): brunt
          `--rate R --duration 12s`, GuideLLM `--profile kind=poisson,rate=R
          --constraint kind=max_duration,seconds=12`.

Each level gets a fresh mock, whose `/metrics` says how late it sent each stream's first token
(its own share of the TTFT error). Prints per level the TTFT/ITL/TPOT medians, the mock's
first-token lateness median, CPU time per request of the tool (its whole process tree) and of the
mock, the peak RSS of the tool's process tree and the load average.

Usage: llm_anchor.py BRUNT GUIDELLM TOKENIZER_DIR SHAPE BRUNT_STREAMS GUIDELLM_STREAMS
  e.g. HF_HUB_OFFLINE=1 llm_anchor.py target/release/brunt venv/bin/guidellm tok steady 1,100,1000 1,10,100
  (a list may be empty: "" skips that tool)

GuideLLM (`python3 -m venv venv && venv/bin/pip install guidellm`) needs a tokenizer for its
synthetic prompts and this machine cannot download one; a word-level one over any text does
(the mock counts whitespace-separated words as tokens):

    venv/bin/python -c "
    import re; from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast
    words = ['[UNK]'] + sorted(set(re.findall('[a-z0-9]+', open('README.md').read().lower())))
    t = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token='[UNK]'))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit(); t.decoder = decoders.WordPiece()
    PreTrainedTokenizerFast(tokenizer_object=t, unk_token='[UNK]').save_pretrained('tok')"
"""
import glob, json, os, subprocess, sys, tempfile, threading, time, urllib.request
B, GUIDELLM, TOK, SHAPE = sys.argv[1:5]
TTFT, RATE, OUT = 200, 20, 32  # the mock: ms to the first token, tokens/s, output tokens
STREAM_S = (TTFT + (OUT - 1) * 1000 / RATE) / 1000  # how long one answer streams
STEADY_S = 12
LIMIT_S = 600  # the most one run may take
PORT = 18301
LAG = "brunt_target_llm_first_token_lateness_seconds"

def tree_rss(pid):
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for l in f:
                    if l.startswith("VmRSS:"): total += int(l.split()[1])
            for t in glob.glob(f"/proc/{p}/task/*/children"):
                todo += [int(c) for c in open(t).read().split()]
        except OSError:
            pass
    return total

def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def run(cmd):
    """Runs `cmd` on core 0; returns (peak RSS of its tree in MB, CPU seconds of its tree)."""
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), start_new_session=True)
    # GuideLLM sometimes lingers after writing its results on a busy machine: its tree is ended.
    limit = threading.Timer(LIMIT_S, lambda: os.killpg(p.pid, 9)); limit.start()
    peak, done = [0], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(p.pid)); time.sleep(0.1)
    t = threading.Thread(target=sample); t.start()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    done.set(); t.join(); limit.cancel()
    if p.returncode != 0:
        err.seek(0); print(err.read().decode()[-2000:], file=sys.stderr)
    return peak[0] / 1024, usage.ru_utime + usage.ru_stime

def mock():
    m = subprocess.Popen(["taskset", "-c", "1", B, "target", "--threads", "1", "--listen", f"127.0.0.1:{PORT}", "--llm-ttft-ms", str(TTFT), "--llm-tokens-per-second", str(RATE), "--llm-output-tokens", str(OUT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=1); return m
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the mock did not start")

def lateness_p50():
    text = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(LAG + '{quantile="0.5"}'):
            return float(line.split()[-1]) * 1000
    return float("nan")

def load(tool, n):
    rate = n / STREAM_S
    if tool == "brunt":
        shape = ["-c", str(n), "-n", str(2 * n)] if SHAPE == "burst" else ["--rate", f"{rate:.3f}", "--max-concurrency", str(4 * n + 10), "--duration", f"{STEADY_S}s"]
        return [B, "llm", f"http://127.0.0.1:{PORT}", "--model", "mock", *shape, "--input-tokens", "64", "--max-tokens", str(OUT), "-q", "--summary-export", "/tmp/anchor-b.json"]
    shape = ["--profile", f"kind=concurrent,streams={n}", "--constraint", f"kind=max_requests,count={2 * n}"] if SHAPE == "burst" else ["--profile", f"kind=poisson,rate={rate:.3f}", "--constraint", f"kind=max_duration,seconds={STEADY_S}"]
    return [GUIDELLM, "run", "--backend", f"kind=openai_http,target=http://127.0.0.1:{PORT},model=mock,validate_backend=false", *shape, "--tokenizer", f"kind=hf_auto,model={TOK}", "--data", f"kind=synthetic_text,prompt_tokens=64,output_tokens={OUT}", "--output", "kind=json,path=/tmp/anchor-g.json", "--disable-progress"]

def figures(tool):
    if tool == "brunt":
        m = json.load(open("/tmp/anchor-b.json"))["metrics"]
        return m["llm_ttft"]["med"], m["llm_itl"]["med"], m["llm_tpot"]["med"], m["llm_requests"]["count"]
    b = json.load(open("/tmp/anchor-g.json"))["benchmarks"][0]["metrics"]
    med = lambda k: b[k]["successful"]["median"]
    return med("time_to_first_token_ms"), med("inter_token_latency_ms"), med("time_per_output_token_ms"), b["request_totals"]["successful"]

print(f"mock: TTFT {TTFT} ms, {RATE} tokens/s (ITL {1000 / RATE:.0f} ms), {OUT} output tokens; shape {SHAPE}")
print("| tool | shape | streams | requests | TTFT p50 | TTFT error | mock's lateness p50 | ITL p50 | TPOT p50 | tool CPU/request | mock CPU/request | peak RSS (tree) | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for tool, levels in (("brunt", sys.argv[5]), ("guidellm", sys.argv[6])):
    for n in [int(x) for x in levels.split(",") if x]:
        for stale in ("/tmp/anchor-b.json", "/tmp/anchor-g.json"):
            if os.path.exists(stale): os.remove(stale)
        target = mock()
        before = cpu_s(target.pid)
        rss, cpu = run(load(tool, n))
        mock_cpu = cpu_s(target.pid) - before
        late = lateness_p50()
        target.kill(); target.wait()
        ttft, itl, tpot, reqs = figures(tool)
        avg1 = open("/proc/loadavg").read().split()[0]
        print(f"| {tool} | {SHAPE} | {n} | {reqs:.0f} | {ttft:.2f} ms | {ttft - TTFT:+.2f} ms | {late:+.2f} ms | {itl:.2f} ms | {tpot:.2f} ms | {cpu / reqs * 1e6:.0f} µs | {mock_cpu / reqs * 1e6:.0f} µs | {rss:.0f} MB | {avg1} |", flush=True)
