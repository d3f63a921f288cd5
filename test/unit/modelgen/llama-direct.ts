// Test helper: drives node-llama-cpp directly (1 thread, greedy by argmax over raw logits) so the
// generated models' behaviour is checked without any other part of Driftlens in between.
// Tests may import node-llama-cpp; server code outside server/src/llm may not.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../../helpers/paths";

import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };

type Llama = NLC.Llama;
type Model = NLC.LlamaModel;
type Context = NLC.LlamaContext;
type Sequence = NLC.LlamaContextSequence;

let llamaPromise: Promise<Llama> | undefined;
export function getLlama(): Promise<Llama> {
  llamaPromise ??= (import("node-llama-cpp") as Promise<typeof NLC>).then((m) => m.getLlama({ gpu: "auto", build: "never", logLevel: m.LlamaLogLevel.error }));
  return llamaPromise;
}

export interface Greedy {
  text: string;
  tokens: number[];
}

/** One loaded model (optionally with a LoRA adapter) and one sequence. */
export class DirectModel {
  private constructor(
    readonly model: Model,
    private readonly ctx: Context,
    private readonly seq: Sequence,
  ) {}

  static async open(modelPath: string, lora?: { path: string; scale: number }): Promise<DirectModel> {
    const llama = await getLlama();
    const model = await llama.loadModel({ modelPath });
    const ctx = await model.createContext({
      contextSize: 256,
      threads: 1,
      ...(lora ? { lora: { adapters: [{ filePath: lora.path, scale: lora.scale }] } } : {}),
    });
    return new DirectModel(model, ctx, ctx.getSequence());
  }

  promptTokens(text: string): number[] {
    return [this.model.tokens.bos!, ...this.model.tokenize(text)];
  }

  /** Raw logits after `prefix` followed by each of `forced` (forced.length + 1 distributions). */
  async logits(prompt: string, forced: number[]): Promise<Float64Array[]> {
    await this.seq.clearHistory();
    const toks = [...this.promptTokens(prompt), ...forced];
    const firstOut = toks.length - forced.length - 1;
    const input = toks.map((t, i) => (i >= firstOut ? ([t, { generateNext: { logits: true } }] as const) : t)) as Parameters<Sequence["controlledEvaluate"]>[0];
    const res = await this.seq.controlledEvaluate(input);
    const out: Float64Array[] = [];
    for (let i = firstOut; i < toks.length; i++) {
      const map = res[i]?.next?.logits;
      if (!map) throw new Error(`no logits at position ${i}`);
      const v = new Float64Array(this.vocabSize());
      for (const [tok, l] of map) v[tok] = l;
      out.push(v);
    }
    return out;
  }

  vocabSize(): number {
    return (this.model.fileInfo.metadata as unknown as { tokenizer: { ggml: { tokens: string[] } } }).tokenizer.ggml.tokens.length;
  }

  /** Greedy decoding (argmax, lowest id on ties) until </s> or maxTokens. */
  async generate(prompt: string, maxTokens = 8): Promise<Greedy> {
    const tokens: number[] = [];
    for (let i = 0; i < maxTokens; i++) {
      const all = await this.logits(prompt, tokens);
      const last = all[all.length - 1]!;
      let best = 0;
      for (let t = 1; t < last.length; t++) if (last[t]! > last[best]!) best = t;
      if (this.model.isEogToken(best as never)) break;
      tokens.push(best);
    }
    return { text: this.model.detokenize(tokens as never[]), tokens };
  }

  async dispose(): Promise<void> {
    this.seq.dispose();
    await this.ctx.dispose();
    await this.model.dispose();
  }
}

export function softmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return p;
}

/** Full-vocabulary KL(p‖q) from two logit vectors. */
export function kl(refLogits: Float64Array, candLogits: Float64Array): number {
  const p = softmax(refLogits);
  const q = softmax(candLogits);
  let k = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) k += p[i]! * Math.log(p[i]! / Math.max(q[i]!, 1e-300));
  return Math.max(0, k);
}

// ---- the quickstart artifacts, read plainly (the Dotprompt renderer is tested elsewhere) ----

export const QUICKSTART = path.join(REPO_ROOT, "examples", "quickstart");

export interface SimpleCase {
  id: string;
  country: string;
  expected: string;
  tags: string[];
}

export function readCases(evalFile: string): SimpleCase[] {
  const doc = YAML.parse(fs.readFileSync(path.join(QUICKSTART, evalFile), "utf8")) as {
    cases: { id: string; vars: { country: string }; assert: { type: string; value: string }[]; tags: string[] }[];
  };
  return doc.cases.map((c) => {
    if (c.assert.length !== 1 || c.assert[0]!.type !== "icontains") throw new Error(`${evalFile} ${c.id}: expected one icontains assertion`);
    return { id: c.id, country: c.vars.country, expected: c.assert[0]!.value, tags: c.tags };
  });
}

/** The prompt body as the engine sends it in completion mode: the user message's text. */
export function promptTemplate(promptFile: string): (country: string) => string {
  const text = fs.readFileSync(path.join(QUICKSTART, promptFile), "utf8");
  const body = text.split(/^---\s*$/m)[2]!.trim();
  const msg = body.replace(/^\{\{role "user"\}\}/, "");
  if (!msg.includes("{{country}}")) throw new Error(`${promptFile}: no {{country}} in the body`);
  return (country) => msg.replaceAll("{{country}}", country);
}

export function passes(output: string, expected: string): boolean {
  return output.toLowerCase().includes(expected.toLowerCase());
}
