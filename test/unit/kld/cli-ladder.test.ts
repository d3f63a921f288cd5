// `driftlens kld` and `driftlens compare --ladder` on a copy of the quickstart (its generated model
// family and corpus.txt): report shapes, the ladder's recommendation (Q8_0: Q4_0 is smaller but
// fails the tail slice), corpus figures kept in the store, gate.maxKld, per-slice ± in compare,
// and bad input (missing flags and files, binary text, a broken corpus in driftlens.yaml).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { compareCommand } from "../../../server/src/cli/compare";
import { kldCommand } from "../../../server/src/cli/kld";
import { compareVariants, type CompareEngine, type CompareWorkspace } from "../../../server/src/eval/compare";
import { ladderRequest } from "../../../server/src/eval/ladder";
import type { CompareReport } from "../../../server/src/eval/report";
import { EngineClient } from "../../../server/src/llm/client";
import { Store } from "../../../server/src/store/store";
import { LadderSchema } from "../../../webviews/src/protocol/messages";
import { quickstartCopy, runCommand } from "../compare/quickstart";

const KLD_KEYS = ["mean", "stderr", "max", "p99_9", "p99", "p95", "p90", "median", "p10", "p5", "p1", "p0_1", "min"];
const DP_KEYS = [...KLD_KEYS.slice(0, 7), "p75", "median", "p25", "p10", "p5", "p1", "p0_1", "min", "rms", "rmsStderr"];

describe("driftlens kld and the quant ladder on the quickstart", () => {
  let dir: string;
  before(() => {
    dir = quickstartCopy("driftlens-kld-cli-");
  });

  test("kld --format json has llama-perplexity's statistics per variant, as specified", async () => {
    const r = await runCommand(kldCommand, ["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--variant", "tiny/q4_0", "--text", "corpus.txt", "--ctx", "128", "--chunks", "6", "--format", "json"], dir);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.tokens, 6 * 63);
    assert.equal(j.chunks, 6);
    assert.equal(j.ctx, 128);
    assert.equal(j.variants.length, 2);
    for (const v of j.variants) {
      assert.deepEqual(Object.keys(v.ppl).sort(), ["cor", "lnRatio", "ratio", "reference", "value"]);
      assert.deepEqual(Object.keys(v.ppl.lnRatio).sort(), ["mean", "stderr"]);
      assert.deepEqual(Object.keys(v.kld).sort(), [...KLD_KEYS].sort());
      assert.deepEqual(Object.keys(v.dp).sort(), [...new Set(DP_KEYS)].sort());
      assert.deepEqual(Object.keys(v.sameTop).sort(), ["rate", "stderr"]);
      assert.equal(v.method, "full-vocabulary");
      // Rates and Δp as fractions.
      assert.ok(v.sameTop.rate > 0.5 && v.sameTop.rate <= 1);
      assert.ok(Math.abs(v.dp.mean) < 1 && v.dp.rms < 1);
    }
    assert.equal(j.variants[0].variant, "tiny/q8_0");
    assert.ok(j.variants[0].kld.mean < j.variants[1].kld.mean);
    // The same run as text and markdown: llama-perplexity's three sections.
    const t = await runCommand(kldCommand, ["--reference", "tiny/f32", "--variant", "tiny/q4_0", "--text", "corpus.txt", "--ctx", "128", "--chunks", "2"], dir);
    assert.equal(t.code, 0, t.err);
    for (const s of ["Perplexity", "KL divergence", "Token probability", "Mean KLD", "99.9%", "RMS Δp", "Same top p", "Peak memory"]) assert.ok(t.out.includes(s), `${s} in\n${t.out}`);
  });

  test("kld refuses bad input with one line saying what to do (exit 2)", async () => {
    fs.writeFileSync(path.join(dir, "binary.txt"), Buffer.from([0x41, 0x00, 0x42]));
    fs.writeFileSync(path.join(dir, "short.txt"), "What is the capital of France? Paris\n");
    const cases: [string[], RegExp][] = [
      [["--variant", "tiny/q8_0", "--text", "corpus.txt"], /--reference V is required/],
      [["--reference", "tiny/f32", "--text", "corpus.txt"], /at least one --variant/],
      [["--reference", "tiny/f32", "--variant", "tiny/q8_0"], /--text FILE is required/],
      [["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--text", "nope.txt"], /--text nope\.txt: no such file/],
      [["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--text", "binary.txt"], /looks binary/],
      [["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--text", "short.txt", "--ctx", "64"], /at least 2 × ctx = 128 are needed/],
      [["--reference", "tiny/f32", "--variant", "tiny/q9", "--text", "corpus.txt"], /--variant tiny\/q9: family 'tiny' has no variant 'q9'/],
      [["--reference", "missing.gguf", "--variant", "tiny/q8_0", "--text", "corpus.txt"], /--reference missing\.gguf: no such file/],
      [["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--text", "corpus.txt", "--ctx", "2"], /--ctx must be an integer from 4/],
    ];
    for (const [argv, re] of cases) {
      const r = await runCommand(kldCommand, argv, dir);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
    }
  });

  test("kld exits 1 when a variant's mean KLD exceeds gate.maxKld", async () => {
    const cfg = path.join(dir, "driftlens.yaml");
    const original = fs.readFileSync(cfg, "utf8");
    try {
      // A bound between the two variants' mean KLD on this text.
      const j = await runCommand(kldCommand, ["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--variant", "tiny/q4_0", "--text", "corpus.txt", "--ctx", "128", "--chunks", "4", "--format", "json"], dir);
      const [q8, q4] = JSON.parse(j.out).variants.map((v: { kld: { mean: number } }) => v.kld.mean);
      assert.ok(q8 < q4);
      const bound = Number(Math.sqrt(q8 * q4).toPrecision(2));
      fs.writeFileSync(cfg, original.replace(/maxKld: [0-9.e-]+/, `maxKld: ${bound}`));
      const r = await runCommand(kldCommand, ["--reference", "tiny/f32", "--variant", "tiny/q8_0", "--variant", "tiny/q4_0", "--text", "corpus.txt", "--ctx", "128", "--chunks", "4"], dir);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, new RegExp(`tiny/q4_0: mean KLD [0-9.e-]+ exceeds gate\\.maxKld ${bound}`));
      assert.doesNotMatch(r.err, /tiny\/q8_0/);
    } finally {
      fs.writeFileSync(cfg, original);
    }
  });

  test("compare --ladder recommends Q8_0 (Q4_0 is smaller but fails the tail slice), in every format", async () => {
    const r = await runCommand(compareCommand, ["--family", "tiny", "--ladder", "--format", "json"], dir);
    assert.equal(r.code, 0, `a variant is recommended, so exit 0; ${r.err}`);
    const rep = JSON.parse(r.out) as CompareReport;
    const l = rep.ladder!;
    assert.ok(l, "report.ladder");
    assert.equal(l.family, "tiny");
    assert.equal(l.reference, "tiny/f32");
    assert.equal(l.recommended, "tiny/q8_0");
    assert.equal(l.kldSource, "corpus");
    assert.equal(l.corpus?.text, "corpus.txt");
    assert.equal(l.corpus?.ctx, 128);
    assert.deepEqual(l.rungs.map((x) => x.variant), ["tiny/q4_0", "tiny/q8_0", "tiny/f16", "tiny/f32"], "smallest file first; adapters are not rungs");
    const sizes = l.rungs.map((x) => x.fileBytes!);
    assert.deepEqual([...sizes].sort((a, b) => a - b), sizes);
    const [q4, q8, f16, f32] = l.rungs;
    assert.equal(q4!.gatePassed, false);
    assert.match(q4!.verdict, /fails the gate: .*slice 'tail'/);
    assert.equal(q8!.recommended, true);
    assert.deepEqual(l.rungs.filter((x) => x.recommended).map((x) => x.variant), ["tiny/q8_0"]);
    assert.ok(q8!.corpusKld!.mean > 0 && q8!.corpusKld!.mean < q4!.corpusKld!.mean && f16!.corpusKld!.mean < q8!.corpusKld!.mean);
    assert.ok(q8!.corpusKld!.mean <= l.maxKld!, `Q8_0 ${q8!.corpusKld!.mean} within maxKld ${l.maxKld}`);
    assert.equal(f32!.corpusKld!.mean, 0);
    // What the webview receives parses with its schema.
    assert.ok(LadderSchema.safeParse(l).success);
    const text = await runCommand(compareCommand, ["--family", "tiny", "--ladder"], dir);
    assert.match(text.out, /Quant ladder of tiny/);
    assert.match(text.out, /→ tiny\/q8_0 .* recommended/);
    assert.match(text.out, /tiny\/q8_0 is the smallest variant that passes the gate and keeps the mean corpus KLD within/);
    const md = await runCommand(compareCommand, ["--family", "tiny", "--ladder", "--format", "markdown"], dir);
    assert.match(md.out, /\| ➜ \| tiny\/q8\\_0 \|/);
    const html = await runCommand(compareCommand, ["--family", "tiny", "--ladder", "--format", "html"], dir);
    assert.match(html.out, /<h2>Quant ladder of tiny/);
  });

  test("the recommendation needs both bounds: the gate keeps Q4_0 out under a loose maxKld, and a maxKld below Q8_0's KLD moves it to F16", async () => {
    const cfg = path.join(dir, "driftlens.yaml");
    const original = fs.readFileSync(cfg, "utf8");
    const ladder = async (maxKld: number) => {
      fs.writeFileSync(cfg, original.replace(/maxKld: [0-9.e-]+/, `maxKld: ${maxKld}`));
      const r = await runCommand(compareCommand, ["--family", "tiny", "--ladder", "--format", "json"], dir);
      const l = (JSON.parse(r.out) as CompareReport).ladder!;
      return { code: r.code, l, rung: (v: string) => l.rungs.find((x) => x.variant === v)! };
    };
    try {
      // Q4_0's corpus KLD (about 3e-4) is well within 0.01: only its tail slice keeps it out.
      const loose = await ladder(0.01);
      assert.equal(loose.rung("tiny/q4_0").withinMaxKld, true);
      assert.equal(loose.rung("tiny/q4_0").gatePassed, false);
      assert.equal(loose.l.recommended, "tiny/q8_0");
      assert.equal(loose.code, 0);
      // A bound between F16's and Q8_0's corpus KLD: Q8_0 passes the gate but not maxKld.
      const q8 = loose.rung("tiny/q8_0").corpusKld!.mean;
      const f16 = loose.rung("tiny/f16").corpusKld!.mean;
      assert.ok(f16 < q8);
      const tight = await ladder(Number(Math.sqrt(f16 * q8).toPrecision(2)));
      assert.equal(tight.rung("tiny/q8_0").gatePassed, true);
      assert.equal(tight.rung("tiny/q8_0").withinMaxKld, false);
      assert.match(tight.rung("tiny/q8_0").verdict, /exceeds maxKld/);
      assert.equal(tight.l.recommended, "tiny/f16");
      assert.equal(tight.code, 0);
    } finally {
      fs.writeFileSync(cfg, original);
    }
  });

  test("compare shows llama-perplexity's statistics on eval outputs with ± on each slice's mean KLD", async () => {
    const r = await runCommand(compareCommand, ["--variant", "tiny/q4_0", "--evals", "capitals.eval.yaml", "--format", "json", "--full-vocab"], dir);
    const rep = JSON.parse(r.out) as CompareReport;
    assert.equal(rep.kldMethod, "full-vocabulary");
    const q4 = rep.variants.find((v) => v.variant === "tiny/q4_0")!;
    assert.ok(q4.kldStats.tokens > 0 && q4.kldStats.kld.mean > 0);
    const europe = q4.kldSlices.find((s) => s.name === "europe")!;
    assert.ok(europe.stats.tokens > 10, "enough positions for an uncertainty");
    assert.ok(europe.stderr > 0 && europe.stderr === europe.stats.kld.stderr);
    const text = await runCommand(compareCommand, ["--variant", "tiny/q4_0", "--evals", "capitals.eval.yaml", "--full-vocab"], dir);
    assert.match(text.out, /KLD over the whole vocabulary/);
    assert.match(text.out, /KLD by slice \(mean ± uncertainty/);
    assert.match(text.out, /same top p [0-9.]+% ± [0-9.]+%/);
  });

  test("the ladder's corpus figures are computed once and then read from the store", async () => {
    const ws = new Workspace(dir);
    const cfg = ws.config().config;
    const store = Store.open(path.join(dir, ".driftlens", "store.db"));
    const client = await EngineClient.start({ ...cfg.engine });
    try {
      const run = async () => {
        const lines: string[] = [];
        const r = await compareVariants({
          workspace: ws as unknown as CompareWorkspace,
          store,
          engine: client as unknown as CompareEngine,
          targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: path.join(dir, "capitals.eval.yaml") }],
          variants: ["tiny/f32", "tiny/f16", "tiny/q8_0", "tiny/q4_0"],
          gate: cfg.gate,
          ladder: ladderRequest(cfg, "tiny"),
          log: (l) => lines.push(l),
        });
        return { ladder: r.ladder!, corpusLines: lines.filter((l) => l.startsWith("corpus KLD")) };
      };
      // The store may hold figures from the test before: start from a clean text version.
      fs.appendFileSync(path.join(dir, "corpus.txt"), "What is the capital of Peru? Lima\n");
      const a = await run();
      assert.deepEqual(a.corpusLines.length, 1, "one corpus pass for the three candidates");
      const b = await run();
      assert.deepEqual(b.corpusLines, [], "nothing evaluated again");
      assert.deepEqual(b.ladder, a.ladder);
    } finally {
      await client.dispose();
      store.close();
    }
  });

  test("a broken corpus is a DL110 diagnostic, and compare --ladder names driftlens.yaml", async () => {
    const cfg = path.join(dir, "driftlens.yaml");
    const original = fs.readFileSync(cfg, "utf8");
    try {
      fs.writeFileSync(cfg, original.replace("text: corpus.txt", "text: missing-corpus.txt"));
      const diags = await new Workspace(dir).diagnose(cfg);
      const d = diags.find((x) => x.code === "DL110");
      assert.ok(d, JSON.stringify(diags));
      assert.equal(d.severity, "error");
      assert.match(d.message, /family 'tiny': corpus text missing-corpus\.txt does not exist/);
      assert.equal(d.range.start.line, original.split("\n").findIndex((l) => l.includes("text: corpus.txt")));
      const r = await runCommand(compareCommand, ["--family", "tiny", "--ladder"], dir);
      assert.equal(r.code, 2);
      assert.match(r.err, /driftlens\.yaml: family 'tiny': corpus text missing-corpus\.txt does not exist/);
      fs.writeFileSync(cfg, original.replace("maxKld: 0.0001", "maxKld: lots").replace("ctx: 128", "ctx: 128\n      chunkz: 3"));
      const bad = await new Workspace(dir).diagnose(cfg);
      assert.ok(bad.some((x) => x.code === "DL101" && /maxKld/.test(x.message)), JSON.stringify(bad));
      assert.ok(bad.some((x) => x.code === "DL102" && /chunkz/.test(x.message) && /did you mean 'chunks'/.test(x.message)), JSON.stringify(bad));
    } finally {
      fs.writeFileSync(cfg, original);
    }
    const lad = await runCommand(compareCommand, ["--ladder"], path.join(dir, "data"));
    assert.equal(lad.code, 2);
  });
});
