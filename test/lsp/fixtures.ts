// Builds LSP test workspaces in temporary folders: a main workspace whose driftlens.yaml points at
// ../shared/models/llama-2-tiny-random.gguf, one file per diagnostic (each written to trigger
// exactly the code it is named after), LoRA adapter GGUFs written with the project's GGUF writer,
// and sibling folders with broken driftlens.yaml files (one config per workspace root).
import fs from "node:fs";
import path from "node:path";
import { GgufWriter } from "../../server/src/gguf/writer";
import { GgmlType } from "../../server/src/gguf/constants";
import { TINY_RANDOM_GGUF, tempDir } from "../helpers/paths";

export function write(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** A LoRA adapter GGUF: F32 lora_a [nIn, rank] / lora_b [rank, nOut] pairs for the given targets. */
export function loraGguf(opts: { arch?: string; targets: { name: string; nIn: number; nOut: number }[]; rank?: number; lora?: boolean }): Buffer {
  const g = new GgufWriter();
  g.set("general.architecture", "string", opts.arch ?? "llama");
  g.set("general.type", "string", opts.lora === false ? "model" : "adapter");
  g.set("general.name", "string", "test adapter");
  if (opts.lora !== false) {
    g.set("adapter.type", "string", "lora");
    g.set("adapter.lora.alpha", "f32", 8);
  }
  const rank = opts.rank ?? 2;
  for (const t of opts.targets) {
    const a = new Float32Array(t.nIn * rank).fill(0.01);
    const b = new Float32Array(rank * t.nOut).fill(0.01);
    g.addTensor(`${t.name}.lora_a`, [t.nIn, rank], GgmlType.F32, new Uint8Array(a.buffer));
    g.addTensor(`${t.name}.lora_b`, [rank, t.nOut], GgmlType.F32, new Uint8Array(b.buffer));
  }
  return g.toBuffer();
}

export const CAPITAL_PROMPT = `---
model: tiny/f16
config: {temperature: 0, maxOutputTokens: 16}
input:
  schema:
    country: string, the country to ask about
    style?: string
  default: {country: France}
driftlens.evals: [capitals.eval.yaml]
---
{{role "user"}}What is the capital of {{country}}?{{#if style}} Answer {{style}}.{{/if}}
`;

export const CAPITALS_EVAL = `prompt: capital.prompt
cases:
  - id: france
    vars: {country: France}
    assert:
      - {type: icontains, value: paris}
    tags: [europe]
    why: "Baseline fact"
`;

/** A prompt whose input has no default, so a case without `city` misses a required variable. */
export const STRICT_PROMPT = `---
model: tiny/f16
input:
  schema:
    city: string
    tone?: string
---
Describe {{city}}{{#if tone}} in a {{tone}} tone{{/if}}.
`;

const LONG_BODY = Array.from({ length: 40 }, (_, i) => `Line ${i}: please consider every detail of the question carefully before answering it.`).join("\n");

export interface DiagnosticCase {
  file: string;
  text: string;
  code: string;
  /** The text the diagnostic's range must cover exactly (its `nth` occurrence in the file). */
  covers?: string;
  nth?: number;
  /**
   * For syntax errors (no text to cover): where the range must start; for an unclosed collection
   * either where it opens or at the end of the file where the parser gives up.
   */
  at?: { line: number; character: number } | { line: number; character: number }[];
}

/** One file per diagnostic code, each written to trigger exactly that code. */
export function diagnosticCases(): DiagnosticCase[] {
  const prompt = (fm: string, body: string) => `---\n${fm}\n---\n${body}\n`;
  return [
    // .prompt
    { file: "p-yaml.prompt", text: prompt("model: tiny/f16\ninput: {schema: {country: string}\nconfig: {}", "{{country}}"), code: "DL200", at: { line: 3, character: 0 } },
    { file: "p-type.prompt", text: prompt("model: tiny/f16\nconfig: 5", "Hello"), code: "DL201", covers: "5" },
    { file: "p-hbs.prompt", text: prompt("model: tiny/f16\ninput: {schema: {country: string}}", "{{#if country}}Capital of {{country}}"), code: "DL202", at: { line: 5, character: 0 } },
    { file: "p-undeclared.prompt", text: prompt("model: tiny/f16\ninput: {schema: {country: string}}", "Capital of {{country}} near {{city}}?"), code: "DL203", covers: "city" },
    { file: "p-unused.prompt", text: prompt("model: tiny/f16\ninput:\n  schema:\n    country: string\n    extra: string", "Capital of {{country}}?"), code: "DL204", covers: "extra" },
    { file: "p-helper.prompt", text: prompt("model: tiny/f16\ninput: {schema: {country: string}}", "Capital of {{shout country}}?"), code: "DL205", covers: "shout" },
    { file: "p-partial.prompt", text: prompt("model: tiny/f16\ninput: {schema: {country: string}}", "{{> missing_part}} Capital of {{country}}?"), code: "DL206", covers: "missing_part" },
    { file: "p-model.prompt", text: prompt("model: tiny/q9\ninput: {schema: {country: string}}", "Capital of {{country}}?"), code: "DL207", covers: "tiny/q9" },
    { file: "p-output.prompt", text: prompt("model: tiny/f16\noutput:\n  format: json\n  schema:\n    answer: notatype", "Hello"), code: "DL208", covers: "notatype" },
    { file: "p-context.prompt", text: prompt("model: tiny/small\ninput: {schema: {country: string}, default: {country: France}}", `{{role "user"}}${LONG_BODY}\nCapital of {{country}}?`), code: "DL210", covers: "tiny/small" },
    // eval sets
    { file: "e-syntax.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: [France\n", code: "DL300", at: [{ line: 3, character: 27 }, { line: 4, character: 0 }] },
    { file: "e-schema.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France}\n    assert: 5\n    why: x\n", code: "DL301", covers: "5" },
    { file: "e-dup.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: twin\n    vars: {country: France}\n    why: x\n  - id: twin\n    vars: {country: Spain}\n    why: y\n", code: "DL302", covers: "twin", nth: 1 },
    { file: "e-type.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France}\n    assert:\n      - {type: sounds-like, value: paris}\n    why: x\n", code: "DL303", covers: "sounds-like" },
    { file: "e-regex.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France}\n    assert:\n      - type: regex\n        value: \"Par(is\"\n    why: x\n", code: "DL304", covers: "\"Par(is\"" },
    { file: "e-missing-var.eval.yaml", text: "prompt: strict.prompt\ncases:\n  - id: a\n    vars: {tone: dry}\n    why: x\n", code: "DL305", covers: "{tone: dry}" },
    { file: "e-unknown-var.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France, city: Paris}\n    why: x\n", code: "DL306", covers: "city" },
    { file: "e-wrong-type.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: 42}\n    why: x\n", code: "DL307", covers: "country", nth: 0 },
    { file: "e-why.eval.yaml", text: "prompt: capital.prompt\ncases:\n  - id: nowhy\n    vars: {country: France}\n", code: "DL308", covers: "id" },
    { file: "e-slice.eval.yaml", text: "prompt: capital.prompt\nslices:\n  europe: [eu]\ncases:\n  - id: a\n    vars: {country: France}\n    tags: [eu]\n    why: x\n", code: "DL309", covers: "europe" },
    { file: "e-noprompt.eval.yaml", text: "prompt: nowhere.prompt\ncases:\n  - id: a\n    vars: {country: France}\n    why: x\n", code: "DL310", covers: "nowhere.prompt" },
    // adapters (GGUFs written by buildWorkspace)
    { file: "a-missing.adapter.yaml", text: adapter("adapters/nope.gguf"), code: "DL402", covers: "adapters/nope.gguf" },
    { file: "a-notlora.adapter.yaml", text: adapter("adapters/not-lora.gguf"), code: "DL403", covers: "adapters/not-lora.gguf" },
    { file: "a-arch.adapter.yaml", text: adapter("adapters/gpt2.lora.gguf"), code: "DL404", covers: "tiny/f16" },
    { file: "a-shape.adapter.yaml", text: adapter("adapters/bad-shape.lora.gguf"), code: "DL405", covers: "adapters/bad-shape.lora.gguf" },
    { file: "a-basesha.adapter.yaml", text: adapter("adapters/ok.lora.gguf", { baseSha: "0".repeat(64) }), code: "DL406", covers: `"${"0".repeat(64)}"` },
    { file: "a-datasha.adapter.yaml", text: adapter("adapters/ok.lora.gguf", { dataSha: "1".repeat(64) }), code: "DL407", covers: `"${"1".repeat(64)}"` },
    { file: "a-provenance.adapter.yaml", text: "file: adapters/ok.lora.gguf\nbase: {model: tiny/f16}\nscale: 1.0\n", code: "DL408", covers: "adapters/ok.lora.gguf" },
    { file: "a-compose.adapter.yaml", text: adapter("adapters/ok.lora.gguf", { compose: "a-provenance.adapter.yaml" }), code: "DL409", covers: "a-provenance.adapter.yaml" },
  ];
}

function adapter(file: string, o: { baseSha?: string; dataSha?: string; compose?: string } = {}): string {
  return [
    `file: ${file}`,
    `base: {model: tiny/f16${o.baseSha ? `, sha256: "${o.baseSha}"` : ""}}`,
    "scale: 1.0",
    `training: {dataset: data/train.jsonl, datasetSha256: "${o.dataSha ?? DATA_SHA}", recipe: "train.py --rank 2", commit: abc123}`,
    ...(o.compose ? [`compose:\n  - {adapter: ${o.compose}, scale: 0.5}`] : []),
    "",
  ].join("\n");
}

const DATA = '{"text": "hello"}\n';
// sha256 of DATA, so only the cases that mean to record a wrong hash get DL407.
const DATA_SHA = require("node:crypto").createHash("sha256").update(DATA).digest("hex") as string;

/** Broken driftlens.yaml files, each in its own workspace folder. */
export function configCases(): (DiagnosticCase & { dir: string })[] {
  return [
    { dir: "cfg-syntax", file: "driftlens.yaml", text: "models:\n  tiny: {variants: {f16: x.gguf}\n", code: "DL100", at: { line: 2, character: 0 } },
    { dir: "cfg-type", file: "driftlens.yaml", text: "engine:\n  contextSize: big\n", code: "DL101", covers: "big" },
    { dir: "cfg-missing", file: "driftlens.yaml", text: "models:\n  tiny:\n    variants:\n      f16: models/nope.gguf\n", code: "DL103", covers: "f16" },
    { dir: "cfg-scan", file: "driftlens.yaml", text: "models:\n  tiny:\n    scan: empty/\n", code: "DL104", covers: "empty/" },
  ];
}

export interface TestWorkspace {
  /** Parent of every folder. */
  base: string;
  /** The main workspace folder. */
  root: string;
  /** Config workspace folders by case dir name. */
  configRoots: Record<string, string>;
}

/** Writes the whole fixture tree. `withCases: false` writes only the clean capital prompt + eval set. */
export function buildWorkspace(opts: { withCases?: boolean } = {}): TestWorkspace {
  const base = tempDir("driftlens-lsp-");
  const root = path.join(base, "main");
  write(root, {
    "driftlens.yaml": `models:\n  tiny:\n    reference: f16\n    variants:\n      f16: ${JSON.stringify(TINY_RANDOM_GGUF)}\n      small: {path: ${JSON.stringify(TINY_RANDOM_GGUF)}, contextSize: 64}\nengine:\n  threads: 1\n`,
    "capital.prompt": CAPITAL_PROMPT,
    "capitals.eval.yaml": CAPITALS_EVAL,
    "_greeting.prompt": "Hello from the partial.\n",
    "strict.prompt": STRICT_PROMPT,
    "data/train.jsonl": DATA,
  });
  const configRoots: Record<string, string> = {};
  if (opts.withCases !== false) {
    const q = { name: "blk.0.attn_q.weight", nIn: 8, nOut: 8 };
    write(root, {
      "adapters/ok.lora.gguf": loraGguf({ targets: [q] }),
      "adapters/gpt2.lora.gguf": loraGguf({ arch: "gpt2", targets: [q] }),
      "adapters/bad-shape.lora.gguf": loraGguf({ targets: [{ ...q, nIn: 16 }] }),
      "adapters/not-lora.gguf": loraGguf({ lora: false, targets: [q] }),
    });
    for (const c of diagnosticCases()) write(root, { [c.file]: c.text });
    for (const c of configCases()) {
      const dir = path.join(base, c.dir);
      write(dir, { "driftlens.yaml": c.text });
      if (c.dir === "cfg-scan") fs.mkdirSync(path.join(dir, "empty"), { recursive: true });
      configRoots[c.dir] = dir;
    }
  }
  return { base, root, configRoots };
}
