#!/usr/bin/env python3
"""brunt llm beside GuideLLM against the same mock (brunt target), each pinned to core 0, the mock
to core 1. Prints TTFT/ITL/TPOT medians and the peak RSS of the tool's whole process tree
(docs/benchmarks.md, "LLM streams against an anchor").

Usage: llm_anchor.py BRUNT GUIDELLM TOKENIZER_DIR BRUNT_STREAMS GUIDELLM_STREAMS
  e.g. llm_anchor.py target/release/brunt venv/bin/guidellm tok 1,100,1000 1,10,100

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
import json, os, subprocess, sys, time, threading, glob
B = sys.argv[1]                     # brunt binary
GUIDELLM = sys.argv[2]              # guidellm entry point
TOK = sys.argv[3]                   # tokenizer dir for GuideLLM
TTFT, RATE, OUT = 200, 20, 32  # the mock: ms to the first token, tokens/s, output tokens
PORT = 18301

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

def run(cmd):
    p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
    peak = [0]
    def sample():
        while p.poll() is None:
            peak[0] = max(peak[0], tree_rss(p.pid)); time.sleep(0.1)
    t = threading.Thread(target=sample); t.start()
    t0 = time.time(); _, err = p.communicate(); t.join()
    if p.returncode != 0: print(err.decode()[-2000:], file=sys.stderr)
    return peak[0] / 1024, time.time() - t0

target = subprocess.Popen(["taskset", "-c", "1", B, "target", "--listen", f"127.0.0.1:{PORT}", "--llm-ttft-ms", str(TTFT), "--llm-tokens-per-second", str(RATE), "--llm-output-tokens", str(OUT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
print(f"mock: TTFT {TTFT} ms, {RATE} tokens/s (ITL {1000/RATE:.0f} ms), {OUT} output tokens; load {open('/proc/loadavg').read().split()[0]}")
print("| tool | streams | requests | TTFT p50 | TTFT error | ITL p50 | TPOT p50 | peak RSS (tree) | RSS per stream |")
print("|---|---|---|---|---|---|---|---|---|")
levels = [int(x) for x in sys.argv[4].split(",")]
glevels = [int(x) for x in sys.argv[5].split(",")]
for tool, lv in (("brunt", levels), ("guidellm", glevels)):
    base = None
    for n in lv:
        reqs = max(10, 2 * n)
        if tool == "brunt":
            rss, wall = run([B, "llm", f"http://127.0.0.1:{PORT}", "--model", "mock", "-c", str(n), "-n", str(reqs), "--input-tokens", "64", "--max-tokens", str(OUT), "-q", "--summary-export", "/tmp/anchor-b.json"])
            m = json.load(open("/tmp/anchor-b.json"))["metrics"]
            ttft, itl, tpot = m["llm_ttft"]["med"], m["llm_itl"]["med"], m["llm_tpot"]["med"]
        else:
            rss, wall = run([GUIDELLM, "run", "--backend", f"kind=openai_http,target=http://127.0.0.1:{PORT},model=mock,validate_backend=false", "--profile", f"kind=concurrent,streams={n}", "--constraint", f"kind=max_requests,count={reqs}", "--tokenizer", f"kind=hf_auto,model={TOK}", "--data", f"kind=synthetic_text,prompt_tokens=64,output_tokens={OUT}", "--output", "kind=json,path=/tmp/anchor-g.json", "--disable-progress"])
            b = json.load(open("/tmp/anchor-g.json"))["benchmarks"][0]["metrics"]
            med = lambda k: b[k]["successful"]["median"]
            ttft, itl, tpot = med("time_to_first_token_ms"), med("inter_token_latency_ms"), med("time_per_output_token_ms")
        base = base or rss
        per = f"{(rss - base) / (n - 1) * 1024:.0f} KB" if n > 1 else "-"
        print(f"| {tool} | {n} | {reqs} | {ttft:.2f} ms | {ttft - TTFT:+.2f} ms | {itl:.2f} ms | {tpot:.2f} ms | {rss:.0f} MB | {per} |", flush=True)
target.kill()
