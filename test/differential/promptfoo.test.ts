// Driftlens's assertions against promptfoo's own, side by side on the same (assertion, output,
// vars) pairs (./pairs.ts). promptfoo (pinned in setup.sh, installed into .cache/promptfoo on
// first use) runs in its own process (oracle.mjs); Driftlens's evaluateAssertion runs here. Each
// pair must agree (both refuse the assertion as an error, or both give the same pass and score),
// except the pairs marked as a deliberate difference, which must differ in the way
// docs/assertions.md says.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ASSERTION_TYPES, evaluateAssertion, evaluateAssertions, type AssertionContext } from "../../server/src/eval/assertions";
import { REPO_ROOT, tempDir } from "../helpers/paths";
import { DIFFERENCES, PAIRS, type Difference, type Pair } from "./pairs";

type Outcome = { pass: boolean; score: number; reason?: string } | { error: string };

const CACHE = process.env.DRIFTLENS_PROMPTFOO_CACHE ?? path.join(REPO_ROOT, ".cache", "promptfoo");

function ensurePromptfoo(): void {
  const r = spawnSync("bash", [path.join(REPO_ROOT, "test", "differential", "setup.sh")], { stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`test/differential/setup.sh failed (status ${r.status}); it installs promptfoo from the npm registry into ${CACHE}`);
}

/** A deterministic embedding: letter counts (a–z) and a count of everything else. */
function embedText(text: string): number[] {
  const v = new Array<number>(27).fill(0);
  for (const ch of text.toLowerCase()) {
    const c = ch.charCodeAt(0) - 97;
    v[c >= 0 && c < 26 ? c : 26]! += 1;
  }
  return v;
}

async function embed(texts: string[]): Promise<number[][]> {
  return texts.map(embedText);
}

function textsOf(p: Pair): string[] {
  const v = p.assertion?.value;
  const values = Array.isArray(v) ? v : [v];
  const vars = p.vars ?? {};
  // Template values are embedded as rendered: include the simple {{name}} renderings.
  const rendered = values.map((x) => (typeof x === "string" ? x.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, n: string) => String(vars[n] ?? "")) : x));
  return [p.output, ...rendered].filter((x): x is string => typeof x === "string");
}

function runOracle(pairs: Pair[]): Record<string, Outcome> {
  const dir = tempDir("driftlens-differential-");
  const input = path.join(dir, "pairs.json");
  const output = path.join(dir, "outcomes.json");
  fs.writeFileSync(
    input,
    JSON.stringify(pairs.map((p) => (p.assertion?.type.replace(/^not-/, "").startsWith("similar") ? { ...p, embeddings: Object.fromEntries(textsOf(p).map((t) => [t, embedText(t)])) } : p))),
  );
  const home = path.join(dir, "home");
  fs.mkdirSync(home);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    PROMPTFOO_CONFIG_DIR: path.join(home, ".promptfoo"),
    PROMPTFOO_DISABLE_TELEMETRY: "1",
    PROMPTFOO_DISABLE_UPDATE: "1",
    PROMPTFOO_DISABLE_TEMPLATE_ENV_VARS: "1",
    PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION: "1",
    LOG_LEVEL: "error",
    NODE_NO_WARNINGS: "1",
  };
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "test", "differential", "oracle.mjs"), CACHE, input, output], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });
  if (r.status !== 0 || !fs.existsSync(output)) throw new Error(`the promptfoo oracle failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(fs.readFileSync(output, "utf8")) as Record<string, Outcome>;
}

async function ours(p: Pair): Promise<Outcome> {
  const ctx: AssertionContext = {
    vars: p.vars ?? {},
    trusted: true,
    embed,
    ...(p.latencyMs !== undefined ? { latencyMs: p.latencyMs } : {}),
    ...(p.patternTimeoutMs !== undefined ? { patternTimeoutMs: p.patternTimeoutMs } : {}),
    ...(p.threshold !== undefined ? { threshold: p.threshold } : {}),
  };
  if (p.assertions) {
    const ev = await evaluateAssertions(p.assertions, p.output, ctx);
    return ev.error ? { error: ev.error } : { pass: ev.pass, score: ev.score };
  }
  const r = await evaluateAssertion(p.assertion!, p.output, ctx);
  return r.error ? { error: r.message } : { pass: r.pass, score: r.score, reason: r.message };
}

function agree(a: Outcome, b: Outcome): boolean {
  if ("error" in a || "error" in b) return "error" in a && "error" in b;
  return a.pass === b.pass && Math.abs(a.score - b.score) < 1e-9;
}

/** Why an outcome pair is not the documented difference (undefined when it is). */
function notTheDifference(d: Difference, mine: Outcome, theirs: Outcome): string | undefined {
  switch (d) {
    case "config-error":
    case "negative-weight":
    case "missing-var":
    case "template-subset":
    case "file-refs":
    case "transform":
    case "time-limit":
      return "error" in mine && !("error" in theirs) ? undefined : "expected Driftlens to refuse it and promptfoo to give a verdict";
    case "weight-zero":
      return !("error" in mine) && !("error" in theirs) && mine.pass === false && theirs.pass === true ? undefined : "expected Driftlens to report the failure and promptfoo to report a pass";
    case "json-schema-type":
    case "schema-drafts":
      return !("error" in mine) && "error" in theirs ? undefined : "expected Driftlens to give a verdict and promptfoo to refuse it";
    case "javascript-sandbox":
      return !("error" in mine) && !("error" in theirs) && mine.pass !== theirs.pass ? undefined : "expected different verdicts";
  }
}

const show = (o: Outcome) => ("error" in o ? `error: ${o.error}` : `pass=${o.pass} score=${o.score}${o.reason ? ` (${o.reason})` : ""}`);

test("Driftlens's assertions agree with promptfoo's runAssertion on every pair, except the documented differences", { timeout: 20 * 60_000 }, async () => {
  ensurePromptfoo();
  const dir = tempDir("driftlens-differential-files-");
  const file = path.join(dir, "expected.txt");
  fs.writeFileSync(file, "hello");
  const pairs: Pair[] = [...PAIRS, { id: "file reference", assertion: { type: "contains", value: `file://${file}` }, output: "hello world", differs: "file-refs" }];
  const theirs = runOracle(pairs);
  const mismatches: string[] = [];
  const differences = new Map<Difference, number>();
  const tally = { verdicts: 0, passes: 0, errors: 0, documented: 0 };
  for (const p of pairs) {
    const t = theirs[p.id];
    assert.ok(t, `promptfoo gave no outcome for ${p.id}`);
    const mine = await ours(p);
    const what = `${p.id}: ${JSON.stringify(p.assertion ?? p.assertions)} on ${JSON.stringify(p.output)}${p.vars ? ` with ${JSON.stringify(p.vars)}` : ""}\n    driftlens: ${show(mine)}\n    promptfoo: ${show(t)}`;
    if (p.differs) {
      const why = notTheDifference(p.differs, mine, t);
      if (why) mismatches.push(`[documented difference '${p.differs}' not observed: ${why}] ${what}`);
      differences.set(p.differs, (differences.get(p.differs) ?? 0) + 1);
    } else if (!agree(mine, t)) mismatches.push(what);
    else if ("error" in t) tally.errors++;
    else {
      tally.verdicts++;
      if (t.pass) tally.passes++;
    }
    if (p.differs) tally.documented++;
  }

  console.log(`differential: ${pairs.length} pairs: ${tally.verdicts} agreeing verdicts (${tally.passes} passes), ${tally.errors} refused by both, ${tally.documented} documented differences`);
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${pairs.length} pairs disagree:\n${mismatches.join("\n")}`);
  // Every documented difference is exercised.
  assert.deepEqual(DIFFERENCES.filter((d) => !differences.has(d)), []);
});

test("the corpus: at least 300 pairs, every assertion type and its not- form", () => {
  assert.ok(PAIRS.length >= 300, `${PAIRS.length} pairs`);
  const types = new Set(PAIRS.flatMap((p) => (p.assertion ? [p.assertion.type] : (p.assertions ?? []).map((a) => a.type))));
  const missing = ASSERTION_TYPES.filter((t) => !types.has(t) || !types.has(`not-${t}`));
  assert.deepEqual(missing, []);
});

test("docs/assertions.md lists each deliberate difference the suite tests, and no other", () => {
  const md = fs.readFileSync(path.join(REPO_ROOT, "docs", "assertions.md"), "utf8");
  const section = md.slice(md.indexOf("## Deliberate differences from promptfoo"));
  assert.ok(section.length < md.length, "docs/assertions.md has a 'Deliberate differences from promptfoo' section");
  const listed = [...section.matchAll(/^- \*\*([a-z0-9-]+)\*\*/gm)].map((m) => m[1]!);
  assert.deepEqual([...listed].sort(), [...DIFFERENCES].sort());
});
