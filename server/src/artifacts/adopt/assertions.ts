// promptfoo assertions of an adopted config, sorted into what Driftlens's assertion engine runs
// (checked with the same checks as native eval sets, so `check` and `eval` agree) and what it
// does not (model-graded, ruby, webhooks, …: a warning at the assertion naming it; the case
// runs without it). An assertion type neither promptfoo nor Driftlens knows is an error.
import type YAML from "yaml";
import { hasTemplate, prepareAssertion, type Assertion } from "../assertions";
import type { Diagnostic, Range } from "../types";
import { canonicalJson } from "./types";
import { loadExternalDeep, type PfTest, type TestsContext } from "./promptfoo-tests";

/** Native assertion codes mapped to the promptfoo range (the rest keep their DL3xx code). */
const RECODE: Record<string, string> = { DL301: "DL501", DL303: "DL506", DL304: "DL513", DL311: "DL502", DL312: "DL512" };

/** One assertion of one case, waiting for the native check (see flushAssertionChecks). */
export interface PendingCheck {
  /** The assertion's JSON, plus the case's vars when its value is a template (what the result depends on). */
  key: string;
  assertion: Assertion;
  vars?: Record<string, unknown>;
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

/** The assertion without its `transform` key (what the native check sees). */
export function stripTransform(a: Assertion): Assertion {
  if (!("transform" in a)) return a;
  const { transform: _t, ...rest } = a as Assertion & { transform?: unknown };
  return rest as Assertion;
}

/** Whether an assertion's value holds a template (then its check depends on the case's vars). */
function templated(a: Assertion): boolean {
  const v = (a as { value?: unknown }).value;
  return typeof v === "string" ? hasTemplate(v) : Array.isArray(v) && v.some((x) => typeof x === "string" && hasTemplate(x));
}

/**
 * Queues the native check of a case's kept assertions with the vars the run evaluates them with,
 * so `check` reports exactly what `eval` refuses (a template naming a var the case lacks, a value
 * that is wrong once rendered). An assertion without a template is checked once for all cases.
 */
export function queueAssertionChecks(ctx: AssertCtx, kept: readonly Assertion[], sources: readonly AssertionSource[], where: string, vars: Record<string, unknown>): void {
  const q = (ctx.pendingChecks ??= []);
  kept.forEach((k, i) => {
    // An assertion's inline transform runs before it (see evaluateAssertion); the check is of the rest.
    const a = stripTransform(k);
    const json = JSON.stringify(a);
    const t = templated(a);
    q.push({ key: t ? `${json}\u0000${canonicalJson(vars)}` : json, assertion: a, ...(t ? { vars } : {}), where, source: sources[i]! });
  });
}

/**
 * Runs prepareAssertion, the check native eval sets and the evaluator both use, on every queued
 * assertion, and reports each issue where it is written (the key it concerns when the assertion
 * is in the config, else the test's place). Results are kept across parses by key: an edit
 * re-checks only what changed.
 */
export function flushAssertionChecks(ctx: AssertCtx): void {
  const pending = ctx.pendingChecks ?? [];
  ctx.pendingChecks = [];
  // The same assertion at the same place (defaultTest's, on every case) is reported once.
  const unique = new Map<string, PendingCheck>();
  for (const p of pending) unique.set(`${p.key}\u0000${p.where}\u0000${p.source.at?.join("\u0001") ?? ""}`, p);
  for (const p of unique.values()) {
    let issues = checkCache.get(p.key);
    if (!issues) {
      issues = prepareAssertion(p.assertion, p.vars).issues.map((i) => ({ code: i.code, severity: i.severity, message: i.message, at: i.at }));
      if (checkCache.size > 50_000) checkCache.clear();
      checkCache.set(p.key, issues);
    }
    for (const d of issues) {
      const range = p.source.at ? ctx.rangeOf([...p.source.at, ...d.at]) : p.source.range;
      ctx.report(range, RECODE[d.code] ?? d.code, d.severity, `${p.where}: ${d.message}`);
    }
  }
}

/** Whether every assertion (by its check key) was checked and found clean (see flushAssertionChecks). */
export function checkedClean(keys: readonly string[]): boolean {
  return keys.every((k) => checkCache.get(k)?.length === 0);
}

const checkCache = new Map<string, { code: string; severity: Diagnostic["severity"]; message: string; at: (string | number)[] }[]>();

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
  if (base === "ruby") return `'${type}' assertions run Ruby code; Driftlens does not run them`;
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
): { kept: Assertion[]; dropped: string[]; keptIndex: number[]; keptSources: AssertionSource[] } {
  const kept: Assertion[] = [];
  const dropped: string[] = [];
  const keptIndex: number[] = [];
  const keptSources: AssertionSource[] = [];
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
    // An inline JavaScript transform runs before the assertion (as promptfoo runs it); one from a
    // file, or a contextTransform (for context-based assertions Driftlens does not have), does not.
    const tr = loaded.transform;
    const inlineTransform = typeof tr === "string" && tr.trim() !== "" && !tr.startsWith("file://");
    if ((tr !== undefined && !inlineTransform) || loaded.contextTransform !== undefined) {
      const what = loaded.contextTransform !== undefined ? "contextTransform" : typeof tr === "string" && tr.startsWith("file://") ? `transform from a file (${tr})` : "transform (not a string of JavaScript)";
      ctx.report(typeRange(), "DL508", "warning", `${t.where}: the '${type}' assertion's ${what} is not run by Driftlens; the case runs without this assertion`);
      dropped.push(type);
      ctx.notCarried.add(`assertion '${type}' with a ${what}`);
      continue;
    }
    if ((base === "javascript" || base === "python") && typeof loaded.value === "string" && loaded.value.startsWith("file://")) {
      ctx.report(typeRange(), "DL508", "warning", `${t.where}: '${type}' from a file (${loaded.value}) is not run by Driftlens; write the check inline`);
      dropped.push(type);
      ctx.notCarried.add(`assertion '${type}' from ${loaded.value}`);
      continue;
    }
    // Checked per case with its vars (queueAssertionChecks). An assertion with a wrong value
    // stays: the run refuses it with the same message, and the case is an error.
    kept.push(loaded);
    keptIndex.push(index);
    keptSources.push(s);
  }
  return { kept, dropped, keptIndex, keptSources };
}
