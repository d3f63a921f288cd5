// Choosing the Node that runs the language server: the editor's own runtime by default (no probe,
// no `node` on PATH needed); "driftlens.server.nodePath" when it can run the server (Node 20+ with a
// better-sqlite3 binary for its ABI, or node:sqlite); otherwise the editor's runtime with a
// message that says why and what to do. Candidates are real executables (small scripts standing
// in for `node`), and extension folders real layouts of dist/native/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { chooseRuntime, chooseRuntimeCached, findOnPath, hasNodeSqlite, nativeAbis, serverEnvironment, type NodeRuntime } from "../../../extension/src/server-runtime";
import { REPO_ROOT, tempDir } from "../../helpers/paths";

function fakeNode(dir: string, abi: string, version: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, "node");
  fs.writeFileSync(p, `#!/bin/sh\necho "${abi} ${version}"\n`, { mode: 0o755 });
  return p;
}

/** An extension folder with better-sqlite3 binaries for these ABIs in dist/native/, and optionally npm's build for another. */
function extensionRoot(abis: string[], npmAbi?: string): string {
  const root = tempDir("driftlens-ext-");
  for (const abi of abis) {
    const d = path.join(root, "dist", "native", `${process.platform}-${process.arch}`, `node-${abi}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "better_sqlite3.node"), "");
  }
  if (npmAbi) {
    const gyp = path.join(root, "node_modules/better-sqlite3/build");
    fs.mkdirSync(path.join(gyp, "Release"), { recursive: true });
    fs.writeFileSync(path.join(gyp, "config.gypi"), `{ "variables": { "node_module_version": ${npmAbi}, "other": 1 } }\n`);
    fs.writeFileSync(path.join(gyp, "Release", "better_sqlite3.node"), "");
  }
  return root;
}

const electron = (version: string, abi: string): NodeRuntime => ({ path: "/opt/editor/code", version, abi, isHost: true });

test("the binaries the extension carries: one per ABI in dist/native/, plus npm's build in a checkout", () => {
  assert.deepEqual(nativeAbis(extensionRoot(["137", "115", "127"])), ["115", "127", "137"]);
  assert.deepEqual(nativeAbis(extensionRoot(["137"], "115")), ["115", "137"]);
  assert.deepEqual(nativeAbis(tempDir()), []);
  // This checkout: npm's build for the Node running the tests.
  assert.ok(nativeAbis(REPO_ROOT).includes(process.versions.modules));
});

test("node:sqlite exists from Node 22.13, 23.4 and 24 on", () => {
  for (const v of ["v22.13.0", "v22.23.5", "v23.4.0", "v24.0.0", "v26.1.0"]) assert.equal(hasNodeSqlite(v), true, v);
  for (const v of ["v20.20.2", "v22.12.0", "v23.3.0", "v18.0.0"]) assert.equal(hasNodeSqlite(v), false, v);
});

test("by default the editor's own runtime runs the server, with no probe and no node on PATH", () => {
  const root = extensionRoot(["115", "127", "137"]);
  const cache = new Map<string, never>();
  const store = { get: (k: string) => cache.get(k), set: (k: string, v: never) => void cache.set(k, v) };
  const c = chooseRuntimeCached({ extensionRoot: root, configured: "", cache: store, host: electron("v24.22.3", "137") });
  assert.ok(c, "no probe is needed for the editor's runtime");
  assert.equal(c.runtime.isHost, true);
  assert.equal(c.runtime.path, "/opt/editor/code");
  assert.equal(c.sqlite, "better-sqlite3");
  assert.equal(c.problem, undefined);
  assert.equal(cache.size, 0);
  // The real extension host (this test's Node).
  const real = chooseRuntimeCached({ extensionRoot: root, configured: "" })!;
  assert.equal(real.runtime.path, process.execPath);
});

test("an editor runtime with no binary for its ABI (Electron) runs the server on node:sqlite", () => {
  const c = chooseRuntimeCached({ extensionRoot: extensionRoot(["115", "127", "137"]), configured: "", host: electron("v22.19.0", "136") })!;
  assert.equal(c.runtime.isHost, true);
  assert.equal(c.sqlite, "node:sqlite");
  assert.equal(c.problem, undefined);
});

test("an editor runtime with neither: still started (diagnostics need no store), with a message that says what to do", () => {
  const c = chooseRuntimeCached({ extensionRoot: extensionRoot(["115"]), configured: "", host: electron("v20.18.0", "125") })!;
  assert.equal(c.runtime.isHost, true);
  assert.equal(c.sqlite, null);
  assert.match(c.problem!, /editor's own runtime \(Node v20\.18\.0, ABI 125\), for which Driftlens has no SQLite driver/);
  assert.match(c.problem!, /diagnostics work, runs and history do not\. Set "driftlens\.server\.nodePath" to Node 20, 22 or 24/);
});

test("a configured node that can run the server wins; its probe is cached by path, size and mtime", async () => {
  const t = tempDir();
  const node22 = fakeNode(path.join(t, "n22"), "127", "v22.23.5");
  const root = extensionRoot(["115", "127", "137"]);
  const cache = new Map<string, never>();
  const store = { get: (k: string) => cache.get(k), set: (k: string, v: never) => void cache.set(k, v) };
  const opts = { extensionRoot: root, configured: node22, cache: store, host: electron("v24.22.3", "137") };
  assert.equal(chooseRuntimeCached(opts), undefined, "not probed yet");
  const c = await chooseRuntime(opts);
  assert.equal(c.runtime.path, node22);
  assert.equal(c.runtime.isHost, false);
  assert.equal(c.sqlite, "better-sqlite3");
  assert.equal(c.problem, undefined);
  assert.equal(cache.size, 1);
  assert.deepEqual(chooseRuntimeCached(opts), c, "the cached probe gives the same choice");
  // A candidate that changed on disk is unknown again.
  fs.writeFileSync(node22, `#!/bin/sh\necho "127 v22.23.6"\n`);
  fs.utimesSync(node22, new Date(), new Date(Date.now() + 5000));
  assert.equal(chooseRuntimeCached(opts), undefined);
});

test("a configured Node 26 with no binary for its ABI runs on node:sqlite", async () => {
  const node26 = fakeNode(path.join(tempDir(), "bin"), "147", "v26.1.0");
  const c = await chooseRuntime({ extensionRoot: extensionRoot(["115", "137"]), configured: node26, host: electron("v24.22.3", "137") });
  assert.equal(c.runtime.path, node26);
  assert.equal(c.sqlite, "node:sqlite");
});

test("an unusable configured node: the editor's runtime instead, and a message naming what was found, why, and the fix", async () => {
  const t = tempDir();
  const root = extensionRoot(["115", "137"]);
  const host = electron("v24.22.3", "137");
  const node21 = fakeNode(path.join(t, "n21"), "120", "v21.7.3");
  const a = await chooseRuntime({ extensionRoot: root, configured: node21, host });
  assert.equal(a.runtime, host);
  assert.equal(a.sqlite, "better-sqlite3");
  assert.deepEqual(a.tried.map((r) => r.version), ["v21.7.3", "v24.22.3"]);
  assert.ok(a.problem!.includes(`"driftlens.server.nodePath" is ${node21} (Node v21.7.3, ABI 120), which cannot run the language server`), a.problem);
  assert.match(a.problem!, /no better-sqlite3 binary for ABI 120 \(it has 115 = Node 20, 137 = Node 24\) and that Node has no built-in node:sqlite/);
  assert.match(a.problem!, /Using the editor's own runtime \(Node v24\.22\.3, ABI 137\) instead; clear the setting, or point it at Node 20, 22 or 24\./);
  const node18 = fakeNode(path.join(t, "n18"), "108", "v18.20.0");
  assert.match((await chooseRuntime({ extensionRoot: root, configured: node18, host })).problem!, /Driftlens needs Node 20 or newer/);
  const missing = path.join(t, "nope", "node");
  const m = await chooseRuntime({ extensionRoot: root, configured: missing, host });
  assert.equal(m.runtime, host);
  assert.ok(m.problem!.includes(`"driftlens.server.nodePath" is ${missing}, which cannot run the language server: it does not run as Node.js (check the path)`), m.problem);
});

test("findOnPath finds executables only", () => {
  const bin = path.join(tempDir(), "bin");
  const node = fakeNode(bin, "115", "v20.20.2");
  assert.equal(findOnPath("node", bin), node);
  assert.equal(findOnPath("node", path.join(tempDir(), "empty")), null);
});

test("the server's environment: NODE_EXTRA_CA_CERTS dropped on Node 20 unless extraEnv sets it, kept on 22+, trust, code cache, Electron as Node", () => {
  const base = { PATH: "/usr/bin", NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt", HOME: "/home/u" };
  const env = serverEnvironment(base, { FOO: "1" }, { trusted: true, hostRuntime: false, codeCacheDir: "/storage/code-cache" });
  assert.deepEqual(env, { PATH: "/usr/bin", HOME: "/home/u", FOO: "1", DRIFTLENS_TRUSTED: "1", DRIFTLENS_CODE_CACHE_DIR: "/storage/code-cache" });
  assert.equal(base.NODE_EXTRA_CA_CERTS, "/etc/ssl/certs/ca-certificates.crt", "the host's environment is not touched");
  const mine = serverEnvironment(base, { NODE_EXTRA_CA_CERTS: "/my/ca.pem" }, { trusted: false, hostRuntime: true });
  assert.equal(mine.NODE_EXTRA_CA_CERTS, "/my/ca.pem", "a value the user set for the server is kept");
  assert.equal(mine.DRIFTLENS_TRUSTED, "0");
  assert.equal(mine.ELECTRON_RUN_AS_NODE, "1");
  // Node 22 and later read the bundle only for a TLS connection (a served variant over HTTPS behind
  // a private CA needs it); Node 20 parses it at every start.
  assert.equal(serverEnvironment(base, {}, { trusted: true, hostRuntime: true, runtimeVersion: "v24.22.3" }).NODE_EXTRA_CA_CERTS, "/etc/ssl/certs/ca-certificates.crt");
  assert.equal(serverEnvironment(base, {}, { trusted: true, hostRuntime: true, runtimeVersion: "v22.23.5" }).NODE_EXTRA_CA_CERTS, "/etc/ssl/certs/ca-certificates.crt");
  assert.equal(serverEnvironment(base, {}, { trusted: true, hostRuntime: false, runtimeVersion: "v20.20.2" }).NODE_EXTRA_CA_CERTS, undefined);
});
