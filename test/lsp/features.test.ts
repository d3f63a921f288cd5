// Completion, hover, definition and document symbols through the bundled server, and a server
// that keeps serving after bad files.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { DocumentSymbol, Hover, MarkupContent } from "vscode-languageserver-protocol/node";
import { TINY_RANDOM_GGUF } from "../helpers/paths";
import { fileUri, LspClient, positionOf, rangeOf } from "./client";
import { buildWorkspace, CAPITAL_PROMPT, CAPITALS_EVAL, type TestWorkspace } from "./fixtures";

function hoverText(h: Hover | null): string {
  assert.ok(h, "a hover");
  const c = h.contents as MarkupContent;
  assert.equal(typeof c.value, "string");
  return c.value;
}

describe("LSP features", () => {
  let ws: TestWorkspace;
  let client: LspClient;
  let promptUri: string;
  let evalUri: string;
  before(async () => {
    ws = buildWorkspace({ withCases: false });
    client = await LspClient.start({ folders: [ws.root], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" } });
    promptUri = await client.open(path.join(ws.root, "capital.prompt"));
    evalUri = await client.open(path.join(ws.root, "capitals.eval.yaml"));
  });
  after(async () => {
    await client?.stop();
  });

  describe("completion", () => {
    it("offers the declared inputs and helpers inside {{", async () => {
      const text = CAPITAL_PROMPT + "{{co";
      await client.change(promptUri, text);
      const pos = { line: text.split("\n").length - 1, character: 4 };
      const items = await client.completion(promptUri, pos);
      const labels = items.map((i) => i.label);
      assert.ok(labels.includes("country"), `inputs offered: ${labels.join(", ")}`);
      assert.ok(labels.includes("style"), "optional input offered");
      assert.ok(labels.includes("json"), "Dotprompt helper offered");
      const country = items.find((i) => i.label === "country")!;
      assert.deepEqual((country.textEdit as { range: unknown }).range, { start: { line: pos.line, character: 2 }, end: pos });
    });

    it("offers nothing outside {{ }} in the body", async () => {
      const text = CAPITAL_PROMPT + "plain co";
      await client.change(promptUri, text);
      const items = await client.completion(promptUri, { line: text.split("\n").length - 1, character: 8 });
      assert.deepEqual(items, []);
    });

    it("offers partial names after {{>", async () => {
      const text = CAPITAL_PROMPT + "{{> gr";
      await client.change(promptUri, text);
      const items = await client.completion(promptUri, { line: text.split("\n").length - 1, character: 6 });
      assert.deepEqual(items.map((i) => i.label), ["greeting"]);
    });

    it("offers model variants for `model:` in front matter", async () => {
      await client.change(promptUri, CAPITAL_PROMPT);
      const pos = positionOf(CAPITAL_PROMPT, "tiny/f16", 0, 2);
      const labels = (await client.completion(promptUri, pos)).map((i) => i.label);
      assert.deepEqual(labels.sort(), ["tiny/f16", "tiny/small"]);
    });

    it("offers assertion types, tags and input names in eval sets", async () => {
      const types = (await client.completion(evalUri, positionOf(CAPITALS_EVAL, "icontains", 0, 1))).map((i) => i.label);
      for (const t of ["icontains", "regex", "is-json", "not-contains", "levenshtein"]) assert.ok(types.includes(t), `assertion type ${t}`);
      const tags = (await client.completion(evalUri, positionOf(CAPITALS_EVAL, "europe", 0, 2))).map((i) => i.label);
      assert.deepEqual(tags, ["europe"]);
      const text = CAPITALS_EVAL.replace("    vars: {country: France}", "    vars:\n      country: France\n      st");
      await client.change(evalUri, text);
      const vars = (await client.completion(evalUri, positionOf(text, "      st", 0, 8))).map((i) => i.label);
      assert.deepEqual(vars.sort(), ["country", "style"]);
      await client.change(evalUri, CAPITALS_EVAL);
    });

    it("offers model-graded assertion types, and variants for an eval set's grader", async () => {
      const types = (await client.completion(evalUri, positionOf(CAPITALS_EVAL, "icontains", 0, 1))).map((i) => i.label);
      for (const t of ["llm-rubric", "model-graded-closedqa", "factuality", "g-eval"]) assert.ok(types.includes(t), `assertion type ${t}`);
      const text = `grader: tiny/f1\n${CAPITALS_EVAL}`;
      await client.change(evalUri, text);
      const graders = (await client.completion(evalUri, positionOf(text, "tiny/f1", 0, 6))).map((i) => i.label);
      assert.deepEqual(graders.sort(), ["tiny/f16", "tiny/small"]);
      await client.change(evalUri, CAPITALS_EVAL);
    });
  });

  describe("hover", () => {
    it("shows GGUF facts for a model ref, read from the tiny random model", async () => {
      await client.change(promptUri, CAPITAL_PROMPT);
      const md = hoverText(await client.hover(promptUri, positionOf(CAPITAL_PROMPT, "tiny/f16", 0, 3)));
      assert.match(md, /tiny\/f16 \(reference\)/);
      assert.match(md, /\| architecture \| llama \|/);
      assert.match(md, /\| quantization \| F16 \|/);
      assert.match(md, /\| parameters \| 513\.0K \(513,048\) \|/);
      assert.match(md, /\| context length \| 4,096 \|/);
      assert.match(md, /\| tokenizer \| llama, 32,000 tokens \|/);
      assert.match(md, /\| chat template \| no/);
      assert.ok(md.includes(path.basename(TINY_RANDOM_GGUF)), "names the file");
    });

    it("shows the input schema on a variable and docs on a helper", async () => {
      const v = hoverText(await client.hover(promptUri, positionOf(CAPITAL_PROMPT, "{{country}}", 0, 3)));
      assert.match(v, /\*\*country\*\*: string \(required\)/);
      assert.match(v, /the country to ask about/);
      const h = hoverText(await client.hover(promptUri, positionOf(CAPITAL_PROMPT, "role", 0, 1)));
      assert.match(h, /role/);
      assert.match(h, /message/);
    });

    it("documents assertion types in eval sets", async () => {
      const md = hoverText(await client.hover(evalUri, positionOf(CAPITALS_EVAL, "icontains", 0, 2)));
      assert.match(md, /\*\*icontains\*\*/);
      assert.match(md, /ignoring case/);
    });

    it("shows GGUF facts on a variant path in driftlens.yaml", async () => {
      const file = path.join(ws.root, "driftlens.yaml");
      const uri = await client.open(file);
      const text = fs.readFileSync(file, "utf8");
      const md = hoverText(await client.hover(uri, positionOf(text, "f16:", 0, 1)));
      assert.match(md, /\| architecture \| llama \|/);
    });

    it("explains a family's corpus and gate.maxKld in driftlens.yaml, and completes them with their docs", async () => {
      const file = path.join(ws.root, "driftlens.yaml");
      const uri = await client.open(file);
      const original = fs.readFileSync(file, "utf8");
      const corpusText = "What is the capital of France? Paris\n".repeat(200);
      fs.writeFileSync(path.join(ws.root, "corpus.txt"), corpusText);
      const text = original.replace(/^models:\n  tiny:\n/m, "models:\n  tiny:\n    corpus: {text: corpus.txt, ctx: 64}\n") + "gate:\n  maxKld: 0.01\n";
      assert.notEqual(text, original + "gate:\n  maxKld: 0.01\n", "the fixture has a tiny family to add a corpus to");
      await client.change(uri, text);
      const corpus = hoverText(await client.hover(uri, positionOf(text, "corpus:", 0, 2)));
      assert.match(corpus, /corpus of tiny/);
      assert.match(corpus, new RegExp(`${Buffer.byteLength(corpusText)} bytes, about \\d+ tokens \\(estimate\\); chunks of 64 tokens`));
      assert.match(corpus, /llama-perplexity --kl-divergence/);
      const max = hoverText(await client.hover(uri, positionOf(text, "maxKld", 0, 2)));
      assert.match(max, /gate\.maxKld\*\* = 0\.01/);
      assert.match(max, /quant ladder recommends the smallest variant/);
      const withKey = text.replace("  maxKld: 0.01\n", "  maxKld: 0.01\n  ma");
      await client.change(uri, withKey);
      const items = await client.completion(uri, { line: withKey.split("\n").length - 1, character: 4 });
      const item = items.find((i) => i.label === "maxKld");
      assert.ok(item, items.map((i) => i.label).join(", "));
      assert.match(JSON.stringify(item.documentation), /Largest allowed mean KL divergence/);
      await client.change(uri, original);
    });
  });

  describe("definition", () => {
    it("goes from a partial to its file, a variable to its declaration", async () => {
      const text = CAPITAL_PROMPT + "{{> greeting}}\n";
      await client.change(promptUri, text);
      const part = await client.definition(promptUri, positionOf(text, "greeting", 0, 2));
      assert.deepEqual(part.map((l) => l.uri), [fileUri(path.join(ws.root, "_greeting.prompt"))]);
      const decl = await client.definition(promptUri, positionOf(text, "{{country}}", 0, 4));
      assert.deepEqual(decl, [{ uri: promptUri, range: rangeOf(text, "country") }]);
      await client.change(promptUri, CAPITAL_PROMPT);
    });

    it("goes prompt ↔ eval set", async () => {
      const toEval = await client.definition(promptUri, positionOf(CAPITAL_PROMPT, "capitals.eval.yaml", 0, 3));
      assert.deepEqual(toEval.map((l) => l.uri), [evalUri]);
      const toPrompt = await client.definition(evalUri, positionOf(CAPITALS_EVAL, "capital.prompt", 0, 3));
      assert.deepEqual(toPrompt.map((l) => l.uri), [promptUri]);
      const toInput = await client.definition(evalUri, positionOf(CAPITALS_EVAL, "country", 0, 2));
      assert.deepEqual(toInput, [{ uri: promptUri, range: rangeOf(CAPITAL_PROMPT, "country") }]);
    });

    it("goes from a model ref to its variant in driftlens.yaml", async () => {
      const cfg = path.join(ws.root, "driftlens.yaml");
      const locs = await client.definition(promptUri, positionOf(CAPITAL_PROMPT, "tiny/f16", 0, 6));
      assert.deepEqual(locs, [{ uri: fileUri(cfg), range: rangeOf(fs.readFileSync(cfg, "utf8"), "f16", 1) }]);
    });
  });

  describe("document symbols", () => {
    it("lists an eval set's cases and a prompt's outline", async () => {
      const evalSyms = (await client.documentSymbols(evalUri)) as DocumentSymbol[];
      const france = evalSyms.find((s) => s.name === "france");
      assert.ok(france, `cases listed: ${evalSyms.map((s) => s.name).join(", ")}`);
      assert.equal(france.detail, "europe");
      assert.deepEqual(france.selectionRange, rangeOf(CAPITALS_EVAL, "france"));
      const promptSyms = (await client.documentSymbols(promptUri)) as DocumentSymbol[];
      const names = promptSyms.map((s) => s.name);
      assert.deepEqual(names, ["front matter", "role user"]);
      const input = promptSyms[0]!.children?.find((c) => c.name === "input");
      assert.deepEqual(input?.children?.map((c) => c.name), ["country", "style"]);
    });
  });

  describe("bad input", () => {
    it("keeps serving after hostile files", async () => {
      const bad: [string, string][] = [
        ["nul.prompt", "---\nmodel: \u0000\u0000\n---\n{{#each}}{{/if}}\u0000{{"],
        ["deep.eval.yaml", "cases: " + "[".repeat(5000) + "]".repeat(5000)],
        ["bomb.eval.yaml", 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ncases: [*f]\n'],
        ["bin.adapter.yaml", Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81]).toString("latin1")],
        ["driftlens.yaml", "models: {tiny: {variants: {f16: 3}}}"],
      ];
      for (const [name, text] of bad) {
        const uri = fileUri(path.join(ws.root, "bad", name));
        await client.open(path.join(ws.root, "bad", name), text);
        await client.hover(uri, { line: 0, character: 2 });
        await client.completion(uri, { line: 1, character: 3 });
        await client.documentSymbols(uri);
        await client.definition(uri, { line: 0, character: 1 });
        await client.waitForDiagnostics(uri, { timeoutMs: 20000 });
      }
      assert.ok(client.alive, "server process still running");
      // The next request on a good file is served normally.
      const md = hoverText(await client.hover(evalUri, positionOf(CAPITALS_EVAL, "icontains", 0, 2)));
      assert.match(md, /icontains/);
    });
  });
});
