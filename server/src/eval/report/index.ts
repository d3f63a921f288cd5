// One entry point per command for rendering its report in a chosen format.
import { compareHtml, compareJunit, compareMarkdown, compareText } from "./compare-report";
import { diffHtml, diffJunit, diffMarkdown, diffText } from "./diff-report";
import type { CompareReport, DiffReport } from "./types";
import { terminalSafe } from "../../util/terminal";

export type ReportFormat = "text" | "json" | "markdown" | "html" | "junit";
export const COMPARE_FORMATS = ["text", "json", "markdown", "html", "junit"] as const;
export const DIFF_FORMATS = ["text", "json", "markdown", "junit", "html"] as const;

export function renderCompare(r: CompareReport, format: ReportFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(r, null, 2) + "\n";
    case "markdown":
      return compareMarkdown(r);
    case "html":
      return compareHtml(r);
    case "junit":
      return compareJunit(r);
    default:
      return terminalSafe(compareText(r));
  }
}

export function renderDiff(r: DiffReport, format: ReportFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(r, null, 2) + "\n";
    case "markdown":
      return diffMarkdown(r);
    case "html":
      return diffHtml(r);
    case "junit":
      return diffJunit(r);
    default:
      return terminalSafe(diffText(r));
  }
}

export * from "./types";
export { wordDiffText } from "./diff-report";
