// One assertion, checked and made ready to evaluate: its shape (type, threshold, weight, metric,
// keys), its value's templates rendered with the case's vars (as promptfoo renders them), and the
// value checked against its type's rules (./specs.ts). `driftlens check` turns the issues into
// diagnostics; the evaluator refuses an assertion with an error, with the same message. Both
// call this function, so what one calls an error the other does too.
import { ASSERTION_SPECS, describe, type SpecIssue } from "./specs";
import { hasTemplate, renderTemplate, templateSyntaxError } from "./template";
import { ASSERTION_TYPES, isAssertionType, type Assertion, type AssertionType, type IssueCode } from "./types";

export interface AssertionIssue {
  severity: "error" | "warning";
  code: IssueCode;
  message: string;
  /** Where in the assertion: a key path (`["value", 2]`); empty for the whole assertion. */
  at: (string | number)[];
}

export interface PreparedAssertion {
  /** The assertion as written (a mapping; an empty one when it was not a mapping). */
  assertion: Assertion;
  /** The type as written, `not-` included. */
  written: string;
  /** The base type, when it is a known one. */
  type?: AssertionType;
  inverse: boolean;
  /** The value with its templates rendered (as written when no vars were given). */
  value: unknown;
  /** `weight`, default 1. */
  weight: number;
  issues: AssertionIssue[];
  /** The first error's message; set when the assertion cannot be evaluated. */
  error?: string;
}

/** Keys every assertion may have. */
const KNOWN_KEYS = new Set(["type", "value", "threshold", "weight", "metric"]);
/** promptfoo keys that change what is tested: refused, so a result never silently means something else. */
const REFUSED_KEYS: Record<string, string> = {
  transform: "Driftlens does not transform the output before an assertion; fold the transformation into a javascript assertion",
  contextTransform: "Driftlens has no context-based assertions to transform for",
};
/** promptfoo keys that do not apply to the assertions Driftlens evaluates: ignored with a warning. */
const IGNORED_KEYS: Record<string, string> = {
  provider: "Driftlens uses the models driftlens.yaml configures (embedding.model for similar)",
  rubricPrompt: "no assertion Driftlens evaluates uses a rubric prompt",
  config: "no assertion Driftlens evaluates reads a config",
};

function isMapping(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

/** Values promptfoo reads from elsewhere: refused, with what to write instead. */
function referenceError(s: string, written: string): string | undefined {
  if (s.startsWith("file://")) return `the value of '${written}' is a file:// reference, which Driftlens does not read (eval sets are self-contained and a workspace file may not reach outside the workspace); write the value inline`;
  if (s.startsWith("package:")) return `the value of '${written}' is a package: reference, which Driftlens does not load (it would run code from node_modules); write the value inline or use a javascript assertion`;
  return undefined;
}

/**
 * Checks an assertion and renders its value's templates with `vars`. Without `vars` (an assertion
 * shared by many cases, checked once) templates are only parsed, and a templated value is not
 * checked against its type (that happens per case).
 */
export function prepareAssertion(raw: unknown, vars?: Record<string, unknown>): PreparedAssertion {
  const issues: AssertionIssue[] = [];
  const err = (code: IssueCode, message: string, at: (string | number)[] = []) => issues.push({ severity: "error", code, message, at });
  const warn = (code: IssueCode, message: string, at: (string | number)[] = []) => issues.push({ severity: "warning", code, message, at });
  const a: Assertion = isMapping(raw) ? (raw as Assertion) : { type: "" };
  const written = typeof a.type === "string" ? a.type : "";
  const inverse = written.startsWith("not-");
  const base = inverse ? written.slice(4) : written;
  const out: PreparedAssertion = { assertion: a, written, inverse, value: a.value, weight: 1, issues };
  const done = () => {
    const e = issues.find((i) => i.severity === "error");
    if (e) out.error = e.message;
    return out;
  };

  if (!isMapping(raw)) {
    err("DL301", `an assertion must be a mapping such as {type: contains, value: "…"}, not ${describe(raw)}`);
    return done();
  }
  if (typeof a.type !== "string" || a.type === "") {
    err("DL301", a.type === undefined ? "an assertion needs a 'type' (contains, regex, is-json, …)" : `an assertion's 'type' must be a type name such as contains or regex, not ${describe(a.type)}`, a.type === undefined ? [] : ["type"]);
    return done();
  }
  if (!isAssertionType(base)) {
    err("DL303", `unknown assertion type '${written}'; Driftlens supports ${ASSERTION_TYPES.join(", ")} (each also as not-…)`, ["type"]);
    return done();
  }
  out.type = base;
  const threshold = a.threshold as unknown;
  if (threshold !== undefined && (typeof threshold !== "number" || Number.isNaN(threshold))) err("DL301", `the 'threshold' of '${written}' must be a number, not ${describe(threshold)}`, ["threshold"]);
  const weight = a.weight as unknown;
  if (weight !== undefined) {
    if (typeof weight !== "number" || Number.isNaN(weight)) err("DL301", `the 'weight' of '${written}' must be a number, not ${describe(weight)}`, ["weight"]);
    else if (weight < 0) err("DL301", `the 'weight' of '${written}' is ${weight}; weights must be 0 or more (weight 0 reports an assertion without counting it)`, ["weight"]);
    else out.weight = weight;
  }
  if (a.metric !== undefined && typeof a.metric !== "string") err("DL301", `the 'metric' of '${written}' must be a string, not ${describe(a.metric)}`, ["metric"]);
  const spec = ASSERTION_SPECS[base];
  for (const k of Object.keys(a)) {
    if (KNOWN_KEYS.has(k) || spec.keys?.includes(k)) continue;
    if (REFUSED_KEYS[k]) err("DL333", `'${k}' is not supported: ${REFUSED_KEYS[k]}`, [k]);
    else if (IGNORED_KEYS[k]) warn("DL311", `'${k}' is ignored: ${IGNORED_KEYS[k]}`, [k]);
    else warn("DL311", `unknown key '${k}' in an assertion; Driftlens ignores it`, [k]);
  }
  if (issues.some((i) => i.severity === "error")) return done();

  // Render the value as promptfoo does: a string, or each string of a list (mappings are not rendered).
  let templated = false;
  const render = (s: string, at: (string | number)[], label: string): string | undefined => {
    const ref = referenceError(s, written);
    if (ref) {
      err("DL333", ref, at);
      return undefined;
    }
    if (!hasTemplate(s)) return s;
    templated = true;
    if (!vars) {
      const syntax = templateSyntaxError(s);
      if (syntax) err("DL330", `${label} ${syntax}`, at);
      return s;
    }
    const r = renderTemplate(s, vars);
    if (!r.ok) {
      err("DL330", `${label} ${r.error}`, at);
      return undefined;
    }
    return r.text;
  };
  const label = `the value of '${written}'`;
  if (typeof a.value === "string") out.value = render(a.value, ["value"], label);
  else if (Array.isArray(a.value)) out.value = a.value.map((x, i) => (typeof x === "string" ? render(x, ["value", i], `item ${i + 1} of ${label}`) : x));
  if (issues.some((i) => i.severity === "error")) return done();
  if (templated && !vars) return done();

  const input = { type: base, written, value: out.value, threshold: typeof threshold === "number" ? threshold : undefined };
  const add = (i: SpecIssue | undefined, severity: "error" | "warning") => {
    if (i) issues.push({ severity, code: i.code, message: i.message, at: [i.at ?? "value"] });
  };
  add(spec.check(input), "error");
  if (!issues.some((i) => i.severity === "error")) add(spec.advise?.(input), "warning");
  return done();
}
