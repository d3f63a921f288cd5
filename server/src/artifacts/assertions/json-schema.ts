// JSON Schemas in assertions (is-json, contains-json, json-schema), compiled the way promptfoo
// compiles them: ajv in strict-schema mode (an unknown keyword is an error, not silently ignored)
// with ajv-formats (email, date-time, uri, …). A schema without `$schema` is draft-07, as in
// promptfoo; one that names draft 2019-09 or 2020-12 in `$schema` is compiled by ajv's build for
// that draft (promptfoo refuses those: a deliberate difference, docs/assertions.md). A string
// value is YAML/JSON text, read with promptfoo's YAML rules.
import Ajv, { type ValidateFunction } from "ajv";
import Ajv2019 from "ajv/dist/2019";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { loadYaml } from "./yaml-load";

export type Draft = "draft-07" | "2019-09" | "2020-12";

const DRAFTS: Record<string, Draft> = {
  "http://json-schema.org/draft-07/schema": "draft-07",
  "https://json-schema.org/draft/2019-09/schema": "2019-09",
  "https://json-schema.org/draft/2020-12/schema": "2020-12",
};

/** Keywords that exist only from draft 2019-09 on: named in the hint when draft-07 rejects one. */
const LATER_KEYWORDS = new Set(["dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "minContains", "maxContains", "prefixItems", "$anchor", "$recursiveRef", "$recursiveAnchor", "$dynamicRef", "$dynamicAnchor"]);

const instances = new Map<Draft, Ajv>();

/** The ajv instance for a draft (one each, created on first use). */
export function ajvFor(draft: Draft): Ajv {
  let a = instances.get(draft);
  if (a) return a;
  // strictSchema as promptfoo; other strict checks are advice ajv would print to the console.
  const opts = { strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false } as const;
  a = draft === "2019-09" ? new Ajv2019(opts) : draft === "2020-12" ? new Ajv2020(opts) : new Ajv(opts);
  addFormats(a);
  instances.set(draft, a);
  return a;
}

export type SchemaResult = { ok: true; schema: object | boolean; draft: Draft } | { ok: false; error: string };

/** A schema value (mapping, or YAML/JSON text) as the object ajv compiles, with its draft. */
export function readSchema(value: unknown): SchemaResult {
  let s = value;
  if (typeof s === "string") {
    try {
      s = loadYaml(s);
    } catch (e) {
      return { ok: false, error: `the JSON Schema text is not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}` };
    }
  }
  if (typeof s === "boolean") return { ok: true, schema: s, draft: "draft-07" };
  if (s === null || typeof s !== "object" || Array.isArray(s)) {
    return { ok: false, error: `the JSON Schema must be a mapping (or true/false), not ${s === null || s === undefined ? "empty" : Array.isArray(s) ? "a list" : typeof s}` };
  }
  const declared = (s as { $schema?: unknown }).$schema;
  if (declared === undefined) return { ok: true, schema: s, draft: "draft-07" };
  const draft = typeof declared === "string" ? DRAFTS[declared.replace(/#$/, "")] : undefined;
  if (!draft) return { ok: false, error: `the JSON Schema's $schema ${JSON.stringify(declared)} is not a draft Driftlens validates; use http://json-schema.org/draft-07/schema#, https://json-schema.org/draft/2019-09/schema or https://json-schema.org/draft/2020-12/schema (or leave $schema out for draft-07)` };
  return { ok: true, schema: s, draft };
}

const compiled = new Map<string, { validate?: ValidateFunction; error?: string }>();

export type CompileResult = { ok: true; validate: ValidateFunction; draft: Draft } | { ok: false; error: string };

/** Compiles a schema value (cached by its JSON); errors say what to fix. */
export function compileSchema(value: unknown): CompileResult {
  const r = readSchema(value);
  if (!r.ok) return r;
  const key = r.draft + "\u0000" + JSON.stringify(r.schema);
  let c = compiled.get(key);
  if (!c) {
    try {
      c = { validate: ajvFor(r.draft).compile(r.schema) };
    } catch (e) {
      c = { error: schemaError(e as Error, r.draft) };
    }
    if (compiled.size > 200) compiled.clear();
    compiled.set(key, c);
  }
  return c.validate ? { ok: true, validate: c.validate, draft: r.draft } : { ok: false, error: c.error! };
}

function schemaError(e: Error, draft: Draft): string {
  const msg = e.message.split("\n")[0]!;
  const kw = /unknown keyword: "([^"]+)"/.exec(msg)?.[1];
  if (kw && draft === "draft-07" && LATER_KEYWORDS.has(kw)) {
    return `the JSON Schema is invalid: ${msg}; '${kw}' is a draft 2019-09 keyword: add \`$schema: https://json-schema.org/draft/2019-09/schema\` to the schema to use it`;
  }
  if (kw) return `the JSON Schema is invalid: ${msg}; correct the keyword's spelling or remove it (unknown keywords are errors, as in promptfoo)`;
  return `the JSON Schema is invalid: ${msg}`;
}

/** ajv's error text for a failed validation. */
export function schemaErrorsText(v: ValidateFunction, draft: Draft): string {
  return ajvFor(draft).errorsText(v.errors);
}
