import fs from "node:fs";
import path from "node:path";

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "esbuild.config.mjs"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository root above ${start}`);
    dir = up;
  }
}

/** The repository root, whether the test runs from source or from its bundle in dist/test. */
export const REPO_ROOT = process.env.DRIFTLENS_REPO_ROOT ?? findRoot(__dirname);
/** ../shared beside the checkout (models and spec suites). */
export const SHARED = path.resolve(REPO_ROOT, "..", "shared");
/** The real converter-made GGUF (LLaMA-2 vocabulary, random weights). */
export const TINY_RANDOM_GGUF = path.join(SHARED, "models", "llama-2-tiny-random.gguf");
export const DIST = path.join(REPO_ROOT, "dist");
export const FIXTURES = path.join(REPO_ROOT, "test", "fixtures");

const tempDirs = new Set<string>();

/** A fresh temporary directory, removed when the process exits (one exit listener for all of them). */
export function tempDir(prefix = "driftlens-test-"): string {
  const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), prefix));
  if (tempDirs.size === 0) process.on("exit", () => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  tempDirs.add(dir);
  return dir;
}
