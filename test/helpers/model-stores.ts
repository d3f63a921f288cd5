// Fake model stores laid out exactly as their tools write them, holding the real quickstart GGUF
// models (tiny, but llama.cpp runs them), under a fake home folder:
//   ~/.cache/huggingface/hub   huggingface_hub's cache (docs: huggingface.co/docs/hub/local-cache):
//     models--driftlens--tiny-GGUF/refs/main            the commit, no newline (as huggingface_hub writes it)
//     models--driftlens--tiny-GGUF/blobs/<sha256>        LFS files named by sha256, README by git sha1
//     models--driftlens--tiny-GGUF/snapshots/<commit>/x  relative symlinks ../../blobs/<etag>
//     models--driftlens--tiny-GGUF/.no_exist/<commit>/tiny-f16.gguf   the Hub said "no such file"
//     models--driftlens--broken-GGUF/…                   a snapshot symlink whose blob is gone
//     .locks/models--driftlens--tiny-GGUF/<sha256>.lock
//   ~/.lmstudio/models/<publisher>/<model>/*.gguf       LM Studio's default models folder (plain files)
//   ~/.ollama/models                                     Ollama's store (server/manifest, manifest/paths.go):
//     manifests/registry.ollama.ai/library/<model>/<tag> JSON manifests as Ollama's json.Encoder writes them
//     manifests-v2/ollama.com/library/<model>/<tag>      a symlink to the manifest's blob (newer releases)
//     blobs/sha256-<hex>                                 model, config, template, license, params blobs
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeQuickstartModels, type QuickstartPaths } from "../../server/src/modelgen";

export type Quant = "f32" | "f16" | "q8_0" | "q4_0";

export interface FakeStores {
  home: string;
  hub: string;
  lmstudio: string;
  ollama: string;
  models: QuickstartPaths;
  sha: Record<Quant, string>;
  /** refs/main of the tiny repo, and an older snapshot that only has q4_0. */
  commit: string;
  oldCommit: string;
  brokenCommit: string;
  /** The blob a broken manifest / symlink names (absent). */
  missingSha: string;
  /** The blob of the manifests-v2 manifest (a manifest blob, as newer Ollama stores them). */
  v2ManifestSha: string;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const gitBlobSha1 = (b: Buffer) => createHash("sha1").update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b])).digest("hex");

function write(p: string, data: Buffer | string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
}

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(target, at);
}

/** An Ollama blob (content-addressed); returns its digest. */
function ollamaBlob(root: string, data: Buffer | string): { digest: string; size: number } {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const hex = sha256(buf);
  const p = path.join(root, "blobs", `sha256-${hex}`);
  if (!fs.existsSync(p)) write(p, buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

/** An Ollama manifest for a GGUF blob, with the layers `ollama pull` gives a library model. */
function ollamaManifest(root: string, model: { digest: string; size: number }, fileType: string): string {
  const config = ollamaBlob(root, JSON.stringify({ model_format: "gguf", model_family: "llama", model_families: ["llama"], model_type: "1M", file_type: fileType, architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [model.digest] } }));
  const template = ollamaBlob(root, "{{ .Prompt }}");
  const license = ollamaBlob(root, "MIT License (test fixture)\n");
  const params = ollamaBlob(root, JSON.stringify({ stop: ["</s>"] }));
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
    layers: [
      { mediaType: "application/vnd.ollama.image.model", ...model },
      { mediaType: "application/vnd.ollama.image.template", ...template },
      { mediaType: "application/vnd.ollama.image.license", ...license },
      { mediaType: "application/vnd.ollama.image.params", ...params },
    ],
  };
  // Go's json.Encoder: compact, with a trailing newline; key order as the struct declares it.
  return JSON.stringify(manifest) + "\n";
}

export function buildFakeStores(dir: string): FakeStores {
  const home = path.join(dir, "home");
  const models = writeQuickstartModels(path.join(dir, "quickstart-models"));
  const bytes = (q: Quant) => fs.readFileSync(models[q]);
  const sha = { f32: sha256(bytes("f32")), f16: sha256(bytes("f16")), q8_0: sha256(bytes("q8_0")), q4_0: sha256(bytes("q4_0")) };
  const missingSha = sha256("a blob that was never downloaded");

  // ---- Hugging Face hub cache ----
  const hub = path.join(home, ".cache", "huggingface", "hub");
  const repo = path.join(hub, "models--driftlens--tiny-GGUF");
  const commit = "4f2a9c0d1e3b5a7c9e1f3a5b7c9d1e3f5a7b9c1d";
  const oldCommit = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
  const readme = Buffer.from("---\nlicense: mit\n---\n# tiny-GGUF\n");
  write(path.join(repo, "blobs", sha.q8_0), bytes("q8_0"));
  write(path.join(repo, "blobs", sha.q4_0), bytes("q4_0"));
  write(path.join(repo, "blobs", gitBlobSha1(readme)), readme);
  write(path.join(repo, "refs", "main"), commit);
  link(`../../blobs/${sha.q8_0}`, path.join(repo, "snapshots", commit, "tiny-q8_0.gguf"));
  link(`../../blobs/${sha.q4_0}`, path.join(repo, "snapshots", commit, "tiny-q4_0.gguf"));
  link(`../../blobs/${gitBlobSha1(readme)}`, path.join(repo, "snapshots", commit, "README.md"));
  link(`../../blobs/${sha.q4_0}`, path.join(repo, "snapshots", oldCommit, "tiny-q4_0.gguf"));
  write(path.join(repo, ".no_exist", commit, "tiny-f16.gguf"), "");
  write(path.join(hub, ".locks", "models--driftlens--tiny-GGUF", `${sha.q4_0}.lock`), "");
  const broken = path.join(hub, "models--driftlens--broken-GGUF");
  const brokenCommit = "fedcba9876543210fedcba9876543210fedcba98";
  write(path.join(broken, "refs", "main"), brokenCommit);
  fs.mkdirSync(path.join(broken, "blobs"), { recursive: true });
  link(`../../blobs/${missingSha}`, path.join(broken, "snapshots", brokenCommit, "broken-Q4_K_M.gguf"));

  // ---- LM Studio (default home ~/.lmstudio, models folder <home>/models) ----
  const lmstudio = path.join(home, ".lmstudio", "models");
  write(path.join(lmstudio, "driftlens", "tiny-GGUF", "tiny-f16.gguf"), bytes("f16"));
  write(path.join(lmstudio, "driftlens", "tiny-GGUF", "tiny-q4_0.gguf"), bytes("q4_0")); // same bytes as the hub's q4_0
  write(path.join(lmstudio, "driftlens", "tiny-GGUF", "mmproj-tiny-f16.gguf"), bytes("f16")); // a projector beside the model
  link(path.join(dir, "nowhere", "gone-Q8_0.gguf"), path.join(lmstudio, "someone", "gone-GGUF", "gone-Q8_0.gguf"));

  // ---- Ollama ----
  const ollama = path.join(home, ".ollama", "models");
  const lib = path.join(ollama, "manifests", "registry.ollama.ai", "library");
  const q4 = ollamaBlob(ollama, bytes("q4_0")); // same bytes as the hub's and LM Studio's q4_0
  const f32 = ollamaBlob(ollama, bytes("f32"));
  const q4Manifest = ollamaManifest(ollama, q4, "Q4_0");
  write(path.join(lib, "tiny", "q4"), q4Manifest);
  write(path.join(lib, "tiny", "latest"), q4Manifest);
  write(path.join(lib, "tiny", "f32"), ollamaManifest(ollama, f32, "F32"));
  write(path.join(ollama, "manifests", "registry.ollama.ai", "someone", "custom", "latest"), ollamaManifest(ollama, f32, "F32"));
  write(path.join(lib, "broken", "missing-blob"), ollamaManifest(ollama, { digest: `sha256:${missingSha}`, size: 1234 }, "Q4_0"));
  write(path.join(lib, "broken", "not-json"), "{\"schemaVersion\": 2, \"layers\": [");
  // Newer releases: manifests-v2/ollama.com/… is a relative symlink to the manifest's own blob.
  const q8 = ollamaBlob(ollama, bytes("q8_0"));
  const v2 = ollamaBlob(ollama, ollamaManifest(ollama, q8, "Q8_0"));
  const v2ManifestSha = v2.digest.slice("sha256:".length);
  link(path.join("..", "..", "..", "..", "blobs", `sha256-${v2ManifestSha}`), path.join(ollama, "manifests-v2", "ollama.com", "library", "tinyv2", "q8_0"));

  return { home, hub, lmstudio, ollama, models, sha, commit, oldCommit, brokenCommit, missingSha, v2ManifestSha };
}

export interface Entry {
  type: "file" | "dir" | "link" | "other";
  mode: number;
  size: number;
  mtimeMs: number;
  target?: string;
  sha256?: string;
}

/** Everything about a tree that a write would change: entries, modes, sizes, mtimes, link targets, contents. */
export function snapshotTree(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      const base = { mode: st.mode, size: st.size, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) out[rel] = { type: "link", ...base, target: fs.readlinkSync(p) };
      else if (st.isDirectory()) {
        out[rel] = { type: "dir", ...base };
        walk(p);
      } else if (st.isFile()) out[rel] = { type: "file", ...base, sha256: sha256(fs.readFileSync(p)) };
      else out[rel] = { type: "other", ...base };
    }
  };
  walk(root);
  return out;
}

/** Makes a tree read-only (files and folders), and restores write access at exit so it can be removed. */
export function makeReadOnly(root: string): void {
  const dirs: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) fs.chmodSync(p, 0o444);
    }
    dirs.push(d);
  };
  walk(root);
  for (const d of dirs) fs.chmodSync(d, 0o555);
  // Before the temp folder's own exit handler removes it (a read-only folder cannot be emptied).
  process.prependListener("exit", () => {
    for (const d of dirs.reverse()) {
      try {
        fs.chmodSync(d, 0o755);
      } catch {
        // already gone
      }
    }
  });
}
