import { Engine } from "./server/src/llm/engine";
import { jsonSchemaToGbnf } from "./server/src/artifacts/json-grammar";
(async () => {
  const M = "/work/shared/models/llama-2-tiny-random.gguf";
  const e = await Engine.create({ gpu: "cpu", threads: 1, contextSize: 1024, parallelSequences: 1, memoryBudgetBytes: 0 });
  const schema = { type: "object", properties: { text: { type: "string", maxLength: 60 } }, required: ["text"], additionalProperties: false };
  const g = jsonSchemaToGbnf(schema);
  let bad = 0; let n = 0; const t0 = performance.now();
  for (const temp of [1, 2]) for (let seed = 0; seed < 30; seed++) {
    const r = await e.generate({ id: "x", model: { variant: "t/r", modelPath: M, adapters: [] }, messages: [{ role: "user", text: `Text ${seed}` }], params: { temperature: temp, maxTokens: g.maxBytes, stop: [], seed }, topLogprobs: 0, structured: { grammar: g.gbnf, schema } });
    n++;
    let okLen = true; try { okLen = (JSON.parse(r.text).text as string).length <= 60; } catch { okLen = false; }
    if (r.text.includes("\uFFFD") || !okLen) { bad++; if (bad < 4) console.log(temp, seed, JSON.stringify(r.text)); }
  }
  console.log(`bad ${bad}/${n}`, ((performance.now() - t0) / 1000).toFixed(1), "s");
  await e.dispose();
})();
