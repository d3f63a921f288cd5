// Eval-delta webview: the gate verdict, base vs head per prompt and slice with confidence-interval
// bars, and the flipped cases with their outputs before and after (word diff).
import "../shared/webview.css";
import { DeltaToWebviewSchema, type DeltaFromWebview, type DeltaPrompt } from "../protocol/messages";
import { clear, el, pct, signedPct, vscodeApi } from "../shared/dom";

const api = vscodeApi();
const send = (m: DeltaFromWebview) => api.postMessage(m);
const app = document.getElementById("app")!;

/** A horizontal CI bar on a −span..+span axis with a zero line and a dot at the estimate. */
function ciBar(delta: number, ci: [number, number], bad: boolean, span: number): HTMLElement {
  const box = el("div", "ci");
  const x = (v: number) => `${(((Math.max(-span, Math.min(span, v)) + span) / (2 * span)) * 100).toFixed(2)}%`;
  const zero = el("div", "zero");
  zero.style.left = x(0);
  const bar = el("div", `bar${bad ? " bad" : ""}`);
  bar.style.left = x(ci[0]);
  bar.style.width = `${(((Math.min(span, ci[1]) - Math.max(-span, ci[0])) / (2 * span)) * 100).toFixed(2)}%`;
  const dot = el("div", "dot");
  dot.style.left = x(delta);
  box.title = `${signedPct(delta)} (95% CI ${signedPct(ci[0])} … ${signedPct(ci[1])})`;
  box.append(zero, bar, dot);
  return box;
}

function renderPrompt(p: DeltaPrompt): HTMLElement {
  const sec = el("div", "section");
  sec.append(el("h3", "", `${p.file} · ${p.variant} · ${p.evalSet}`));
  sec.append(
    el(
      "div",
      "",
      `${p.status}: ${pct(p.basePassRate, 1)} → ${pct(p.headPassRate, 1)} (${signedPct(p.delta)}${p.ci ? `, 95% CI ${signedPct(p.ci[0])} … ${signedPct(p.ci[1])}` : ""}${p.pValue !== null ? `, p=${p.pValue.toPrecision(2)}` : ""}) over ${p.cases} common cases`,
    ),
  );
  if (p.evalSetChanged) sec.append(el("div", "notice", "The eval set changed between base and head: only the common cases are compared."));
  for (const r of p.gate.reasons) sec.append(el("div", "fail", `✗ ${r}`));
  for (const w of p.gate.warnings) sec.append(el("div", "muted", `⚠ ${w}`));
  const span = Math.max(0.1, ...p.slices.flatMap((s) => [Math.abs(s.ci[0]), Math.abs(s.ci[1])]), p.ci ? Math.max(Math.abs(p.ci[0]), Math.abs(p.ci[1])) : 0);
  const table = el("table", "slices");
  const head = el("tr");
  for (const h of ["slice", "cases", "base", "head", "Δ", "95% CI", "p", "detectable drop"]) head.append(el("th", "", h));
  table.append(head);
  const rows = p.ci && p.delta !== null ? [{ name: "(all)", cases: p.cases, basePassRate: p.basePassRate ?? 0, passRate: p.headPassRate ?? 0, delta: p.delta, ci: p.ci, pValue: p.pValue ?? 1, minDetectableDrop: null, failsGate: !p.gate.passed }, ...p.slices] : p.slices;
  for (const s of rows) {
    const tr = el("tr");
    const chart = el("td");
    chart.append(ciBar(s.delta, s.ci, s.failsGate, span));
    tr.append(
      el("td", s.failsGate ? "fail" : "", s.name),
      el("td", "", String(s.cases)),
      el("td", "", pct(s.basePassRate)),
      el("td", "", pct(s.passRate)),
      el("td", s.delta < 0 ? "fail" : s.delta > 0 ? "pass" : "", signedPct(s.delta)),
      chart,
      el("td", "", s.pValue.toPrecision(2)),
      el("td", "muted", s.minDetectableDrop === null ? "none" : pct(s.minDetectableDrop)),
    );
    table.append(tr);
  }
  sec.append(table);
  if (p.flips.length) sec.append(el("h4", "", `${p.flips.length} flipped case${p.flips.length > 1 ? "s" : ""}`));
  for (const f of p.flips) {
    const box = el("div", "flip");
    const title = el("div", "head");
    const id = el("span", "case-id", f.id);
    id.addEventListener("click", () => send({ type: "openCase", caseId: f.id, evalSet: p.evalSet }));
    title.append(id, el("span", f.to === "pass" ? "pass" : "fail", `  ${f.from} → ${f.to}`), el("span", "tags", `  ${f.tags.join(", ")}`));
    const diff = el("div", "output");
    for (const part of f.outputDiff) diff.append(part.op === "=" ? document.createTextNode(part.text) : el("span", part.op === "+" ? "ins" : "del", part.text));
    const two = el("div", "two");
    const before = el("div");
    before.append(el("div", "meta", "before"), el("div", "output", f.baseOutput));
    const after = el("div");
    after.append(el("div", "meta", "after"), el("div", "output", f.headOutput));
    two.append(before, after);
    box.append(title, diff, two);
    sec.append(box);
  }
  return sec;
}

window.addEventListener("message", (ev: MessageEvent) => {
  const r = DeltaToWebviewSchema.safeParse(ev.data);
  if (!r.success) return;
  const m = r.data;
  const t0 = performance.now();
  clear(app);
  if (m.type === "loading") {
    app.append(el("div", "section muted", `Running the evals of ${m.file} at ${m.baseRef} and in the working tree…`));
    return;
  }
  if (m.type === "error") {
    app.append(el("div", "section fail", m.message));
    return;
  }
  const top = el("div", "section");
  top.append(el("div", `verdict ${m.gate.passed ? "pass" : "fail"}`, m.gate.passed ? "Gate: PASS" : "Gate: FAIL"));
  top.append(el("div", "muted", `base ${m.base.ref}${m.base.commit ? ` (${m.base.commit.slice(0, 10)})` : ""} → head ${m.head.ref}${m.head.commit ? ` (${m.head.commit.slice(0, 10)})` : " (working tree)"}`));
  // The reasons are listed per prompt below; the summary only counts them.
  if (!m.gate.passed) top.append(el("div", "fail", `${m.gate.reasons.length} gate failure${m.gate.reasons.length === 1 ? "" : "s"}, listed per prompt below`));
  app.append(top);
  if (m.prompts.length === 0) app.append(el("div", "section muted", "No prompt changed between these versions."));
  for (const p of m.prompts) app.append(renderPrompt(p));
  requestAnimationFrame(() => send({ type: "painted", ms: performance.now() - t0 }));
});

send({ type: "ready" });
