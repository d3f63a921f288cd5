// package.json `contributes.configuration` and the zod schema the server parses settings with
// (server/src/protocol/settings.ts) must describe the same settings: same keys, same defaults,
// same types, enums and bounds. A setting declared on one side only is a bug users meet as
// "the setting does nothing" or "the setting is undocumented".
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { ServerSettingsSchema, flatDefaults, parseServerSettings } from "../../../server/src/protocol/settings";
import { REPO_ROOT } from "../../helpers/paths";

type JsonSchema = Record<string, unknown>;
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const declared: Record<string, JsonSchema> = pkg.contributes.configuration.properties;

/** The JSON-schema leaves of the zod schema, keyed like package.json ("driftlens.engine.gpu"). */
function zodLeaves(): Record<string, JsonSchema> {
  const js = z.toJSONSchema(ServerSettingsSchema, { io: "input" }) as JsonSchema;
  const out: Record<string, JsonSchema> = {};
  const defaults = flatDefaults();
  const walk = (node: JsonSchema, prefix: string) => {
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (key in defaults) out[`driftlens.${key}`] = v;
      else walk(v, key);
    }
  };
  walk(js, "");
  return out;
}

/** Types, enum and bounds of a JSON schema, with `anyOf` folded, in one comparable shape. */
function shape(s: JsonSchema): { types: string[]; enum?: unknown[]; minimum?: number; maximum?: number } {
  const parts: JsonSchema[] = Array.isArray(s.anyOf) ? (s.anyOf as JsonSchema[]) : [s];
  const types = new Set<string>();
  let en: unknown[] | undefined;
  let minimum: number | undefined;
  let maximum: number | undefined;
  for (const p of parts) {
    const t = p.type;
    for (const x of Array.isArray(t) ? t : t ? [t] : []) types.add(String(x));
    if (Array.isArray(p.enum)) en = [...(en ?? []), ...(p.enum as unknown[])];
    if (p.const !== undefined) en = [...(en ?? []), p.const];
    if (typeof p.minimum === "number") minimum = p.minimum;
    if (typeof p.maximum === "number") maximum = p.maximum;
  }
  if (Array.isArray(s.enum)) en = s.enum as unknown[];
  if (typeof s.minimum === "number") minimum = s.minimum;
  if (typeof s.maximum === "number") maximum = s.maximum;
  // z.number().int() implies the safe-integer range; package.json leaves it unsaid.
  if (maximum === Number.MAX_SAFE_INTEGER) maximum = undefined;
  if (minimum === Number.MIN_SAFE_INTEGER) minimum = undefined;
  // A nullable enum lists null among its values in package.json; zod says so through type null.
  const enumSet = en ? [...new Set(en.filter((v) => v !== null))].map(String).sort() : undefined;
  return { types: [...types].sort(), ...(enumSet ? { enum: enumSet } : {}), ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}) };
}

test("package.json declares exactly the settings the zod schema parses", () => {
  const fromZod = Object.keys(flatDefaults()).map((k) => `driftlens.${k}`).sort();
  assert.deepEqual(Object.keys(declared).sort(), fromZod);
});

test("every declared default equals the schema's default", () => {
  const defaults = flatDefaults();
  for (const [key, decl] of Object.entries(declared)) {
    assert.deepEqual(decl.default, defaults[key.slice("driftlens.".length)], `${key}: package.json default differs from settings.ts`);
  }
});

test("every declared type, enum and bound matches the schema", () => {
  const leaves = zodLeaves();
  for (const [key, decl] of Object.entries(declared)) {
    const z = leaves[key];
    assert.ok(z, `${key} missing from settings.ts`);
    assert.deepEqual(shape(decl), shape(z), `${key}: package.json type/enum/bounds differ from settings.ts`);
  }
});

test("every setting has a description users can read", () => {
  for (const [key, decl] of Object.entries(declared)) {
    const d = decl.markdownDescription ?? decl.description;
    assert.ok(typeof d === "string" && d.length > 20, `${key} has no description`);
  }
});

test("an invalid value is dropped with a message; the other settings survive", () => {
  const { settings, problems } = parseServerSettings({ engine: { threads: -3, gpu: "cuda" }, run: { defaultVariants: ["tiny/f16"] } });
  assert.equal(settings.engine.threads, null);
  assert.equal(settings.engine.gpu, "cuda");
  assert.deepEqual(settings.run.defaultVariants, ["tiny/f16"]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /driftlens\.engine\.threads/);
});

test("the language server's tunables share the schema: parsed beside the VS Code settings, never contributed", () => {
  const { settings, problems } = parseServerSettings({ diagnosticsDebounceMs: 0, tokenCount: "bogus", scanOnStartup: false, gate: { alpha: 0.01 } });
  assert.equal(settings.diagnosticsDebounceMs, 0);
  assert.equal(settings.scanOnStartup, false);
  assert.equal(settings.tokenCount, "model", "an invalid tunable falls back to its default");
  assert.equal(settings.gate.alpha, 0.01);
  assert.deepEqual(problems.map((p) => p.split(":")[0]), ["driftlens.tokenCount"]);
  for (const key of ["diagnosticsDebounceMs", "dependentsDebounceMs", "scanOnStartup", "tokenCount", "tokenCountDebounceMs", "engineThreads"]) {
    assert.ok(key in ServerSettingsSchema.shape, key);
    assert.ok(!(`driftlens.${key}` in declared), `${key} is a server tunable, not a VS Code setting`);
  }
});
