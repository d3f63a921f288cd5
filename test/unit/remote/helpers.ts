// A workspace for the served-model tests: stories260K (a real trained model from ../shared) as a
// local variant and as served variants whose endpoints are real llama-server processes.
import fs from "node:fs";
import path from "node:path";
import { Workspace } from "../../../server/src/artifacts";
import { setFingerprintCache } from "../../../server/src/artifacts/fingerprint";
import { runEvals, type EvalReport, type RunEvalsOptions, type RunnerWorkspace } from "../../../server/src/eval/runner";
import { EngineClient } from "../../../server/src/llm/client";
import { RoutingEngine, type RoutingEngineOptions } from "../../../server/src/llm/remote/router";
import { Store } from "../../../server/src/store/store";
import { SHARED, tempDir } from "../../helpers/paths";
import { TEST_ENGINE_SETTINGS } from "../eval/helpers";

export const STORIES = path.join(SHARED, "models", "stories260K.gguf");

const OPENINGS = [
  "Once upon a time",
  "Lily and Tom",
  "The little dog",
  "One day, a girl",
  "Tim had a red ball",
  "The sun was hot",
  "Mom said",
  "A big bird",
  "Sue wanted to play",
  "In the park",
  "The cat was sad",
  "Ben found a box",
  "It was raining",
  "The tree was tall",
  "Max liked to run",
  "The boat",
  "Anna and her friend",
  "A little fish",
  "The car was fast",
  "Dad came home",
  "The flower",
  "Sam saw a bug",
  "The man had a hat",
  "Zoe was happy",
  "The bear",
  "A small frog",
  "The girl and the boy",
  "Bob ate an apple",
  "The moon",
  "Mia drew a picture",
];

export interface ServedWorkspace {
  root: string;
  prompt: string;
  evalSet: string;
  store: string;
  /** Rewrites driftlens.yaml's served variants (name → YAML mapping body). */
  setVariants(variants: Record<string, string>): void;
}

/** A workspace with story.prompt and a 30-case eval set; `variants` are served variants (YAML flow mappings). */
export function servedWorkspace(variants: Record<string, string>, cases = OPENINGS.length): ServedWorkspace {
  const root = fs.realpathSync(tempDir("driftlens-served-"));
  fs.writeFileSync(
    path.join(root, "story.prompt"),
    "---\nmodel: story/local\nconfig:\n  temperature: 0\n  maxOutputTokens: 40\ninput:\n  schema:\n    opening: string\n---\n{{opening}}\n",
  );
  const lines = ["prompt: story.prompt", "cases:"];
  OPENINGS.slice(0, cases).forEach((o, i) => {
    lines.push(`  - id: s${String(i).padStart(2, "0")}`, `    vars: {opening: ${JSON.stringify(o)}}`, `    assert: [{type: icontains, value: "the"}]`, `    tags: [${i % 3 === 0 ? "third" : "rest"}]`);
  });
  fs.writeFileSync(path.join(root, "story.eval.yaml"), lines.join("\n") + "\n");
  const ws: ServedWorkspace = {
    root,
    prompt: path.join(root, "story.prompt"),
    evalSet: path.join(root, "story.eval.yaml"),
    store: path.join(root, ".driftlens", "store.db"),
    setVariants(v) {
      fs.writeFileSync(
        path.join(root, "driftlens.yaml"),
        [
          "models:",
          "  story:",
          "    reference: local",
          "    variants:",
          `      local: ${JSON.stringify(STORIES)}`,
          ...Object.entries(v).map(([name, body]) => `      ${name}: ${body}`),
          "engine: {gpu: cpu, threads: 1, contextSize: 512, parallelSequences: 1}",
          "store: .driftlens/store.db",
          "",
        ].join("\n"),
      );
    },
  };
  ws.setVariants(variants);
  return ws;
}

/** Runs the workspace's eval on `variants` through a RoutingEngine, as the CLI does. */
export async function runServed(
  w: ServedWorkspace,
  variants: string[],
  opts: Partial<RunEvalsOptions> & { routing?: RoutingEngineOptions } = {},
): Promise<{ report: EvalReport; localStarted: boolean }> {
  const ws = new Workspace(w.root);
  const store = Store.open(w.store);
  setFingerprintCache(store.fingerprintCache());
  let router: RoutingEngine | undefined;
  try {
    const report = await runEvals({
      workspace: ws as unknown as RunnerWorkspace,
      store,
      engine: async () => (router = new RoutingEngine(() => EngineClient.start(TEST_ENGINE_SETTINGS), opts.routing ?? {})),
      targets: [{ promptFile: w.prompt, evalSetFile: w.evalSet }],
      variants,
      ...opts,
    });
    return { report, localStarted: router?.localStarted ?? false };
  } finally {
    await router?.dispose();
    store.close();
  }
}

/** What must be equal between two runs of the same cases: per case id, pass, output, token ids. */
export function outcomes(report: EvalReport): Record<string, [boolean, string, number[]]> {
  const out: Record<string, [boolean, string, number[]]> = {};
  for (const r of report.runs) for (const c of r.cases) out[c.id] = [c.pass, c.output, c.tokens.map((t) => t.token)];
  return out;
}

export const served = (urls: string[], extra = "") => `{endpoints: [${urls.join(", ")}]${extra ? `, ${extra}` : ""}}`;
