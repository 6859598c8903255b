#!/usr/bin/env python3
"""Per-VU cache footprint of an iteration, from two traced runs (bench/vu_footprint.sh).

For each run: the trace's steady part (past start-up, before teardown) is cut into windows of
four rounds of iterations (4 x VUs requests, at INSTR instructions a request), and each window's
distinct data lines are split by what holds them: a malloc'd block (by its requested size, from the
allocation log replayed up to the window), a VU stack (the 128-stack mappings of stack.rs), the
QuickJS slabs (slab.rs's reserved region), or another mapping. The per-VU figure of a part is
the difference of its median window between the two runs over the difference of their VUs.

usage: footprint.py DIR_A VUS_A DIR_B VUS_B [INSTR]
"""
import collections
import sys

import numpy as np

LOG_ADDR = 0x300000000000
KIND_SHIFT = np.uint64(62)
LINE_MASK = np.uint64((1 << 62) - 1)
STACK_SLAB_KB = 131584  # stack.rs: 128 stacks of 1 MiB and a guard page each


def regions(path):
    maps = []
    for line in open(path):
        p = line.split()
        a, b = (int(x, 16) for x in p[0].split("-"))
        if b >= 1 << 63:  # [vsyscall]
            continue
        maps.append((a, b, p[1], p[5].rsplit("/", 1)[-1] if len(p) > 5 else ""))
    maps.sort()
    out = []
    for i, (a, b, perm, name) in enumerate(maps):
        kb = (b - a) >> 10
        if kb == STACK_SLAB_KB:
            label = "VU stacks"
        elif kb > 8 << 20 or (perm == "rw-p" and i + 1 < len(maps) and maps[i + 1][0] == b
                               and (maps[i + 1][1] - maps[i + 1][0]) >> 10 > 8 << 20):
            label = "QuickJS slabs"
        else:
            label = f"other {name or 'anonymous'} {perm}"
        out.append((a, b, label))
    return out


def steady(t):
    n = len(t)
    share = []
    for i in range(40):
        s = np.array(t[i * n // 40:(i + 1) * n // 40:97])
        share.append(float(((s >> KIND_SHIFT) == 2).mean()))
    mid = (min(share) + max(share)) / 2
    busy = [i for i, s in enumerate(share) if s > mid]
    return (busy[0] + 1) * n // 40, (busy[-1]) * n // 40


def windows(d, vus, instr):
    t = np.memmap(f"{d}/trace.bin", dtype=np.uint64, mode="r")
    log = np.fromfile(f"{d}/malloc.log", dtype=np.uint64).reshape(-1, 3)
    op = (log[:, 0] & np.uint64(255)).astype(np.int64)
    size = (log[:, 0] >> np.uint64(8)).astype(np.int64)
    ptr, old = log[:, 1].astype(np.int64), log[:, 2].astype(np.int64)
    log_lines = (LOG_ADDR >> 6, (LOG_ADDR + len(log) * 24 + 64) >> 6)
    maps = regions(f"{d}/maps")
    starts = np.array([m[0] for m in maps], dtype=np.int64)
    pos, end = steady(t)
    want = 4 * vus * instr
    live, replayed, out = {}, 0, []  # `live`: the log applied up to record `replayed`
    while True:
        w = np.array(t[pos:pos + int(want * 2.8)])
        kind = w >> KIND_SHIFT
        line = (w & LINE_MASK).astype(np.int64)
        cut = int(np.searchsorted(np.cumsum(kind == 0), want))
        if pos + cut > end or cut >= len(w):
            break
        line, kind, pos = line[:cut], kind[:cut], pos + cut
        in_log = (line >= log_lines[0]) & (line < log_lines[1])
        written = line[(kind == 2) & in_log]
        if len(written) == 0:
            continue
        first = int(((int(written.min()) << 6) - LOG_ADDR) // 24)
        last = int(((int(written.max()) << 6) - LOG_ADDR) // 24) + 1
        # Blocks live when the window starts, and those allocated during it.
        for k in range(replayed, first):
            if op[k] != 1:
                live.pop(ptr[k] if op[k] == 2 else old[k], None)
            if op[k] != 2:
                live[ptr[k]] = size[k]
        replayed = first
        window = dict(live)
        window.update((ptr[k], size[k]) for k in range(first, last) if op[k] != 2)
        blocks = np.array(sorted(window), dtype=np.int64)
        sizes = np.array([window[b] for b in blocks], dtype=np.int64)
        addr = np.unique(line[(kind > 0) & ~in_log]) << 6
        count = collections.Counter()
        i = np.searchsorted(blocks, addr + 64, side="right") - 1
        inside = (i >= 0) & (addr < blocks[i] + sizes[i]) & (addr + 64 > blocks[i] - 16)
        for s, c in zip(*np.unique(sizes[i[inside]], return_counts=True)):
            # Blocks past 8 KB are the metrics' histograms and sample buffers, made anew each
            # second: under valgrind a second is a few hundred requests, so they weigh far more
            # here than in a real run, and they grow with the latency, not the VU count.
            count[f"malloc'd {int(s)} B" if s <= 8192 else "malloc'd over 8 KB"] += int(c)
        rest = addr[~inside]
        r = np.searchsorted(starts, rest, side="right") - 1
        for j, c in zip(*np.unique(r, return_counts=True)):
            count[maps[j][2] if j >= 0 else "unmapped"] += int(c)
        count["code"] = len(np.unique(line[kind == 0]))
        out.append(count)
    return out


def medians(ws):
    keys = set().union(*ws)
    return {k: sorted(w.get(k, 0) for w in ws)[len(ws) // 2] * 64 for k in keys}


def main():
    da, va, db, vb = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    instr = int(sys.argv[5]) if len(sys.argv) > 5 else 52000
    wa, wb = windows(da, va, instr), windows(db, vb, instr)
    ma, mb = medians(wa), medians(wb)
    print(f"windows: {len(wa)} at {va} VUs, {len(wb)} at {vb} VUs (median window, KB; bytes per VU)")
    rows = []
    for k in set(ma) | set(mb):
        rows.append((k, ma.get(k, 0), mb.get(k, 0), (ma.get(k, 0) - mb.get(k, 0)) / (va - vb)))
    small = sum(r[3] for r in rows if r[0].startswith("malloc'd") and r[0].endswith(" B"))
    for k, a, b, per in sorted(rows, key=lambda r: -abs(r[3]))[:25]:
        print(f"  {k:36s} {a / 1024:8.1f} {b / 1024:8.1f} {per:8.0f}")
    print(f"  malloc'd blocks up to 8 KB, all sizes: {small:.0f} bytes per VU")


if __name__ == "__main__":
    main()
