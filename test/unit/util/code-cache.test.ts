// The V8 code cache the language server loads its bundles through: same exports as require, a
// cache written by the first process and used by the next, a corrupt cache survived and
// replaced, caches of older builds removed, unsafe or disabled directories not used. Each load
// runs in a fresh process: within one, V8's in-memory compilation cache would answer instead.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { codeCacheDir, loadWithCodeCache } from "../../../server/src/util/code-cache";
import { tempDir } from "../../helpers/paths";

// Child mode: this very test file, run with DRIFTLENS_CC_CHILD, loads one bundle and reports.
if (process.env.DRIFTLENS_CC_CHILD) {
  const [file, dir, deferWrite] = JSON.parse(process.env.DRIFTLENS_CC_CHILD) as [string, string, boolean?];
  try {
    const r = loadWithCodeCache(file, module, dir, { deferWrite: !!deferWrite });
    let before: number | undefined;
    if (deferWrite) {
      // Run a function compiled lazily, then write: the cache may hold it too.
      (r.exports as { later?: () => number }).later?.();
      before = fs.readdirSync(dir).filter((f) => f.endsWith(".v8cache")).length;
      r.writeCache();
    }
    process.stdout.write(JSON.stringify({ cache: r.cache, exports: r.exports, before }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e), cached: require.cache[file] !== undefined }));
  }
  process.exit(0);
}

type Outcome = { cache?: string; exports?: Record<string, unknown>; error?: string; cached?: boolean; before?: number };
function load(file: string, dir: string, deferWrite = false): Outcome {
  const out = execFileSync(process.execPath, [__filename], { env: { ...process.env, DRIFTLENS_CC_CHILD: JSON.stringify([file, dir, deferWrite]) }, encoding: "utf8" });
  return JSON.parse(out) as Outcome;
}

function bundle(dir: string, body = "exports.answer = require('./dep.js').base + 2; exports.dir = __dirname; exports.file = __filename;"): string {
  fs.writeFileSync(path.join(dir, "dep.js"), "exports.base = 40;");
  const file = path.join(dir, "bundle.js");
  fs.writeFileSync(file, `${body}\n${Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + Math.sqrt(x); }`).join("\n")}\nexports.sum = f1(2) + f199(1);\n`);
  return file;
}

const caches = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith(".v8cache"));

test("a bundle loads through the code cache with the exports, __dirname and require of a plain require; the next process uses the cache", () => {
  const src = tempDir("driftlens-cc-src-");
  const cache = tempDir("driftlens-cc-");
  const file = bundle(src);
  const first = load(file, cache);
  assert.equal(first.cache, "written");
  assert.deepEqual(first.exports, { answer: 42, dir: src, file, sum: 2 + Math.sqrt(2) + 199 + 1 });
  const [written] = caches(cache);
  assert.ok(written?.startsWith("bundle-"), "a cache file named for the bundle");
  const mtime = fs.statSync(path.join(cache, written!)).mtimeMs;
  const second = load(file, cache);
  assert.equal(second.cache, "used");
  assert.deepEqual(second.exports, first.exports);
  assert.equal(fs.statSync(path.join(cache, written!)).mtimeMs, mtime, "an accepted cache is not rewritten");
});

test("a corrupt cache is survived and replaced; a rebuilt bundle runs its new code and replaces the older build's cache", () => {
  const src = tempDir("driftlens-cc-src-");
  const cache = tempDir("driftlens-cc-");
  const file = bundle(src);
  load(file, cache);
  const [name] = caches(cache);
  fs.writeFileSync(path.join(cache, name!), Buffer.from("not a V8 code cache at all"));
  const corrupt = load(file, cache);
  assert.equal(corrupt.cache, "replaced");
  assert.equal(corrupt.exports?.answer, 42);
  assert.equal(load(file, cache).cache, "used", "the replacement is good");
  bundle(src, "exports.answer = 7;");
  const rebuilt = load(file, cache);
  assert.equal(rebuilt.exports?.answer, 7, "the new source runs, not the cached one");
  const now = caches(cache);
  assert.equal(now.length, 1, `one cache per bundle: ${now.join(", ")}`);
  assert.notEqual(now[0], name);
});

test("a bundle that throws propagates its error and is not left half-loaded", () => {
  const file = bundle(tempDir("driftlens-cc-src-"), "throw new Error('boom at load');");
  const r = load(file, tempDir("driftlens-cc-"));
  assert.match(r.error ?? "", /boom at load/);
  assert.equal(r.cached, false);
});

test("the cache directory: the given one, none when disabled, none when others may write it", () => {
  const dir = path.join(tempDir("driftlens-cc-dir-"), "nested", "cache");
  assert.equal(codeCacheDir({ DRIFTLENS_CODE_CACHE_DIR: dir }), dir);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700, "created private");
  assert.equal(codeCacheDir({ DRIFTLENS_CODE_CACHE_DIR: dir, DRIFTLENS_CODE_CACHE: "off" }), undefined);
  fs.chmodSync(dir, 0o777);
  assert.equal(codeCacheDir({ DRIFTLENS_CODE_CACHE_DIR: dir }), undefined, "a world-writable directory is not trusted");
  const file = path.join(tempDir("driftlens-cc-dir-"), "a-file");
  fs.writeFileSync(file, "");
  assert.equal(codeCacheDir({ DRIFTLENS_CODE_CACHE_DIR: file }), undefined);
  const off = loadWithCodeCache(bundle(tempDir("driftlens-cc-src-")), module, undefined);
  assert.equal(off.cache, "off");
  assert.equal((off.exports as { answer: number }).answer, 42, "no cache: a plain require");
});

test("a deferred write leaves the cache to writeCache(), called after the caller ran its code", () => {
  const src = tempDir("driftlens-cc-src-");
  const cache = tempDir("driftlens-cc-");
  const file = bundle(src, "exports.answer = 42; exports.later = function () { return [1, 2, 3].map((x) => x * 2).length; };");
  const first = load(file, cache, true);
  assert.equal(first.cache, "written");
  assert.equal(first.before, 0, "nothing written before writeCache()");
  assert.equal(caches(cache).length, 1, "written by writeCache()");
  const second = load(file, cache, true);
  assert.equal(second.cache, "used");
  assert.equal(second.before, 1);
  assert.equal(caches(cache).length, 1, "a used cache is not written again");
});
