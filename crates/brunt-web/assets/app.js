// brunt's dashboard and report page. It draws window.BRUNT_DATA at once; on the live dashboard
// (window.BRUNT_LIVE) it then follows the run over server-sent events from /events.
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
  // Breakdown charts show at most this many groups (the busiest).
  var MAX_GROUPS = 8;
  var data = window.BRUNT_DATA;
  var charts = {};

  window.addEventListener("error", function (e) {
    document.body.setAttribute("data-error", String(e.message));
  });

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function num(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var d = digits === undefined ? 2 : digits;
    // Trailing zeros of the fraction only: 20 stays 20.
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en") : v.toFixed(d).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }

  function ms(v) { return v === null || v === undefined ? "–" : num(v, 2) + " ms"; }

  function table(id, head, rows) {
    var t = $(id);
    t.textContent = "";
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    t.appendChild(tr);
    if (rows.length === 0) {
      var empty = el("tr");
      var td = el("td", "none", "muted");
      td.colSpan = head.length;
      empty.appendChild(td);
      t.appendChild(empty);
    }
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c, i) {
        var cell = typeof c === "object" && c !== null ? c : el("td", c, i === 0 ? "name" : "");
        row.appendChild(cell);
      });
      t.appendChild(row);
    });
  }

  function verdictCell(ok) { return el("td", ok ? "✓ pass" : "✗ fail", ok ? "ok" : "bad"); }

  // Groups (name tags or scenarios) seen in the run, busiest first.
  function groups(key) {
    var totals = {};
    data.points.forEach(function (p) {
      Object.keys(p[key]).forEach(function (g) { totals[g] = (totals[g] || 0) + p[key][g].rps; });
    });
    return Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; }).slice(0, MAX_GROUPS);
  }

  function chartSpecs() {
    var specs = [
      { id: "rps", title: "Requests per second", series: [["req/s", function (p) { return p.rps; }]] },
      { id: "latency", title: "Latency (http_req_duration, ms)", series: [
        ["p50", function (p) { return p.p50; }],
        ["p95", function (p) { return p.p95; }],
        ["p99", function (p) { return p.p99; }]] },
      { id: "errors", title: "Error rate (http_req_failed, %)", series: [["errors %", function (p) { return p.err * 100; }]] },
      { id: "vus", title: "Virtual users", series: [["VUs", function (p) { return p.vus; }]] }
    ];
    var names = groups("by_name");
    if (names.length > 1) {
      specs.push({ id: "name-rps", title: "Requests per second by name", series: names.map(function (n) {
        return [n, function (p) { return p.by_name[n] ? p.by_name[n].rps : null; }];
      }) });
      specs.push({ id: "name-p95", title: "p95 latency by name (ms)", series: names.map(function (n) {
        return [n, function (p) { return p.by_name[n] ? p.by_name[n].p95 : null; }];
      }) });
    }
    // Monitored targets (--monitor): their CPU and memory beside latency.
    [["target_cpu", "Target CPU (% of one core)"], ["target_memory_mb", "Target memory (MB)"]].forEach(function (m) {
      var names = {};
      data.points.forEach(function (p) { Object.keys(p[m[0]] || {}).forEach(function (n) { names[n] = true; }); });
      var list = Object.keys(names).sort().slice(0, MAX_GROUPS);
      if (list.length) {
        specs.push({ id: m[0], title: m[1], series: list.map(function (n) {
          return [n, function (p) { var v = (p[m[0]] || {})[n]; return v === undefined ? null : v; }];
        }) });
      }
    });
    // Runs that retry: requests sent per logical request, each second.
    if (data.points.some(function (p) { return p.retry_amplification !== undefined; })) {
      specs.push({ id: "retry", title: "Retry amplification (requests per logical request)", series: [
        ["amplification", function (p) { return p.retry_amplification === undefined ? null : p.retry_amplification; }]] });
    }
    // LLM runs (llm_output_tokens recorded): output tokens per second.
    if (data.points.some(function (p) { return p.llm_tokens !== undefined; })) {
      specs.push({ id: "llm-tokens", title: "Output tokens per second (llm_output_tokens)", series: [
        ["tokens/s", function (p) { return p.llm_tokens === undefined ? null : p.llm_tokens; }]] });
    }
    var scenarios = groups("by_scenario");
    if (scenarios.length > 1) {
      specs.push({ id: "scenario-rps", title: "Requests per second by scenario", series: scenarios.map(function (n) {
        return [n, function (p) { return p.by_scenario[n] ? p.by_scenario[n].rps : null; }];
      }) });
    }
    // Two runs overlaid: the baseline's series beside each of this run's, on the charts both
    // runs have (its per-name series read the same names).
    if (data.overlay) {
      specs.forEach(function (spec) {
        if (!/^(rps|latency|errors|vus|name-p95)$/.test(spec.id)) return;
        spec.series = spec.series.concat(spec.series.map(function (s) {
          return ["baseline " + s[0], s[1], true];
        }));
      });
    }
    return specs;
  }

  var BAND_COLORS = { fault: "rgba(220, 38, 38, 0.14)", rollback: "rgba(22, 163, 74, 0.16)",
    warm_up: "rgba(100, 116, 139, 0.16)", cold: "rgba(37, 99, 235, 0.12)" };

  // Behind every chart: a band for each fault and rollback of a game day, and the warm-up or
  // cold phase of a run (--warm-up, --cold-cache); a game day's probe results are ticks (green
  // met, red not) along the bottom edge.
  function experimentPlugin() {
    return { hooks: { drawClear: [function (u) {
      var exp = data.experiment;
      var bands = (exp ? exp.bands : []).concat((data.phases || []).filter(function (p) {
        return BAND_COLORS[p.phase];
      }).map(function (p) { return { from: p.from, to: p.to, kind: p.phase }; }));
      if (!bands.length) return;
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      bands.forEach(function (b) {
        var x0 = u.valToPos(b.from, "x", true), x1 = u.valToPos(b.to, "x", true);
        ctx.fillStyle = BAND_COLORS[b.kind] || BAND_COLORS.fault;
        ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
      });
      (exp ? exp.probes : []).forEach(function (p) {
        var x = u.valToPos(p.t, "x", true);
        ctx.fillStyle = p.ok ? "#16a34a" : "#dc2626";
        ctx.fillRect(x - 1, top + height - 8, 3, 8);
      });
      ctx.restore();
    }] } };
  }

  // The x range covers the faults and probes as well as the load's seconds.
  function xRange() {
    var ts = data.points.map(function (p) { return p.t; });
    if (data.experiment) {
      data.experiment.bands.forEach(function (b) { ts.push(b.from, b.to); });
      data.experiment.probes.forEach(function (p) { ts.push(p.t); });
    }
    if (!ts.length) return [0, 1];
    return [Math.min(0, Math.min.apply(null, ts)), Math.max(1, Math.max.apply(null, ts))];
  }

  // A run's cache-state phases (--warm-up, --cold-cache), each with its figures.
  function renderPhases() {
    var phases = data.phases || [];
    $("phases-box").hidden = !phases.length;
    if (!phases.length) return;
    table("run-phases", ["phase", "from (s)", "to (s)", "requests", "req/s", "errors", "p50", "p95", "p99", "thresholds and summary"], phases.map(function (p) {
      return [p.phase, num(p.from, 1), num(p.to, 1), num(p.requests, 0), num(p.rps, 1),
        p.error_rate === null ? "–" : num(p.error_rate * 100, 2) + " %", ms(p.p50), ms(p.p95), ms(p.p99),
        p.excluded ? "left out" : "counted"];
    }));
  }

  function renderExperiment() {
    var exp = data.experiment;
    $("experiment").hidden = !exp;
    if (!exp) return;
    var held = exp.status === "completed" && !exp.deviated;
    var verdict = $("experiment-verdict");
    verdict.textContent = exp.status + (exp.deviated ? " · deviated" : "") + (held ? " · hypothesis held" : " · hypothesis not held");
    verdict.className = held ? "ok" : "bad";
    table("phases", ["phase", "seconds", "requests", "req/s", "errors", "p95", "thresholds"], exp.phases.map(function (p) {
      var ok = p.thresholds.every(function (t) { return t[1]; });
      return [p.phase, num(p.seconds, 0), num(p.requests, 0), num(p.rps, 1), num(p.err * 100, 2) + " %", ms(p.p95),
        el("td", p.thresholds.map(function (t) { return (t[1] ? "✓ " : "✗ ") + t[0]; }).join("  "), ok ? "ok" : "bad")];
    }));
    table("bands", ["activity", "kind", "from (s)", "to (s)", "status"], exp.bands.map(function (b) {
      return [b.name, b.kind, num(b.from, 1), num(b.to, 1), verdictCell(b.ok)];
    }));
    table("probes", ["probe", "at (s)", "phase", "result"], exp.probes.map(function (p) {
      return [p.name, num(p.t, 1), p.phase, verdictCell(p.ok)];
    }));
  }

  // Capacity reports: latency against the throughput each step achieved, the knee a dashed line
  // at the highest passing step's throughput; a closed-model result adds throughput against
  // concurrency with its Universal Scalability Law curve.
  function levelOf(s) { return s.concurrency !== undefined ? s.concurrency : s.rate; }

  // Every step, by `key` then by level (steps past the knee achieve about the same).
  function capacitySteps(key) {
    var cap = data.capacity;
    return [cap.baseline].concat(cap.steps).sort(function (a, b) { return key(a) - key(b) || levelOf(a) - levelOf(b); });
  }

  function markPlugin(x, label) {
    return { hooks: { draw: [function (u) {
      if (x === null || x === undefined) return;
      var ctx = u.ctx, px = u.valToPos(x, "x", true);
      ctx.save();
      ctx.strokeStyle = "#dc2626";
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(px, u.bbox.top);
      ctx.lineTo(px, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillStyle = "#dc2626";
      ctx.font = "12px sans-serif";
      ctx.fillText(label, px + 4, u.bbox.top + 14);
      ctx.restore();
    }] } };
  }

  function capacityChart(id, title, xLabel, cols, series, plugin) {
    var node = el("div", null, "chart");
    node.id = id;
    node.appendChild(el("h3", title));
    $("charts").appendChild(node);
    var opts = {
      width: chartWidth(),
      height: 260,
      scales: { x: { time: false } },
      plugins: plugin ? [plugin] : [],
      axes: [{ label: xLabel }, { size: 70 }],
      series: [{ label: xLabel }].concat(series)
    };
    charts[id] = { key: id, node: node, plot: new uPlot(opts, cols, node) };
  }

  function renderCapacity() {
    var cap = data.capacity;
    $("capacity").hidden = !cap;
    if (!cap) return;
    var closed = cap.model === "closed";
    var v = cap.verdict;
    var best = closed ? v.max_concurrency : v.max_rate;
    var unit = closed ? "VUs" : (cap.target.script ? "iterations/s" : "requests/s");
    $("capacity-verdict").textContent = (closed ? "max concurrency within the SLO: " : "max sustained rate: ") +
      best + " " + unit + " (achieved " + num(v.max_achieved, 1) + "/s)";
    var lines = $("capacity-lines");
    lines.textContent = "";
    if (v.first_failure) {
      var f = v.first_failure;
      lines.appendChild(el("li", "first failure at " + levelOf(f) + " " + unit + ": " +
        f.failures.map(function (x) { return x.kind + ": " + x.message; }).join("; "), "bad"));
      lines.appendChild(el("li", "limited by: " + (v.limited_by === "generator" ? "the generator, not the target" : "the target") +
        (v.bottleneck ? " (closest to its limit: " + v.bottleneck + ")" : "")));
    }
    if (cap.usl) {
      var u = cap.usl;
      lines.appendChild(el("li", "USL fit: λ " + num(u.lambda, 2) + "/s per VU, σ " + num(u.sigma, 4) + " (contention), κ " +
        num(u.kappa, 6) + " (coherency), R² " + num(u.r_squared, 4) + "; " +
        (u.peak ? "predicted peak " + num(u.peak.concurrency, 1) + " VUs at " + num(u.peak.throughput, 1) + "/s" : "no predicted peak (κ ≈ 0)")));
    }
    table("capacity-steps", [closed ? "VUs" : unit, "phase", "achieved/s", "p50", "p95", "p99", "errors", "result"], capacitySteps(levelOf).map(function (s) {
      var kinds = s.failures.map(function (x) { return x.kind; });
      return [num(levelOf(s), 0), s.phase, num(s.achieved, 1), ms(s.p50_ms), ms(s.p95_ms), ms(s.p99_ms), num(s.error_rate * 100, 2) + " %",
        el("td", kinds.length ? "✗ " + kinds.join(", ") : "✓ pass", kinds.length ? "bad" : "ok")];
    }));
    var steps = capacitySteps(function (s) { return s.achieved; });
    var x = steps.map(function (s) { return s.achieved; });
    capacityChart("capacity-latency", "Latency against achieved throughput (ms)", "achieved/s",
      [x, steps.map(function (s) { return s.p50_ms; }), steps.map(function (s) { return s.p95_ms; }), steps.map(function (s) { return s.p99_ms; })],
      ["p50", "p95", "p99"].map(function (n, i) {
        return { label: n, stroke: COLORS[i], width: 2, points: { show: true, size: 7 } };
      }), markPlugin(v.max_achieved, "knee"));
    if (cap.usl) {
      var usl = cap.usl, measured = {};
      usl.points.forEach(function (p) { measured[p.concurrency] = p.measured; });
      var top = Math.max.apply(null, usl.points.map(function (p) { return p.concurrency; }));
      if (usl.peak) top = Math.max(top, Math.min(usl.peak.concurrency, top * 2));
      var ns = usl.points.map(function (p) { return p.concurrency; });
      for (var i = 0; i <= 60; i++) ns.push(1 + (top - 1) * i / 60);
      ns.sort(function (a, b) { return a - b; });
      var curve = ns.map(function (n) { return usl.lambda * n / (1 + usl.sigma * (n - 1) + usl.kappa * n * (n - 1)); });
      var pts = ns.map(function (n) { return measured[n] === undefined ? null : measured[n]; });
      capacityChart("capacity-usl", "Throughput against concurrency, with the USL fit (req/s)", "VUs", [ns, pts, curve], [
        { label: "measured", stroke: COLORS[0], width: 0, points: { show: true, size: 9 } },
        { label: "USL fit", stroke: COLORS[2], width: 2, points: { show: false } }
      ], usl.peak ? markPlugin(usl.peak.concurrency, "predicted peak") : null);
    }
    document.body.setAttribute("data-charts", String(Object.keys(charts).length));
  }

  // LLM sweeps: each step's row, and TTFT p50/p99 against the rate or concurrency of the steps
  // run at one (a rate=auto search's baseline and saturation steps run streams, not a rate:
  // table only).
  function renderLlmSweep() {
    var sw = data.llm_sweep;
    $("llm-sweep").hidden = !sw;
    if (!sw) return;
    var unit = sw.varied === "rate" ? "rate/s" : "streams";
    $("llm-sweep-verdict").textContent = sw.slo
      ? "highest " + unit + " meeting --slo '" + sw.slo + "': " + (sw.best === null ? "none" : num(sw.best, 2))
      : sw.steps.length + " steps";
    table("llm-sweep-steps", [unit, "phase", "requests", "failed", "ttft p50", "ttft p99", "tpot p50", "itl p50", "out tok/s", "goodput/s", "slo"],
      sw.steps.map(function (s) {
        var slo = s.slo_met === null ? el("td", "–") : el("td", s.slo_met ? "✓ met" : "✗ " + s.slo_missed.join("; "), s.slo_met ? "ok" : "bad");
        return [num(s.value, 2), s.phase, num(s.requests, 0), num(s.failed, 0), ms(s.ttft_ms.p50), ms(s.ttft_ms.p99),
          ms(s.tpot_ms.p50), ms(s.itl_ms.p50), num(s.output_tokens_per_second, 1), num(s.goodput, 2), slo];
      }));
    var steps = sw.steps.filter(function (s) { return s.phase === "listed" || s.phase === "search"; })
      .sort(function (a, b) { return a.value - b.value; });
    capacityChart("llm-sweep-ttft", "TTFT against " + (sw.varied === "rate" ? "the rate (requests/s)" : "concurrency (streams)") + " (ms)", unit,
      [steps.map(function (s) { return s.value; }), steps.map(function (s) { return s.ttft_ms.p50; }), steps.map(function (s) { return s.ttft_ms.p99; })],
      ["p50", "p99"].map(function (n, i) {
        return { label: n, stroke: COLORS[i], width: 2, points: { show: true, size: 7 } };
      }), sw.varied === "rate" && sw.best !== null ? markPlugin(sw.best, "best") : null);
    document.body.setAttribute("data-charts", String(Object.keys(charts).length));
  }

  // A chart's columns: the seconds, then a value per series at each. Overlaid runs share one
  // axis of elapsed seconds (both runs' seconds); a run has nothing at the other's.
  function columns(spec) {
    var base = data.overlay ? data.overlay.points : [];
    if (!base.length) {
      var cols = [data.points.map(function (p) { return p.t; })];
      spec.series.forEach(function (s) { cols.push(data.points.map(s[1])); });
      return cols;
    }
    var seen = {};
    data.points.concat(base).forEach(function (p) { seen[p.t] = true; });
    var xs = Object.keys(seen).map(Number).sort(function (a, b) { return a - b; });
    var at = function (pts, f) {
      var byT = {};
      pts.forEach(function (p) { byT[p.t] = f(p); });
      return xs.map(function (x) { return byT[x] === undefined ? null : byT[x]; });
    };
    return [xs].concat(spec.series.map(function (s) { return at(s[2] ? base : data.points, s[1]); }));
  }

  // Two charts a row on wide screens, one on narrow ones (the CSS grid agrees).
  function chartWidth() {
    var w = $("charts").clientWidth || 900;
    var cols = window.innerWidth > 980 ? 2 : 1;
    return Math.max(280, Math.floor((w - 12 * (cols - 1)) / cols) - 18);
  }

  function renderCharts() {
    var box = $("charts");
    var specs = chartSpecs();
    specs.forEach(function (spec) {
      var key = spec.series.map(function (s) { return s[0]; }).join("\u0000");
      var c = charts[spec.id];
      if (c && c.key === key) {
        c.plot.setData(columns(spec));
        return;
      }
      if (c) { c.plot.destroy(); c.node.remove(); }
      var node = el("div", null, "chart");
      node.appendChild(el("h3", spec.title));
      box.appendChild(node);
      var opts = {
        width: chartWidth(),
        height: 220,
        scales: { x: { time: false, range: data.experiment ? function () { return xRange(); } : undefined } },
        plugins: [experimentPlugin()],
        axes: [{ label: "seconds" }, { size: 70 }],
        series: [{ label: "t" }].concat(spec.series.map(function (s, i) {
          // A baseline series: its counterpart's colour, dashed.
          var own = s[2] ? i - spec.series.length / 2 : i;
          return { label: s[0], stroke: COLORS[own % COLORS.length], width: 2,
            dash: s[2] ? [6, 4] : undefined, spanGaps: !!data.overlay };
        }))
      };
      charts[spec.id] = { key: key, node: node, plot: new uPlot(opts, columns(spec), node) };
    });
    document.body.setAttribute("data-charts", String(Object.keys(charts).length));
  }

  function renderOverlay() {
    var o = data.overlay;
    $("overlay").hidden = !o;
    $("overlay-diff").hidden = !o;
    if (!o) return;
    $("overlay-files").textContent = "(" + o.current + " over " + o.baseline + ")";
    var ul = $("overlay-notes");
    ul.textContent = "";
    o.notes.forEach(function (n) { ul.appendChild(el("li", "⚠ " + n, "note")); });
    table("overlay-thresholds", ["threshold", "expression", "baseline", "this run"], o.thresholds.map(function (r) {
      return [r[0], r[1], el("td", r[2], /^✗/.test(r[2]) ? "bad" : ""), el("td", r[3], /^✗/.test(r[3]) ? "bad" : "")];
    }));
    table("overlay-metrics", ["metric", "stat", "baseline", "this run", "change"], o.metrics.map(function (r) {
      return [el("td", r[0], "name"), r[1], r[2], r[3], r[4]];
    }));
  }

  function pct(v) { return v === null || v === undefined ? "–" : num(v * 100, 2) + " %"; }

  // A finished run's tiles give the whole run; a live one's the last second.
  function renderCards() {
    var box = $("cards");
    box.textContent = "";
    var cards;
    if (data.summary) {
      var t = data.summary.totals;
      cards = [
        ["duration", num(data.summary.elapsed, 1) + " s"],
        ["requests", num(t.requests, 0)],
        ["mean req/s", num(t.rate, 1)],
        ["errors (run)", pct(t.error_share)],
        ["p95 (run)", ms(t.p95)],
        ["peak VUs", num(t.peak_vus, 0)]
      ];
    } else {
      var pts = data.points;
      var last = pts.length ? pts[pts.length - 1] : null;
      var reqs = 0;
      pts.forEach(function (p, i) { reqs += p.rps * (p.t - (i ? pts[i - 1].t : 0)); });
      cards = [
        ["elapsed", last ? num(last.t, 0) + " s" : "–"],
        ["requests", num(reqs, 0)],
        ["req/s now", last ? num(last.rps, 1) : "–"],
        ["errors now", last ? pct(last.err) : "–"],
        ["p95 now", last ? ms(last.p95) : "–"],
        ["VUs now", last ? num(last.vus, 0) : "–"]
      ];
    }
    cards.forEach(function (c) {
      var d = el("div", null, "card");
      d.appendChild(el("div", c[1], "v"));
      d.appendChild(el("div", c[0], "k"));
      box.appendChild(d);
    });
  }

  function renderHistogram(buckets) {
    var canvas = $("histogram");
    var w = canvas.clientWidth || 800, h = 220;
    canvas.width = w;
    canvas.height = h;
    var ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!buckets.length) return;
    var max = Math.max.apply(null, buckets.map(function (b) { return b[1]; })) || 1;
    var bw = (w - 20) / buckets.length;
    ctx.font = "11px sans-serif";
    ctx.textAlign = "center";
    buckets.forEach(function (b, i) {
      var bh = (h - 40) * b[1] / max;
      ctx.fillStyle = COLORS[0];
      ctx.fillRect(10 + i * bw + 1, h - 24 - bh, Math.max(1, bw - 2), bh);
      ctx.fillStyle = "#616e7c";
      if (buckets.length < 24 || i % 2 === 0) ctx.fillText("≤" + num(b[0], 1), 10 + i * bw + bw / 2, h - 8);
    });
  }

  function renderFinal() {
    var s = data.summary;
    $("final").hidden = !s;
    $("saturation").hidden = !(s && s.saturation);
    if (s && s.saturation) $("saturation").textContent = "⚠ " + s.saturation;
    $("notes").hidden = !(s && s.notes.length);
    if (s && s.notes.length) $("notes").textContent = s.notes.join(" · ");
    if (!s) return;
    renderHistogram(s.histogram);
    table("endpoints", ["name", "method", "requests", "failed", "avg", "p50", "p95", "p99", "max"], s.endpoints.map(function (e) {
      return [e.name || "(no name)", e.method, num(e.reqs, 0), num(e.failed, 0), ms(e.avg), ms(e.p50), ms(e.p95), ms(e.p99), ms(e.max)];
    }));
    $("slowest-box").hidden = !s.slowest.length;
    table("slowest", ["duration", "method", "name", "status", "trace id"], s.slowest.map(function (r) {
      var cell = el("td", null, "name");
      if (data.trace_url) {
        var link = el("a", r.trace_id);
        link.href = data.trace_url.split("{trace_id}").join(r.trace_id);
        cell.appendChild(link);
      } else {
        cell.textContent = r.trace_id;
      }
      return [ms(r.duration), r.method, r.name, r.status, cell];
    }));
    table("statuses", ["status", "requests"], s.statuses.map(function (c) { return [c.value, num(c.count, 0)]; }));
    table("error-codes", ["error_code", "requests"], s.error_codes.map(function (c) { return [c.value, num(c.count, 0)]; }));
    table("checks", ["group", "check", "passes", "fails"], s.checks.map(function (c) {
      return [c.group || "(root)", c.name, num(c.passes, 0), el("td", num(c.fails, 0), c.fails ? "bad" : "ok")];
    }));
    table("metrics", ["metric", "type", "values"], s.metrics.map(function (m) {
      return [m.name, m.type, el("td", m.stats.map(function (kv) { return kv[0] + "=" + num(kv[1], 3); }).join("  "), "name")];
    }));
  }

  // The llm_* metrics with their percentiles, and the requests by outcome; for a run that
  // recorded them.
  var LLM_STATS = ["avg", "min", "med", "p(90)", "p(95)", "p(99)", "max", "count", "rate"];
  var CAUSES = { http_status: "HTTP status", stream_cut: "stream cut", no_token: "no token received",
    timeout: "timeout", rate_limited: "rate limited (429)", connection: "connection failed",
    malformed_chunk: "malformed chunk", error_object: "200 with an error object",
    not_a_stream: "not a stream", no_done: "no [DONE]", ok: "ok" };

  function renderLlm() {
    var s = data.summary;
    var rows = s ? s.metrics.filter(function (m) { return /^llm_/.test(m.name); }) : [];
    $("llm").hidden = !rows.length;
    if (!rows.length) return;
    table("llm-metrics", ["metric"].concat(LLM_STATS), rows.map(function (m) {
      var stats = {};
      m.stats.forEach(function (kv) { stats[kv[0]] = kv[1]; });
      return [m.name].concat(LLM_STATS.map(function (k) { return k in stats ? num(stats[k], 2) : ""; }));
    }));
    var total = 0;
    s.llm_outcomes.forEach(function (c) { total += c.count; });
    table("llm-outcomes", ["outcome", "requests", "share"], s.llm_outcomes.map(function (c) {
      var parts = c.value.split(" ");
      var label = (CAUSES[parts[0]] || parts[0]) + (parts[1] ? " " + parts[1] : "");
      return [label, el("td", num(c.count, 0), parts[0] === "ok" ? "ok" : "bad"), num(total ? c.count / total * 100 : 0, 1) + " %"];
    }));
  }

  function renderAll() {
    $("title").textContent = data.title || "brunt";
    document.title = (data.title || "brunt") + " · brunt";
    var ul = $("scenarios");
    ul.textContent = "";
    data.scenarios.forEach(function (s) { ul.appendChild(el("li", s)); });
    table("thresholds", ["metric", "threshold", "observed", "margin", "verdict"], data.thresholds.map(function (t) {
      return [t.metric, t.source, t.observed_text || "–", el("td", t.margin_text || "–", t.ok ? "" : "bad"), verdictCell(t.ok)];
    }));
    renderExperiment();
    renderPhases();
    renderOverlay();
    if (data.capacity || data.llm_sweep) {
      $("cards").hidden = true;
      if (data.capacity) renderCapacity();
      renderLlmSweep();
    } else {
      renderCards();
      renderCharts();
    }
    renderFinal();
    renderLlm();
    var failed = data.thresholds.some(function (t) { return !t.ok; });
    var status = $("status");
    if (data.llm_sweep) {
      status.textContent = data.llm_sweep.complete ? "LLM sweep · finished" : "LLM sweep · interrupted";
      status.className = "status " + (data.llm_sweep.complete ? "finished" : "failed");
    } else if (data.capacity) {
      var done = data.capacity.verdict.complete;
      status.textContent = done ? "capacity search · finished" : "capacity search · interrupted";
      status.className = "status " + (done ? "finished" : "failed");
    } else if (data.experiment) {
      var held = data.experiment.status === "completed" && !data.experiment.deviated;
      status.textContent = held ? "experiment · hypothesis held" : "experiment · hypothesis not held";
      status.className = "status " + (held ? "finished" : "failed");
    } else if (data.summary) {
      status.textContent = (failed ? "finished · thresholds failed" : "finished") + (data.overlay ? " · over a baseline" : "");
      status.className = "status " + (failed ? "failed" : "finished");
    } else {
      status.textContent = "running";
      status.className = "status running";
    }
    document.body.setAttribute("data-points", String(data.points.length));
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].plot.setSize({ width: chartWidth(), height: 220 }); });
    if (data && data.summary) renderHistogram(data.summary.histogram);
  });

  renderAll();
  if (!window.BRUNT_LIVE || data.summary || data.experiment || data.capacity || data.llm_sweep) return;
  var events = new EventSource("events");
  events.addEventListener("state", function (e) {
    data = JSON.parse(e.data);
    renderAll();
    if (data.summary) events.close();
  });
  events.addEventListener("point", function (e) {
    var m = JSON.parse(e.data);
    data.points.push(m.point);
    data.thresholds = m.thresholds;
    renderAll();
  });
  events.onerror = function () {
    if (!data.summary) $("status").textContent = "disconnected";
  };
})();
