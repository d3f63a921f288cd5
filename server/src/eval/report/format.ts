// Small formatting helpers shared by the report renderers: numbers, and escaping for each target.

/** 0.8125 → "81.3%". */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(x * 100).toFixed(digits)}%`;
}

/** Signed percentage points: −0.125 → "−12.5 pp", 0 → "±0.0 pp". */
export function pp(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const v = (x * 100).toFixed(digits);
  if (Number(v) === 0) return `±${(0).toFixed(digits)} pp`;
  return x > 0 ? `+${v} pp` : `−${v.slice(1)} pp`;
}

/** A CI as "[−20.0, +5.0] pp". */
export function ciText(ci: [number, number] | null | undefined): string {
  if (!ci) return "–";
  const f = (x: number) => {
    const v = (x * 100).toFixed(1);
    return Number(v) === 0 ? "0.0" : x > 0 ? `+${v}` : `−${v.slice(1)}`;
  };
  return `[${f(ci[0])}, ${f(ci[1])}] pp`;
}

export function pval(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "–";
  if (p >= 0.995) return "1";
  if (p < 0.001) return "<0.001";
  return p.toFixed(3);
}

/** KL divergence in nats, compact: 3.1e-5, 0.0123, 0. */
export function nats(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  if (Math.abs(x) < 1e-3) return x.toExponential(1);
  return x.toPrecision(3);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function num(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** XML 1.0 text/attribute escaping; drops characters XML cannot carry (control chars, lone surrogates). */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "")
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/**
 * Text inside a Markdown table cell or a line of a PR comment: HTML-escaped (GitHub renders HTML in
 * comments, and model output must never become markup), pipes escaped, newlines as <br>.
 */
export function mdCell(s: string): string {
  return escapeHtml(s).replace(/([\\`*_[\]~|])/g, "\\$1").replace(/\r?\n/g, "<br>");
}

/** Model output shown in a Markdown block: escaped HTML inside <pre>, so nothing is interpreted. */
export function mdPre(s: string): string {
  return `<pre>${escapeHtml(s)}</pre>`;
}

/** Truncates long output for summaries (full text stays in JSON). */
export function clip(s: string, max = 400): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/** Inline code in Markdown for untrusted text: <code> with escaped content (a backtick span would show entities literally). */
export function mdCode(s: string): string {
  return `<code>${mdCell(s)}</code>`;
}

/** "pass → fail", with the pass fractions of sampled cases: "pass → fail (80% → 30% of samples)". */
export function flipText(f: { from: string; to: string; baseFraction?: number; headFraction?: number }): string {
  const fr = f.baseFraction !== undefined && f.headFraction !== undefined ? ` (${pct(f.baseFraction, 0)} → ${pct(f.headFraction, 0)} of samples)` : "";
  return `${f.from} → ${f.to}${fr}`;
}
