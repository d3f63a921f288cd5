// Choosing the Node that runs the language server: the first candidate whose ABI matches the one
// better-sqlite3 was compiled for wins; with none, a message that names the ABI needed, what was
// found, and the fix. Candidates are real executables (small scripts standing in for `node`).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { chooseRuntime, chooseRuntimeCached, findOnPath, nativeAbi, serverEnvironment } from "../../../extension/src/server-runtime";
import { REPO_ROOT, tempDir } from "../../helpers/paths";

function fakeNode(dir: string, abi: string, version: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, "node");
  fs.writeFileSync(p, `#!/bin/sh\necho "${abi} ${version}"\n`, { mode: 0o755 });
  return p;
}

function extensionRoot(abi: string): string {
  const root = tempDir("driftlens-ext-");
  const gyp = path.join(root, "node_modules/better-sqlite3/build");
  fs.mkdirSync(gyp, { recursive: true });
  fs.writeFileSync(path.join(gyp, "config.gypi"), `{ "variables": { "node_module_version": ${abi}, "other": 1 } }\n`);
  return root;
}

test("the ABI of the installed better-sqlite3 is read from its build config", () => {
  assert.equal(nativeAbi(REPO_ROOT), process.versions.modules, "this checkout's better-sqlite3 was built by the Node running the tests");
  assert.equal(nativeAbi(tempDir()), null);
});

test("the node on PATH is taken when its ABI matches", async () => {
  const bin = path.join(tempDir(), "bin");
  const node = fakeNode(bin, "115", "v20.20.2");
  assert.equal(findOnPath("node", bin), node);
  const c = await chooseRuntime({ extensionRoot: extensionRoot("115"), configured: "", envPath: bin });
  assert.equal(c.problem, undefined);
  assert.equal(c.runtime?.path, node);
  assert.equal(c.runtime?.abi, "115");
  assert.equal(c.expectedAbi, "115");
});

test("a configured node wins over PATH; a mismatching one is skipped for the next candidate", async () => {
  const t = tempDir();
  const good = fakeNode(path.join(t, "good"), "115", "v20.1.0");
  const wrong = fakeNode(path.join(t, "wrong"), "137", "v24.0.0");
  const root = extensionRoot("115");
  assert.equal((await chooseRuntime({ extensionRoot: root, configured: good, envPath: path.join(t, "wrong") })).runtime?.path, good);
  const c = await chooseRuntime({ extensionRoot: root, configured: wrong, envPath: path.join(t, "good") });
  assert.equal(c.runtime?.path, good);
  assert.equal(c.tried[0]?.abi, "137");
});

test("the extension host's own runtime is the fallback when it matches", async () => {
  const t = tempDir();
  const wrong = fakeNode(path.join(t, "wrong"), "999", "v99.0.0");
  const c = await chooseRuntime({ extensionRoot: extensionRoot(process.versions.modules), configured: wrong, envPath: "" });
  assert.equal(c.problem, undefined);
  assert.equal(c.runtime?.isHost, true);
});

test("no matching runtime: a message with the ABI needed, what was found, and the fix", async () => {
  const t = tempDir();
  const wrong = fakeNode(path.join(t, "bin"), "137", "v24.3.0");
  const c = await chooseRuntime({ extensionRoot: extensionRoot("131"), configured: "", envPath: path.join(t, "bin") });
  assert.ok(c.problem);
  assert.match(c.problem, /ABI 131 \(Node 23\.x\)/);
  assert.ok(c.problem.includes(`${wrong} is v24.3.0 (ABI 137)`), c.problem);
  assert.match(c.problem, /driftlens\.server\.nodePath/);
  assert.match(c.problem, /npm rebuild better-sqlite3/);
});

test("probe results are cached by path, size and mtime", async () => {
  const t = tempDir();
  const node = fakeNode(path.join(t, "bin"), "115", "v20.0.0");
  const cache = new Map<string, never>();
  const store = { get: (k: string) => cache.get(k), set: (k: string, v: never) => void cache.set(k, v) };
  await chooseRuntime({ extensionRoot: extensionRoot("115"), configured: node, cache: store, envPath: "" });
  assert.equal(cache.size, 1);
  // A cached answer is used even though the script would now say something else.
  fs.writeFileSync(node, `#!/bin/sh\necho "999 v99.0.0"\n`);
  const st = fs.statSync(node);
  const key = [...cache.keys()][0]!;
  cache.set(`${node}:${st.size}:${st.mtimeMs}`, cache.get(key)!);
  const c = await chooseRuntime({ extensionRoot: extensionRoot("115"), configured: node, cache: store, envPath: "" });
  assert.equal(c.runtime?.abi, "115");
});

test("the server's environment: NODE_EXTRA_CA_CERTS dropped unless extraEnv sets it, trust, code cache, Electron as Node", () => {
  const base = { PATH: "/usr/bin", NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt", HOME: "/home/u" };
  const env = serverEnvironment(base, { FOO: "1" }, { trusted: true, hostRuntime: false, codeCacheDir: "/storage/code-cache" });
  assert.deepEqual(env, { PATH: "/usr/bin", HOME: "/home/u", FOO: "1", DRIFTLENS_TRUSTED: "1", DRIFTLENS_CODE_CACHE_DIR: "/storage/code-cache" });
  assert.equal(base.NODE_EXTRA_CA_CERTS, "/etc/ssl/certs/ca-certificates.crt", "the host's environment is not touched");
  const mine = serverEnvironment(base, { NODE_EXTRA_CA_CERTS: "/my/ca.pem" }, { trusted: false, hostRuntime: true });
  assert.equal(mine.NODE_EXTRA_CA_CERTS, "/my/ca.pem", "a value the user set for the server is kept");
  assert.equal(mine.DRIFTLENS_TRUSTED, "0");
  assert.equal(mine.ELECTRON_RUN_AS_NODE, "1");
});

test("from the probe cache alone: no choice until every candidate it needs was probed, then the same choice", async () => {
  const t = tempDir();
  const wrong = fakeNode(path.join(t, "wrong"), "137", "v24.0.0");
  const good = fakeNode(path.join(t, "good"), "115", "v20.1.0");
  const cache = new Map<string, never>();
  const store = { get: (k: string) => cache.get(k), set: (k: string, v: never) => void cache.set(k, v) };
  const opts = { extensionRoot: extensionRoot("115"), configured: wrong, cache: store, envPath: path.join(t, "good") };
  assert.equal(chooseRuntimeCached(opts), undefined, "nothing probed yet");
  const probed = await chooseRuntime(opts);
  assert.equal(probed.runtime?.path, good);
  assert.equal(cache.size, 2, "both candidates probed, in order");
  const cached = chooseRuntimeCached(opts);
  assert.deepEqual(cached, probed);
  // A candidate that changed on disk is unknown again.
  fs.writeFileSync(wrong, `#!/bin/sh\necho "137 v24.0.1"\n`);
  fs.utimesSync(wrong, new Date(), new Date(Date.now() + 5000));
  assert.equal(chooseRuntimeCached(opts), undefined);
});
