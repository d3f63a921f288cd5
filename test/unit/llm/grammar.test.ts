// Generation under a grammar through EngineClient on llama-2-tiny-random (random weights, the real
// 32,000-token LLaMA-2 vocabulary with byte-fallback tokens): llama.cpp parses every grammar the
// converter writes, and outputs at high temperature are JSON valid by the schema and well-formed
// UTF-8 — including strings, where a random model writes lone bytes (the UTF-8 guard's job).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Ajv from "ajv";
import { jsonSchemaToGbnf } from "../../../server/src/artifacts/json-grammar";
import { EngineClient, type ManyResult } from "../../../server/src/llm/client";
import type { EngineSettings, GenerateRequest } from "../../../server/src/llm/types";
import { utf8Step } from "../../../server/src/llm/utf8-guard";
import { mulberry32 } from "../../../server/src/util/prng";
import { TINY_RANDOM_GGUF } from "../../helpers/paths";

const settings: EngineSettings = { gpu: "cpu", threads: 1, contextSize: 1024, parallelSequences: 1, memoryBudgetBytes: 4 * 1024 ** 3 };
const model = { variant: "tiny/rnd", modelPath: TINY_RANDOM_GGUF, adapters: [] };

const SCHEMAS: Record<string, unknown>[] = [
  { type: "object", properties: { text: { type: "string", minLength: 3, maxLength: 20 } }, required: ["text"], additionalProperties: false },
  { type: "object", properties: { n: { type: "integer" }, x: { type: "number", minimum: -5, maximum: 5 }, big: { type: "integer", minimum: 1000, maximum: 99999 } }, required: ["n", "x", "big"] },
  { type: "array", items: { type: "string", maxLength: 4 }, minItems: 2, maxItems: 4 },
  { type: "object", properties: { kind: { enum: ["a", "b c", "é"] }, when: { type: "string", format: "date" }, id: { type: "string", format: "uuid" } }, required: ["kind", "when", "id"] },
  { anyOf: [{ type: "integer", minimum: 0, maximum: 9 }, { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"], additionalProperties: false }] },
  { type: "object", properties: { nested: { type: "object", properties: { list: { type: "array", items: { type: ["integer", "null"] }, maxItems: 3 } }, required: ["list"] } }, required: ["nested"] },
];

describe("generation under a grammar", () => {
  let client: EngineClient;
  before(async () => {
    client = await EngineClient.start(settings);
  });
  after(async () => {
    await client.dispose();
  });

  test("six schemas × eight seeds at temperatures 0, 1 and 2: valid by the schema, well-formed UTF-8, closed before maxTokens", async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const reqs: GenerateRequest[] = [];
    const meta = new Map<string, { schema: Record<string, unknown>; temperature: number }>();
    SCHEMAS.forEach((schema, s) => {
      const g = jsonSchemaToGbnf(schema);
      assert.ok(Number.isFinite(g.maxBytes));
      for (const temperature of [0, 1, 2]) {
        for (let seed = 0; seed < (temperature === 0 ? 1 : 8); seed++) {
          const id = `s${s}-t${temperature}-${seed}`;
          meta.set(id, { schema, temperature });
          reqs.push({
            id,
            model,
            messages: [{ role: "user", text: `Write item ${seed} of kind ${s} as JSON.` }],
            params: { temperature, maxTokens: g.maxBytes, stop: [], seed: 1000 * s + seed },
            topLogprobs: seed % 2 ? 3 : 0,
            structured: { grammar: g.gbnf, schema },
          });
        }
      }
    });
    const results: ManyResult[] = [];
    await client.generateMany(reqs, (r) => results.push(r));
    assert.equal(results.length, reqs.length);
    for (const r of results) {
      assert.ok(!("failure" in r), JSON.stringify(r));
      if ("failure" in r) continue;
      const { schema } = meta.get(r.id)!;
      assert.equal(r.stopReason, "eos", `${r.id}: the grammar closes the value before maxTokens (${r.stopReason}): ${JSON.stringify(r.text)}`);
      assert.ok(!r.text.includes("\uFFFD"), `${r.id}: ill-formed UTF-8 decoded to U+FFFD: ${JSON.stringify(r.text)}`);
      let v: unknown;
      assert.doesNotThrow(() => (v = JSON.parse(r.text)), `${r.id}: ${JSON.stringify(r.text)}`);
      const validate = ajv.compile(schema);
      assert.ok(validate(v), `${r.id}: ${r.text} ${ajv.errorsText(validate.errors)}`);
    }
  });

  test("long free strings stay well-formed: lone byte tokens never make an overlong or surrogate sequence", async () => {
    // Without the guard, seed 28 here writes bytes the grammar's lenient decoder counts as
    // characters and a strict decoder cannot read (measured: 2 of 60 such outputs broken).
    const schema = { type: "object", properties: { text: { type: "string", maxLength: 60 } }, required: ["text"], additionalProperties: false };
    const g = jsonSchemaToGbnf(schema);
    const reqs: GenerateRequest[] = [];
    for (const temperature of [1, 2]) {
      for (let seed = 22; seed < 34; seed++) {
        reqs.push({ id: `t${temperature}-${seed}`, model, messages: [{ role: "user", text: `Text ${seed}` }], params: { temperature, maxTokens: g.maxBytes, stop: [], seed }, topLogprobs: 0, structured: { grammar: g.gbnf, schema } });
      }
    }
    const results: ManyResult[] = [];
    await client.generateMany(reqs, (r) => results.push(r));
    for (const r of results) {
      assert.ok(!("failure" in r), JSON.stringify(r));
      if ("failure" in r) continue;
      assert.ok(!r.text.includes("\uFFFD"), `${r.id}: ${JSON.stringify(r.text)}`);
      const v = JSON.parse(r.text) as { text: string };
      assert.ok([...v.text].length <= 60, `${r.id}: ${v.text.length} characters`);
    }
  });

  test("llama.cpp parses the grammar of 120 random converter outputs (a rejected grammar fails the request)", async () => {
    const rand = mulberry32(99);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const leaf = (): Record<string, unknown> => pick([{ type: "string", maxLength: 3 }, { type: "integer", minimum: -20, maximum: 300 }, { type: "number", maximum: 2 }, { type: "boolean" }, { enum: ["x", 1, null] }, { const: { k: [1] } }]);
    const reqs: GenerateRequest[] = [];
    for (let i = 0; i < 120; i++) {
      const props: Record<string, unknown> = {};
      for (let k = 0; k < 1 + (i % 4); k++) props[`p${k}`] = rand() < 0.3 ? { type: "array", items: leaf(), maxItems: 2 } : leaf();
      const schema = { type: "object", properties: props, required: Object.keys(props).filter(() => rand() < 0.5) };
      const g = jsonSchemaToGbnf(schema);
      reqs.push({ id: `g${i}`, model, messages: [{ role: "user", text: "x" }], params: { temperature: 0, maxTokens: 1, stop: [], seed: 0 }, topLogprobs: 0, structured: { grammar: g.gbnf, schema } });
    }
    const failures: string[] = [];
    await client.generateMany(reqs, (r) => {
      if ("failure" in r) failures.push(`${r.id}: ${r.failure.message}`);
    });
    assert.deepEqual(failures, []);
    // And a broken grammar is this request's clear failure, not a crash.
    let failure = "";
    await client.generateMany([{ ...reqs[0]!, id: "bad", structured: { grammar: "root ::= (", schema: null } }], (r) => {
      if ("failure" in r) failure = r.failure.message;
    });
    assert.match(failure, /rejected the output grammar of case bad/);
  });
});

test("the UTF-8 guard's decoder agrees with a strict decoder on 20,000 random byte strings", () => {
  const rand = mulberry32(8);
  const strict = new TextDecoder("utf-8", { fatal: true });
  const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
  for (let i = 0; i < 20000; i++) {
    const n = 1 + Math.floor(rand() * 5);
    const bytes = Uint8Array.from({ length: n }, () => (rand() < 0.8 ? interesting[Math.floor(rand() * interesting.length)]! : Math.floor(rand() * 256)));
    let s: ReturnType<typeof utf8Step> = { need: 0, lo: 0, hi: 0 };
    for (const b of bytes) s = s && utf8Step(s, b);
    let ok = true;
    try {
      strict.decode(bytes);
    } catch {
      ok = false;
    }
    assert.equal(s !== null && s.need === 0, ok, `${Buffer.from(bytes).toString("hex")}`);
  }
});
