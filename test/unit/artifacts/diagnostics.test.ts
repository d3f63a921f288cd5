// Every diagnostic code, triggered by a fixture, at its exact range. Each fixture is a small
// workspace written to a temp folder; in the file under test, «…» marks the range the diagnostic
// must have (the markers are removed before writing). GGUF files are the real converter-made
// tiny model from ../shared and LoRA adapters written with the project's GGUF writer.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { test } from "node:test";
import { CODES } from "../../../server/src/artifacts/codes";
import type { Diagnostic, Range } from "../../../server/src/artifacts/types";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { checkEndpoint } from "../../../server/src/llm/remote/check";
import { sha256Text } from "../../../server/src/artifacts/hash";
import { GgufWriter } from "../../../server/src/gguf/writer";
import { buildLoraGguf } from "../../../server/src/modelgen";
import { tempDir, TINY_RANDOM_GGUF } from "../../helpers/paths";

const TINY = TINY_RANDOM_GGUF;
const TINY_SHA = "81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb";
const CONFIG = `models:\n  tiny:\n    reference: f16\n    variants: {f16: ${TINY}}\n`;

/** Writes a LoRA adapter GGUF with pairs for the given targets (n_in x n_out each). */
function lora(file: string, pairs: { target: string; nIn: number; nOut: number }[], arch = "llama"): void {
  const rank = 2;
  if (arch === "llama") {
    const g = buildLoraGguf({
      name: path.basename(file),
      alpha: 4,
      pairs: pairs.map((p) => ({ ...p, rank, a: new Float32Array(p.nIn * rank).fill(0.01), b: new Float32Array(rank * p.nOut).fill(0.01) })),
    });
    g.write(file);
    return;
  }
  // Another architecture: the same layout with a different general.architecture.
  const g = new GgufWriter();
  g.set("general.architecture", "string", arch);
  g.set("general.type", "string", "adapter");
  g.set("adapter.type", "string", "lora");
  g.set("adapter.lora.alpha", "f32", 4);
  const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.01).buffer);
  for (const p of pairs) {
    g.addTensor(`${p.target}.lora_a`, [p.nIn, rank], 0, f32(p.nIn * rank));
    g.addTensor(`${p.target}.lora_b`, [rank, p.nOut], 0, f32(rank * p.nOut));
  }
  g.write(file);
}

interface Case {
  code: keyof typeof CODES;
  /** The file under test, with «…» around the expected range. */
  target: string;
  files: Record<string, string>;
  setup?: (dir: string) => void;
  /** Extra check on the message. */
  message?: RegExp;
  severity?: Diagnostic["severity"];
  options?: ConstructorParameters<typeof Workspace>[1];
}

const GOOD_ADAPTER_FILES = (extra: string) => ({
  "driftlens.yaml": CONFIG,
  "formal.adapter.yaml": `file: formal.lora.gguf\nbase: {model: tiny/f16, sha256: "${TINY_SHA}"}\nscale: 1.0\ntraining: {dataset: data.jsonl, datasetSha256: "${sha256Text("data\n")}", recipe: "train.py --rank 2", commit: abc123}\n${extra}`,
  "data.jsonl": "data\n",
});
const loraOk = (dir: string) => lora(path.join(dir, "formal.lora.gguf"), [{ target: "blk.0.attn_q.weight", nIn: 8, nOut: 8 }]);

// A mock endpoint for the served-variant fixtures: an OpenAI-compatible server (vLLM by its
// answer) that serves only the model "other" and no LoRA module. Fixtures write PPPPP for its port
// (Linux ephemeral ports have five digits, so marked ranges keep their columns).
const mockEndpoint = http.createServer((req, res) => {
  res.writeHead(req.url === "/v1/models" || req.url === "/version" ? 200 : 404, { "content-type": "application/json" });
  res.end(req.url === "/v1/models" ? JSON.stringify({ data: [{ id: "other", owned_by: "vllm", max_model_len: 512 }] }) : req.url === "/version" ? '{"version":"mock"}' : "{}");
});
mockEndpoint.listen(0, "127.0.0.1");
mockEndpoint.unref();
const withMockPort = (file: string) => (dir: string) => {
  const p = path.join(dir, file);
  fs.writeFileSync(p, fs.readFileSync(p, "utf8").replaceAll("PPPPP", String((mockEndpoint.address() as AddressInfo).port).padStart(5, "0")));
};
// A port nothing listens on: taken from a listener that is closed at once.
let closedPort = 0;
const closed = http.createServer();
closed.listen(0, "127.0.0.1", () => {
  closedPort = (closed.address() as AddressInfo).port;
  closed.close();
});
const withClosedPort = (file: string) => (dir: string) => {
  const p = path.join(dir, file);
  fs.writeFileSync(p, fs.readFileSync(p, "utf8").replaceAll("QQQQQ", String(closedPort).padStart(5, "0")));
};
const SERVED = (endpoint: string, extra = "") => `models:\n  srv:\n    variants:\n      a:\n        endpoints:\n          - ${endpoint}\n${extra}`;

const CASES: Case[] = [
  // driftlens.yaml
  { code: "DL100", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny: [a, b\n«»" } },
  { code: "DL101", target: "driftlens.yaml", files: { "driftlens.yaml": "engine:\n  contextSize: «big»\n" }, message: /engine\.contextSize must be a number/ },
  { code: "DL102", target: "driftlens.yaml", files: { "driftlens.yaml": "engine:\n  «treads»: 2\n" }, message: /did you mean 'threads'/ },
  { code: "DL103", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    variants:\n      «f16»: models/none.gguf\n" } },
  { code: "DL104", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    scan: «empty»\n", "empty/readme.txt": "no models" } },
  { code: "DL105", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    scan: «nowhere/»\n" } },
  { code: "DL106", target: "driftlens.yaml", files: { "driftlens.yaml": `models:\n  tiny:\n    reference: «q9»\n    variants: {f16: ${TINY}}\n` } },
  { code: "DL126", target: "driftlens.yaml", files: { "driftlens.yaml": `${CONFIG}grader: «tiny/q9»\n` } },
  { code: "DL107", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    variants:\n      «bad»: bad.gguf\n", "bad.gguf": "not a gguf at all" } },
  {
    code: "DL108",
    target: "driftlens.yaml",
    files: { "driftlens.yaml": "models:\n  tiny:\n    scan: «models»\n" },
    setup: (dir) => {
      fs.mkdirSync(path.join(dir, "models"), { recursive: true });
      fs.copyFileSync(TINY, path.join(dir, "models", "a.gguf"));
      fs.copyFileSync(TINY, path.join(dir, "models", "b.gguf"));
    },
  },
  { code: "DL127", target: "e.eval.yaml", files: { "e.eval.yaml": "prompt: «../elsewhere/secret.prompt»\ncases: []\n" }, message: /outside the workspace/ },
  { code: "DL128", target: "driftlens.yaml", files: { "driftlens.yaml": "«store: data»\n", "data/readme.txt": "a folder" }, message: /not a regular file \(a folder\)/ },
  { code: "DL109", target: "driftlens.yaml", files: { "driftlens.yaml": "embedding:\n  model: «models/none.gguf»\n" }, message: /embedding model file models\/none\.gguf does not exist/ },
  { code: "DL110", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    corpus: «none.txt»\n" }, message: /family 'tiny': corpus text none\.txt does not exist/ },
  // served variants
  { code: "DL120", target: "driftlens.yaml", files: { "driftlens.yaml": SERVED("«ftp://gpu1:8000/v1»") }, message: /uses ftp; endpoints are http/ },
  { code: "DL121", target: "driftlens.yaml", files: { "driftlens.yaml": SERVED("«http://10.1.2.3:8000/v1»") }, message: /plain http to 10\.1\.2\.3:8000.*unencrypted/ },
  {
    code: "DL122",
    target: "driftlens.yaml",
    files: { "driftlens.yaml": SERVED("«http://127.0.0.1:QQQQQ/v1»") },
    setup: withClosedPort("driftlens.yaml"),
    options: { checkEndpoint },
    message: /refused the connection/,
  },
  {
    code: "DL123",
    target: "driftlens.yaml",
    files: { "driftlens.yaml": SERVED("«http://127.0.0.1:PPPPP/v1»", "        model: Qwen/Qwen2.5-7B-Instruct\n") },
    setup: withMockPort("driftlens.yaml"),
    options: { checkEndpoint },
    message: /does not serve 'Qwen\/Qwen2\.5-7B-Instruct' \(it serves other\)/,
  },
  {
    code: "DL124",
    target: "p.prompt",
    files: { "driftlens.yaml": SERVED("http://127.0.0.1:PPPPP/v1", "        model: other\n"), "p.prompt": "---\nmodel: «srv/a+formal»\n---\nHi\n" },
    setup: withMockPort("driftlens.yaml"),
    options: { checkEndpoint },
    message: /serves no LoRA module 'formal'/,
  },
  { code: "DL125", target: "driftlens.yaml", files: { "driftlens.yaml": SERVED("http://127.0.0.1:8000/v1", "        «apiKey»: sk-live-123\n") }, message: /never write a key into driftlens\.yaml/ },
  {
    code: "DL140",
    target: "driftlens.yaml",
    files: { "driftlens.yaml": "models:\n  tiny:\n    variants:\n      q4: {ollama: «tiny:7b»}\nmodelStores: {ollama: ollama}\n", "ollama/manifests/registry.ollama.ai/library/tiny/q4": "{}" },
    message: /ollama:tiny:7b is not in Ollama's store .*: tags present: tiny:q4; pull it with `ollama pull tiny:7b`/,
  },
  {
    code: "DL141",
    target: "driftlens.yaml",
    files: { "driftlens.yaml": "models:\n  tiny:\n    variants:\n      q4:\n        ollama: «tiny:q4»\nmodelStores: {ollama: ollama}\n", "ollama/manifests/registry.ollama.ai/library/tiny/q4": JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.v2+json", layers: [{ mediaType: "application/vnd.ollama.image.model", digest: `sha256:${"ab".repeat(32)}`, size: 10 }] }) },
    message: /manifest .*library\/tiny\/q4 names blob sha256-(ab){32} for the model, which is missing from .*ollama\/blobs/,
  },
  { code: "DL142", target: "driftlens.yaml", files: { "driftlens.yaml": "models:\n  tiny:\n    variants:\n      q4: «hf:org--x/name»\n" }, message: /not a Hugging Face repo id/ },
  // .prompt
  { code: "DL200", target: "p.prompt", files: { "p.prompt": "---\nmodel: [«»\n---\nHi\n" } },
  { code: "DL201", target: "p.prompt", files: { "p.prompt": "---\nconfig: «5»\n---\nHi\n" } },
  { code: "DL202", target: "p.prompt", files: { "p.prompt": "---\nconfig: {}\n---\nHello {{name«}»\n" } },
  { code: "DL203", target: "p.prompt", files: { "p.prompt": "---\ninput:\n  schema:\n    name: string\n---\nHi {{name}} {{«nmae»}}\n" } },
  { code: "DL204", target: "p.prompt", files: { "p.prompt": "---\ninput:\n  schema:\n    name: string\n    «extra?»: string\n---\nHi {{name}}\n" } },
  { code: "DL205", target: "p.prompt", files: { "p.prompt": "Hi {{«shout» name}}\n" } },
  { code: "DL206", target: "p.prompt", files: { "p.prompt": "Hi {{> «header»}}\n" } },
  { code: "DL207", target: "p.prompt", files: { "driftlens.yaml": CONFIG, "p.prompt": "---\nmodel: «tiny/q9»\n---\nHi\n" }, message: /no variant 'q9'.*f16/ },
  { code: "DL208", target: "p.prompt", files: { "p.prompt": "---\noutput:\n  schema:\n    «x(bogus)»: string\n---\nHi\n" } },
  { code: "DL209", target: "p.prompt", files: { "p.prompt": "---\ninput:\n  schema:\n    name: «strin»\n---\n{{name}}\n" } },
  {
    code: "DL210",
    target: "p.prompt",
    files: { "driftlens.yaml": `${CONFIG}engine: {contextSize: 32}\n`, "p.prompt": `---\nmodel: «tiny/f16»\n---\n${"word ".repeat(60)}\n` },
    severity: "warning",
    message: /about \d+ tokens \(an estimate/,
  },
  {
    code: "DL210",
    target: "p.prompt",
    files: { "driftlens.yaml": `${CONFIG}engine: {contextSize: 32}\n`, "p.prompt": `---\nmodel: «tiny/f16»\nconfig: {maxOutputTokens: 16}\n---\nshort\n` },
    options: { countTokens: async () => 20 },
    severity: "error",
    message: /20 tokens \(counted with tiny\/f16's vocabulary\) \+ 16 maxOutputTokens/,
  },
  { code: "DL211", target: "p.prompt", files: { "p.prompt": "---\ndriftlens.evals: [«nope.eval.yaml»]\n---\nHi\n" } },
  {
    code: "DL220",
    target: "p.prompt",
    files: { "p.prompt": '---\noutput:\n  format: json\n  schema:\n    type: object\n    properties:\n      code: {type: string, «pattern»: "^[A-Z]+$"}\n---\nHi\n' },
    message: /'pattern' is not enforced while generating/,
  },
  {
    code: "DL221",
    target: "p.prompt",
    files: { "p.prompt": "---\noutput:\n  format: json\n  schema:\n    type: object\n    properties:\n      «n»: {type: integer, minimum: 5, maximum: 4}\n    required: [n]\n---\nHi\n" },
    message: /no integer lies between minimum 5 and maximum 4/,
  },
  { code: "DL222", target: "p.prompt", files: { "p.prompt": "---\nconfig: {maxOutputTokens: «8»}\noutput:\n  format: json\n  schema:\n    name: string\n---\nHi\n" }, message: /longest JSON the output schema allows is \d+ bytes; with maxOutputTokens 8/ },
  { code: "DL212", target: "p.prompt", files: { "driftlens.yaml": CONFIG, "p.prompt": "---\nmodel: «tiny/f16»\n---\n{{> loop}}\n", "_loop.prompt": "again {{> loop}}" } },
  // eval sets
  { code: "DL300", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    vars: {x: 1\n«»" } },
  { code: "DL300", target: "e.eval.jsonl", files: { "p.prompt": "Hi", "e.eval.jsonl": '{"prompt": "p.prompt"}\n{"id": "a", "why": "w"}\n{"id": "b",«}»\n' } },
  { code: "DL301", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    tags: «5»\n" } },
  { code: "DL302", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n  - id: «a»\n    why: w\n" } },
  { code: "DL302", target: "e.eval.jsonl", files: { "p.prompt": "Hi", "e.eval.jsonl": '{"prompt": "p.prompt"}\n{"id": "a", "why": "w"}\n{"id": «"a"», "why": "w"}\n' } },
  { code: "DL303", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - {type: «bogus», value: x}\n" } },
  { code: "DL304", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": 'prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - type: regex\n        value: «"(x"»\n' } },
  { code: "DL305", target: "e.eval.yaml", files: { "p.prompt": "---\ninput:\n  schema:\n    name: string\n---\n{{name}}", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    vars: «{}»\n" }, message: /missing required variable 'name'/ },
  { code: "DL306", target: "e.eval.yaml", files: { "p.prompt": "---\ninput:\n  schema:\n    name: string\n---\n{{name}}", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    vars: {name: x, «extra»: 1}\n" } },
  { code: "DL307", target: "e.eval.yaml", files: { "p.prompt": "---\ninput:\n  schema:\n    n: integer\n---\n{{n}}", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    vars: {«n»: ten}\n" }, message: /n must be integer, not string/ },
  { code: "DL308", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - «id»: a\n" } },
  { code: "DL320", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\nrepeat: 5\n«cases»:\n  - id: a\n    why: w\n" }, message: /temperature is 0 \(greedy decoding\), so all 5 samples would be the same/ },
  { code: "DL321", target: "e.eval.yaml", files: { "driftlens.yaml": CONFIG, "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ngrader: «tiny/q9»\ncases:\n  - id: a\n    why: w\n" } },
  { code: "DL322", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: «a»\n    why: w\n    assert: [{type: llm-rubric, value: is polite}]\n" }, message: /needs a judge model and none is set/ },
  { code: "DL309", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    tags: [«europe»]\n" }, message: /needs at least 50/ },
  // With repeat 10 at temperature 1, five cases can show a 10-point drop; four cannot.
  { code: "DL309", target: "e.eval.yaml", files: { "p.prompt": "---\nconfig: {temperature: 1}\n---\nHi", "e.eval.yaml": "prompt: p.prompt\nrepeat: 10\ncases:\n" + ["a", "b", "c", "d"].map((id, i) => `  - id: ${id}\n    why: w\n    tags: [${i === 0 ? "«europe»" : "europe"}]\n`).join("") }, message: /has 4 cases: .* with 10 samples per case .*needs at least 5/ },
  { code: "DL310", target: "e.eval.yaml", files: { "e.eval.yaml": "prompt: «missing.prompt»\ncases:\n  - id: a\n    why: w\n" } },
  { code: "DL310", target: "e.eval.yaml", files: { "e.eval.yaml": "«cases»:\n  - id: a\n    why: w\n" } },
  { code: "DL311", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    «whyy»: w\n    why: w\n" } },
  { code: "DL312", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - «{type: contains}»\n" } },
  { code: "DL330", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": 'prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    vars: {name: Ada}\n    assert:\n      - {type: contains, value: «"Hi {{nobody}}"»}\n' }, message: /\{\{nobody\}\}.*do not define/ },
  { code: "DL331", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": "prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - {type: is-json, value: «{type: object, dependentRequired: {a: [b]}}»}\n" }, message: /2019-09/ },
  { code: "DL332", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": 'prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - {type: regex, value: «"/hello/i"»}\n' }, message: /slashes/ },
  { code: "DL333", target: "e.eval.yaml", files: { "p.prompt": "Hi", "e.eval.yaml": 'prompt: p.prompt\ncases:\n  - id: a\n    why: w\n    assert:\n      - {type: contains, value: «"file://expected.txt"»}\n' }, message: /inline/ },
  // adapters
  { code: "DL400", target: "a.adapter.yaml", files: { "a.adapter.yaml": "file: «:»x: y\n" } },
  { code: "DL401", target: "a.adapter.yaml", files: { "a.adapter.yaml": "file: x.gguf\nbase: tiny/f16\nscale: «big»\n" } },
  { code: "DL402", target: "a.adapter.yaml", files: { "driftlens.yaml": CONFIG, "a.adapter.yaml": "file: «none.gguf»\nbase: tiny/f16\n" } },
  { code: "DL403", target: "a.adapter.yaml", files: { "driftlens.yaml": CONFIG, "a.adapter.yaml": `file: «${TINY}»\nbase: tiny/f16\n` }, message: /not a LoRA adapter/ },
  {
    code: "DL404",
    target: "a.adapter.yaml",
    files: { "driftlens.yaml": CONFIG, "a.adapter.yaml": "file: x.lora.gguf\nbase: {model: «tiny/f16»}\n" },
    setup: (dir) => lora(path.join(dir, "x.lora.gguf"), [{ target: "blk.0.attn_q.weight", nIn: 8, nOut: 8 }], "gpt2"),
    message: /'gpt2' differs from base architecture 'llama'/,
  },
  {
    code: "DL405",
    target: "a.adapter.yaml",
    files: { "driftlens.yaml": CONFIG, "a.adapter.yaml": "file: «x.lora.gguf»\nbase: tiny/f16\n" },
    setup: (dir) => lora(path.join(dir, "x.lora.gguf"), [{ target: "blk.0.ffn_up.weight", nIn: 16, nOut: 32 }]),
    message: /'blk\.0\.ffn_up\.weight'.*lora_a \[16, 2\] and lora_b \[2, 32\] vs base \[8, 32\]/,
  },
  {
    code: "DL406",
    target: "formal.adapter.yaml",
    files: { "driftlens.yaml": CONFIG, "formal.adapter.yaml": `file: formal.lora.gguf\nbase: {model: tiny/f16, sha256: «"${"0".repeat(64)}"»}\n` },
    setup: loraOk,
    message: new RegExp(`sha256 ${TINY_SHA}, not the recorded 0{64}.*re-run its evals`),
  },
  {
    code: "DL407",
    target: "formal.adapter.yaml",
    files: { "driftlens.yaml": CONFIG, "data.jsonl": "changed\n", "formal.adapter.yaml": `file: formal.lora.gguf\nbase: tiny/f16\ntraining: {dataset: data.jsonl, datasetSha256: «${sha256Text("data\n")}»}\n` },
    setup: loraOk,
  },
  { code: "DL408", target: "formal.adapter.yaml", files: { "driftlens.yaml": CONFIG, "formal.adapter.yaml": "file: formal.lora.gguf\nbase: tiny/f16\n«training»: {recipe: x}\n" }, setup: loraOk, message: /base\.sha256, training\.dataset, training\.datasetSha256, training\.commit/ },
  {
    code: "DL409",
    target: "formal.adapter.yaml",
    files: { ...GOOD_ADAPTER_FILES("compose: [{adapter: «concise.adapter.yaml», scale: 0.5}]\n"), "concise.adapter.yaml": "file: concise.lora.gguf\nbase: tiny/f16\n" },
    setup: (dir) => {
      loraOk(dir);
      lora(path.join(dir, "concise.lora.gguf"), [
        { target: "blk.0.attn_q.weight", nIn: 8, nOut: 8 },
        { target: "blk.0.attn_k.weight", nIn: 8, nOut: 8 },
      ]);
    },
    message: /concise and formal both write 1 tensor: blk\.0\.attn_q\.weight/,
  },
  { code: "DL410", target: "a.adapter.yaml", files: { "driftlens.yaml": CONFIG, "a.adapter.yaml": "file: x.gguf\nbase: {model: «tiny/q9»}\n" } },
  { code: "DL411", target: "formal.adapter.yaml", files: GOOD_ADAPTER_FILES("compose: [{adapter: «nope.adapter.yaml»}]\n"), setup: loraOk },
  { code: "DL412", target: "a.adapter.yaml", files: { "a.adapter.yaml": "file: x.gguf\nbase: tiny/f16\n«colour»: blue\n" } },
  // promptfoo configs
  { code: "DL500", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\n«p»rompts: [y]\n" } },
  { code: "DL501", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests: «42»\n" } },
  { code: "DL502", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\n«promts»: [y]\n" } },
  { code: "DL503", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests: «file://missing.csv»\n" }, message: /file not found/ },
  { code: "DL504", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests: «file://t.json»\n", "t.json": "[{\"vars\": " }, message: /t\.json is not valid JSON/ },
  { code: "DL505", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": 'prompts:\n  - "Hi {{ x | «}»}"\n' } },
  { code: "DL506", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests:\n  - vars: {x: 1}\n    assert:\n      - type: «containz»\n        value: a\n" }, message: /containz/ },
  { code: "DL507", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests:\n  - assert:\n      - type: «llm-rubric»\n        value: is polite\n" }, message: /llm-rubric/ },
  { code: "DL508", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests:\n  - «{vars: {x: 1}, providerOutput: done}»\n" } },
  { code: "DL509", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": 'prompts: ["{{ x }} {{ y }}"]\ntests:\n  - «{vars: {x: 1}}»\n' }, message: /'y'/ },
  { code: "DL510", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": 'prompts: [x]\ntests:\n  - assert:\n      - $ref: «"#/nope"»\n' } },
  { code: "DL512", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": "prompts: [x]\ntests:\n  - assert:\n      - «type: contains\n»" } },
  { code: "DL513", target: "promptfooconfig.yaml", files: { "promptfooconfig.yaml": 'prompts: [x]\ntests:\n  - assert:\n      - {type: regex, value: «"[a"»}\n' } },
  // GitHub Models .prompt.yml
  { code: "DL600", target: "a.prompt.yml", files: { "a.prompt.yml": "name: a\n«n»ame: b\nmessages: []\n" } },
  { code: "DL601", target: "a.prompt.yml", files: { "a.prompt.yml": "name: a\nmessages: «42»\n" } },
  { code: "DL602", target: "a.prompt.yml", files: { "a.prompt.yml": "«modle»: x\nmessages: []\n" } },
  { code: "DL603", target: "a.prompt.yml", files: { "a.prompt.yml": "messages:\n  - role: «robot»\n    content: hi\n" } },
  { code: "DL604", target: "a.prompt.yml", files: { "a.prompt.yml": "messages: []\nevaluators:\n  - name: e\n    string: «{}»\n" } },
  { code: "DL605", target: "a.prompt.yml", files: { "a.prompt.yml": "messages: []\nevaluators:\n  - name: s\n    uses: «github/similarity»\n" } },
  { code: "DL606", target: "a.prompt.yml", files: { "a.prompt.yml": 'messages:\n  - {role: user, content: "{{input}}"}\ntestData:\n  - «{other: 1}»\n' }, message: /'input'/ },
  { code: "DL607", target: "a.prompt.yml", files: { "a.prompt.yml": "responseFormat: «xml»\nmessages: []\n" } },
  // Prompty
  { code: "DL700", target: "a.prompty", files: { "a.prompty": "---\nname: a\n«n»ame: b\n---\nuser:\nhi\n" } },
  { code: "DL701", target: "a.prompty", files: { "a.prompty": "---\n«- a\n»---\nuser:\nhi\n" } },
  { code: "DL702", target: "a.prompty", files: { "a.prompty": "---\n«nmae»: x\n---\nuser:\nhi\n" } },
  { code: "DL703", target: "a.prompty", files: { "a.prompty": "---\nname: a\n---\nuser:\nHi {{ x | «}»}\n" } },
  { code: "DL704", target: "a.prompty", files: { "a.prompty": "---\ntemplate: «handlebars»\n---\nuser:\nhi\n" } },
  { code: "DL705", target: "a.prompty", files: { "a.prompty": "---\ninputs:\n  a:\n    type: string\n---\nuser:\n{{ a }} «{{» b }}\n" }, message: /'b'/ },
  { code: "DL706", target: "a.prompty", files: { "a.prompty": "---\nsample: «${file:missing.json}»\n---\nuser:\nhi\n" } },
  { code: "DL707", target: "a.prompty", files: { "a.prompty": "---\n«tools»:\n  - {id: f, type: function}\n---\nuser:\nhi\n" } },
  // providers → variants
  { code: "DL800", target: "promptfooconfig.yaml", files: { "driftlens.yaml": CONFIG, "promptfooconfig.yaml": "prompts: [x]\nproviders: [«openai:gpt-4o-mini»]\n" }, message: /providers:/ },
  { code: "DL801", target: "driftlens.yaml", files: { "driftlens.yaml": `${CONFIG}providers:\n  "openai:gpt-4o-mini": «tiny/nope»\n` } },
];

/** Strips «…» markers; returns the text and the marked range (0-based, UTF-16). */
function marked(text: string): { text: string; range?: Range } {
  const s = text.indexOf("«");
  const e = text.indexOf("»");
  if (s < 0 || e < s) return { text };
  const clean = text.slice(0, s) + text.slice(s + 1, e) + text.slice(e + 1);
  const pos = (off: number) => {
    const before = clean.slice(0, off).split("\n");
    return { line: before.length - 1, character: before[before.length - 1]!.length };
  };
  return { text: clean, range: { start: pos(s), end: pos(e - 1) } };
}

for (const c of CASES) {
  const info = CODES[c.code];
  test(`${c.code} (${info.title}) at its exact range in ${c.target}`, async () => {
    const dir = tempDir("driftlens-diag-");
    let expected: Range | undefined;
    for (const [name, content] of Object.entries(c.files)) {
      const m = marked(content);
      const p = path.join(dir, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, m.text);
      if (name === c.target) expected = m.range;
    }
    assert.ok(expected, "fixture marks the expected range");
    c.setup?.(dir);
    const ws = new Workspace(dir, c.options);
    const diags = await ws.diagnose(path.join(dir, c.target));
    const hits = diags.filter((d) => d.code === c.code);
    assert.ok(hits.length > 0, `expected ${c.code}; got ${JSON.stringify(diags.map((d) => [d.code, d.message]))}`);
    const exact = hits.find((d) => JSON.stringify(d.range) === JSON.stringify(expected));
    assert.ok(exact, `${c.code} at ${JSON.stringify(expected)}; got ${JSON.stringify(hits.map((d) => [d.range, d.message]))}`);
    assert.equal(exact.file, path.join(dir, c.target));
    assert.equal(exact.severity, c.severity ?? info.severity);
    if (c.message) assert.match(exact.message, c.message);
  });
}

test("every documented code has a fixture above", () => {
  const covered = new Set(CASES.map((c) => c.code));
  assert.deepEqual(Object.keys(CODES).filter((k) => !covered.has(k as keyof typeof CODES)), []);
});

test("clean artifacts of every kind give no diagnostics", async () => {
  const dir = tempDir("driftlens-clean-");
  const files: Record<string, string> = {
    ...GOOD_ADAPTER_FILES("evals: [capitals.eval.yaml]\n"),
    "capital.prompt": "---\nmodel: tiny/f16\ninput:\n  schema:\n    country: string, the country\n---\n{{role \"user\"}}What is the capital of {{country}}?\n",
    "capitals.eval.yaml": `prompt: capital.prompt\ncases:\n${Array.from({ length: 50 }, (_, i) => `  - id: c${i}\n    vars: {country: C${i}}\n    assert: [{type: icontains, value: x}]\n    tags: [all]\n    why: reason ${i}\n`).join("")}`,
  };
  for (const [n, t] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), t);
  loraOk(dir);
  const ws = new Workspace(dir);
  for (const f of ws.listArtifacts()) assert.deepEqual(await ws.diagnose(f), [], f);
});

test("DL309 counts a slice's samples: enough with repeat at temperature 1, never on a greedy prompt, the fewest of its cases", async () => {
  const evalSet = (n: number, head: string, caseRepeat: (i: number) => string = () => "") =>
    `prompt: p.prompt\n${head}cases:\n${Array.from({ length: n }, (_, i) => `  - id: c${i}\n    why: w\n    tags: [s]\n${caseRepeat(i)}`).join("")}`;
  const slice309 = async (prompt: string, text: string) => {
    const dir = tempDir("driftlens-dl309-");
    fs.writeFileSync(path.join(dir, "p.prompt"), prompt);
    fs.writeFileSync(path.join(dir, "e.eval.yaml"), text);
    return (await new Workspace(dir).diagnose(path.join(dir, "e.eval.yaml"))).filter((d) => d.code === "DL309").map((d) => d.message);
  };
  const warm = "---\nconfig: {temperature: 1}\n---\nHi";
  assert.deepEqual(await slice309(warm, evalSet(5, "repeat: 10\n")), []);
  assert.match((await slice309(warm, evalSet(5, "repeat: 2\n")))[0] ?? "", /with 2 samples per case .*needs at least 25/);
  // Greedy: the samples are one output, so the slice needs as many cases as without repeat.
  assert.match((await slice309("Hi", evalSet(5, "repeat: 10\n")))[0] ?? "", /exact McNemar\); it needs at least 50/);
  // One case drawn once holds the whole slice to the one-sample bound… unless it has its own repeat.
  assert.match((await slice309(warm, evalSet(5, "repeat: 10\n", (i) => (i === 0 ? "    repeat: 1\n" : ""))))[0] ?? "", /needs at least 50/);
  assert.deepEqual(await slice309(warm, evalSet(5, "", () => "    repeat: 10\n")), []);
});

test("DL309 sizes a slice for the gate's own maxSliceDrop (driftlens.yaml), not a fixed 10 points", async () => {
  const dir = tempDir("driftlens-dl309-gate-");
  fs.writeFileSync(path.join(dir, "p.prompt"), "Hi");
  fs.writeFileSync(path.join(dir, "e.eval.yaml"), `prompt: p.prompt\ncases:\n${Array.from({ length: 20 }, (_, i) => `  - id: c${i}\n    why: w\n    tags: [s]\n`).join("")}`);
  const dl309 = async () => (await new Workspace(dir).diagnose(path.join(dir, "e.eval.yaml"))).filter((d) => d.code === "DL309").map((d) => d.message);
  // Default gate (maxSliceDrop 0.1, alpha 0.05): 20 cases cannot show a 10-point drop (50 can).
  assert.match((await dl309())[0] ?? "", /has 20 cases: too few to detect a 10-point pass-rate drop \(the gate's maxSliceDrop\) at alpha 0\.05 .*needs at least 50/);
  // A gate that allows 30-point slice drops: 17 cases suffice, so 20 raise nothing.
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), "gate:\n  maxSliceDrop: 0.3\n");
  assert.deepEqual(await dl309(), []);
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), "gate:\n  maxSliceDrop: 0.2\n");
  assert.match((await dl309())[0] ?? "", /too few to detect a 20-point pass-rate drop \(the gate's maxSliceDrop\) .*needs at least 25/);
});
