// Renders the run embedded in #replaygate-data. Vanilla JS, no library, no network: the page works from a file.
// Every piece of data reaches the page as text nodes (never as HTML), so an answer cannot inject markup.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("replaygate-data").textContent);
  // Long tool results several cases got are stored once, in DATA.texts; their entries hold the index.
  for (const suite of DATA.suites) {
    for (const t of [...suite.cases.flatMap((c) => c.repeats.map((r) => r.transcript)), ...suite.minimal.map((m) => m.transcript)]) {
      if (t) for (const e of t.entries) if (typeof e.output === "number") e.output = DATA.texts[e.output];
    }
  }
  const PALETTE = ["#1E88E5", "#D55E00", "#009E73", "#D6589F", "#808080"];
  const COLOUR_NAMES = ["blue", "orange", "green", "pink", "grey"];
  const SVG = "http://www.w3.org/2000/svg";

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
    for (const child of children.flat()) if (child) el.append(child instanceof Node ? child : String(child));
    return el;
  }
  const fmt = (x, places = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(places));
  const signed = (x, places = 2) => (x === null || x === undefined ? "" : Math.abs(x) < 5e-5 ? "0" : (x > 0 ? "+" : "") + x.toFixed(places));
  const pct = (a, b) => (b ? (100 * a / b).toFixed(1) + "%" : "n/a");
  // An axis step of 1, 2 or 5 times a power of ten giving at most `count` intervals up to `top`.
  function niceStep(top, count) {
    for (let power = 1; ; power *= 10) for (const f of [1, 2, 5]) if (f * power * count >= top) return f * power;
  }
  const slug = (text) => String(text).replace(/[^A-Za-z0-9_.-]+/g, "-");

  function row(rows, label) {
    const found = rows.find((r) => r[0] === label);
    return found ? found[1] : null;
  }
  function pretty(text) {
    if (typeof text !== "string") return String(text);
    const t = text.trim();
    if (!(t.startsWith("{") || t.startsWith("["))) return text;
    try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { return text; }
  }
  function card(label, value, sub, cls) {
    return h("div", { class: "card " + (cls || "") }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
      sub ? h("div", { class: "sub" }, sub) : null);
  }
  function kv(pairs) {
    return h("table", { class: "kv" }, pairs.filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== "")
      .map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))));
  }
  function diffView(text) {
    const box = h("div", { class: "diff" });
    for (const line of (text || "").replace(/\n$/, "").split("\n")) {
      const cls = line.startsWith("+++") || line.startsWith("---") ? "head" : line.startsWith("@@") ? "hunk"
        : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "";
      box.append(h("div", { class: cls }, line || " "));
    }
    return box;
  }

  // ---- charts ---------------------------------------------------------------------------------------

  function histogram(hist) {
    const W = 540, H = 230, L = 40, R = 10, T = 14, B = 42;
    const bins = hist.bins, now = hist.now, base = hist.baseline;
    const step = niceStep(Math.max(1, ...now, ...(base || [])), 5);
    const top = step * Math.ceil(Math.max(1, ...now, ...(base || [])) / step);
    const bw = (W - L - R) / bins, y = (v) => T + (H - T - B) * (1 - v / top);
    const svg = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": "Tasks by mean score" + (base ? ": this run and the baseline" : "") });
    for (let v = 0; v <= top; v += step) {
      const yy = y(v);
      svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: yy, y2: yy }), s("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, String(v)));
    }
    now.forEach((v, i) => {
      const x = L + i * bw + 3;
      svg.append(s("rect", { x, y: y(v), width: bw - 6, height: (H - B) - y(v), fill: PALETTE[0] },
        s("title", {}, `${(i / bins).toFixed(1)}–${((i + 1) / bins).toFixed(1)}: ${v} tasks this run` + (base ? `, ${base[i]} in the baseline` : ""))));
      svg.append(s("text", { x: L + i * bw + bw / 2, y: H - B + 14, "text-anchor": "middle" }, (i / bins).toFixed(1)));
    });
    if (base) {
      const pts = base.map((v, i) => `${L + i * bw + bw / 2},${y(v)}`).join(" ");
      svg.append(s("polyline", { points: pts, fill: "none", stroke: PALETTE[1], "stroke-width": 2.5 }));
      base.forEach((v, i) => svg.append(s("circle", { cx: L + i * bw + bw / 2, cy: y(v), r: 3.5, fill: PALETTE[1] })));
    }
    svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.append(s("text", { x: (W + L) / 2, y: H - 8, "text-anchor": "middle" }, "mean score of the task (bins of 0.1)"));
    const caption = base ? `Blue bars: this run; orange line: the baseline. Both count the same ${hist.tasks} tasks.`
      : `Blue bars: this run, ${hist.tasks} tasks; no baseline to compare.`;
    return h("figure", {}, h("h4", {}, "Score distribution"), svg, h("figcaption", {}, caption));
  }

  function trajectory(runs, title) {
    const drawn = runs.filter((r) => r.trajectory.length).slice(0, PALETTE.length);
    if (!drawn.length) return null;
    const W = 540, H = 230, L = 44, R = 12, T = 14, B = 42;
    const last = Math.max(1, ...drawn.map((r) => r.trajectory[r.trajectory.length - 1].rollouts));
    const step = niceStep(last, 6), end = step * Math.ceil(last / step);
    const x = (v) => L + (W - L - R) * v / end, y = (v) => T + (H - T - B) * (1 - v);
    const svg = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }), s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)));
    }
    for (let v = 0; v <= end; v += step) {
      svg.append(s("text", { x: x(v), y: H - B + 14, "text-anchor": "middle" }, String(v)));
    }
    drawn.forEach((run, i) => {
      // A step line: the best validation score so far holds until the round that beats it.
      let pts = [], last = null;
      for (const p of run.trajectory) {
        if (last !== null) pts.push(`${x(p.rollouts)},${y(last)}`);
        pts.push(`${x(p.rollouts)},${y(p.best_val)}`);
        last = p.best_val;
      }
      svg.append(s("polyline", { points: pts.join(" "), fill: "none", stroke: PALETTE[i], "stroke-width": 2.5 }));
      for (const p of run.trajectory) {
        svg.append(s("circle", { cx: x(p.rollouts), cy: y(p.best_val), r: 3.5, fill: PALETTE[i] },
          s("title", {}, `${run.strategy} round ${p.round}: best validation ${fmt(p.best_val)} after ${p.rollouts} rollouts (${p.best})`)));
      }
    });
    svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.append(s("text", { x: (W + L) / 2, y: H - 8, "text-anchor": "middle" }, "rollouts used"));
    const caption = drawn.map((r, i) => `${COLOUR_NAMES[i]}: ${r.strategy} (seed ${r.seed})`).join("; ")
      + ". Each line is its run's best validation score so far, by rollouts used.";
    return h("figure", {}, h("h4", {}, title), svg, h("figcaption", {}, caption));
  }

  // ---- overview ------------------------------------------------------------------------------------

  function gateCard(g) {
    if (!g.ran) return card("gate", "not run", g.summary);
    const c = g.comparison;
    return card("gate", g.failed ? "FAILED" : "passed",
      `Δ ${signed(c.diff, 3)} (95% CI ${c.ci_low === null ? "−∞" : signed(c.ci_low, 3)} to ${c.ci_high === null ? "∞" : signed(c.ci_high, 3)}), p(drop) ${fmt(c.p_drop, 4)}, ${c.n} tasks`,
      g.failed ? "gate-fail" : "gate-pass");
  }

  function overview(suite, runs) {
    const n = suite.numbers, rows = suite.summary_rows;
    const ci = n.ci && n.ci[1] !== null ? `± ${fmt((n.ci[1] - n.ci[0]) / 2)} (95% CI ${fmt(n.ci[0])} to ${fmt(n.ci[1])})` : "CI unbounded with one task";
    const latency = n.latency ? `${fmt(n.latency.p50, 2)} s / ${fmt(n.latency.p95, 2)} s` : "n/a";
    const parts = [];
    if (suite.simulator) {
      parts.push(h("div", { class: "double", "data-test": "double" }, h("strong", {}, "Test double, not a real model. "),
        "These answers come from the suite's offline stand-in (a simulator or a FunctionModel kept with the project); its scores measure prompts against the double's documented behaviour, not any real model's."));
    }
    parts.push(h("div", { class: "cards" },
      gateCard(suite.gate),
      card("pass rate", pct(n.passed, n.cases), `${n.passed} of ${n.cases} cases, threshold ${suite.threshold}`),
      card("mean score", fmt(n.mean), ci),
      card("tokens in / out", `${n.tokens_in} / ${n.tokens_out}`),
      card("estimated cost", (row(rows, "estimated cost") || "n/a").split(" (")[0], row(rows, "estimated cost")),
      card("latency p50 / p95", latency, n.latency ? "per rollout" : row(rows, "latency p50 / p95"))));
    const g = suite.gate;
    const gatePairs = [["verdict", g.summary], ["baseline", g.baseline]];
    if (g.comparison) {
      const c = g.comparison;
      gatePairs.push(["numbers", `mean ${fmt(c.mean_new)} vs baseline ${fmt(c.mean_base)}, Δ ${signed(c.diff, 3)}, p(drop) ${fmt(c.p_drop, 4)}, p(gain) ${fmt(c.p_gain, 4)}, ${c.method}`]);
      gatePairs.push(["rule", `fails on a drop > ${g.max_regression} with p < ${g.alpha}`]);
    }
    gatePairs.push(["tasks", `regressions ${g.regressions}, improvements ${g.improvements}, new ${g.new_tasks}, not in this run ${g.missing_tasks}` +
      (g.contaminated_tasks ? `, contaminated ${g.contaminated_tasks}` : "")]);
    for (const change of g.setting_changes) gatePairs.push(["changed", change]);
    parts.push(h("h3", {}, "Gate"), kv(gatePairs));
    const charts = h("div", { class: "charts" }, histogram(suite.histogram));
    const mine = runs.filter((r) => r.suite === suite.name);
    const traj = trajectory(mine, "Optimization trajectory");
    if (traj) charts.append(traj);
    parts.push(charts);
    if (suite.graders.length) {
      parts.push(h("h3", {}, "Graders"), h("table", { class: "data" },
        h("tr", {}, h("th", {}, "grader"), h("th", { class: "num" }, "weight"), h("th", { class: "num" }, "mean"),
          h("th", { class: "num" }, "baseline"), h("th", { class: "num" }, "tasks at 1.0")),
        suite.graders.map((g) => h("tr", {}, h("td", {}, g.name), h("td", { class: "num" }, g.weight === null ? "—" : String(g.weight)),
          h("td", { class: "num" }, fmt(g.mean)), h("td", { class: "num" }, fmt(g.baseline)), h("td", { class: "num" }, `${g.full}/${g.of}`)))));
    }
    if (suite.prompt_diff) {
      const d = suite.prompt_diff;
      parts.push(h("h3", {}, `Prompt changed: ${d.from} → ${d.to}`), d.diff ? diffView(d.diff) : h("p", { class: "note" }, d.note));
    }
    parts.push(h("details", {}, h("summary", {}, "Every summary row (as in scores.md)"), kv(rows)));
    return parts;
  }

  // ---- a case --------------------------------------------------------------------------------------

  function entryView(e, final) {
    if (e.type === "message") {
      const isFinal = final !== null && e.role === "assistant" && e === final;
      return h("div", { class: `entry e-${isFinal ? "final" : e.role}`, "data-entry": isFinal ? "final" : e.role },
        h("div", { class: "who" }, isFinal ? "final answer" : e.role), h("pre", {}, e.text));
    }
    if (e.type === "tool_call") {
      return h("div", { class: "entry e-tool_call", "data-entry": "tool_call" },
        h("div", { class: "who" }, `tool call: ${e.name}`, e.call_id ? ` (${e.call_id})` : ""), h("pre", {}, pretty(e.arguments)));
    }
    if (e.type === "tool_result") {
      const text = pretty(e.output);
      return h("div", { class: "entry e-tool_result", "data-entry": "tool_result" },
        h("div", { class: "who" }, `tool result${e.name ? ": " + e.name : ""}`, e.call_id ? ` (${e.call_id})` : ""),
        h("pre", { class: text.length > 600 ? "long" : "" }, text));
    }
    return h("div", { class: `entry e-${e.type}` }, h("div", { class: "who" }, e.type), h("pre", {}, e.text || ""));
  }

  function transcriptView(t, mode) {
    if (!t) {
      return h("p", { class: "note" }, mode === "live"
        ? "A live run records nothing: no transcript. Record with --eval-record-mode to see one."
        : "No recording of this case was found in the cassettes folder.");
    }
    const entries = t.entries;
    let final = null;
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i].type === "tool_call") break;
      if (entries[i].type === "message" && entries[i].role === "assistant" && entries[i].text === t.final) { final = entries[i]; break; }
    }
    const box = h("div", { class: "transcript", "data-api": t.api || "" },
      h("div", { class: "note" }, `${t.api === "responses" ? "Responses API" : "Chat Completions"}; ${t.calls.filter((c) => c.by === "agent").length} agent model calls`));
    for (const e of entries) box.append(entryView(e, final));
    if (final === null) box.append(h("p", { class: "note", "data-entry": "no-final" }, "No final answer: the last model turn asked for a tool or failed."));
    const calls = h("table", { class: "data" }, h("tr", {}, h("th", {}, "#"), h("th", {}, "by"), h("th", {}, "API"), h("th", {}, "status"),
      h("th", { class: "num" }, "tokens in"), h("th", { class: "num" }, "tokens out")),
      t.calls.map((c, i) => h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, c.by === "agent" ? "agent" : "grader / other"), h("td", {}, c.api || "?"),
        h("td", {}, String(c.status)), h("td", { class: "num" }, c.tokens ? String(c.tokens[0]) : "—"), h("td", { class: "num" }, c.tokens ? String(c.tokens[1]) : "—"))));
    box.append(h("details", {}, h("summary", {}, `Model calls (${t.calls.length})`), calls));
    if (t.other.length) {
      box.append(h("details", { "data-test": "other-calls" }, h("summary", {}, `Calls that were not the agent's, e.g. a judge (${t.other.length})`),
        t.other.map((o, i) => h("div", { class: "transcript" }, h("h4", {}, `call ${i + 1} (${o.api || "?"}, status ${o.status})`),
          o.sent.map((e) => entryView(e, null)),
          h("div", { class: "entry e-assistant" }, h("div", { class: "who" }, "answer"), h("pre", {}, o.answer === null ? "(no answer)" : pretty(o.answer)))))));
    }
    return box;
  }

  function gradersView(rep, base) {
    const names = Object.keys(rep.graders);
    if (!names.length) return h("p", { class: "note" }, rep.reason || "no grader scores");
    return h("table", { class: "data", "data-test": "graders" },
      h("tr", {}, h("th", {}, "grader"), h("th", { class: "num" }, "score"), h("th", { class: "num" }, "baseline"), h("th", {}, "reason")),
      names.map((n) => h("tr", {}, h("td", {}, n), h("td", { class: "num" }, fmt(rep.graders[n].score, 2)),
        h("td", { class: "num" }, base && n in base.graders ? fmt(base.graders[n], 2) : "—"), h("td", {}, rep.graders[n].reason))));
  }

  function usageView(rep) {
    const t = rep.tokens;
    return kv([["tokens in / out", `${t.in} / ${t.out}`], ["of which graders", `${t.grading_in} / ${t.grading_out}`],
      ["cached input / reasoning output", t.cached || t.reasoning ? `${t.cached} / ${t.reasoning}` : null],
      ["answers asked again", rep.retries ? String(rep.retries) : null],
      ["latency", rep.latency_s === null ? "not measured in replay" : `${fmt(rep.latency_s, 2)} s`],
      ["time to first token", rep.ttft_s === null || rep.ttft_s === undefined ? null : `${fmt(rep.ttft_s, 2)} s`],
      ["error kind", rep.error_kind], ["contaminated", rep.contaminated || null]]);
  }

  function caseView(suite, c) {
    const box = h("div", { class: "case-detail", "data-case": c.id });
    let current = 0;
    const left = h("div", {}), right = h("div", { class: "side" });
    function show(k) {
      current = k;
      const rep = c.repeats[k];
      left.replaceChildren(h("h4", {}, "Transcript" + (c.repeats.length > 1 ? ` (repeat ${rep.repeat})` : "")), transcriptView(rep.transcript, suite.mode));
      const b = c.baseline;
      right.replaceChildren(
        h("div", { "data-test": "compare" }, h("h4", {}, "This run and the baseline"),
          h("div", { class: "compare" },
            h("div", { "data-test": "now" }, h("div", { class: "note" }, "this run"), h("div", { class: "answer" }, rep.answer),
              h("div", {}, `score ${fmt(c.score, 2)}, ${c.verdict.passed ? "pass" : "fail"}`), h("div", { class: "note" }, `expected ${c.expected}`)),
            h("div", { "data-test": "baseline" }, h("div", { class: "note" }, "baseline"),
              b ? [h("div", { class: "answer" }, b.answers.length ? b.answers.join(" | ") : "(the baseline file keeps no answer; rewrite it with --update-baseline)"),
                h("div", {}, `score ${fmt(b.score, 2)}, ${b.passed ? "pass" : "fail"}`), c.delta !== null ? h("div", {}, `Δ ${signed(c.delta)}`) : null]
                : h("div", { class: "note" }, "not in the baseline")))),
        h("div", {}, h("h4", {}, "Graders"), gradersView(rep, b)),
        h("div", {}, h("h4", {}, "Usage and latency"), usageView(rep)));
      repeatBar.querySelectorAll("button").forEach((el, i) => el.classList.toggle("on", i === k));
    }
    const v = c.verdict;
    const repeatBar = h("div", { class: "repeats" });
    if (c.repeats.length > 1) {
      repeatBar.append(h("span", {}, "Repeats:"));
      c.repeats.forEach((r, k) => repeatBar.append(h("button", { type: "button", onclick: () => show(k) },
        `#${r.repeat} ${fmt(r.score, 2)} ${r.passed ? "pass" : "fail"}`)));
      repeatBar.append(h("span", { "data-test": "reducer" }, `verdict: ${v.passes} of ${v.repeats} passed, ${v.needed} needed → ${v.passed ? "pass" : "fail"}; mean ${fmt(c.score, 2)}, spread ${fmt(v.spread, 2)}, pass@${v.repeats} ${fmt(v.pass_at_k, 2)}`));
    }
    box.append(repeatBar, h("div", { class: "case" }, left, right));
    show(current);
    return box;
  }

  // ---- the case table ------------------------------------------------------------------------------

  const STATUS_BADGE = { "pass": "b-pass", "fail": "b-fail", "known failure": "b-known", "error": "b-error" };

  function badges(c) {
    return [h("span", { class: "badge " + STATUS_BADGE[c.status] }, c.status),
      c.regression ? h("span", { class: "badge b-regression" }, "regression") : null,
      c.improvement ? h("span", { class: "badge b-improvement" }, "improvement") : null,
      c.new ? h("span", { class: "badge b-info" }, "new") : null,
      c.contaminated ? h("span", { class: "badge b-info" }, "contaminated") : null];
  }

  function haystack(c) {
    const parts = [c.id, c.expected, c.answer, c.reason];
    for (const r of c.repeats) {
      if (r.transcript) for (const e of r.transcript.entries) parts.push(e.text || e.arguments || e.output || e.name || "");
    }
    return parts.join("\n").toLowerCase();
  }

  function casesView(suite) {
    const wrap = h("div", {});
    const counts = {};
    for (const c of suite.cases) {
      counts[c.status] = (counts[c.status] || 0) + 1;
      if (c.regression) counts.regression = (counts.regression || 0) + 1;
      if (c.improvement) counts.improvement = (counts.improvement || 0) + 1;
    }
    const status = h("select", { "data-filter": "status", "aria-label": "status" }, h("option", { value: "" }, `every status (${suite.cases.length})`),
      [...DATA.statuses, "regression", "improvement"].map((st) => h("option", { value: st }, `${st} (${counts[st] || 0})`)));
    const grader = h("select", { "data-filter": "grader", "aria-label": "grader" }, h("option", { value: "" }, "any grader"),
      suite.graders.map((g) => h("option", { value: g.name }, `below 1 on ${g.name}`)));
    const search = h("input", { type: "search", "data-filter": "search", placeholder: "search ids, answers, reasons, transcripts", "aria-label": "search" });
    const shown = h("span", { class: "count", "data-test": "count" });
    wrap.append(h("div", { class: "filters" }, status, grader, search, shown));
    const table = h("table", { class: "data cases", "data-suite": suite.name });
    table.append(h("tr", {}, h("th", {}, "case"), h("th", {}, "status"), h("th", {}, "expected"), h("th", {}, "answer"),
      h("th", { class: "num" }, "score"), h("th", { class: "num" }, "baseline"), h("th", { class: "num" }, "Δ"), h("th", {}, "reasons")));
    const rows = suite.cases.map((c) => {
      const tr = h("tr", { class: "case-row", "data-case": c.id, "data-status": c.status, tabindex: "0" },
        h("td", {}, c.id), h("td", {}, badges(c)), h("td", {}, c.expected), h("td", {}, c.answer),
        h("td", { class: "num" }, fmt(c.score, 2)), h("td", { class: "num" }, c.baseline ? fmt(c.baseline.score, 2) : "—"),
        h("td", { class: "num " + (c.delta > 0 ? "up" : c.delta < 0 ? "down" : "") }, c.delta === null ? (c.new ? "new" : "") : signed(c.delta)),
        h("td", { class: "reason" }, c.reason.length > 160 ? c.reason.slice(0, 159) + "…" : c.reason));
      const detail = h("tr", { class: "detail-row", hidden: true }, h("td", { class: "detail", colspan: "8" }));
      let built = false;
      const toggle = () => {
        const open = detail.hidden;
        if (open && !built) { detail.firstChild.append(caseView(suite, c)); built = true; }
        detail.hidden = !open;
        tr.classList.toggle("open", open);
        if (open) history.replaceState(null, "", `#case/${encodeURIComponent(suite.name)}/${encodeURIComponent(c.id)}`);
      };
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); } });
      table.append(tr, detail);
      return { c, tr, detail, text: null, toggle };
    });
    function apply() {
      const st = status.value, gr = grader.value, q = search.value.trim().toLowerCase();
      let n = 0;
      for (const r of rows) {
        const c = r.c;
        let ok = !st || c.status === st || (st === "regression" && c.regression) || (st === "improvement" && c.improvement);
        if (ok && gr) ok = c.failing_graders.includes(gr);
        if (ok && q) { if (r.text === null) r.text = haystack(c); ok = r.text.includes(q); }
        r.tr.hidden = !ok;
        if (!ok) r.detail.hidden = true, r.tr.classList.remove("open");
        n += ok ? 1 : 0;
      }
      shown.textContent = `${n} of ${rows.length} cases`;
    }
    for (const el of [status, grader]) el.addEventListener("change", apply);
    search.addEventListener("input", apply);
    apply();
    wrap.append(table);
    wrap.open = (id) => { const r = rows.find((x) => x.c.id === id); if (r && r.detail.hidden) r.toggle(); if (r) r.tr.scrollIntoView(); };
    return wrap;
  }

  function minimalView(suite) {
    if (!suite.minimal.length) return [];
    return [h("h3", {}, "Smallest failing generated case"), h("p", {}, "Hypothesis shrank a failing property test to this case:"),
      suite.minimal.map((m) => h("div", { class: "run", "data-test": "minimal" },
        kv([["case", m.id], ["input", JSON.stringify(m.input)], ["expected", m.expected], ["answer", m.answer], ["failed", m.reason]]),
        h("details", {}, h("summary", {}, "Transcript"), transcriptView(m.transcript, suite.mode))))];
  }

  // ---- optimization runs ---------------------------------------------------------------------------

  function runView(run) {
    const g = run.gate;
    const verdict = run.accepted ? "written back" : "kept the old prompt";
    const holdout = h("table", { class: "data", "data-test": "holdout" },
      h("tr", {}, h("th", {}, "holdout task"), h("th", { class: "num" }, `before (${run.from})`), h("th", { class: "num" }, `after (${run.to})`), h("th", { class: "num" }, "Δ")),
      run.holdout.map((t) => h("tr", {}, h("td", {}, t.id), h("td", { class: "num" }, fmt(t.before, 2)), h("td", { class: "num" }, fmt(t.after, 2)),
        h("td", { class: "num " + ((t.after - t.before) > 0 ? "up" : (t.after - t.before) < 0 ? "down" : "") },
          t.before === null || t.after === null ? "" : signed(t.after - t.before)))));
    const candidates = h("table", { class: "data", "data-test": "candidates" },
      h("tr", {}, ["version", "parent", "origin", "round", "chars"].map((x) => h("th", {}, x)),
        h("th", { class: "num" }, "minibatch"), h("th", { class: "num" }, "validation"), h("th", {}, "status")),
      run.candidates.map((c) => h("tr", {}, h("td", {}, c.version), h("td", {}, c.parent || "—"), h("td", {}, c.origin), h("td", {}, String(c.round)),
        h("td", {}, String(c.chars)), h("td", { class: "num" }, c.minibatch_n ? `${fmt(c.minibatch_mean)} (${c.minibatch_n})` : "—"),
        h("td", { class: "num" }, c.val_n ? `${fmt(c.val_mean)} (${c.val_n})` : "—"), h("td", {}, c.status))));
    const splits = Object.keys((run.splits.best || {})).map((name) => {
      const b = run.splits.incumbent[name] || {}, a = run.splits.best[name] || {};
      return [name, `${fmt(b[run.metric])} → ${fmt(a[run.metric])} (${a.n}/${a.of} tasks scored)`];
    });
    return h("div", { class: "run", id: `opt-${slug(run.suite)}-${slug(run.strategy)}`, "data-run": run.file },
      h("h3", {}, `${run.suite}: ${run.strategy} (seed ${run.seed}), ${verdict}`),
      run.simulator ? h("div", { class: "double" }, h("strong", {}, "Test double, not a real model. "), "The agent, critic and editor were the offline stand-in.") : null,
      kv([["prompt", `${run.prompt_path}: ${run.from} → ${run.to}`], ["write-back gate", g ? g.summary : "not run"], ["stopped", run.stopped],
        ["budget", run.budget ? `${run.budget.used} of ${run.budget.rollouts} rollouts, ${run.budget.optimizer_calls} optimizer calls` : null], ...splits]),
      h("div", { class: "charts" }, trajectory([run], "Trajectory")),
      h("h4", {}, "Written-back prompt against the old one"), h("div", { "data-test": "prompt-diff" }, diffView(run.diff)),
      h("h4", {}, `Holdout scores of both prompts (${run.metric}; the data the gate used)`), holdout,
      h("h4", {}, "Candidates and their validation scores"), candidates);
  }

  // ---- the page ------------------------------------------------------------------------------------

  const app = document.getElementById("app");
  const nav = h("header", { class: "top" }, h("h1", {}, "Eval report"),
    DATA.suites.map((su) => h("a", { href: `#suite-${slug(su.name)}` }, su.name)),
    DATA.optimization.length ? h("a", { href: "#optimization" }, "optimization runs") : null);
  const main = h("main", {});
  const tables = {};
  for (const suite of DATA.suites) {
    const cases = casesView(suite);
    tables[suite.name] = cases;
    main.append(h("section", { class: "suite", id: `suite-${slug(suite.name)}`, "data-suite": suite.name },
      h("h2", {}, `Suite ${suite.name}`),
      h("p", { class: "note" }, `${suite.mode} · agent ${suite.agent_model} · prompt ${suite.prompt.path} version ${suite.prompt.version}`),
      overview(suite, DATA.optimization), h("h3", {}, "Cases"), cases, minimalView(suite)));
  }
  if (DATA.optimization.length) {
    main.append(h("section", { class: "optimization", id: "optimization" }, h("h2", {}, "Optimization runs"), DATA.optimization.map(runView)));
  }
  if (Object.keys(DATA.properties).length) {
    main.append(h("section", {}, h("h2", {}, "Property tests"), kv(Object.entries(DATA.properties).map(([k, v]) => [k, v ? "passed" : "failed"]))));
  }
  app.replaceChildren(nav, main);
  const wanted = /^#case\/([^/]+)\/(.+)$/.exec(location.hash);
  if (wanted && tables[decodeURIComponent(wanted[1])]) tables[decodeURIComponent(wanted[1])].open(decodeURIComponent(wanted[2]));
  document.documentElement.setAttribute("data-ready", "1");
})();
