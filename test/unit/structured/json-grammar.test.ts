// The JSON Schema → GBNF converter, differentially against Ajv (the JSON Schema validator the
// assertions use): whatever the grammar accepts must be valid by the schema (soundness), and the
// canonical compact serialization of values inside the grammar's bounds must be accepted.
import assert from "node:assert/strict";
import { test } from "node:test";
import Ajv from "ajv";
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_STRING, jsonSchemaToGbnf } from "../../../server/src/artifacts/json-grammar";
import { compilePicoschema, type JSONSchema } from "../../../server/src/artifacts/picoschema";
import { mulberry32 } from "../../../server/src/util/prng";
import { matches, parseGbnf } from "./gbnf-match";

const ajv = new Ajv({ strict: false });
const grammarOf = (schema: JSONSchema | null) => parseGbnf(jsonSchemaToGbnf(schema).gbnf);

test("integers: exactly the canonical decimal integers in range, never a fraction or exponent", () => {
  const rand = mulberry32(11);
  const bounds: [number | undefined, number | undefined][] = [
    [undefined, undefined],
    [0, undefined],
    [undefined, 0],
    [-15, 1234],
    [7, 7],
    [-300, -17],
    [99, 1000],
    [0, 120],
  ];
  for (let i = 0; i < 40; i++) {
    const a = Math.floor(rand() * 700) - 350;
    const b = a + Math.floor(rand() * 400);
    bounds.push([a, b]);
  }
  for (const [lo, hi] of bounds) {
    for (const exclusive of [false, true]) {
      const schema: JSONSchema = { type: "integer" };
      if (lo !== undefined) schema[exclusive ? "exclusiveMinimum" : "minimum"] = lo;
      if (hi !== undefined) schema[exclusive ? "exclusiveMaximum" : "maximum"] = hi;
      const g = grammarOf(schema);
      const validate = ajv.compile(schema);
      for (let v = -400; v <= 1300; v++) assert.equal(matches(g, String(v)), validate(v), `${JSON.stringify(schema)} on ${v}`);
      for (const bad of ["1.0", "2e-6", "1E3", "-0.5", "01", "+1", "", "-", "1.", "0x10", " 1"]) assert.equal(matches(g, bad), false, `${JSON.stringify(schema)} accepted ${JSON.stringify(bad)}`);
    }
  }
  // Unbounded integers stay exact in a double: 15 digits at most.
  const g = grammarOf({ type: "integer" });
  assert.ok(matches(g, "999999999999999"));
  assert.ok(matches(g, "-999999999999999"));
  assert.ok(!matches(g, "1000000000000000"));
});

test("numbers: never an exponent, and minimum/maximum (also exclusive, also fractional) hold", () => {
  const rand = mulberry32(5);
  const candidates: string[] = [];
  for (let a = -25; a <= 25; a++) {
    candidates.push(String(a));
    for (const f of ["0", "5", "25", "99", "001"]) candidates.push(`${a < 0 ? "-" : ""}${Math.abs(a)}.${f}`);
  }
  candidates.push("-0", "-0.5", "0.5", "1e3", "1E-2", "2e-6");
  const bounds: JSONSchema[] = [{}, { minimum: 0, maximum: 1 }, { minimum: -1, maximum: 1 }, { minimum: -10 }, { maximum: -3 }, { exclusiveMinimum: 0, exclusiveMaximum: 1 }, { minimum: 0.5, maximum: 7.5 }, { exclusiveMinimum: -2.5, maximum: 3 }, { minimum: -20, maximum: -12 }];
  for (let i = 0; i < 40; i++) {
    const lo = Math.round((rand() * 40 - 20) * 4) / 4;
    const hi = lo + Math.round(rand() * 20 * 4) / 4;
    const s: JSONSchema = {};
    s[rand() < 0.5 ? "minimum" : "exclusiveMinimum"] = lo;
    s[rand() < 0.5 ? "maximum" : "exclusiveMaximum"] = hi;
    bounds.push(s);
  }
  for (const b of bounds) {
    const schema = { type: "number", ...b };
    const j = jsonSchemaToGbnf(schema);
    const g = parseGbnf(j.gbnf);
    const validate = ajv.compile(schema);
    for (const c of candidates) {
      if (matches(g, c)) assert.ok(validate(JSON.parse(c)), `${JSON.stringify(schema)} accepted ${c}`);
    }
    assert.ok(!["1e3", "1E-2", "2e-6"].some((c) => matches(g, c)), `${JSON.stringify(schema)} accepted an exponent`);
    // Every integer strictly inside the range is generable (the grammar is never empty inside a
    // range at least one integer wide).
    for (let a = -25; a <= 25; a++) {
      const inside = (b.minimum === undefined || a > (b.minimum as number)) && (b.maximum === undefined || a < (b.maximum as number)) && (b.exclusiveMinimum === undefined || a > (b.exclusiveMinimum as number)) && (b.exclusiveMaximum === undefined || a < (b.exclusiveMaximum as number));
      if (inside && Number.isInteger(a)) assert.ok(matches(g, String(a)), `${JSON.stringify(schema)} rejected ${a}`);
    }
  }
  // A score in [0, 1] (what the grader's verdict uses): 0, 1 and fractions in between, nothing else.
  const score = grammarOf({ type: "number", minimum: 0, maximum: 1 });
  for (const ok of ["0", "1", "0.5", "0.999", "0.0"]) assert.ok(matches(score, ok), ok);
  for (const bad of ["1.5", "1.0001", "-0.1", "2", "1e0"]) assert.ok(!matches(score, bad), bad);
});

test("strings: length bounds count characters (escapes and non-ASCII as one), unbounded strings get the default bound", () => {
  const schema = { type: "string", minLength: 2, maxLength: 4 };
  const g = grammarOf(schema);
  const validate = ajv.compile(schema);
  for (const v of ["", "a", "ab", "abc", "abcd", "abcde", "é€", "a\nb", 'q"q', "\\\\", "😀😀", "😀", "a\u0001"]) {
    assert.equal(matches(g, JSON.stringify(v)), validate(v), JSON.stringify(v));
  }
  assert.ok(matches(g, '"\\u00e9\\u00e9"'), "\\u escapes count one character each");
  assert.ok(!matches(g, '"\\ud83d\\ude00"'), "surrogate escapes are not generated (they would count two)");
  assert.ok(!matches(g, '"a\nb"'), "raw control characters are not JSON");
  const free = grammarOf({ type: "string" });
  assert.ok(matches(free, JSON.stringify("x".repeat(DEFAULT_MAX_STRING))));
  assert.ok(!matches(free, JSON.stringify("x".repeat(DEFAULT_MAX_STRING + 1))));
  const date = grammarOf({ type: "string", format: "date" });
  assert.ok(matches(date, '"2024-02-29"'));
  assert.ok(!matches(date, '"2024-13-01"'));
});

// ---- differential: random schemas, random values ----

function randomSchema(rand: () => number, depth: number): JSONSchema {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kinds = depth > 0 ? ["string", "integer", "number", "boolean", "null", "enum", "const", "object", "array", "nullable", "anyOf"] : ["string", "integer", "number", "boolean", "null", "enum"];
  switch (pick(kinds)) {
    case "string": {
      const s: JSONSchema = { type: "string" };
      if (rand() < 0.5) s.maxLength = Math.floor(rand() * 6);
      if (rand() < 0.3) s.minLength = Math.min(Math.floor(rand() * 3), (s.maxLength as number | undefined) ?? 3);
      return s;
    }
    case "integer": {
      const s: JSONSchema = { type: "integer" };
      if (rand() < 0.5) s.minimum = Math.floor(rand() * 40) - 20;
      if (rand() < 0.5) s.maximum = ((s.minimum as number | undefined) ?? -20) + Math.floor(rand() * 50);
      return s;
    }
    case "number": {
      const s: JSONSchema = { type: "number" };
      if (rand() < 0.5) s.minimum = Math.floor(rand() * 10) - 5;
      if (rand() < 0.5) s.maximum = ((s.minimum as number | undefined) ?? -5) + 1 + Math.floor(rand() * 10);
      return s;
    }
    case "boolean":
      return { type: "boolean" };
    case "null":
      return { type: "null" };
    case "enum":
      return { enum: [pick(["a", "b c", 'q"', "é"]), pick([1, 2.5, -3]), pick([true, null, "z"])] };
    case "const":
      return { const: pick([{ a: 1 }, [1, "x"], "k", 0]) };
    case "nullable":
      return { type: [pick(["string", "integer", "boolean"]), "null"] };
    case "anyOf":
      return { anyOf: [randomSchema(rand, depth - 1), randomSchema(rand, depth - 1)] };
    case "array": {
      const s: JSONSchema = { type: "array", items: randomSchema(rand, depth - 1) };
      if (rand() < 0.6) s.maxItems = Math.floor(rand() * 4);
      if (rand() < 0.4) s.minItems = Math.min(Math.floor(rand() * 3), (s.maxItems as number | undefined) ?? 3);
      return s;
    }
    default: {
      const n = 1 + Math.floor(rand() * 4);
      const properties: Record<string, JSONSchema> = {};
      const required: string[] = [];
      for (let i = 0; i < n; i++) {
        const k = pick(["a", "b", "name", "x y", "ü", "long_key"]) + i;
        properties[k] = randomSchema(rand, depth - 1);
        if (rand() < 0.6) required.push(k);
      }
      return { type: "object", properties, required, additionalProperties: rand() < 0.7 ? false : true };
    }
  }
}

/** A value valid by the schema and inside the grammar's bounds (canonical, keys in declared order). */
function validValue(s: JSONSchema, rand: () => number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum)) return pick(s.enum);
  if (Array.isArray(s.anyOf)) return validValue(pick(s.anyOf as JSONSchema[]), rand);
  const t = Array.isArray(s.type) ? pick(s.type as string[]) : (s.type as string);
  switch (t) {
    case "string": {
      const min = (s.minLength as number | undefined) ?? 0;
      const max = (s.maxLength as number | undefined) ?? Math.min(DEFAULT_MAX_STRING, 8);
      const n = min + Math.floor(rand() * (max - min + 1));
      return Array.from({ length: n }, () => pick(["a", "Z", " ", "é", '"', "\\", "\n", "😀", "/"])).join("");
    }
    case "integer": {
      const lo = (s.minimum as number | undefined) ?? -1000;
      const hi = (s.maximum as number | undefined) ?? lo + 2000;
      return lo + Math.floor(rand() * (hi - lo + 1));
    }
    case "number": {
      const lo = (s.minimum as number | undefined) ?? -100;
      const hi = (s.maximum as number | undefined) ?? lo + 200;
      const v = Math.round((lo + rand() * (hi - lo)) * 100) / 100;
      return Math.min(hi, Math.max(lo, v));
    }
    case "boolean":
      return rand() < 0.5;
    case "null":
      return null;
    case "array": {
      const min = (s.minItems as number | undefined) ?? 0;
      const max = (s.maxItems as number | undefined) ?? Math.min(DEFAULT_MAX_ITEMS, 3);
      const n = min + Math.floor(rand() * (max - min + 1));
      return Array.from({ length: n }, () => validValue(s.items as JSONSchema, rand));
    }
    case "object": {
      const o: Record<string, unknown> = {};
      const req = new Set((s.required as string[]) ?? []);
      for (const [k, v] of Object.entries((s.properties as Record<string, JSONSchema>) ?? {})) if (req.has(k) || rand() < 0.5) o[k] = validValue(v, rand);
      return o;
    }
    default:
      return null;
  }
}

/** Small changes that often (not always) make a value invalid. */
function mutate(v: unknown, rand: () => number): unknown {
  const r = rand();
  if (v === null || typeof v !== "object") {
    if (typeof v === "number") return r < 0.3 ? v + 0.5 : r < 0.6 ? v * 1000 + 1 : String(v);
    if (typeof v === "string") return r < 0.5 ? v + "xxxxxx" : 7;
    return r < 0.5 ? "null" : 0;
  }
  if (Array.isArray(v)) return r < 0.3 ? [...v, ...v, ...v, ...v, ...v] : r < 0.6 ? v.map((x) => mutate(x, rand)) : v.slice(1);
  const o = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  if (r < 0.3 && keys.length) delete o[keys[0]!];
  else if (r < 0.5) o.extra = 1;
  else if (keys.length) o[keys[Math.floor(rand() * keys.length)]!] = mutate(o[keys[0]!], rand);
  return o;
}

test("differential against Ajv: 300 random schemas, valid values accepted, nothing invalid accepted", () => {
  const rand = mulberry32(2024);
  let accepted = 0;
  let rejectedInvalid = 0;
  for (let i = 0; i < 300; i++) {
    const schema = randomSchema(rand, 3);
    const j = jsonSchemaToGbnf(schema);
    assert.deepEqual(j.problems.filter((p) => p.kind === "unsupported"), [], JSON.stringify(schema));
    const g = parseGbnf(j.gbnf);
    const validate = ajv.compile(schema);
    for (let k = 0; k < 12; k++) {
      const v = validValue(schema, rand);
      const text = JSON.stringify(v);
      assert.ok(validate(v), `generator bug: ${text} for ${JSON.stringify(schema)}`);
      assert.ok(matches(g, text), `grammar rejected valid ${text} for ${JSON.stringify(schema)}\n${j.gbnf}`);
      assert.ok(Buffer.byteLength(text) <= j.maxBytes, `${text} is longer than maxBytes ${j.maxBytes}`);
      accepted++;
      const m = mutate(v, rand);
      const mt = JSON.stringify(m);
      if (mt !== undefined && matches(g, mt)) assert.ok(validate(m), `grammar accepted invalid ${mt} for ${JSON.stringify(schema)}\n${j.gbnf}`);
      else if (!validate(m)) rejectedInvalid++;
    }
  }
  assert.ok(accepted === 3600 && rejectedInvalid > 1000, `${accepted} accepted, ${rejectedInvalid} invalid rejected`);
});

test("objects: declared order, optional properties may be left out, no extra properties, commas right", () => {
  const schema = compilePicoschema({ "a?": "string", b: "integer", "c?": "boolean", "d?": "null" }).schema!;
  const g = grammarOf(schema);
  for (const ok of ['{"b":1}', '{"a":"x","b":1}', '{"b":1,"c":true}', '{"a":"","b":-2,"c":false,"d":null}', '{"b":0,"d":null}']) assert.ok(matches(g, ok), ok);
  for (const bad of ['{"a":"x"}', '{"b":1,}', '{,"b":1}', '{"b":1,"e":1}', '{"c":true,"b":1}', "{}", '{"b":1.5}']) assert.ok(!matches(g, bad), bad);
  // Picoschema optional fields are nullable: null is generable too.
  assert.ok(matches(g, '{"a":null,"b":1}'));
  const empty = grammarOf({ type: "object" });
  assert.ok(matches(empty, "{}"));
  assert.ok(matches(empty, '{"k":[1,"x",{"n":null}]}'));
});

test("no schema: any JSON value, bounded; refs and recursion; arrays with prefixItems", () => {
  const g = grammarOf(null);
  for (const ok of ["{}", "[]", '"x"', "1.5", "-3", "true", "null", '{"a":[1,"b"]}']) assert.ok(matches(g, ok), ok);
  for (const bad of ["{", "nul", "1e5", "'x'", "{a:1}", "[[[[1]]]]", '{"a":[1,{"b":2}]}']) assert.ok(!matches(g, bad), bad);
  const rec = { $defs: { node: { type: "object", properties: { v: { type: "integer" }, next: { anyOf: [{ $ref: "#/$defs/node" }, { type: "null" }] } }, required: ["v", "next"], additionalProperties: false } }, $ref: "#/$defs/node" };
  const jr = jsonSchemaToGbnf(rec);
  assert.equal(jr.maxBytes, Infinity);
  const gr = parseGbnf(jr.gbnf);
  assert.ok(matches(gr, '{"v":1,"next":{"v":2,"next":null}}'));
  assert.ok(!matches(gr, '{"v":1,"next":{"v":2}}'));
  const tuple = grammarOf({ type: "array", prefixItems: [{ type: "integer" }, { type: "string", maxLength: 1 }], items: false, minItems: 1 });
  assert.ok(matches(tuple, "[1]"));
  assert.ok(matches(tuple, '[1,"a"]'));
  assert.ok(!matches(tuple, '[1,"a",2]'));
  assert.ok(!matches(tuple, "[]"));
});

test("what a grammar cannot express is reported with its schema path", () => {
  const j = jsonSchemaToGbnf({
    type: "object",
    properties: { code: { type: "string", pattern: "^[A-Z]{3}$" }, n: { type: "integer", multipleOf: 5 }, tags: { type: "array", items: { type: "string" }, uniqueItems: true }, mail: { type: "string", format: "email" } },
    required: ["code"],
  });
  const paths = j.problems.map((p) => p.path.join("."));
  assert.deepEqual(paths.sort(), ["properties.code.pattern", "properties.mail.format", "properties.n.multipleOf", "properties.tags.uniqueItems"]);
  assert.ok(j.problems.every((p) => p.kind === "unenforced" && /not enforced while generating/.test(p.message)));
  const impossible = jsonSchemaToGbnf({ type: "integer", minimum: 5, maximum: 4 });
  assert.equal(impossible.problems[0]?.kind, "unsupported");
  const badRef = jsonSchemaToGbnf({ $ref: "https://example.com/s.json" });
  assert.match(badRef.problems[0]!.message, /does not point into this schema/);
});

test("hostile schemas stay bounded: deep nesting, self-referencing allOf, huge lengths", () => {
  let deep: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 5000; i++) deep = { type: "array", items: deep };
  const d = jsonSchemaToGbnf(deep);
  assert.ok(d.problems.some((p) => p.kind === "unsupported" && /nests deeper than/.test(p.message)));
  const selfRef = jsonSchemaToGbnf({ allOf: [{ $ref: "#" }], type: "object" });
  assert.ok(selfRef.problems.some((p) => /nests deeper than/.test(p.message)));
  const huge = jsonSchemaToGbnf({ type: "object", properties: { s: { type: "string", maxLength: 1e9 }, a: { type: "array", maxItems: 1e9 } }, required: ["s", "a"] });
  assert.ok(huge.gbnf.length < 5000, `${huge.gbnf.length} characters of grammar`);
  assert.deepEqual(huge.problems.map((p) => p.path.join(".")).sort(), ["properties.a.maxItems", "properties.s.maxLength"]);
  assert.equal(jsonSchemaToGbnf({ type: "string", minLength: 1e6 }).problems[0]?.kind, "unsupported");
});
