// The CLI plumbing every command shares: typed flags, the one run-seed check, report emission.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { CliError, emitReport, parseArgs, runSeed, type CliIO } from "../../../server/src/cli/common";
import { DIST } from "../../helpers/paths";

function memoryIO(cwd: string): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", isTTY: false, cwd, out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}

test("parseArgs types each flag by its spec", () => {
  const spec = { variant: { type: "string", multiple: true }, seed: { type: "number" }, cache: { type: "boolean" }, format: { type: "string", choices: ["text", "json"] } } as const;
  const a = parseArgs(["--variant", "a/b", "--variant=c/d", "--seed", "7", "--no-cache", "--format", "json", "x"], spec);
  const variants: string[] | undefined = a.flags.variant;
  const seed: number | undefined = a.flags.seed;
  const cache: boolean | undefined = a.flags.cache;
  const format: "text" | "json" | undefined = a.flags.format;
  assert.deepEqual({ variants, seed, cache, format, positionals: a.positionals }, { variants: ["a/b", "c/d"], seed: 7, cache: false, format: "json", positionals: ["x"] });
  assert.throws(() => parseArgs(["--format", "xml"], spec), /must be one of text\|json, not 'xml'/);
  assert.throws(() => parseArgs(["--seed", "many"], spec), /needs a number/);
});

test("runSeed accepts 0..2^31-1 and names the flag otherwise", () => {
  assert.equal(runSeed(undefined), undefined);
  assert.equal(runSeed(0), 0);
  assert.equal(runSeed(2 ** 31 - 1), 2 ** 31 - 1);
  for (const bad of [-1, 1.5, 2 ** 31]) assert.throws(() => runSeed(bad), (e: unknown) => e instanceof CliError && e.exitCode === 2 && /--seed must be an integer from 0 to 2147483647/.test(e.message));
});

test("eval, compare and diff refuse the same bad seed with the same message and exit code 2", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dl-seed-"));
  try {
    for (const cmd of ["eval", "compare", "diff"]) {
      const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), cmd, "--seed", "-4"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
      assert.equal(r.stderr, `driftlens ${cmd}: --seed must be an integer from 0 to 2147483647, not -4\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("emitReport writes --out (creating folders) and prints the summary; an unwritable path is a one-line error", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dl-emit-"));
  try {
    const io = memoryIO(dir);
    emitReport(io, undefined, "REPORT\n", "summary\n");
    assert.equal(io.stdout, "REPORT\n");
    emitReport(io, "reports/a/out.md", "REPORT\n", "summary\n");
    assert.equal(fs.readFileSync(path.join(dir, "reports/a/out.md"), "utf8"), "REPORT\n");
    assert.equal(io.stdout, "REPORT\nsummary\n");
    fs.writeFileSync(path.join(dir, "blocker"), "");
    assert.throws(() => emitReport(io, "blocker/out.md", "x", "y"), (e: unknown) => e instanceof CliError && /cannot write the report to blocker\/out\.md/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
