// Model store benchmarks (the artifact engine in-process, where the stores are read):
//   stores.prompt_diagnose_p95_ms  one-character edits to a 300-line prompt whose model is an
//                                  Ollama variant, Workspace.diagnose each (resolving the variant
//                                  through the store, rendering, context check); goal ≤ 10, the
//                                  language server's whole prompt-edit goal. The same edits on the
//                                  same bytes named by path run interleaved as the baseline.
//   stores.config_diagnose_ms      driftlens.yaml scanning the three stores (hub cache, LM Studio,
//                                  Ollama; one file in all three, de-duplicated), its diagnostics
//                                  cold (median of fresh Workspaces); no goal, ratio to a
//                                  same-model config by paths in the notes.
import fs from "node:fs";
import path from "node:path";
import { Workspace } from "../../server/src/artifacts/workspace";
import { buildFakeStores } from "../helpers/model-stores";
import { tempDir } from "../helpers/paths";
import { main, median, percentile, report, selected } from "./harness";

const EDITS = 60;
const WARM_UP = 20;

function prompt(model: string): string {
  const body: string[] = ['{{role "system"}}', "You answer geography questions."];
  for (let i = 0; body.length < 290; i++) body.push(i % 3 === 0 ? `{{#if tone}}Rule ${i}: keep the {{tone}} tone.{{/if}}` : `Plain instruction line ${i} with only text to read.`);
  body.push('{{role "user"}}What is the capital of {{country}}?');
  return ["---", `model: ${model}`, "config: {temperature: 0, maxOutputTokens: 8}", "input:", "  schema:", "    country: string", "    tone?: string", "  default: {country: France}", "---", ...body].join("\n") + "\n";
}

main("stores", async () => {
  const wantPrompt = selected("stores.prompt_diagnose_p95_ms");
  const wantConfig = selected("stores.config_diagnose_ms");
  if (!wantPrompt && !wantConfig) return;
  const dir = tempDir("driftlens-bench-stores-");
  const fake = buildFakeStores(path.join(dir, "stores"));
  const env = { env: {}, home: fake.home, platform: process.platform };
  const root = path.join(dir, "ws");
  fs.mkdirSync(root);
  const config = [
    "models:",
    "  tiny:",
    "    variants:",
    "      store: {ollama: tiny:q4}",
    `      file: ${JSON.stringify(fake.models.q4_0)}`,
    "  shelf:",
    "    scan: [hf:driftlens/tiny-GGUF, lmstudio:driftlens/tiny-GGUF, ollama:tiny]",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), config);

  if (wantPrompt) {
    const ws = new Workspace(root, { storeEnvironment: env });
    const files = { store: path.join(root, "store.prompt"), file: path.join(root, "file.prompt") };
    const texts = { store: prompt("tiny/store"), file: prompt("tiny/file") };
    for (const k of ["store", "file"] as const) {
      ws.setOverlay(files[k], texts[k]);
      await ws.diagnose(files[k]);
    }
    const times = { store: [] as number[], file: [] as number[] };
    // CPU time too: on a shared 2-core machine the wall-clock tail is mostly waiting for a core.
    const cpu = { store: [] as number[], file: [] as number[] };
    // The first WARM_UP rounds run cold code (V8 tiers up the parse and render paths): not counted.
    for (let e = -WARM_UP; e < EDITS; e++) {
      for (const k of (e % 2 ? ["store", "file"] : ["file", "store"]) as ("store" | "file")[]) {
        const lines = texts[k].split("\n");
        const plain = lines.map((l, n) => [l, n] as const).filter(([l]) => l.startsWith("Plain")).map(([, n]) => n);
        const i = plain[((e + WARM_UP) * 7) % plain.length]!;
        lines[i] = lines[i]!.slice(0, -1) + "x" + lines[i]!.slice(-1);
        texts[k] = lines.join("\n");
        ws.setOverlay(files[k], texts[k]);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const d = await ws.diagnose(files[k]);
        if (e >= 0) {
          times[k].push(performance.now() - t0);
          const c = process.cpuUsage(c0);
          cpu[k].push((c.user + c.system) / 1000);
        }
        if (d.some((x) => x.severity === "error")) throw new Error(`unexpected diagnostics: ${JSON.stringify(d)}`);
      }
    }
    const p95 = percentile(times.store, 95);
    report(
      "stores.prompt_diagnose_p95_ms",
      p95,
      "ms",
      10,
      "lower",
      `${EDITS} one-character edits (after ${WARM_UP} warm-up rounds) to a 300-line prompt whose model is an Ollama variant, Workspace.diagnose in-process (store lookup, cached 1.5 s, + render + estimate); median ${median(times.store).toFixed(2)} ms; baseline, the same bytes named by path, interleaved: p95 ${percentile(times.file, 95).toFixed(2)} ms, median ${median(times.file).toFixed(2)} ms; ratio p95 ${(p95 / percentile(times.file, 95)).toFixed(2)}, median ${(median(times.store) / median(times.file)).toFixed(2)}; CPU time p95 ${percentile(cpu.store, 95).toFixed(2)} ms vs ${percentile(cpu.file, 95).toFixed(2)} ms by path`,
    );
  }

  if (wantConfig) {
    const pathsRoot = path.join(dir, "paths");
    fs.mkdirSync(pathsRoot);
    fs.writeFileSync(
      path.join(pathsRoot, "driftlens.yaml"),
      `models:\n  tiny:\n    variants:\n      store: ${JSON.stringify(fake.models.q4_0)}\n      file: ${JSON.stringify(fake.models.q4_0)}\n  shelf:\n    variants:\n${(["q8_0", "q4_0", "f16", "f32"] as const).map((q) => `      ${q}: ${JSON.stringify(fake.models[q])}`).join("\n")}\n`,
    );
    const cold = { stores: [] as number[], paths: [] as number[] };
    for (let i = 0; i < 15; i++) {
      for (const [k, r] of [["stores", root], ["paths", pathsRoot]] as const) {
        const ws = new Workspace(r, { storeEnvironment: env });
        const t0 = performance.now();
        const d = await ws.diagnose(path.join(r, "driftlens.yaml"));
        cold[k].push(performance.now() - t0);
        if (d.length) throw new Error(`unexpected diagnostics: ${JSON.stringify(d)}`);
      }
    }
    report(
      "stores.config_diagnose_ms",
      median(cold.stores),
      "ms",
      null,
      "lower",
      `driftlens.yaml with an Ollama variant and a family scanning the hub cache, LM Studio and Ollama (7 files, 3 copies of one de-duplicated by sha256), diagnose with a fresh Workspace each time (median of 15); baseline, the same models by path: median ${median(cold.paths).toFixed(2)} ms, ratio ${(median(cold.stores) / median(cold.paths)).toFixed(2)}`,
    );
  }
});
