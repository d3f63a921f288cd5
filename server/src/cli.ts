// The `driftlens` launcher (dist/cli.js, a few KB; the package's bin). It loads the CLI bundle
// (dist/cli-main.js, about 3 MB) through V8's code cache (util/code-cache.ts), as the language
// server loads its own, and for a command that will need the engine worker right away
// (`driftlens kld`) forks the worker first, so the worker's start and the CLI's overlap: about
// 175 ms of a corpus run's start on 2 cores (docs/benchmarks.md, "Issue 13").
import path from "node:path";
import { EXIT_USAGE, type CliIO } from "./cli/common";
import { preforkEngineWorker } from "./llm/worker-fork";
import { requireWithCodeCache } from "./util/code-cache";

const argv = process.argv.slice(2);
if (argv[0] === "kld" && !argv.some((a) => a === "--help" || a === "-h")) {
  try {
    // The same worker and options EngineClient forks for `driftlens kld` (cli/kld.ts: flatMemory).
    preforkEngineWorker(process.env.DRIFTLENS_ENGINE_WORKER || path.join(__dirname, "engine-worker.js"), { flatMemory: true });
  } catch {
    // EngineClient forks it itself and reports what is wrong.
  }
}
const { main } = requireWithCodeCache(path.join(__dirname, "cli-main.js"), module) as typeof import("./cli-main");
const io: CliIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  cwd: process.cwd(),
};
main(argv, io).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`driftlens: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT_USAGE;
  },
);
