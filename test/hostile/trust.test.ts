// Files a workspace names outside itself: an eval set's `prompt:` pointing out of the workspace
// was read, sent to the model and stored; `store:` could create folders anywhere, and
// `store: /dev/null` made SQLite write /dev/null-journal. Now such a file gets a diagnostic and
// is never read, and such a store is refused before anything is created.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Workspace } from "../../server/src/artifacts/workspace";
import { Store } from "../../server/src/store/store";
import { buildFakeStores } from "../helpers/model-stores";
import { tempDir, TINY_RANDOM_GGUF } from "../helpers/paths";
import { LspClient } from "../lsp/client";
import { runCli, workspace } from "./harness";

const SECRET = "TOP-SECRET-9b1f: the contents of a file outside the workspace";
const CONFIG = (store = ".driftlens/store.db") => `models:\n  tiny:\n    variants:\n      rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}\nengine: {gpu: cpu, threads: 1, contextSize: 512}\nstore: ${store}\n`;

/** A workspace whose eval set names a prompt in a sibling folder (outside it). */
function escaping(): { dir: string; outside: string } {
  const parent = tempDir("driftlens-trust-");
  const outside = path.join(parent, "elsewhere");
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, "secret.prompt"), `---\nmodel: tiny/rnd\n---\n{{role "user"}}${SECRET}\n`);
  const dir = path.join(parent, "ws");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), CONFIG());
  fs.writeFileSync(path.join(dir, "steal.eval.yaml"), `prompt: ../elsewhere/secret.prompt\ncases:\n  - {id: a, vars: {}, assert: [{type: not-contains, value: x}], why: w}\n`);
  // The same, through a symlink inside the workspace that points out of it.
  fs.symlinkSync(path.join(outside, "secret.prompt"), path.join(dir, "linked.prompt"));
  fs.writeFileSync(path.join(dir, "link.eval.yaml"), `prompt: linked.prompt\ncases:\n  - {id: a, vars: {}, assert: [{type: not-contains, value: x}], why: w}\n`);
  return { dir, outside };
}

/** Every blob and output the store holds, as one string. */
function storeText(file: string): string {
  if (!fs.existsSync(file)) return "";
  const s = Store.open(file, { readonly: true });
  try {
    const blobs = (s.db.prepare("SELECT content FROM blobs").all() as { content: string }[]).map((r) => r.content);
    const outs = (s.db.prepare("SELECT output FROM results").all() as { output: string }[]).map((r) => r.output);
    return [...blobs, ...outs].join("\n");
  } finally {
    s.close();
  }
}

describe("files outside the workspace", () => {
  test("check reports DL127 for a prompt outside the workspace (directly or through a symlink)", async () => {
    const { dir } = escaping();
    const r = await runCli(dir, ["check", "--format", "json"]);
    const diags = JSON.parse(r.stdout) as { file: string; code: string; message: string }[];
    for (const f of ["steal.eval.yaml", "link.eval.yaml"]) {
      const d = diags.find((x) => x.file === f && x.code === "DL127");
      assert.ok(d, `${f}: ${JSON.stringify(diags)}`);
      assert.match(d.message, /is outside the workspace/);
    }
    assert.ok(!r.stdout.includes(SECRET));
  });

  test("eval refuses them before reading: nothing of the file reaches the model, the report or the store", async () => {
    const { dir } = escaping();
    for (const evalSet of ["steal.eval.yaml", "link.eval.yaml"]) {
      const r = await runCli(dir, ["eval", evalSet, "--variant", "tiny/rnd", "--format", "json"], { timeoutMs: 120_000 });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr + r.stdout, /outside the workspace/);
      assert.ok(!(r.stdout + r.stderr).includes(SECRET));
    }
    assert.ok(!storeText(path.join(dir, ".driftlens", "store.db")).includes(SECRET), "the secret reached the store");
  });

  test("the language server diagnoses such a prompt and reads nothing of it", async () => {
    const { dir } = escaping();
    const client = await LspClient.start({ folders: [dir], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" } });
    try {
      const uri = await client.open(path.join(dir, "steal.eval.yaml"));
      const diags = await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === "DL127") });
      assert.ok(!JSON.stringify(diags).includes(SECRET));
    } finally {
      await client.stop();
    }
  });
});

describe("the store path", () => {
  test("a store outside the workspace is refused and no folder is created", async () => {
    const elsewhere = path.join(tempDir("driftlens-trust-"), "created-by-driftlens");
    const dir = workspace({ "c.eval.yaml": "prompt: capital.prompt\ncases: []\n" }, CONFIG(path.join(elsewhere, "store.db")));
    const check = await runCli(dir, ["check", "driftlens.yaml", "--format", "json"]);
    assert.ok((JSON.parse(check.stdout) as { code: string }[]).some((d) => d.code === "DL128"), check.stdout);
    const r = await runCli(dir, ["eval", "c.eval.yaml", "--variant", "tiny/rnd"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is outside the workspace/);
    assert.equal(fs.existsSync(elsewhere), false, "a folder was created outside the workspace");
  });

  test("store: /dev/null is refused and makes no /dev/null-journal", async () => {
    const journal = "/dev/null-journal";
    const existed = fs.existsSync(journal);
    const dir = workspace({ "c.eval.yaml": "prompt: capital.prompt\ncases:\n  - {id: a, vars: {country: F}, assert: [], why: w}\n" }, CONFIG("/dev/null"));
    const r = await runCli(dir, ["eval", "c.eval.yaml", "--variant", "tiny/rnd"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /store \/dev\/null/);
    if (!existed) assert.equal(fs.existsSync(journal), false, "/dev/null-journal was created");
    // Even when named by a path that is inside the workspace, a device is no store.
    assert.throws(() => Store.open("/dev/null"), /not a regular file/);
    if (!existed) assert.equal(fs.existsSync(journal), false);
  });
});

describe("model stores count as folders driftlens.yaml lists", () => {
  // A Hugging Face variant's path is a snapshot symlink whose real path is a blob under the same
  // hub folder: an adapter naming that snapshot file as its base is inside what driftlens.yaml
  // lists once a variant comes from that hub, and outside it when none does. A snapshot link
  // pointing out of the hub is outside either way.
  test("an adapter's base in the hub cache: allowed when driftlens.yaml uses the hub, DL127 otherwise and through a link out of it", async () => {
    const parent = tempDir("driftlens-trust-stores-");
    const fake = buildFakeStores(path.join(parent, "stores"));
    const snapshot = path.join(fake.hub, "models--driftlens--tiny-GGUF", "snapshots", fake.commit);
    const escape = path.join(snapshot, "escape.gguf");
    fs.writeFileSync(path.join(parent, "secret.gguf"), SECRET);
    fs.symlinkSync(path.join(parent, "secret.gguf"), escape);
    const env = { env: {}, home: fake.home, platform: "linux" as const };
    const adapterDiagnostics = async (config: string, base: string) => {
      const root = path.join(parent, `ws-${Math.random().toString(36).slice(2)}`);
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, "driftlens.yaml"), config);
      fs.writeFileSync(path.join(root, "a.adapter.yaml"), `file: a.lora.gguf\nbase: {model: ${JSON.stringify(base)}}\n`);
      return (await new Workspace(root, { storeEnvironment: env }).diagnose(path.join(root, "a.adapter.yaml"))).filter((d) => d.code === "DL127");
    };
    const hubConfig = `models:\n  tiny:\n    variants:\n      q8: {hf: driftlens/tiny-GGUF, file: tiny-q8_0.gguf}\n`;
    const base = path.join(snapshot, "tiny-q4_0.gguf");
    assert.deepEqual(await adapterDiagnostics(hubConfig, base), [], "a snapshot file of the hub driftlens.yaml uses");
    assert.equal((await adapterDiagnostics(CONFIG(), base)).length, 1, "the hub is not listed when no variant comes from it");
    // A store variant has no path of its own: that must not make the process's folder a listed one.
    assert.equal((await adapterDiagnostics(hubConfig, path.join(process.cwd(), "base.gguf"))).length, 1, "the process's folder counted as listed");
    const out = await adapterDiagnostics(hubConfig, escape);
    assert.equal(out.length, 1, "a snapshot link pointing out of the hub");
    assert.match(out[0]!.message, /is outside the workspace/);
  });
});
