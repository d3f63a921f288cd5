// Turns zod issues into diagnostics at the exact range of the offending key or value.
import { distance } from "fastest-levenshtein";
import type { z } from "zod";
import type { Diagnostic } from "./types";
import { mapKeys, rangeFor, type OffsetMapper, type PathKey } from "./yaml-source";
import type { Document } from "yaml";

type Src = { doc: Document.Parsed; map: OffsetMapper };

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function pathText(path: readonly PathKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("") || "(document)";
}

/** One readable message per issue; zod's own wording is kept where it is already clear. */
function message(issue: z.core.$ZodIssue, value: unknown, root: unknown): string {
  const path = issue.path as PathKey[];
  const where = pathText(path);
  const actual = valueAt(root, path);
  if (issue.code === "invalid_type") {
    if (actual === undefined) return `missing required key '${String(path[path.length - 1])}' (${where} must be ${issue.expected})`;
    return `${where} must be ${issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`}, not ${describe(actual)}`;
  }
  if (issue.code === "invalid_union") {
    return `${where} has the wrong shape: ${describe(actual)} is not accepted here`;
  }
  if (issue.code === "invalid_value") {
    return `${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, not ${describe(actual)}`;
  }
  void value;
  return `${where}: ${issue.message}`;
}

/** Diagnostics for the issues of a failed safeParse, each at the range of its path. */
export function zodDiagnostics(error: z.ZodError, src: Src, root: unknown, file: string, code: string, basePath: readonly PathKey[] = []): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of error.issues) {
    const path = [...basePath, ...(issue.path as PathKey[])];
    const actual = valueAt(root, issue.path as PathKey[]);
    const range = rangeFor(src, path, actual === undefined ? "key" : "value");
    out.push({ file, range, severity: "error", code, message: message(issue, actual, root) });
  }
  return out;
}

/** Warnings for keys a mapping has that the schema does not know. */
export function unknownKeyDiagnostics(src: Src, path: readonly PathKey[], known: readonly string[], file: string, code: string, what: string, allow?: (key: string) => boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const { key, range } of mapKeys(src, path)) {
    if (known.includes(key) || allow?.(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || distance(k.toLowerCase(), key.toLowerCase()) <= Math.min(2, Math.floor(k.length / 3)));
    out.push({
      file,
      range,
      severity: "warning",
      code,
      message: `unknown key '${key}' in ${what}${near ? ` (did you mean '${near}'?)` : ""}; known keys: ${known.join(", ")}`,
    });
  }
  return out;
}
