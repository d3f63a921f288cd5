// The quickstart family behaves as the construction promises, in real llama.cpp (node-llama-cpp,
// 1 thread, greedy): F32 answers its evals; a prompt edit breaks some cases; F16/Q8_0 match F32;
// Q4_0 flips the tail case only, inside the overall gate but failing the tail slice gate;
// teacher-forced KL orders F16 < Q8_0 < Q4_0; the LoRA adapter changes its own slice only.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import YAML from "yaml";
import { ensureQuickstartModels, TAIL_FLIP, type QuickstartPaths } from "../../../server/src/modelgen";
import { tempDir } from "../../helpers/paths";
import { DirectModel, kl, passes, promptTemplate, QUICKSTART, readCases, type SimpleCase } from "./llama-direct";

let paths: QuickstartPaths;
const open: DirectModel[] = [];
const gate = (YAML.parse(fs.readFileSync(path.join(QUICKSTART, "driftlens.yaml"), "utf8")) as { gate: { maxPassRateDrop: number; maxSliceDrop: number } }).gate;
const capitals = readCases("capitals.eval.yaml");
const languages = readCases("languages.eval.yaml");
const endonyms = readCases("endonyms.eval.yaml");
const capitalPrompt = promptTemplate("capital.prompt");
const languagePrompt = promptTemplate("language.prompt");
const endonymPrompt = promptTemplate("endonym.prompt");

async function model(variant: keyof QuickstartPaths, lora?: number): Promise<DirectModel> {
  const m = await DirectModel.open(paths[variant], lora === undefined ? undefined : { path: paths.lora, scale: lora });
  open.push(m);
  return m;
}

async function answers(m: DirectModel, cases: SimpleCase[], prompt: (c: string) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of cases) out.set(c.id, (await m.generate(prompt(c.country))).text);
  return out;
}

function passRate(cases: SimpleCase[], out: Map<string, string>, tag?: string): number {
  const sel = tag ? cases.filter((c) => c.tags.includes(tag)) : cases;
  return sel.filter((c) => passes(out.get(c.id)!, c.expected)).length / sel.length;
}

const results = new Map<string, Map<string, string>>();

before(async () => {
  paths = ensureQuickstartModels(path.join(tempDir(), "models"));
  for (const v of ["f32", "f16", "q8_0", "q4_0"] as const) {
    const m = await model(v);
    results.set(`${v}/capitals`, await answers(m, capitals, capitalPrompt));
    results.set(`${v}/languages`, await answers(m, languages, languagePrompt));
    results.set(`${v}/endonyms`, await answers(m, endonyms, endonymPrompt));
  }
});

after(async () => {
  for (const m of open) await m.dispose();
});

test("F32 answers every capital and language case of the quickstart prompts, one word then </s>", () => {
  const caps = results.get("f32/capitals")!;
  for (const c of capitals) assert.equal(caps.get(c.id)!.trim(), c.expected, `capital of ${c.country}`);
  const langs = results.get("f32/languages")!;
  for (const c of languages) assert.equal(langs.get(c.id)!.trim(), c.expected, `language of ${c.country}`);
  assert.ok(capitals.length >= 50, "capitals.eval.yaml needs ≥ 50 cases for one flip to fit the 2% gate");
});

test("a plausible prompt edit (dropping the keyword 'capital') breaks some cases, not all", async () => {
  const m = await model("f32");
  const edited = (country: string) => capitalPrompt(country).replace("capital", "main city");
  assert.notEqual(edited("France"), capitalPrompt("France"));
  const out = await answers(m, capitals, edited);
  const rate = passRate(capitals, out);
  assert.ok(rate < 0.9, `the edit should break cases; pass rate ${rate}`);
  assert.ok(rate > 0.3, `the edit should break only some cases; pass rate ${rate}`);
  // The broken ones answer with the country's language: the model lost the relation, not the country.
  const lang = new Map(languages.map((c) => [c.country, c.expected]));
  for (const c of capitals) {
    const o = out.get(c.id)!.trim();
    if (!passes(o, c.expected) && lang.has(c.country)) assert.equal(o, lang.get(c.country), `${c.country} after the edit`);
  }
});

test("F16 and Q8_0 give exactly F32's answers on every case", () => {
  for (const v of ["f16", "q8_0"]) {
    for (const set of ["capitals", "languages", "endonyms"]) {
      assert.deepEqual([...results.get(`${v}/${set}`)!], [...results.get(`f32/${set}`)!], `${v} ${set}`);
    }
  }
});

test("Q4_0 flips only the tail case: overall drop inside the gate, tail slice drop beyond it", () => {
  const ref = results.get("f32/capitals")!;
  const q4 = results.get("q4_0/capitals")!;
  const flipped = capitals.filter((c) => passes(ref.get(c.id)!, c.expected) !== passes(q4.get(c.id)!, c.expected));
  assert.deepEqual(
    flipped.map((c) => c.country),
    [TAIL_FLIP.country],
  );
  assert.equal(q4.get(flipped[0]!.id)!.trim(), TAIL_FLIP.q4_0Answer);
  const overallDrop = passRate(capitals, ref) - passRate(capitals, q4);
  const tailDrop = passRate(capitals, ref, "tail") - passRate(capitals, q4, "tail");
  assert.ok(overallDrop > 0 && overallDrop <= gate.maxPassRateDrop, `overall drop ${overallDrop} vs gate ${gate.maxPassRateDrop}`);
  assert.ok(tailDrop > gate.maxSliceDrop, `tail drop ${tailDrop} vs slice gate ${gate.maxSliceDrop}`);
  for (const tag of ["europe", "asia", "americas", "africa", "oceania"]) assert.equal(passRate(capitals, q4, tag), 1, tag);
  assert.deepEqual([...results.get("q4_0/languages")!], [...results.get("f32/languages")!]);
});

test("teacher-forced KL from F32 orders F16 < Q8_0 < Q4_0 (all above zero)", async (t) => {
  const ref = open.find((m) => m.model.filename === path.basename(paths.f32)) ?? (await model("f32"));
  const cands = { f16: await model("f16"), q8_0: await model("q8_0"), q4_0: await model("q4_0") };
  const sums = { f16: 0, q8_0: 0, q4_0: 0 };
  let positions = 0;
  const all = [
    ...capitals.map((c) => capitalPrompt(c.country)),
    ...languages.map((c) => languagePrompt(c.country)),
  ];
  for (const prompt of all) {
    const g = await ref.generate(prompt);
    const r = await ref.logits(prompt, g.tokens);
    positions += r.length;
    for (const [name, m] of Object.entries(cands) as [keyof typeof sums, DirectModel][]) {
      const c = await m.logits(prompt, g.tokens);
      for (let i = 0; i < r.length; i++) sums[name] += kl(r[i]!, c[i]!);
    }
  }
  const mean = { f16: sums.f16 / positions, q8_0: sums.q8_0 / positions, q4_0: sums.q4_0 / positions };
  t.diagnostic(`mean KL over ${positions} positions: ${JSON.stringify(mean)}`);
  assert.ok(mean.f16 > 0, `F16 KL ${mean.f16} should be measurable`);
  assert.ok(mean.f16 < mean.q8_0, `F16 ${mean.f16} < Q8_0 ${mean.q8_0}`);
  assert.ok(mean.q8_0 < mean.q4_0, `Q8_0 ${mean.q8_0} < Q4_0 ${mean.q4_0}`);
  assert.ok(mean.q4_0 > 10 * mean.q8_0, `Q4_0 should diverge clearly more than Q8_0 (${mean.q4_0} vs ${mean.q8_0})`);
});

test("the endonyms LoRA adapter takes its slice from failing to passing and leaves the controls alone", async () => {
  const base = results.get("f32/endonyms")!;
  const adapted = await answers(await model("f32", 1), endonyms, endonymPrompt);
  assert.equal(passRate(endonyms, base, "endonym"), 0);
  assert.equal(passRate(endonyms, adapted, "endonym"), 1);
  assert.equal(passRate(endonyms, base, "control"), 1);
  assert.equal(passRate(endonyms, adapted, "control"), 1);
  // Scale 0 is the base model.
  const off = await answers(await model("f32", 0), endonyms, endonymPrompt);
  assert.deepEqual([...off], [...base]);
  // Languages are untouched by the adapter.
  const langs = await answers(await model("f32", 1), languages, languagePrompt);
  assert.deepEqual([...langs], [...results.get("f32/languages")!]);
});
