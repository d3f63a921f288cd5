// `driftlens demo` end to end through the bundled CLI, from a clean copy of the quickstart (no
// models, no store): exit 0, a self-contained HTML report with per-slice pass rates for every
// variant and the Q4_0 tail flip, a markdown summary, and workspace text escaped.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DIST, REPO_ROOT, tempDir } from "../../helpers/paths";

function cleanCopy(): string {
  const dir = path.join(tempDir(), "quickstart");
  fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), dir, {
    recursive: true,
    filter: (src) => !/[\\/](models|\.driftlens|demo-report)([\\/]|$)/.test(path.relative(REPO_ROOT, src)),
  });
  return dir;
}

test("driftlens demo on a clean quickstart: exit 0, HTML + markdown report with slices, the Q4_0 tail flip, escaped text", () => {
  const ws = cleanCopy();
  assert.ok(!fs.existsSync(path.join(ws, "models")));
  // Hostile workspace text: a slice name that is markup must come out as text.
  const evalFile = path.join(ws, "capitals.eval.yaml");
  fs.writeFileSync(evalFile, fs.readFileSync(evalFile, "utf8").replace("tags: [oceania]", `tags: [oceania, "<script>alert(1)</script>"]`));
  const out = path.join(ws, "report");
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "demo", "--workspace", ws, "--out", out], { encoding: "utf8", timeout: 180_000 });
  assert.equal(r.status, 0, `demo exited ${r.status}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`report: ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\\\\/]index\\.html`));
  assert.match(r.stderr, /\[1\/6\].*\n[\s\S]*\[6\/6\]/, "progress lines for every step");
  // The JSON prompt: valid JSON on every case under its grammar, on none as free text.
  assert.match(r.stderr, /valid JSON: 18\/18 under the grammar, 0\/18 without/);
  assert.ok(fs.existsSync(path.join(ws, "models", "tiny-q4_0.gguf")), "the family was generated");

  const html = fs.readFileSync(path.join(out, "index.html"), "utf8");
  // Self-contained: no scripts, no external resources.
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\b(src|href)\s*=/i);
  assert.doesNotMatch(html, /url\(|@import/i);
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "hostile slice name escaped");
  assert.match(html, /<svg/);
  for (const v of ["tiny/f32", "tiny/f16", "tiny/q8_0", "tiny/q4_0", "tiny/f32+endonyms"]) assert.ok(html.includes(`<th>${v}`), `pass-rate column for ${v}`);
  for (const s of ["europe", "asia", "americas", "africa", "tail", "endonym", "control"]) assert.ok(html.includes(`<td>${s}</td>`), `slice row ${s}`);
  assert.match(html, /slice <b>tail<\/b> drops −14\.3 pp and fails the gate/);
  assert.match(html, /<td>iceland<\/td>[^]*?<code>\s*Reykjavik<\/code>[^]*?<code>\s*Oslo<\/code>/);

  assert.match(html, /<h2>Structured output<\/h2>[^]*?<td>under the grammar<\/td><td>18\/18<\/td>[^]*?<td>free text \(driftlens\.constrain: false\)<\/td><td>0\/18<\/td>/);
  const md = fs.readFileSync(path.join(out, "summary.md"), "utf8");
  assert.match(md, /slice 'tail' dropped 14\.3 pp/);
  const json = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8"));
  const q = json.quantization.variants as { variant: string; gate: { passed: boolean }; kld: { mean: number } }[];
  const by = (id: string) => q.find((v) => v.variant === id)!;
  assert.equal(by("tiny/f16").gate.passed, true);
  assert.equal(by("tiny/q8_0").gate.passed, true);
  assert.equal(by("tiny/q4_0").gate.passed, false);
  assert.ok(by("tiny/f16").kld.mean < by("tiny/q8_0").kld.mean && by("tiny/q8_0").kld.mean < by("tiny/q4_0").kld.mean);
});

test("driftlens demo refuses a folder that is not the quickstart, with exit 2 and a clear message", () => {
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "demo", "--workspace", tempDir()], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not the quickstart workspace \(no driftlens\.yaml\)/);
});
