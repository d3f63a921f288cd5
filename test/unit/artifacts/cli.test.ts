// `driftlens check` and `driftlens render` through the CLI dispatcher (the same code dist/cli.js runs).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { sha256Text } from "../../../server/src/artifacts/hash";
import { CODES } from "../../../server/src/artifacts/codes";
import { commands } from "../../../server/src/cli/commands";
import { CliError } from "../../../server/src/cli/common";
import { buildLoraGguf } from "../../../server/src/modelgen";
import { FIXTURES, REPO_ROOT, tempDir, TINY_RANDOM_GGUF } from "../../helpers/paths";

/** Runs a command from the CLI's table as server/src/cli.ts does (importing cli.ts itself would run it). */
async function cli(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const [name, ...rest] = argv;
  const command = commands[name!];
  assert.ok(command, `command ${name} is in the table`);
  try {
    const code = await command.run(rest, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false, cwd });
    return { code, out, err };
  } catch (e) {
    assert.ok(e instanceof CliError, `commands throw CliError only, got ${String(e)}`);
    return { code: e.exitCode, out, err: err + `driftlens ${name}: ${e.message}\n` };
  }
}

/** Copies a fixture workspace to a temp folder, filling in the model path and generated files. */
function fixture(name: "broken" | "clean"): string {
  const src = path.join(FIXTURES, "artifacts", "check", name);
  const dir = tempDir(`driftlens-check-${name}-`);
  for (const f of fs.readdirSync(src)) {
    const text = fs.readFileSync(path.join(src, f), "utf8");
    fs.writeFileSync(path.join(dir, f), text.replaceAll("${TINY}", TINY_RANDOM_GGUF));
  }
  if (name === "clean") {
    const ds = fs.readFileSync(path.join(dir, "formal.jsonl"), "utf8");
    const ad = path.join(dir, "formal.adapter.yaml");
    fs.writeFileSync(ad, fs.readFileSync(ad, "utf8").replace("${DATASET_SHA}", sha256Text(ds)));
    buildLoraGguf({ name: "formal", alpha: 4, pairs: [{ target: "blk.0.attn_q.weight", rank: 2, nIn: 8, nOut: 8, a: new Float32Array(16).fill(0.01), b: new Float32Array(16).fill(0.01) }] }).write(path.join(dir, "formal.lora.gguf"));
  }
  return dir;
}

interface JsonDiag {
  file: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity: string;
  code: string;
  message: string;
}

test("check on a folder with one broken file of each kind: each reported with code, range, message; exit 1", async () => {
  const dir = fixture("broken");
  const r = await cli(["check", "--format", "json"], dir);
  assert.equal(r.code, 1, r.err);
  const diags = JSON.parse(r.out) as JsonDiag[];
  const find = (file: string, code: string) => diags.find((d) => d.file === file && d.code === code);
  const expect = (file: string, code: string, range: [number, number, number, number], message: RegExp) => {
    const d = find(file, code);
    assert.ok(d, `${file} ${code} in ${JSON.stringify(diags.map((x) => [x.file, x.code]))}`);
    assert.deepEqual(d.range, { start: { line: range[0], character: range[1] }, end: { line: range[2], character: range[3] } }, `${file} ${code} range`);
    assert.equal(d.severity, CODES[code as keyof typeof CODES].severity);
    assert.match(d.message, message);
  };
  expect("driftlens.yaml", "DL103", [5, 6, 5, 10], /missing-q4_0\.gguf does not exist/);
  expect("driftlens.yaml", "DL101", [7, 15, 7, 19], /engine\.contextSize must be a number/);
  expect("capital.prompt", "DL203", [7, 40, 7, 46], /'contry' is not declared/);
  expect("capital.prompt", "DL204", [4, 4, 4, 11], /'country' is declared but the template never uses it/);
  expect("capitals.eval.yaml", "DL302", [7, 8, 7, 14], /duplicate case id 'france'/);
  expect("capitals.eval.yaml", "DL303", [10, 15, 10, 24], /unknown assertion type 'icontians'/);
  expect("formal.adapter.yaml", "DL402", [0, 6, 0, 31], /adapters\/formal\.lora\.gguf does not exist/);
  expect("formal.adapter.yaml", "DL408", [0, 6, 0, 31], /provenance incomplete/);
  for (const d of diags) assert.ok(!path.isAbsolute(d.file), "files are relative to the current folder");

  const text = await cli(["check"], dir);
  assert.equal(text.code, 1);
  assert.match(text.out, /^capital\.prompt:8:41: error DL203 'contry' is not declared/m);
  assert.match(text.out, /^formal\.adapter\.yaml:1:7: error DL402 /m);
  assert.match(text.out, /4 files checked: \d+ errors, \d+ warnings?/);

  const one = await cli(["check", "capitals.eval.yaml", "--format=json"], dir);
  assert.deepEqual(new Set((JSON.parse(one.out) as JsonDiag[]).map((d) => d.file)), new Set(["capitals.eval.yaml"]));
});

test("check on a clean folder exits 0 and reports nothing", async () => {
  const dir = fixture("clean");
  const r = await cli(["check", "--format", "json"], dir);
  assert.equal(r.code, 0, r.out + r.err);
  assert.deepEqual(JSON.parse(r.out), []);
  const t = await cli(["check", dir], REPO_ROOT);
  assert.equal(t.code, 0);
  assert.match(t.out, /5 files checked: 0 errors, 0 warnings/);
});

test("check: --help, unknown flags, bad paths", async () => {
  const dir = tempDir();
  const h = await cli(["check", "--help"], dir);
  assert.equal(h.code, 0);
  assert.match(h.out, /Usage: driftlens check/);
  const u = await cli(["check", "--colour"], dir);
  assert.equal(u.code, 2);
  assert.equal(u.err.trim().split("\n").length, 1);
  assert.match(u.err, /unknown option '--colour'/);
  const f = await cli(["check", "--format", "xml"], dir);
  assert.equal(f.code, 2);
  assert.match(f.err, /must be one of text\|json/);
  const m = await cli(["check", "nope"], dir);
  assert.equal(m.code, 2);
  assert.match(m.err, /'nope' does not exist/);
  fs.writeFileSync(path.join(dir, "notes.txt"), "x");
  const k = await cli(["check", "notes.txt"], dir);
  assert.equal(k.code, 2);
  assert.match(k.err, /not a Driftlens artifact/);
});

test("render: text and Dotprompt JSON, --input JSON and @file, --data with history, front-matter defaults", async () => {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, "chat.prompt"),
    '---\nmodel: tiny/f16\nconfig: {temperature: 0}\ninput:\n  schema:\n    name: string\n    greeting?: string\n  default: {greeting: Hello}\n---\n{{role "system"}}{{> rules}}\n{{history}}\n{{role "user"}}{{greeting}}, {{name}}! Wie spät ist es? 🌍\n',
  );
  fs.writeFileSync(path.join(dir, "_rules.prompt"), "Be brief.");
  const j = await cli(["render", "chat.prompt", "--input", '{"name": "Zoë"}', "--format", "json"], dir);
  assert.equal(j.code, 0, j.err);
  const r = JSON.parse(j.out);
  assert.deepEqual(r.messages, [
    { role: "system", content: [{ text: "Be brief.\n" }] },
    { role: "user", content: [{ text: "Hello, Zoë! Wie spät ist es? 🌍" }] },
  ]);
  assert.equal(r.model, "tiny/f16");
  assert.deepEqual(r.config, { temperature: 0 });
  assert.deepEqual(r.input.schema, { type: "object", properties: { name: { type: "string" }, greeting: { type: ["string", "null"] } }, required: ["name"], additionalProperties: false });
  assert.deepEqual(r.input.default, { greeting: "Hello" });

  fs.writeFileSync(path.join(dir, "data.json"), JSON.stringify({ input: { name: "Ana", greeting: "Hi" }, messages: [{ role: "user", content: [{ text: "earlier" }] }, { role: "model", content: [{ text: "reply" }] }] }));
  const t = await cli(["render", "chat.prompt", "--data", "@data.json"], dir);
  assert.equal(t.code, 0, t.err);
  assert.equal(t.out, '[system]\nBe brief.\n[user] {"purpose":"history"}\nearlier\n[model] {"purpose":"history"}\nreply\n[user]\nHi, Ana! Wie spät ist es? 🌍\n');

  fs.writeFileSync(path.join(dir, "in.json"), '{"name": "Bo"}');
  const f = await cli(["render", "chat.prompt", "--input", "@in.json"], dir);
  assert.match(f.out, /Hello, Bo!/);
});

test("render: usage errors exit 2, unrenderable prompts exit 1", async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "p.prompt"), "Hi {{> missing}}");
  assert.equal((await cli(["render"], dir)).code, 2);
  const bad = await cli(["render", "p.prompt", "--input", "{nope"], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--input is not valid JSON/);
  assert.equal((await cli(["render", "p.prompt", "--input", "[1]"], dir)).code, 2);
  assert.equal((await cli(["render", "absent.prompt"], dir)).code, 2);
  assert.equal((await cli(["render", "p.prompt", "--data", '{"inputs": {}}'], dir)).code, 2);
  const miss = await cli(["render", "p.prompt"], dir);
  assert.equal(miss.code, 1);
  assert.match(miss.err, /partial 'missing' not found: create _missing\.prompt/);
  assert.equal(miss.err.trim().split("\n").length, 1);
  const h = await cli(["render", "--help"], dir);
  assert.equal(h.code, 0);
  assert.match(h.out, /--data JSON/);
});

test("docs/diagnostics.md and README.md list every code with its severity", () => {
  for (const doc of [path.join("docs", "diagnostics.md"), "README.md"]) {
    const md = fs.readFileSync(path.join(REPO_ROOT, doc), "utf8");
    for (const [code, info] of Object.entries(CODES)) {
      assert.match(md, new RegExp(`^\\| ${code} \\| ${info.severity} \\| `, "m"), `${code} in ${doc}`);
    }
  }
});
