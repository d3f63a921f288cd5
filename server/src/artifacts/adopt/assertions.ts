// promptfoo assertions of an adopted config, sorted into what Driftlens's assertion engine runs
// (checked with the same checks as native eval sets, so `check` and `eval` agree) and what it
// does not (model-graded, python, webhooks, …: a warning at the assertion naming it; the case
// runs without it). An assertion type neither promptfoo nor Driftlens knows is an error.
import YAML from "yaml";
import { checkAssertions, type Assertion } from "../evalset";
import type { Diagnostic, Range } from "../types";
import { parseYaml } from "../yaml-source";
import { loadExternalDeep, type PfTest, type TestsContext } from "./promptfoo-tests";

/** Native eval-set codes mapped to the promptfoo range. */
const RECODE: Record<string, string> = { DL301: "DL501", DL303: "DL506", DL304: "DL513", DL312: "DL512" };

interface PendingCheck {
  json: string;
  where: string;
  source: AssertionSource;
}

interface AssertCtx extends TestsContext {
  report(range: Range, code: string, severity: Diagnostic["severity"], message: string): void;
  notCarried: Set<string>;
  src: { doc: YAML.Document.Parsed; map: import("../yaml-source").OffsetMapper };
  pendingChecks?: PendingCheck[];
  /** Assertions with their file:// values loaded, by the source object (defaultTest's repeat per case). */
  loadedAssertions?: WeakMap<object, Assertion>;
}

/**
 * Runs the native assertion checks (the ones native eval sets get, so `check` and `eval` agree)
 * on every assertion collected by checkAdoptedAssertions, in one document of one assertion per
 * line: a config with thousands of tests costs one YAML parse, not thousands.
 */
export function flushAssertionChecks(ctx: AssertCtx): void {
  const pending = ctx.pendingChecks ?? [];
  ctx.pendingChecks = [];
  if (pending.length === 0) return;
  // The same assertion at the same place (defaultTest's, on every case) is checked once.
  const unique = new Map<string, PendingCheck>();
  for (const p of pending) unique.set(`${p.json}\u0000${p.where}\u0000${p.source.at?.join("\u0001") ?? ""}`, p);
  // Results per assertion (by its JSON) are kept across parses: an edit re-checks only what changed.
  const todo = [...new Set([...unique.values()].map((p) => p.json).filter((k) => !checkCache.has(k)))];
  if (todo.length) {
    const doc = parseYaml(todo.map((k) => `- ${k}`).join("\n") + "\n", ctx.file, "DL501");
    const out: Diagnostic[] = [];
    checkAssertions(doc.value, doc, [], ctx.file, out);
    for (const k of todo) checkCache.set(k, []);
    for (const d of out) checkCache.get(todo[d.range.start.line] ?? "")?.push({ code: d.code, severity: d.severity, message: d.message });
    if (checkCache.size > 50_000) checkCache.clear();
  }
  for (const p of unique.values()) {
    for (const d of checkCache.get(p.json) ?? []) {
      const onValue = d.message.includes("value") || d.code === "DL304";
      const range = p.source.at ? ctx.rangeOf([...p.source.at, onValue ? "value" : "type"]) : p.source.range;
      ctx.report(range, RECODE[d.code] ?? d.code, d.severity, `${p.where}: ${d.message}`);
    }
  }
}

/** Whether every assertion (by its JSON) was checked and found clean (see flushAssertionChecks). */
export function checkedClean(jsons: readonly string[]): boolean {
  return jsons.every((k) => checkCache.get(k)?.length === 0);
}

const checkCache = new Map<string, { code: string; severity: Diagnostic["severity"]; message: string }[]>();

export interface AssertionSource {
  assertion: unknown;
  /** Where it is written. */
  range: Range;
  /** Path in the config when written there (exact ranges for the type and value). */
  at?: (string | number)[];
}

/** Why a promptfoo assertion type does not run locally, for the warning. */
export function whyNotLocal(type: string, modelGraded: ReadonlySet<string>): string {
  const base = type.startsWith("not-") ? type.slice(4) : type;
  if (modelGraded.has(base)) return `'${type}' is model-graded (it needs a grader model); Driftlens does not run it here`;
  if (base === "python" || base === "ruby") return `'${type}' assertions run ${base === "python" ? "Python" : "Ruby"} code; Driftlens does not run them`;
  if (base === "webhook") return `'${type}' calls a web service; Driftlens does not run it`;
  if (base === "assert-set") return `'assert-set' (a nested group of assertions) is not run by Driftlens`;
  if (base.startsWith("trace-") || base.startsWith("trajectory:") || base === "skill-used" || base === "tool-call-f1" || base.startsWith("is-valid-") || base === "finish-reason" || base === "cost") return `'${type}' needs provider data a local model does not give (tool calls, traces, cost, finish reasons); Driftlens does not run it`;
  return `'${type}' is not run by Driftlens's assertion engine`;
}

export function checkAdoptedAssertions(
  ctx: AssertCtx,
  sources: AssertionSource[],
  t: PfTest,
  knows: (type: string) => boolean,
  promptfooTypes: ReadonlySet<string>,
  modelGraded: ReadonlySet<string>,
): { kept: Assertion[]; dropped: string[]; keptIndex: number[] } {
  const kept: Assertion[] = [];
  const dropped: string[] = [];
  const keptIndex: number[] = [];
  for (const [index, s] of sources.entries()) {
    const a = s.assertion;
    const typeRange = () => (s.at ? ctx.rangeOf([...s.at, "type"]) : s.range);
    if (a === null || typeof a !== "object" || Array.isArray(a) || typeof (a as { type?: unknown }).type !== "string") {
      ctx.report(s.range, "DL501", "error", `${t.where}: an assertion must be a mapping with a 'type'`);
      continue;
    }
    const cache = (ctx.loadedAssertions ??= new WeakMap());
    let loaded = cache.get(a);
    if (!loaded) cache.set(a, (loaded = loadExternalDeep(ctx, a, s.range) as Assertion));
    const type = loaded.type;
    const base = type.startsWith("not-") ? type.slice(4) : type;
    if (!knows(type)) {
      if (!promptfooTypes.has(base)) {
        ctx.report(typeRange(), "DL506", "error", `${t.where}: unknown assertion type '${type}' (neither promptfoo nor Driftlens has it)`);
      } else {
        ctx.report(typeRange(), "DL507", "warning", `${t.where}: ${whyNotLocal(type, modelGraded)}; the case runs without it`);
        dropped.push(type);
        ctx.notCarried.add(`assertion '${type}'`);
      }
      continue;
    }
    if (loaded.transform !== undefined || loaded.contextTransform !== undefined) {
      ctx.report(typeRange(), "DL508", "warning", `${t.where}: the '${type}' assertion's transform is code that Driftlens does not run; the case runs without this assertion`);
      dropped.push(type);
      ctx.notCarried.add(`assertion '${type}' with a transform`);
      continue;
    }
    if ((base === "javascript" || base === "python") && typeof loaded.value === "string" && loaded.value.startsWith("file://")) {
      ctx.report(typeRange(), "DL508", "warning", `${t.where}: '${type}' from a file (${loaded.value}) is not run by Driftlens; write the check inline`);
      dropped.push(type);
      ctx.notCarried.add(`assertion '${type}' from ${loaded.value}`);
      continue;
    }
    // The native checks run once for all assertions of the file (flushAssertionChecks).
    (ctx.pendingChecks ??= []).push({ json: JSON.stringify(loaded), where: t.where, source: s });
    // An assertion with a wrong value stays: it fails at run time, as promptfoo fails it.
    kept.push(loaded);
    keptIndex.push(index);
  }
  return { kept, dropped, keptIndex };
}
