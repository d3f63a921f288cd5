// Progress for long CLI commands: a one-line bar redrawn in place on a TTY (done/total, tokens/s,
// ETA), plain lines otherwise (CI logs), at most one every few seconds so logs stay short.
// Writes to stderr through the given writer, so stdout stays clean for --format json.
import { terminalSafe } from "../util/terminal";

export interface ProgressState {
  done: number;
  total: number;
  tokensPerSecond?: number;
  /** ms; null/undefined when unknown. */
  etaMs?: number | null;
  /** Short label, e.g. the variant. */
  label?: string;
  /** What done/total count (default "cases"); "MB" shows them as megabytes. */
  unit?: string;
}

export interface ProgressOptions {
  write: (s: string) => void;
  isTTY: boolean;
  /** Terminal width (default 80). */
  columns?: number;
  /** Minimum ms between plain lines (default 2000). */
  plainIntervalMs?: number;
  /** Minimum ms between TTY redraws (default 80). */
  ttyIntervalMs?: number;
  now?: () => number;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export class ProgressBar {
  private last = -Infinity;
  private lastLine = "";
  private drawn = false;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? (() => Date.now());
  }

  /** The text of one update (without bar or line control), e.g. "12/40 cases  35.2 tok/s  ETA 8s". */
  static text(s: ProgressState): string {
    const parts = [s.unit === "MB" ? `${(s.done / 1e6).toFixed(0)}/${(s.total / 1e6).toFixed(0)} MB` : `${s.done}/${s.total} ${s.unit ?? "cases"}`];
    if (s.tokensPerSecond !== undefined && s.tokensPerSecond > 0) parts.push(`${s.tokensPerSecond.toFixed(1)} tok/s`);
    if (s.done < s.total && s.etaMs !== undefined) parts.push(`ETA ${s.etaMs === null ? "?" : formatDuration(s.etaMs)}`);
    if (s.label) parts.push(terminalSafe(s.label));
    return parts.join("  ");
  }

  update(s: ProgressState, force = false): void {
    const t = this.now();
    const finished = s.done >= s.total;
    if (this.opts.isTTY) {
      if (!force && !finished && t - this.last < (this.opts.ttyIntervalMs ?? 80)) return;
      this.last = t;
      const width = Math.max(10, Math.min(30, (this.opts.columns ?? 80) - 60));
      const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
      const filled = Math.round(frac * width);
      const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${ProgressBar.text(s)}`;
      const max = (this.opts.columns ?? 80) - 1;
      this.opts.write(`\r${line.length > max ? line.slice(0, max) : line}\x1b[K`);
      this.drawn = true;
      return;
    }
    if (!force && !finished && t - this.last < (this.opts.plainIntervalMs ?? 2000)) return;
    const line = ProgressBar.text(s);
    if (line === this.lastLine) return;
    this.last = t;
    this.lastLine = line;
    this.opts.write(`${line}\n`);
  }

  /** Prints a message above the bar (TTY) or as its own line. */
  log(message: string): void {
    if (this.opts.isTTY && this.drawn) this.opts.write(`\r\x1b[K`);
    this.opts.write(`${message}\n`);
    this.last = -Infinity;
  }

  /** Ends the bar's line on a TTY. */
  done(): void {
    if (this.opts.isTTY && this.drawn) this.opts.write("\n");
    this.drawn = false;
  }
}
