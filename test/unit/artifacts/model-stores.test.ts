// Models where users keep them: a fake Hugging Face cache, LM Studio folder and Ollama store (real
// layouts and manifest JSON, the real quickstart GGUF models; test/helpers/model-stores.ts) resolve
// to the right files through scans and variants; the same bytes reached through several stores are
// listed once; broken entries are diagnostics on driftlens.yaml and the same error when the
// variant is resolved; and nothing in the stores is ever written.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { cachedFingerprint } from "../../../server/src/artifacts/fingerprint";
import { parseOllamaName, shortOllamaName } from "../../../server/src/artifacts/model-stores/ollama-name";
import { huggingfaceLocation, lmstudioLocation, ollamaLocation } from "../../../server/src/artifacts/model-stores/locations";
import { parseStoreString } from "../../../server/src/artifacts/model-stores/spec";
import { guessQuant } from "../../../server/src/artifacts/model-stores/types";
import type { Diagnostic, Range } from "../../../server/src/artifacts/types";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { buildFakeStores, makeReadOnly, snapshotTree, type FakeStores } from "../../helpers/model-stores";
import { tempDir } from "../../helpers/paths";

let fake: FakeStores;
let before0: ReturnType<typeof snapshotTree>;
/** One temporary folder for every workspace here (each is a fresh folder inside it). */
const BASE = tempDir("driftlens-stores-test-");
const freshDir = (prefix: string) => fs.mkdtempSync(path.join(BASE, prefix));

/** A workspace whose stores are found from the fake home alone (no variables, no modelStores). */
function workspace(yaml: string, env: Record<string, string> = {}): { ws: Workspace; root: string; text: string } {
  const root = freshDir("ws-");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), yaml);
  return { ws: new Workspace(root, { storeEnvironment: { env, home: fake.home, platform: "linux" } }), root, text: yaml };
}

function textAt(text: string, r: Range): string {
  const lines = text.split("\n");
  if (r.start.line !== r.end.line) return "";
  return lines[r.start.line]!.slice(r.start.character, r.end.character);
}

async function configDiagnostics(ws: Workspace, root: string): Promise<Diagnostic[]> {
  return ws.diagnose(path.join(root, "driftlens.yaml"));
}

before(() => {
  fake = buildFakeStores(freshDir("stores-"));
  makeReadOnly(fake.home);
  before0 = snapshotTree(fake.home);
});

describe("model stores resolve to the right files", () => {
  test("Hugging Face cache: hf: scans follow refs/main; @revision, a repo folder path and file refs work", async () => {
    const repo = path.join(fake.hub, "models--driftlens--tiny-GGUF");
    const { ws, root } = workspace(
      [
        "models:",
        "  hub:",
        "    scan: hf:driftlens/tiny-GGUF",
        "  old:",
        `    scan: hf:driftlens/tiny-GGUF@${fake.oldCommit}`,
        "  folder:",
        `    scan: ${JSON.stringify(repo)}`,
        "  named:",
        "    variants:",
        "      q8: {hf: driftlens/tiny-GGUF, file: tiny-q8_0.gguf}",
        `      old: hf:driftlens/tiny-GGUF@${fake.oldCommit}/tiny-q4_0.gguf`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(await configDiagnostics(ws, root), []);
    const v = Object.fromEntries(ws.variants().map((x) => [x.id, x]));
    const snap = (c: string, f: string) => path.join(repo, "snapshots", c, f);
    assert.deepEqual(
      ws.variants().map((x) => x.id),
      ["hub/q4_0", "hub/q8_0", "old/q4_0", "folder/q4_0", "folder/q8_0", "named/q8", "named/old"],
    );
    assert.equal(v["hub/q8_0"]!.modelPath, snap(fake.commit, "tiny-q8_0.gguf"));
    assert.equal(v["hub/q4_0"]!.modelPath, snap(fake.commit, "tiny-q4_0.gguf"));
    assert.equal(fs.realpathSync(v["hub/q4_0"]!.modelPath), path.join(repo, "blobs", fake.sha.q4_0));
    assert.equal(v["hub/q4_0"]!.quant, "Q4_0");
    assert.deepEqual(v["hub/q4_0"]!.origin, {
      store: "huggingface",
      root: fake.hub,
      model: "driftlens/tiny-GGUF",
      revision: "main",
      commit: fake.commit,
      file: "tiny-q4_0.gguf",
      blob: path.join(repo, "blobs", fake.sha.q4_0),
      sha256: fake.sha.q4_0,
    });
    assert.equal(v["old/q4_0"]!.modelPath, snap(fake.oldCommit, "tiny-q4_0.gguf"));
    assert.equal(v["folder/q8_0"]!.modelPath, snap(fake.commit, "tiny-q8_0.gguf"));
    assert.equal(v["named/q8"]!.modelPath, snap(fake.commit, "tiny-q8_0.gguf"));
    assert.equal(v["named/old"]!.modelPath, snap(fake.oldCommit, "tiny-q4_0.gguf"));
    assert.equal(v["hub/q8_0"]!.isReference, true, "q8_0 is the highest precision the scan found");
    // The LFS blob name is the sha256: remembered as the fingerprint without reading the file.
    assert.equal(cachedFingerprint(v["hub/q8_0"]!.modelPath), fake.sha.q8_0);
  });

  test("LM Studio: lmstudio:publisher/model scans the model folder (projectors skipped); file refs work", async () => {
    const { ws, root } = workspace("models:\n  lms:\n    scan: lmstudio:driftlens/tiny-GGUF\n  one:\n    variants:\n      f16: {lmstudio: driftlens/tiny-GGUF, file: tiny-f16.gguf}\n      q4: lmstudio:driftlens/tiny-GGUF/tiny-q4_0.gguf\n");
    assert.deepEqual(await configDiagnostics(ws, root), []);
    const dir = path.join(fake.lmstudio, "driftlens", "tiny-GGUF");
    assert.deepEqual(
      ws.variants().map((x) => [x.id, x.modelPath]),
      [
        ["lms/f16", path.join(dir, "tiny-f16.gguf")],
        ["lms/q4_0", path.join(dir, "tiny-q4_0.gguf")],
        ["one/f16", path.join(dir, "tiny-f16.gguf")],
        ["one/q4", path.join(dir, "tiny-q4_0.gguf")],
      ],
    );
    assert.deepEqual(ws.resolveVariant("one/f16").origin, { store: "lmstudio", root: fake.lmstudio, model: "driftlens/tiny-GGUF", file: "tiny-f16.gguf" });
  });

  test("Ollama: a variant resolves through its manifest's model layer to the blob; legacy and manifests-v2 layouts", async () => {
    const { ws, root } = workspace(
      [
        "models:",
        "  tiny:",
        "    reference: f32",
        "    variants:",
        "      q4:",
        "        ollama: tiny:q4",
        "      latest: ollama:tiny",
        "      f32: {ollama: 'tiny:F32'}",
        "      v2: {ollama: tinyv2:q8_0}",
        "      custom: {ollama: someone/custom}",
        "      full: {ollama: registry.ollama.ai/library/tiny:q4}",
        "",
      ].join("\n"),
    );
    assert.deepEqual(await configDiagnostics(ws, root), []);
    const blob = (sha: string) => path.join(fake.ollama, "blobs", `sha256-${sha}`);
    const v = Object.fromEntries(ws.variants().map((x) => [x.variant, x]));
    assert.equal(v.q4!.modelPath, blob(fake.sha.q4_0));
    assert.equal(v.latest!.modelPath, blob(fake.sha.q4_0));
    assert.equal(v.f32!.modelPath, blob(fake.sha.f32), "tags compare case-insensitively, as in Ollama");
    assert.equal(v.v2!.modelPath, blob(fake.sha.q8_0));
    assert.equal(v.custom!.modelPath, blob(fake.sha.f32));
    assert.equal(v.full!.modelPath, blob(fake.sha.q4_0));
    assert.equal(v.q4!.quant, "Q4_0");
    assert.deepEqual(v.q4!.origin, {
      store: "ollama",
      root: fake.ollama,
      model: "tiny:q4",
      revision: "q4",
      manifest: path.join(fake.ollama, "manifests", "registry.ollama.ai", "library", "tiny", "q4"),
      blob: blob(fake.sha.q4_0),
      sha256: fake.sha.q4_0,
    });
    assert.equal(v.v2!.origin!.manifest, path.join(fake.ollama, "manifests-v2", "ollama.com", "library", "tinyv2", "q8_0"));
    assert.equal(cachedFingerprint(v.f32!.modelPath), fake.sha.f32, "the blob name is its sha256");
  });

  test("an ollama: scan takes every tag of the model, one variant per distinct blob", async () => {
    const { ws, root } = workspace("models:\n  tiny:\n    scan: ollama:tiny\n");
    const d = await configDiagnostics(ws, root);
    assert.deepEqual(d, []);
    const vs = ws.variants();
    assert.deepEqual(
      vs.map((x) => [x.id, path.basename(x.modelPath)]),
      [
        ["tiny/f32", `sha256-${fake.sha.f32}`],
        ["tiny/q4_0", `sha256-${fake.sha.q4_0}`],
      ],
    );
    assert.deepEqual(vs[1]!.also?.map((a) => a.origin?.model), ["tiny:q4"], "latest and q4 are one blob: listed once");
  });
});

describe("the same file through two stores is listed once", () => {
  test("hub, LM Studio and Ollama copies of one GGUF become one variant, by sha256", async () => {
    const { ws, root } = workspace("models:\n  tiny:\n    scan:\n      - hf:driftlens/tiny-GGUF\n      - lmstudio:driftlens/tiny-GGUF\n      - ollama:tiny\n");
    const d = await configDiagnostics(ws, root);
    assert.deepEqual(d, [], "no DL108: a duplicate is not a second variant of the same quant");
    const vs = ws.variants();
    assert.deepEqual(
      vs.map((x) => [x.id, x.origin?.store]),
      [
        ["tiny/q4_0", "huggingface"],
        ["tiny/q8_0", "huggingface"],
        ["tiny/f16", "lmstudio"],
        ["tiny/f32", "ollama"],
      ],
    );
    const q4 = vs.find((x) => x.variant === "q4_0")!;
    assert.deepEqual(
      q4.also!.map((a) => [a.origin!.store, a.origin!.model]),
      [
        ["lmstudio", "driftlens/tiny-GGUF"],
        ["ollama", "tiny:latest"],
        ["ollama", "tiny:q4"],
      ],
    );
    // LM Studio's copy is a plain file: it was recognised by hashing it (once, now cached).
    assert.equal(cachedFingerprint(path.join(fake.lmstudio, "driftlens", "tiny-GGUF", "tiny-q4_0.gguf")), fake.sha.q4_0);
  });

  test("a scanned file that a named variant already is, is not listed again", async () => {
    const { ws, root } = workspace("models:\n  tiny:\n    variants:\n      q4: {ollama: tiny:q4}\n    scan: hf:driftlens/tiny-GGUF\n");
    assert.deepEqual(await configDiagnostics(ws, root), []);
    assert.deepEqual(ws.variants().map((v) => v.id), ["tiny/q4", "tiny/q8_0"]);
    assert.deepEqual(ws.resolveVariant("tiny/q4").also?.map((a) => a.origin && [a.origin.store, a.origin.file]), [["huggingface", "tiny-q4_0.gguf"]]);
  });

  test("two different files of the same size and quant stay two variants", async () => {
    const dir = freshDir("samesize-");
    const models = path.join(dir, "lms");
    const a = fs.readFileSync(fake.models.q4_0);
    const b = Buffer.from(a);
    b[b.length - 1] = b[b.length - 1]! ^ 0xff; // one weight byte differs: same size, same header
    fs.mkdirSync(path.join(models, "pub", "a"), { recursive: true });
    fs.mkdirSync(path.join(models, "pub", "b"), { recursive: true });
    fs.writeFileSync(path.join(models, "pub", "a", "x-q4_0.gguf"), a);
    fs.writeFileSync(path.join(models, "pub", "b", "y-q4_0.gguf"), b);
    const { ws, root } = workspace(`models:\n  t:\n    scan: [lmstudio:pub/a, lmstudio:pub/b]\nmodelStores: {lmstudio: ${JSON.stringify(models)}}\n`);
    const d = await configDiagnostics(ws, root);
    assert.deepEqual(d.map((x) => x.code), ["DL108"]);
    assert.deepEqual(ws.variants().map((x) => x.variant), ["q4_0", "q4_0-y-q4_0"]);
  });
});

describe("store problems are diagnostics, and the variant's error", () => {
  const yaml = [
    "models:",
    "  bad:",
    "    variants:",
    "      missing: {ollama: broken:missing-blob}",
    "      notjson: {ollama: broken:not-json}",
    "      absent: {ollama: tiny:7b}",
    "      badname: {ollama: 'Bad Name!'}",
    "      dangling: {hf: driftlens/broken-GGUF, file: broken-Q4_K_M.gguf}",
    "      several: {hf: driftlens/tiny-GGUF}",
    "      gone: {hf: driftlens/tiny-GGUF, file: tiny-f16.gguf}",
    "      norepo: hf:nobody/nothing",
    "      nolms: lmstudio:nobody/nothing",
    "  scanned:",
    "    scan: [hf:driftlens/broken-GGUF, lmstudio:someone/gone-GGUF]",
    "",
  ].join("\n");

  test("each broken entry is reported at the value naming it, with the file or model", async () => {
    const { ws, root, text } = workspace(yaml);
    const d = await configDiagnostics(ws, root);
    const at = (s: string) => d.filter((x) => textAt(text, x.range) === s).map((x) => [x.code, x.message]);
    const missingBlob = `sha256-${fake.missingSha}`;
    assert.deepEqual(at("broken:missing-blob").map((x) => x[0]), ["DL141"]);
    assert.match(at("broken:missing-blob")[0]![1]!, new RegExp(`ollama:broken:missing-blob: manifest .*manifests/registry\\.ollama\\.ai/library/broken/missing-blob names blob ${missingBlob} for the model, which is missing from .*blobs; run \`ollama pull broken:missing-blob\``));
    assert.match(at("broken:not-json")[0]![1]!, /ollama:broken:not-json: manifest .*not-json is not a valid manifest: it is not JSON/);
    assert.deepEqual(at("tiny:7b").map((x) => x[0]), ["DL140"]);
    assert.match(at("tiny:7b")[0]![1]!, /ollama:tiny:7b is not in Ollama's store .* tags present: tiny:f32, tiny:latest, tiny:q4; pull it with `ollama pull tiny:7b`/);
    assert.deepEqual(at("'Bad Name!'").map((x) => x[0]), ["DL142"]);
    assert.match(at("driftlens/broken-GGUF")[0]![1]!, /hf:driftlens\/broken-GGUF: snapshots\/fedcba987654\/broken-Q4_K_M\.gguf is a dangling symlink to \.\.\/\.\.\/blobs\/[0-9a-f]{64}, which does not exist/);
    assert.deepEqual(at("driftlens/tiny-GGUF").map((x) => x[0]), ["DL142", "DL140"]);
    assert.match(at("driftlens/tiny-GGUF")[0]![1]!, /holds 2 GGUF files \(tiny-q4_0\.gguf, tiny-q8_0\.gguf\): name one with file:/);
    assert.match(at("driftlens/tiny-GGUF")[1]![1]!, /has no file tiny-f16\.gguf: the Hub reported that it does not exist at this revision/);
    assert.match(at("hf:nobody/nothing")[0]![1]!, /hf:nobody\/nothing is not in the Hugging Face cache .*hub \(from the default\): cached repos: driftlens\/broken-GGUF, driftlens\/tiny-GGUF/);
    assert.match(at("lmstudio:nobody/nothing")[0]![1]!, /lmstudio:nobody\/nothing is not in LM Studio's models folder .*\.lmstudio\/models/);
    const scan = d.filter((x) => x.range.start.line === 13).map((x) => [x.code, textAt(text, x.range), x.message]);
    assert.deepEqual(scan.map((x) => [x[0], x[1]]), [
      ["DL141", "hf:driftlens/broken-GGUF"],
      ["DL141", "lmstudio:someone/gone-GGUF"],
    ]);
    assert.match(scan[1]![2]!, /lmstudio:someone\/gone-GGUF\/gone-Q8_0\.gguf is a dangling symlink to .*nowhere\/gone-Q8_0\.gguf/);
  });

  test("resolving a broken variant throws the diagnostic's message; listing skips it", async () => {
    const { ws, root } = workspace(yaml);
    const d = await configDiagnostics(ws, root);
    for (const [variant, value] of [
      ["missing", "broken:missing-blob"],
      ["notjson", "broken:not-json"],
      ["absent", "tiny:7b"],
      ["norepo", "hf:nobody/nothing"],
    ] as const) {
      const diag = d.find((x) => x.message.includes(value))!;
      assert.throws(() => ws.resolveVariant(`bad/${variant}`), (e: Error) => e.message === diag.message, variant);
    }
    // Scanned broken files keep the name their file gives them, so `--variant scanned/q4_k_m` says why.
    const dangling = d.find((x) => x.message.includes("broken-Q4_K_M.gguf is a dangling"))!;
    assert.throws(() => ws.resolveVariant("scanned/q4_k_m"), (e: Error) => e.message === dangling.message);
    const gone = d.find((x) => x.message.includes("gone-Q8_0.gguf is a dangling"))!;
    assert.throws(() => ws.resolveVariant("scanned/q8_0"), (e: Error) => e.message === gone.message);
    assert.deepEqual(ws.variants().map((v) => v.id), []);
  });

  test("a good file keeps its quant name when a broken one in the same scan would guess it", async () => {
    const hub = freshDir("guess-hub-");
    const repo = path.join(hub, "models--x--mixed");
    const commit = "2".repeat(40);
    fs.mkdirSync(path.join(repo, "blobs"), { recursive: true });
    fs.mkdirSync(path.join(repo, "refs"), { recursive: true });
    fs.mkdirSync(path.join(repo, "snapshots", commit), { recursive: true });
    fs.writeFileSync(path.join(repo, "refs", "main"), commit);
    fs.copyFileSync(fake.models.q4_0, path.join(repo, "blobs", fake.sha.q4_0));
    fs.symlinkSync(`../../blobs/${"9".repeat(64)}`, path.join(repo, "snapshots", commit, "a-Q4_0.gguf"));
    fs.symlinkSync(`../../blobs/${fake.sha.q4_0}`, path.join(repo, "snapshots", commit, "b-Q4_0.gguf"));
    const { ws, root } = workspace(`models:\n  m:\n    scan: hf:x/mixed\nmodelStores: {huggingface: ${JSON.stringify(hub)}}\n`);
    const d = await configDiagnostics(ws, root);
    assert.deepEqual(d.map((x) => x.code), ["DL141"]);
    assert.match(d[0]!.message, /a-Q4_0\.gguf is a dangling symlink/);
    assert.equal(ws.resolveVariant("m/q4_0").modelPath, path.join(repo, "snapshots", commit, "b-Q4_0.gguf"));
  });

  test("a prompt naming a broken store variant gets DL207 with the same message", async () => {
    const { ws, root } = workspace(yaml);
    fs.writeFileSync(path.join(root, "a.prompt"), "---\nmodel: bad/missing\n---\nHi\n");
    const d = await ws.diagnose(path.join(root, "a.prompt"));
    assert.deepEqual(d.map((x) => x.code), ["DL207"]);
    assert.match(d[0]!.message, /names blob sha256-[0-9a-f]{64} for the model, which is missing/);
  });
});

describe("hostile stores are bounded and reported, never followed out", () => {
  test("oversized, directory and path-escaping manifests; blob directories; symlink loops; a ref that is not a commit", async () => {
    const dir = freshDir("hostile-");
    const ollama = path.join(dir, "ollama");
    const lib = path.join(ollama, "manifests", "registry.ollama.ai", "library");
    const manifest = (digest: string) => JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: "application/vnd.ollama.image.model", digest, size: 1 }] });
    fs.mkdirSync(path.join(lib, "big"), { recursive: true });
    fs.writeFileSync(path.join(lib, "big", "latest"), Buffer.alloc(5 << 20, 0x20));
    fs.mkdirSync(path.join(lib, "dir", "latest"), { recursive: true });
    fs.mkdirSync(path.join(lib, "escape"), { recursive: true });
    fs.writeFileSync(path.join(lib, "escape", "latest"), manifest("sha256:../../../../etc/passwd"));
    fs.mkdirSync(path.join(lib, "blobdir"), { recursive: true });
    fs.writeFileSync(path.join(lib, "blobdir", "latest"), manifest(`sha256:${"cd".repeat(32)}`));
    fs.mkdirSync(path.join(ollama, "blobs", `sha256-${"cd".repeat(32)}`), { recursive: true });
    const hub = path.join(dir, "hub");
    const repo = path.join(hub, "models--x--loops");
    const commit = "1".repeat(40);
    fs.mkdirSync(path.join(repo, "snapshots", commit), { recursive: true });
    fs.mkdirSync(path.join(repo, "refs"), { recursive: true });
    fs.writeFileSync(path.join(repo, "refs", "main"), commit);
    fs.symlinkSync("loop-Q4_0.gguf", path.join(repo, "snapshots", commit, "loop-Q4_0.gguf"));
    fs.symlinkSync(".", path.join(repo, "snapshots", commit, "sub"));
    const bad = path.join(hub, "models--x--badref");
    fs.mkdirSync(path.join(bad, "refs"), { recursive: true });
    fs.mkdirSync(path.join(bad, "snapshots"), { recursive: true });
    fs.writeFileSync(path.join(bad, "refs", "main"), "../../../../etc");
    const { ws, root, text } = workspace(
      [
        "models:",
        "  o:",
        "    variants:",
        "      big: {ollama: big}",
        "      dir: {ollama: dir}",
        "      escape: {ollama: escape}",
        "      blobdir: {ollama: blobdir}",
        "      badrev: {hf: x/loops, revision: ../../etc, file: a.gguf}",
        "  h:",
        "    scan: [hf:x/loops, hf:x/badref]",
        `modelStores: {ollama: ${JSON.stringify(ollama)}, huggingface: ${JSON.stringify(hub)}}`,
        "",
      ].join("\n"),
    );
    const d = await configDiagnostics(ws, root);
    const by = (s: string) => d.filter((x) => textAt(text, x.range) === s).map((x) => `${x.code} ${x.message}`);
    assert.match(by("big")[0]!, /^DL141 .*manifest .*big\/latest cannot be read: it is 5242880 bytes, more than the 4194304 bytes/);
    assert.match(by("dir")[0]!, /^DL141 .*dir\/latest cannot be read: it is not a file/);
    assert.match(by("escape")[0]!, /^DL141 .*gives the model layer the digest "sha256:\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd", not sha256:<64 hex digits>/);
    assert.match(by("blobdir")[0]!, /^DL141 .*blob .* is not a file/);
    assert.match(by("../../etc")[0]!, /^DL142 '\.\.\/\.\.\/etc' is not a revision/);
    assert.match(by("hf:x/loops")[0]!, /^DL141 hf:x\/loops: snapshots\/111111111111\/loop-Q4_0\.gguf is a dangling symlink to loop-Q4_0\.gguf/);
    assert.match(by("hf:x/badref")[0]!, /^DL141 hf:x\/badref: .*refs\/main does not hold a commit hash/);
    assert.deepEqual(ws.variants(), []);
  });
});

describe("where the stores are", () => {
  const env = (e: Record<string, string>, home = "/h") => ({ env: e, home, platform: "linux" as NodeJS.Platform });
  test("Hugging Face: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, default (huggingface_hub's order)", () => {
    assert.equal(huggingfaceLocation({}, env({ HF_HUB_CACHE: "/a", HUGGINGFACE_HUB_CACHE: "/b", HF_HOME: "/c" })).path, "/a");
    assert.equal(huggingfaceLocation({}, env({ HUGGINGFACE_HUB_CACHE: "/b", HF_HOME: "/c" })).path, "/b");
    assert.equal(huggingfaceLocation({}, env({ HF_HOME: "~/hf", XDG_CACHE_HOME: "/x" })).path, "/h/hf/hub");
    assert.equal(huggingfaceLocation({}, env({ XDG_CACHE_HOME: "/x" })).path, "/x/huggingface/hub");
    assert.equal(huggingfaceLocation({}, env({})).path, "/h/.cache/huggingface/hub");
    assert.equal(huggingfaceLocation({ huggingface: "/y" }, env({ HF_HUB_CACHE: "/a" })).path, "/y");
  });

  test("Ollama: OLLAMA_MODELS, else ~/.ollama/models", () => {
    assert.equal(ollamaLocation({}, env({ OLLAMA_MODELS: "/srv/ollama" })).path, "/srv/ollama");
    assert.equal(ollamaLocation({}, env({}, fake.home)).path, fake.ollama);
    assert.equal(ollamaLocation({ ollama: "/o" }, env({ OLLAMA_MODELS: "/srv" })).path, "/o");
  });

  test("LM Studio: LMSTUDIO_HOME, the home pointer, ~/.cache/lm-studio, ~/.lmstudio; settings.json's downloadsFolder; nothing written", () => {
    const home = freshDir("lms-home-");
    assert.equal(lmstudioLocation({}, env({}, home)).path, path.join(home, ".lmstudio", "models"));
    fs.mkdirSync(path.join(home, ".cache", "lm-studio"), { recursive: true });
    assert.equal(lmstudioLocation({}, env({}, home)).path, path.join(home, ".cache", "lm-studio", "models"));
    fs.writeFileSync(path.join(home, ".lmstudio-home-pointer"), path.join(home, "elsewhere"));
    assert.equal(lmstudioLocation({}, env({}, home)).path, path.join(home, "elsewhere", "models"));
    fs.mkdirSync(path.join(home, "elsewhere"));
    fs.writeFileSync(path.join(home, "elsewhere", "settings.json"), JSON.stringify({ downloadsFolder: path.join(home, "big-disk", "models"), other: 1 }));
    const l = lmstudioLocation({}, env({}, home));
    assert.equal(l.path, path.join(home, "big-disk", "models"));
    assert.match(l.how, /downloadsFolder in .*settings\.json/);
    assert.equal(lmstudioLocation({}, env({ LMSTUDIO_HOME: path.join(home, "lh") }, home)).path, path.join(home, "lh", "models"));
    const fresh = freshDir("lms-fresh-");
    lmstudioLocation({}, env({}, fresh));
    assert.deepEqual(fs.readdirSync(fresh), [], "LM Studio's own lookup writes ~/.lmstudio-home-pointer; ours never does");
  });

  test("modelStores in driftlens.yaml (relative to it) points at stores elsewhere", async () => {
    const { ws, root } = workspace("models:\n  t:\n    variants:\n      q4: {ollama: tiny:q4}\nmodelStores:\n  ollama: no-such-folder\n  colour: blue\n");
    const d = await configDiagnostics(ws, root);
    assert.ok(d.some((x) => x.code === "DL102" && /colour/.test(x.message)), "unknown modelStores keys are warned about");
    assert.ok(d.some((x) => x.code === "DL140" && x.message.includes(path.join(root, "no-such-folder")) && x.message.includes("modelStores.ollama in driftlens.yaml")));
    const rel = path.relative(root, fake.ollama);
    fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  t:\n    variants:\n      q4: {ollama: tiny:q4}\nmodelStores: {ollama: ${JSON.stringify(rel)}}\n`);
    const good = new Workspace(root, { storeEnvironment: { env: { OLLAMA_MODELS: "/nonexistent" }, home: "/nonexistent", platform: "linux" } });
    assert.deepEqual(await good.diagnose(path.join(root, "driftlens.yaml")), []);
    assert.equal(good.resolveVariant("t/q4").modelPath, path.join(fake.ollama, "blobs", `sha256-${fake.sha.q4_0}`));
    assert.deepEqual(good.modelStoreRoots(), [fake.ollama]);
  });
});

describe("names", () => {
  test("Ollama names parse as Ollama's ParseName does (defaults, parts, character rules)", () => {
    const ok: [string, string, string][] = [
      ["llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b"],
      ["llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"],
      ["user/model:tag", "registry.ollama.ai/user/model:tag", "user/model:tag"],
      ["example.com/ns/mistral:7b-q4_K_M", "example.com/ns/mistral:7b-q4_K_M", "example.com/ns/mistral:7b-q4_K_M"],
      ["localhost:5000/ns/m:v1", "localhost:5000/ns/m:v1", "localhost:5000/ns/m:v1"],
      ["https://ollama.com/library/qwen2.5:0.5b", "ollama.com/library/qwen2.5:0.5b", "qwen2.5:0.5b"],
      ["_x", "registry.ollama.ai/library/_x:latest", "_x:latest"],
    ];
    for (const [input, full, short] of ok) {
      const n = parseOllamaName(input);
      assert.ok(!("error" in n), `${input}: ${"error" in n ? n.error : ""}`);
      assert.equal(`${n.host}/${n.namespace}/${n.model}:${n.tag}`, full, input);
      assert.equal(shortOllamaName(n), short, input);
    }
    for (const bad of ["", "a/b/c/d", "Bad Name!", "ns.x/model", "model:", "-model", "model@sha256-0000", "/model", "x".repeat(81)]) {
      assert.ok("error" in parseOllamaName(bad), `${JSON.stringify(bad)} is not a name`);
    }
  });

  test("Ollama's own name tests (types/model/name_test.go): the same parts, paths and invalid names", () => {
    const p80 = "8".repeat(80);
    const p350 = "3".repeat(350);
    // TestParseNameParts: input → the manifest path parts after filling defaults (Name.Filepath).
    const parts: [string, string][] = [
      ["registry.ollama.ai/library/dolphin-mistral:7b-v2.6-dpo-laser-q6_K", "registry.ollama.ai/library/dolphin-mistral/7b-v2.6-dpo-laser-q6_K"],
      ["scheme://host:port/namespace/model:tag", "host:port/namespace/model/tag"],
      ["host/namespace/model:tag", "host/namespace/model/tag"],
      ["host:port/namespace/model:tag", "host:port/namespace/model/tag"],
      ["host/namespace/model", "host/namespace/model/latest"],
      ["host:port/namespace/model", "host:port/namespace/model/latest"],
      ["namespace/model", "registry.ollama.ai/namespace/model/latest"],
      ["model", "registry.ollama.ai/library/model/latest"],
      ["h/nn/mm:t", "h/nn/mm/t"],
      [`${p80}/${p80}/${p80}:${p80}`, `${p80}/${p80}/${p80}/${p80}`],
      [`${p350}/${p80}/${p80}:${p80}`, `${p350}/${p80}/${p80}/${p80}`],
      ["_why/_the/_lucky:_stiff", "_why/_the/_lucky/_stiff"],
      ["host:https/namespace/model:tag", "host:https/namespace/model/tag"],
    ];
    for (const [input, want] of parts) {
      const n = parseOllamaName(input);
      assert.ok(!("error" in n), `${input}: ${"error" in n ? n.error : ""}`);
      assert.equal([n.host, n.namespace, n.model, n.tag].join("/"), want, input);
    }
    // testCases marked invalid for reasons other than missing parts (which we fill).
    for (const bad of ["", "^", "mm:", "n/m:", "/nn/mm", "//", "//mm", "hh//", "-hh/nn/mm:tt", "hh/-nn/mm:tt", "hh/nn/-mm:tt", "hh/nn/mm:-tt", "host/name:space/model:tag", `${p80}8/m:t`, "a./m:t"]) {
      assert.ok("error" in parseOllamaName(bad), `${JSON.stringify(bad)} is invalid in Ollama`);
    }
  });

  test("store strings: prefixes, revisions and files", () => {
    assert.deepEqual(parseStoreString("hf:org/name", false), { ref: { kind: "huggingface", repo: "org/name" } });
    assert.deepEqual(parseStoreString("hf:org/name@v1.0", false), { ref: { kind: "huggingface", repo: "org/name", revision: "v1.0" } });
    assert.deepEqual(parseStoreString("hf:org/name@main/sub/x-Q4_K_M.gguf", true), { ref: { kind: "huggingface", repo: "org/name", revision: "main", file: "sub/x-Q4_K_M.gguf" } });
    assert.deepEqual(parseStoreString("lmstudio:pub/model/x.gguf", true), { ref: { kind: "lmstudio", model: "pub/model", file: "x.gguf" } });
    assert.deepEqual(parseStoreString("ollama:llama3.2:1b", true), { ref: { kind: "ollama", name: "llama3.2:1b" } });
    assert.equal(parseStoreString("models/x.gguf", true), undefined);
    assert.equal(parseStoreString("C:/models/x.gguf", true), undefined, "a Windows drive letter is not a store prefix");
    for (const bad of ["hf:", "hf:a--b/c", "hf:../x", "lmstudio:onlyone", "hf:org/name/x.gguf", "hf:org/name@/x.gguf", "lmstudio:p/m/../x.gguf"]) {
      const r = parseStoreString(bad, bad.endsWith(".gguf") && !bad.includes("name/x") ? true : false);
      assert.ok(r && "error" in r, `${bad}: ${JSON.stringify(r)}`);
    }
  });

  test("quant names guessed from file and tag names", () => {
    assert.equal(guessQuant("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"), "q4_k_m");
    assert.equal(guessQuant("model.f16.gguf"), "f16");
    assert.equal(guessQuant("3b-instruct-q8_0"), "q8_0");
    assert.equal(guessQuant("gemma-IQ2_XXS.gguf"), "iq2_xxs");
    assert.equal(guessQuant("latest"), undefined);
  });
});

test("nothing in the stores was written (contents, modes, mtimes, links) and they are read-only", () => {
  assert.deepEqual(snapshotTree(fake.home), before0);
  assert.equal(fs.existsSync(path.join(fake.home, ".lmstudio-home-pointer")), false);
  for (const [rel, e] of Object.entries(before0)) if (e.type !== "link") assert.equal(e.mode & 0o222, 0, `${rel} is read-only`);
});
