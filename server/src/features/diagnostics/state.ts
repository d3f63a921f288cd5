// What the diagnostics passes share: the files published to, the prompt contract each eval set was
// checked against, and the large files already reported as skipped.
import fs from "node:fs";
import type { DiagnosticsSettled } from "../../protocol/lsp";
import { DiagnosticsSettledMethod } from "../../protocol/lsp";
import type { FeatureContext } from "../support/context";

/**
 * What the server diagnoses without being asked (the startup scan, files changed on disk,
 * dependents of an edit): files not open in the editor up to this size, and up to this much in
 * all per scan. Larger ones are diagnosed when opened (or with `driftlens check`): a background
 * check of a 10 MB eval set would cost hundreds of megabytes and seconds of a worker's time.
 */
export const BACKGROUND_FILE_BYTES = 4 * 1024 * 1024;
export const BACKGROUND_SCAN_BYTES = 64 * 1024 * 1024;

/** The file's size on disk; 0 when it cannot be read. */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The diagnostics feature's context and the bookkeeping its passes share. */
export class DiagnosticsState {
  /** Files whose last publish was non-empty or came from a scan: cleared when deleted. */
  readonly published = new Set<string>();
  /**
   * For each eval set: the prompt contract (input schema, inputs, listed eval sets) its published
   * diagnostics were computed against. A prompt edit re-checks only the eval sets whose recorded
   * contract differs from the prompt's current one, so a body edit never re-checks a 5,000-case
   * file, and no interleaving of edits can leave an eval set checked against a stale schema.
   */
  readonly checkedAgainst = new Map<string, { prompt: string; key: string }>();
  private readonly skipped = new Set<string>();

  constructor(readonly ctx: FeatureContext) {}

  /** Tells the client a batch of files has its diagnostics published. */
  settled(p: DiagnosticsSettled): void {
    void this.ctx.connection.sendNotification(DiagnosticsSettledMethod, p);
  }

  /** Logs (once per file) that a closed file is too large for a background check. */
  skippedLarge(file: string): void {
    if (this.skipped.has(file)) return;
    this.skipped.add(file);
    this.ctx.log.info(`${file} is larger than ${BACKGROUND_FILE_BYTES / 2 ** 20} MiB: diagnosed when opened (or run 'driftlens check' on it)`);
  }
}
