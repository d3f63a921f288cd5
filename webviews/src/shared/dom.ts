// DOM helpers for the webviews. Text goes in through textContent only: model output and workspace
// text are untrusted and are never parsed as HTML.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function clear(node: Node): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function pct(x: number | null | undefined, digits = 0): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(digits)}%`;
}

export function signedPct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const v = (x * 100).toFixed(digits);
  return x > 0 ? `+${v}%` : x < 0 ? `\u2212${v.slice(1)}%` : `±${v}%`;
}

export function num(x: number | null | undefined, digits = 1, unit = ""): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x.toFixed(digits)}${unit}`;
}

export function bytes(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = x;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** The host connection; outside VS Code (benchmarks) a stand-in posts to window.parent. */
export function vscodeApi(): VsCodeApi {
  if (typeof acquireVsCodeApi === "function") return acquireVsCodeApi();
  return { postMessage: (m) => window.parent.postMessage(m, "*"), getState: () => undefined, setState: () => undefined };
}
