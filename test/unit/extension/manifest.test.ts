// package.json's `contributes` and the extension's code must agree: every command in the
// extension's table is declared (and the other way round), every contributed file exists and
// parses, every language activates the extension, and restricted workspaces are declared.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../helpers/paths";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const c = pkg.contributes;

test("the command table and package.json declare the same commands", () => {
  const src = fs.readFileSync(path.join(REPO_ROOT, "extension/src/commands.ts"), "utf8");
  const table = src.slice(src.indexOf("export function createCommands"));
  const inCode = [...table.matchAll(/^\s{4}"(driftlens\.[A-Za-z]+)":/gm)].map((m) => m[1]).sort();
  const declared = (c.commands as { command: string }[]).map((x) => x.command).sort();
  assert.ok(inCode.length >= 6, `found only ${inCode.join(", ")}`);
  assert.deepEqual(inCode, declared);
  for (const id of ["driftlens.runEvals", "driftlens.compareModels", "driftlens.showDeltas", "driftlens.cancelRun", "driftlens.showRunHistory", "driftlens.restartServer"]) {
    assert.ok(declared.includes(id), `${id} missing`);
  }
});

test("menus only name declared commands", () => {
  const declared = new Set((c.commands as { command: string }[]).map((x) => x.command));
  for (const [where, items] of Object.entries(c.menus as Record<string, { command: string }[]>)) {
    for (const i of items) assert.ok(declared.has(i.command), `${where}: ${i.command} is not declared`);
  }
});

test("every contributed grammar and language configuration exists and is valid JSON", () => {
  const files = [...(c.grammars as { path: string }[]).map((g) => g.path), ...(c.languages as { configuration?: string }[]).flatMap((l) => (l.configuration ? [l.configuration] : []))];
  for (const f of files) {
    const abs = path.join(REPO_ROOT, f);
    assert.ok(fs.existsSync(abs), `${f} is missing`);
    assert.doesNotThrow(() => JSON.parse(fs.readFileSync(abs, "utf8")), `${f} is not JSON`);
  }
  const scopes = new Set((c.grammars as { scopeName: string }[]).map((g) => g.scopeName));
  for (const g of c.grammars as { path: string; scopeName: string }[]) {
    assert.equal(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, g.path), "utf8")).scopeName, g.scopeName);
  }
  assert.ok(scopes.has("source.driftlens.prompt"));
});

test("the Dotprompt grammar's regular expressions compile and match front matter and Handlebars", () => {
  const g = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "syntaxes/prompt.tmLanguage.json"), "utf8"));
  const regexes: [string, string][] = [];
  const walk = (node: unknown, where: string) => {
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if ((k === "match" || k === "begin" || k === "end") && typeof v === "string") regexes.push([`${where}.${k}`, v]);
      else walk(v, `${where}.${k}`);
    }
  };
  walk(g, "grammar");
  // Oniguruma's \A and \G have no JavaScript equivalent; the rest of the syntax used is shared.
  const compile = (re: string) => new RegExp(re.replace(/\\A/g, "^").replace(/\\G/g, ""), "m");
  for (const [where, re] of regexes) assert.doesNotThrow(() => compile(re), where);
  const r = g.repository;
  assert.ok(compile(r.frontmatter.begin).test("---\n"));
  assert.ok(compile(r["block-open"].begin).test("{{#if country}}"));
  assert.ok(compile(r["block-close"].match).test("{{/if}}"));
  assert.ok(compile(r.partial.begin).test("{{> header}}"));
  assert.ok(compile(r["comment-block"].begin).test("{{!-- note --}}"));
  const expr = compile(r.expression.begin).exec('{{role "user"}}');
  assert.equal(expr?.[2], "role");
});

test("each language activates the extension; a driftlens.yaml does too", () => {
  const events = new Set(pkg.activationEvents as string[]);
  for (const l of c.languages as { id: string }[]) assert.ok(events.has(`onLanguage:${l.id}`), `onLanguage:${l.id} missing`);
  assert.ok(events.has("workspaceContains:**/driftlens.yaml"));
  const exts = (c.languages as { extensions?: string[]; filenamePatterns?: string[]; filenames?: string[] }[]).flatMap((l) => [...(l.extensions ?? []), ...(l.filenamePatterns ?? []), ...(l.filenames ?? [])]);
  for (const want of [".prompt", "*.eval.yaml", "*.eval.jsonl", "*.adapter.yaml", "driftlens.yaml"]) assert.ok(exts.includes(want), `${want} has no language`);
});

test("restricted workspaces are supported in a limited way, with the risky settings restricted", () => {
  const u = pkg.capabilities.untrustedWorkspaces;
  assert.equal(u.supported, "limited");
  assert.match(u.description, /generates nothing/);
  for (const k of ["driftlens.server.nodePath", "driftlens.server.extraEnv", "driftlens.store.path"]) assert.ok(u.restrictedConfigurations.includes(k), k);
});

test("the webview shell allows nothing by default and scripts only by nonce", () => {
  const src = fs.readFileSync(path.join(REPO_ROOT, "extension/src/webview-html.ts"), "utf8");
  assert.match(src, /"default-src 'none'"/);
  assert.match(src, /script-src 'nonce-\$\{n\}'/);
  assert.match(src, /crypto\.randomBytes/);
  assert.doesNotMatch(src, /unsafe-inline|unsafe-eval|https?:\/\/(?!raw)/);
  for (const f of ["webviews/src/compare/main.ts", "webviews/src/delta/main.ts", "webviews/src/shared/dom.ts"]) {
    assert.doesNotMatch(fs.readFileSync(path.join(REPO_ROOT, f), "utf8"), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${f} writes HTML`);
  }
});
