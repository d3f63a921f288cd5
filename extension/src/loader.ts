// The extension's entry (dist/extension.js, a few KB): loads the extension itself
// (dist/extension-main.js, 1.8 MB with the language client and zod) through V8's code cache
// (server/src/util/code-cache.ts), the way the language server loads its bundles. Activation
// runs a good part of vscode-languageclient for the first time, and V8 compiles each function on
// its first call; the cache is written after the first activation so it holds those functions
// too, and later windows skip compiling them. The cache lives in a private per-user folder under
// the system temp folder (global storage is not known before activate).
import path from "node:path";
import type * as vscode from "vscode";
import { codeCacheDir, loadWithCodeCache } from "../../server/src/util/code-cache";

type Main = typeof import("./extension");

const loaded = loadWithCodeCache(path.join(__dirname, "extension-main.js"), module, codeCacheDir(), { deferWrite: true });
const main = loaded.exports as Main;

export async function activate(context: vscode.ExtensionContext): ReturnType<Main["activate"]> {
  try {
    return await main.activate(context);
  } finally {
    // Off the activation path: a few ms of serialisation once, when there was no usable cache.
    setTimeout(() => loaded.writeCache(), 100).unref();
  }
}

export function deactivate(): ReturnType<Main["deactivate"]> {
  return main.deactivate();
}
