// Compare-models webview: cases × variants grid, streamed cells, per-column stats, pass/fail per
// assertion, word diff against the reference column, token-confidence heatmap, slice and
// "differs from reference" filters, markdown export. Rows are virtualized (fixed height, only the
// visible ones exist in the DOM), so 10 variants × 100 cases stay smooth.
import "../shared/webview.css";
import { CompareToWebviewSchema, type CaseRow, type Cell, type CompareFromWebview, type LadderView, type VariantStats } from "../protocol/messages";
import { bytes, clear, el, num, pct, vscodeApi } from "../shared/dom";
import { wordDiff } from "../shared/word-diff";
import { ladderBlock } from "./ladder-chart";

const api = vscodeApi();
const send = (m: CompareFromWebview) => api.postMessage(m);
const ROW_H = 104;
const OVERSCAN = 4;

interface State {
  prompt: string;
  variants: string[];
  selected: string[];
  columns: string[];
  reference: string | null;
  cases: CaseRow[];
  cells: Map<string, Cell>;
  stats: Map<string, VariantStats>;
  slice: string;
  differsOnly: boolean;
  mode: "diff" | "confidence";
  running: boolean;
  progress: string;
  trusted: boolean;
  message: string;
  t0: number;
  /** The quant ladder of the last run (variants of one family), and whether it is shown. */
  ladder: LadderView | null;
  showLadder: boolean;
}

const S: State = {
  prompt: "",
  variants: [],
  selected: [],
  columns: [],
  reference: null,
  cases: [],
  cells: new Map(),
  stats: new Map(),
  slice: "",
  differsOnly: false,
  mode: "diff",
  running: false,
  progress: "",
  trusted: true,
  message: "",
  t0: performance.now(),
  ladder: null,
  showLadder: true,
};

const key = (caseId: string, variant: string) => `${caseId}\u0000${variant}`;
const app = document.getElementById("app")!;
const toolbar = el("div", "toolbar");
const notice = el("div", "notice");
const ladderBox = el("div", "ladder-box");
const statsHead = el("div", "grid-head");
const scroller = el("div", "scroller");
const spacer = el("div", "spacer");
scroller.append(spacer);
app.append(toolbar, notice, ladderBox, statsHead, scroller);

function renderLadder(): void {
  clear(ladderBox);
  const show = S.ladder !== null && S.showLadder;
  if (show) ladderBox.append(ladderBlock(S.ladder!));
  // The grid below keeps the rest of the window.
  document.body.style.setProperty("--ladder-h", show ? `${ladderBox.offsetHeight}px` : "0px");
}

function differs(c: CaseRow): boolean {
  const ref = S.reference && S.cells.get(key(c.id, S.reference));
  if (!ref) return false;
  return S.columns.some((v) => {
    const x = S.cells.get(key(c.id, v));
    return x !== undefined && v !== S.reference && (x.output !== ref.output || x.pass !== ref.pass);
  });
}

function visibleCases(): CaseRow[] {
  return S.cases.filter((c) => (!S.slice || c.tags.includes(S.slice)) && (!S.differsOnly || differs(c)));
}

function renderToolbar(): void {
  clear(toolbar);
  toolbar.append(el("span", "title", S.prompt || "Compare models"));
  const vbox = el("span", "variants");
  for (const v of S.variants) {
    const label = el("label");
    const cb = el("input");
    cb.type = "checkbox";
    cb.checked = S.selected.includes(v);
    cb.addEventListener("change", () => {
      S.selected = cb.checked ? [...S.selected, v] : S.selected.filter((x) => x !== v);
    });
    label.append(cb, document.createTextNode(` ${v}${v === S.reference ? " (ref)" : ""}`));
    vbox.append(label);
  }
  toolbar.append(vbox);
  const run = el("button", "", S.running ? "Running…" : "Run");
  run.disabled = S.running || !S.trusted || S.selected.length === 0;
  run.addEventListener("click", () => send({ type: "run", variants: S.variants.filter((v) => S.selected.includes(v)) }));
  const cancel = el("button", "secondary", "Cancel");
  cancel.disabled = !S.running;
  cancel.addEventListener("click", () => send({ type: "cancel" }));
  const slice = el("select");
  slice.title = "Slice";
  const slices = [...new Set(S.cases.flatMap((c) => c.tags))].sort();
  for (const s of ["", ...slices]) {
    const o = el("option", "", s || "all slices");
    o.value = s;
    o.selected = s === S.slice;
    slice.append(o);
  }
  slice.addEventListener("change", () => {
    S.slice = slice.value;
    layout();
  });
  const diffLabel = el("label");
  const diffCb = el("input");
  diffCb.type = "checkbox";
  diffCb.checked = S.differsOnly;
  diffCb.addEventListener("change", () => {
    S.differsOnly = diffCb.checked;
    layout();
  });
  diffLabel.append(diffCb, document.createTextNode(" differs from reference"));
  const mode = el("select");
  for (const m of ["diff", "confidence"] as const) {
    const o = el("option", "", m === "diff" ? "word diff vs reference" : "token confidence");
    o.value = m;
    o.selected = m === S.mode;
    mode.append(o);
  }
  mode.addEventListener("change", () => {
    S.mode = mode.value === "confidence" ? "confidence" : "diff";
    paintRows(true);
  });
  if (S.ladder) {
    const lad = el("button", "secondary", S.showLadder ? "Hide ladder" : "Quant ladder");
    lad.addEventListener("click", () => {
      S.showLadder = !S.showLadder;
      renderToolbar();
      renderLadder();
    });
    toolbar.append(lad);
  }
  const exp = el("button", "secondary", "Export markdown");
  exp.addEventListener("click", () => send({ type: "export", markdown: toMarkdown() }));
  toolbar.append(run, cancel, slice, diffLabel, mode, exp, el("span", "muted", S.progress));
}

function renderNotice(): void {
  const text = !S.trusted ? "Restricted workspace: nothing is generated here. Trust the workspace to compare models." : S.message;
  notice.textContent = text;
  notice.style.display = text ? "" : "none";
}

function renderHead(): void {
  clear(statsHead);
  statsHead.style.setProperty("--cols", String(Math.max(1, S.columns.length)));
  statsHead.append(el("div", "muted", `${visibleCases().length} cases`));
  for (const v of S.columns) {
    const h = el("div");
    h.append(el("div", `vname${v === S.reference ? " ref" : ""}`, v === S.reference ? `${v} (reference)` : v));
    const s = S.stats.get(v) ?? liveStats(v);
    // A served variant whose server gives no prompt logprobs has no KL: say so rather than show a number.
    const kl = v === S.reference ? "" : s.kldMean === null && s.kldNote ? " · no KL" : ` · KL ${num(s.kldMean, 4)}`;
    const meta = el("div", "meta", `${num(s.tokens, 0, " tokens")} · mem ${bytes(s.memoryBytes)}${kl}`);
    if (s.kldNote) meta.title = s.kldNote;
    h.append(el("div", "meta", `pass ${pct(s.passRate)} · ${num(s.tokensPerSecond, 1, " tok/s")} · TTFT ${num(s.timeToFirstTokenMs, 0, " ms")}`), meta);
    statsHead.append(h);
  }
}

/** Stats from the cells seen so far, until the run's final numbers arrive. */
function liveStats(v: string): VariantStats {
  const cells = S.cases.map((c) => S.cells.get(key(c.id, v))).filter((x): x is Cell => !!x);
  const tps = cells.map((c) => c.tokensPerSecond).filter((x): x is number => typeof x === "number");
  const ttft = cells.map((c) => c.timeToFirstTokenMs).filter((x): x is number => typeof x === "number");
  const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : null);
  return {
    variant: v,
    // Sampled cases count by their share of passing samples, as the run's pass rate does.
    passRate: cells.length ? cells.reduce((n, c) => n + (c.passFraction ?? (c.pass ? 1 : 0)), 0) / cells.length : null,
    tokensPerSecond: mean(tps),
    timeToFirstTokenMs: mean(ttft),
    tokens: cells.reduce((n, c) => n + (c.tokens?.length ?? 0), 0) || null,
    memoryBytes: null,
    kldMean: mean(cells.map((c) => c.kld).filter((x): x is number => typeof x === "number")),
  };
}

let rows: CaseRow[] = [];
const rendered = new Map<number, HTMLElement>();

function layout(): void {
  rows = visibleCases();
  spacer.style.height = `${rows.length * ROW_H}px`;
  renderHead();
  paintRows(true);
}

function confidenceSpan(text: string, prob: number): HTMLSpanElement {
  const s = el("span", "tok", text);
  // Low confidence = strong red; the exact probability is in the tooltip.
  const a = Math.max(0, Math.min(1, 1 - prob)) * 0.75;
  s.style.backgroundColor = `rgba(248, 81, 73, ${a.toFixed(3)})`;
  s.title = `p=${prob.toFixed(3)}`;
  return s;
}

/** Word diffs by (reference, output): scrolling back over a row must not diff it again. */
const diffCache = new Map<string, ReturnType<typeof wordDiff>>();
function cachedDiff(reference: string, output: string): ReturnType<typeof wordDiff> {
  const k = `${reference}\u0000${output}`;
  let d = diffCache.get(k);
  if (!d) {
    if (diffCache.size > 5000) diffCache.clear();
    d = wordDiff(reference, output);
    diffCache.set(k, d);
  }
  return d;
}

function renderCell(c: CaseRow, v: string): HTMLElement {
  const box = el("div", "cell");
  const cell = S.cells.get(key(c.id, v));
  if (!cell) {
    box.append(el("span", "pending", S.running ? "waiting…" : "not run"));
    return box;
  }
  const badge = el("span", `badge ${cell.error ? "fail" : cell.pass ? "pass" : "fail"}`, cell.error ? "ERROR" : cell.pass ? "PASS" : "FAIL");
  box.append(badge);
  if (cell.cached) box.append(el("span", "meta", "cached "));
  if (typeof cell.kld === "number" && v !== S.reference) box.append(el("span", "meta", `KL ${cell.kld.toFixed(4)}`));
  const asserts = el("div", "asserts");
  for (const a of cell.assertions) {
    const line = el("span", a.pass ? "pass" : "fail", `${a.pass ? "✓" : "✗"} ${a.type}${a.expected ? ` ${a.expected}` : ""}  `);
    if (a.message) line.title = a.message;
    asserts.append(line);
  }
  box.append(asserts);
  if (cell.error) box.append(el("div", "output fail", cell.error));
  const out = el("div", "output");
  const ref = S.reference ? S.cells.get(key(c.id, S.reference)) : undefined;
  if (S.mode === "confidence" && cell.tokens?.length) {
    for (const t of cell.tokens) out.append(confidenceSpan(t.text, t.prob));
  } else if (S.mode === "diff" && ref && v !== S.reference && ref.output !== cell.output) {
    for (const p of cachedDiff(ref.output, cell.output)) out.append(p.op === "=" ? document.createTextNode(p.text) : el("span", p.op === "+" ? "ins" : "del", p.text));
  } else out.textContent = cell.output;
  box.append(out);
  if (cell.samples && cell.samples.length > 1) box.append(renderSamples(c, v, cell));
  return box;
}

/** Which cells show their samples expanded (kept across re-renders of a row). */
const expanded = new Set<string>();

/** A sampled case's samples, collapsed behind its pass fraction. */
function renderSamples(c: CaseRow, v: string, cell: Cell): HTMLElement {
  const samples = cell.samples!;
  const passed = samples.filter((s) => s.pass).length;
  const d = el("details", "samples");
  d.open = expanded.has(key(c.id, v));
  d.addEventListener("toggle", () => (d.open ? expanded.add(key(c.id, v)) : expanded.delete(key(c.id, v))));
  d.append(el("summary", "meta", `${passed}/${samples.length} samples pass (${pct(cell.passFraction ?? passed / samples.length)})`));
  samples.forEach((s, i) => {
    const line = el("div", "sample");
    line.append(el("span", `badge ${s.pass ? "pass" : "fail"}`, `#${i} ${s.pass ? "PASS" : "FAIL"}`), el("span", "output", s.output));
    if (s.message) line.title = s.message;
    d.append(line);
  });
  return d;
}

function renderRow(i: number): HTMLElement {
  const c = rows[i]!;
  const row = el("div", "row");
  row.style.top = `${i * ROW_H}px`;
  row.style.setProperty("--cols", String(Math.max(1, S.columns.length)));
  const first = el("div");
  const id = el("div", "case-id", c.id);
  id.addEventListener("click", () => send({ type: "openCase", caseId: c.id, evalSet: c.evalSet }));
  first.append(id, el("div", "tags", c.tags.join(", ")), el("div", "tags", c.evalSet));
  row.append(first);
  for (const v of S.columns) row.append(renderCell(c, v));
  return row;
}

let dirtyCases = new Set<string>();

/** Renders the visible rows; `all` re-renders every visible row, else only rows with new cells. */
function paintRows(all = false): void {
  const top = scroller.scrollTop;
  const h = scroller.clientHeight || 800;
  const from = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const to = Math.min(rows.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
  for (const [i, node] of rendered) {
    if (i < from || i >= to || all) {
      node.remove();
      rendered.delete(i);
    }
  }
  for (let i = from; i < to; i++) {
    const old = rendered.get(i);
    if (old && !dirtyCases.has(rows[i]!.id)) continue;
    const fresh = renderRow(i);
    if (old) old.replaceWith(fresh);
    else spacer.append(fresh);
    rendered.set(i, fresh);
  }
  dirtyCases = new Set();
}

let scrollQueued = false;
scroller.addEventListener("scroll", () => {
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    paintRows();
  });
});
window.addEventListener("resize", () => paintRows(true));

let frameQueued = false;
let headDirty = false;
function schedule(): void {
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame(() => {
    frameQueued = false;
    if (headDirty) {
      headDirty = false;
      if (S.differsOnly) layout();
      else renderHead();
    }
    paintRows();
    reportPaint();
  });
}

/** Tells the host (and benchmarks) once every given cell of the visible rows is on screen. */
function reportPaint(): void {
  requestAnimationFrame(() => send({ type: "painted", cells: S.cells.size, ms: performance.now() - S.t0 }));
}

function toMarkdown(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const lines = [`# Compare: ${S.prompt}`, "", `Reference: ${S.reference ?? "none"}`, "", "| variant | pass rate | tok/s | TTFT ms | KL mean |", "|---|---|---|---|---|"];
  for (const v of S.columns) {
    const s = S.stats.get(v) ?? liveStats(v);
    lines.push(`| ${esc(v)} | ${pct(s.passRate)} | ${num(s.tokensPerSecond)} | ${num(s.timeToFirstTokenMs, 0)} | ${num(s.kldMean, 4)} |`);
  }
  lines.push("", `| case | ${S.columns.map(esc).join(" | ")} |`, `|---|${S.columns.map(() => "---").join("|")}|`);
  for (const c of visibleCases()) {
    const cols = S.columns.map((v) => {
      const x = S.cells.get(key(c.id, v));
      return x ? `${x.pass ? "✅" : "❌"}${x.samples && x.samples.length > 1 ? ` ${x.samples.filter((y) => y.pass).length}/${x.samples.length}` : ""} ${esc(x.output).slice(0, 200)}` : "";
    });
    lines.push(`| ${esc(c.id)} | ${cols.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

window.addEventListener("message", (ev: MessageEvent) => {
  const r = CompareToWebviewSchema.safeParse(ev.data);
  if (!r.success) return;
  const m = r.data;
  switch (m.type) {
    case "init":
      S.t0 = performance.now();
      S.prompt = m.prompt;
      S.variants = m.variants;
      S.selected = m.selected;
      S.columns = m.selected;
      S.reference = m.reference;
      S.cases = m.cases;
      S.trusted = m.trusted;
      renderToolbar();
      renderNotice();
      layout();
      reportPaint();
      return;
    case "started":
      S.columns = m.variants;
      S.reference = m.reference;
      S.running = true;
      S.cells.clear();
      S.stats.clear();
      S.message = "";
      S.progress = "";
      S.ladder = null;
      renderToolbar();
      renderNotice();
      renderLadder();
      layout();
      return;
    case "cells":
      for (const c of m.cells) {
        S.cells.set(key(c.caseId, c.variant), c);
        dirtyCases.add(c.caseId);
        if (!S.columns.includes(c.variant)) S.columns = [...S.columns, c.variant];
      }
      headDirty = true;
      schedule();
      return;
    case "progress":
      S.progress = `${m.done}/${m.total} cases`;
      renderToolbar();
      return;
    case "stats":
      for (const s of m.stats) S.stats.set(s.variant, s);
      renderHead();
      return;
    case "ladder":
      S.ladder = m.ladder;
      renderToolbar();
      renderLadder();
      reportPaint();
      return;
    case "done":
      S.running = false;
      S.message = m.status === "completed" ? "" : m.message ?? `Run ${m.status}.`;
      renderToolbar();
      renderNotice();
      layout();
      reportPaint();
      return;
  }
});

renderToolbar();
renderNotice();
send({ type: "ready" });
