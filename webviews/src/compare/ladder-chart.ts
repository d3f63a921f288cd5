// The quant ladder as an inline SVG chart (no network, no library): two panels sharing a
// file-size axis (log scale) — pass rate on the evals above, mean KL divergence from the reference
// below (log scale; the corpus's when the family has one, else the eval outputs') with gate.maxKld
// as a dashed line. Each variant is a point labelled with its name: green when it passes the gate
// and maxKld, red when not; the recommended one is ringed. All text goes in through textContent.
import type { LadderView } from "../protocol/messages";
import { bytes, el, pct } from "../shared/dom";

const NS = "http://www.w3.org/2000/svg";
const W = 620;
const PANEL_H = 96;
const GAP = 26;
const M = { left: 64, right: 120, top: 14, bottom: 30 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function kldOf(l: LadderView, r: LadderView["rungs"][number]): number | null {
  if (r.isReference) return 0;
  const v = l.kldSource === "corpus" ? r.corpusKld?.mean : r.evalKld;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

const fmtKld = (x: number) => (x === 0 ? "0" : x < 1e-3 ? x.toExponential(1) : x.toPrecision(2));

/** The chart plus a one-line summary, as a block for the compare webview. */
export function ladderBlock(l: LadderView): HTMLElement {
  const box = el("div", "ladder");
  const title = el("div", "ladder-title", `Quant ladder: ${l.family} (reference ${l.reference})`);
  box.append(title, el("div", "ladder-summary", l.summary));
  const rungs = l.rungs.filter((r) => typeof r.fileBytes === "number" && r.fileBytes > 0);
  if (rungs.length === 0) {
    box.append(el("div", "muted", "No file sizes to chart."));
    return box;
  }
  const H = M.top + PANEL_H + GAP + PANEL_H + M.bottom;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "ladder-chart", role: "img" });
  root.append(svg("title", {}, `${l.family}: pass rate and KL divergence against file size`));
  const plotW = W - M.left - M.right;
  const sizes = rungs.map((r) => r.fileBytes!);
  const lo = Math.log10(Math.min(...sizes) / 1.25);
  const hi = Math.log10(Math.max(...sizes) * 1.25);
  const x = (b: number) => M.left + ((Math.log10(b) - lo) / (hi - lo || 1)) * plotW;

  // Panel 1: pass rate (linear, from a little below the lowest to 100%).
  const p1 = M.top;
  const minPass = Math.max(0, Math.min(...rungs.map((r) => r.passRate)) - 0.05);
  const yPass = (v: number) => p1 + PANEL_H - ((v - minPass) / (1 - minPass || 1)) * PANEL_H;
  // Panel 2: KLD (log10), zero drawn on the panel's floor.
  const p2 = M.top + PANEL_H + GAP;
  const klds = rungs.map((r) => kldOf(l, r)).filter((v): v is number => v !== null && v > 0);
  if (l.maxKld !== null && l.maxKld > 0) klds.push(l.maxKld);
  const kLo = klds.length ? Math.floor(Math.log10(Math.min(...klds))) - 0.3 : -6;
  const kHi = klds.length ? Math.ceil(Math.log10(Math.max(...klds))) + 0.1 : 0;
  const yKld = (v: number) => (v <= 0 ? p2 + PANEL_H : p2 + PANEL_H - ((Math.log10(v) - kLo) / (kHi - kLo || 1)) * PANEL_H);

  for (const [top, label] of [
    [p1, "pass rate"],
    [p2, l.kldSource === "corpus" ? "corpus KLD" : "eval KLD"],
  ] as const) {
    root.append(svg("rect", { x: M.left, y: top, width: plotW, height: PANEL_H, class: "frame" }));
    // One word per line: "corpus KLD" on one line was wider than the margin and lost its first letter.
    const words = label.split(" ");
    const text = svg("text", { x: M.left - 6, y: top + PANEL_H / 2 - ((words.length - 1) * 12) / 2, class: "axis-label", "text-anchor": "end" });
    words.forEach((w, i) => text.append(svg("tspan", { x: M.left - 6, dy: i ? 12 : 0 }, w)));
    root.append(text);
  }
  root.append(svg("text", { x: M.left - 6, y: p1 + 9, class: "tick", "text-anchor": "end" }, pct(1)));
  root.append(svg("text", { x: M.left - 6, y: p1 + PANEL_H, class: "tick", "text-anchor": "end" }, pct(minPass)));
  root.append(svg("text", { x: M.left - 6, y: p2 + 9, class: "tick", "text-anchor": "end" }, fmtKld(10 ** kHi)));
  root.append(svg("text", { x: M.left - 6, y: p2 + PANEL_H, class: "tick", "text-anchor": "end" }, "0"));
  if (l.maxKld !== null && l.maxKld > 0) {
    const y = yKld(l.maxKld);
    root.append(svg("line", { x1: M.left, x2: M.left + plotW, y1: y, y2: y, class: "max-kld" }));
    root.append(svg("text", { x: M.left + plotW + 4, y: y + 4, class: "tick" }, `maxKld ${fmtKld(l.maxKld)}`));
  }

  // Lines through the rungs (by size), then points with labels.
  const bySize = [...rungs].sort((a, b) => a.fileBytes! - b.fileBytes!);
  const path = (pts: [number, number][]) => pts.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
  root.append(svg("path", { d: path(bySize.map((r) => [x(r.fileBytes!), yPass(r.passRate)])), class: "series pass-series" }));
  const kPts = bySize.map((r) => [r, kldOf(l, r)] as const).filter((p): p is readonly [(typeof rungs)[number], number] => p[1] !== null);
  root.append(svg("path", { d: path(kPts.map(([r, k]) => [x(r.fileBytes!), yKld(k)])), class: "series kld-series" }));
  for (const r of bySize) {
    const ok = r.gatePassed && r.withinMaxKld;
    const cls = `point ${ok ? "ok" : "bad"}${r.recommended ? " recommended" : ""}`;
    const px = x(r.fileBytes!);
    const tip = `${r.variant} · ${bytes(r.fileBytes)} · pass ${pct(r.passRate, 1)} · KLD ${kldOf(l, r) === null ? "–" : fmtKld(kldOf(l, r)!)} · ${r.verdict}`;
    const g = svg("g", { class: "rung", "data-variant": r.variant });
    g.append(svg("title", {}, tip));
    g.append(svg("circle", { cx: px, cy: yPass(r.passRate), r: 4, class: cls }));
    const k = kldOf(l, r);
    if (k !== null) g.append(svg("circle", { cx: px, cy: yKld(k), r: 4, class: cls }));
    if (r.recommended) {
      g.append(svg("circle", { cx: px, cy: yPass(r.passRate), r: 8, class: "ring" }));
      if (k !== null) g.append(svg("circle", { cx: px, cy: yKld(k), r: 8, class: "ring" }));
    }
    g.append(svg("text", { x: px, y: p2 + PANEL_H + 14, class: "rung-label", "text-anchor": "middle" }, r.quant ?? r.variant.split("/").pop() ?? r.variant));
    g.append(svg("text", { x: px, y: p2 + PANEL_H + 26, class: "tick", "text-anchor": "middle" }, bytes(r.fileBytes)));
    root.append(g);
  }
  box.append(root);
  return box;
}
