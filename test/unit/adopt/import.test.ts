// `driftlens import` on every adopted fixture: the written Dotprompt files and eval sets check
// clean, keep the case ids, and render every case to the messages the source tool renders (the
// import verifies that itself; here the written files are rendered again independently). Templates
// with only variables translate to variables; nunjucks filters and blocks become computed
// variables; what is not carried is listed in the files' headers.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { importAdopted } from "../../../server/src/artifacts/adopt/import";
import { RENDER_VAR } from "../../../server/src/artifacts/adopt/promptfoo-render";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { FIXTURES, tempDir } from "../../helpers/paths";

const ADOPT = path.join(FIXTURES, "adopt");

function workspaceWith(sub: string): Workspace {
  const root = tempDir("driftlens-import-");
  fs.cpSync(path.join(ADOPT, sub), root, { recursive: true });
  fs.writeFileSync(path.join(root, "model.gguf"), "");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  tiny:\n    variants: {f32: model.gguf}\nproviders:\n${["openai:gpt-4o-mini", "haiku", "mini", "openai/gpt-4o-mini", "openai/gpt-4.1-nano", "openai/gpt-4o", "gpt-35-turbo", "gpt-4o-mini"].map((p) => `  ${JSON.stringify(p)}: tiny/f32\n`).join("")}`);
  return new Workspace(root);
}

const text = (ms: { role: string; content: { text?: string }[] }[]) => ms.map((m) => [m.role, m.content.map((c) => c.text ?? "").join("")]);

async function importAndCheck(ws: Workspace, file: string): Promise<{ notCarried: string[]; fallbacks: string[]; prompts: string[] }> {
  const out = path.join(ws.root, "imported", path.basename(file).replace(/\W+/g, "-"));
  const r = await importAdopted(ws, file, { outDir: out });
  fs.mkdirSync(out, { recursive: true });
  for (const f of r.files) fs.writeFileSync(f.path, f.text);
  const suite = ws.adopted(file);
  const check = new Workspace(ws.root);
  const prompts = r.files.filter((f) => f.path.endsWith(".prompt")).map((f) => f.path);
  const evalSets = r.files.filter((f) => f.path.endsWith(".eval.yaml")).map((f) => f.path);
  for (const f of [...prompts, ...evalSets]) {
    const d = (await check.diagnose(f)).filter((x) => x.severity !== "information");
    assert.deepEqual(d, [], `${path.basename(f)} of ${path.basename(file)} checks clean`);
  }
  // Independently: each written prompt renders every case of its eval set as the source does.
  for (const es of evalSets) {
    const doc = check.evalSet(es);
    const sourceCases = suite.kind === "prompty" ? undefined : suite.cases;
    if (sourceCases) assert.deepEqual(doc.cases.map((c) => c.id), sourceCases.map((c) => c.id), "case ids kept");
    for (const p of prompts) {
      const src = suite.prompts[prompts.indexOf(p)]!;
      for (const c of doc.cases) {
        const orig = sourceCases ? sourceCases.find((x) => x.id === c.id)!.vars : c.vars;
        const mine = await check.render(p, { input: c.vars });
        const theirs = await src.render(orig);
        assert.deepEqual(text(mine.messages as never), text(theirs.messages), `${path.basename(p)} case ${c.id}`);
        assert.equal((c.vars as Record<string, unknown>)[RENDER_VAR], undefined, "no reserved var in the written eval set");
      }
    }
  }
  return { notCarried: r.notCarried, fallbacks: r.fallbacks, prompts: prompts.map((p) => path.basename(p)) };
}

test("every promptfoo fixture imports to files that check clean, keep the ids and render identically", async () => {
  const ws = workspaceWith("promptfoo");
  for (const dir of fs.readdirSync(path.join(ws.root)).filter((d) => fs.existsSync(path.join(ws.root, d, "promptfooconfig.yaml")))) {
    const sub = new Workspace(path.join(ws.root, dir));
    fs.copyFileSync(path.join(ws.root, "driftlens.yaml"), path.join(ws.root, dir, "driftlens.yaml"));
    fs.copyFileSync(path.join(ws.root, "model.gguf"), path.join(ws.root, dir, "model.gguf"));
    const r = await importAndCheck(sub, path.join(ws.root, dir, "promptfooconfig.yaml"));
    assert.deepEqual(r.fallbacks, [], `${dir}: every prompt translated`);
    if (dir === "getting-started") assert.ok(r.notCarried.includes("assertion 'llm-rubric'"), r.notCarried.join("; "));
  }
});

test("a nunjucks filter and an {% if %} block become computed variables; plain variables stay variables", async () => {
  const ws = workspaceWith("promptfoo");
  const dir = path.join(ws.root, "scenarios");
  fs.copyFileSync(path.join(ws.root, "driftlens.yaml"), path.join(dir, "driftlens.yaml"));
  fs.copyFileSync(path.join(ws.root, "model.gguf"), path.join(dir, "model.gguf"));
  const sub = new Workspace(dir);
  const r = await importAdopted(sub, path.join(dir, "promptfooconfig.yaml"), { outDir: path.join(dir, "out") });
  assert.deepEqual(r.fallbacks, []);
  const greeter = r.files.find((f) => f.path.endsWith("greeter.prompt"))!.text;
  // The test's prefix and the {% if %} block and `name | title` are computed; `language` stays a variable.
  assert.match(greeter, /\{\{role "user"\}\}\{\{prompt_prefix\}\}\{\{if_block\}\} \{\{name_title\}\} in \{\{language\}\}\.\n\{\{prompt_suffix\}\}/);
  const gs = workspaceWith("promptfoo");
  const gsDir = path.join(gs.root, "json-chat");
  fs.copyFileSync(path.join(gs.root, "driftlens.yaml"), path.join(gsDir, "driftlens.yaml"));
  fs.copyFileSync(path.join(gs.root, "model.gguf"), path.join(gsDir, "model.gguf"));
  const j = await importAdopted(new Workspace(gsDir), path.join(gsDir, "promptfooconfig.yaml"), { outDir: path.join(gsDir, "out") });
  const chat = j.files.find((f) => f.path.endsWith("support-chat.prompt"))!.text;
  // {{ product }} is written as is in every case: a variable; {{ policy }} is loaded from a file: computed.
  // `question` refers to {{product}}: its rendered value is computed as well.
  assert.match(chat, /\{\{role "system"\}\}You answer questions about \{\{product\}\}\. Policy:\n\{\{policy_rendered\}\}\{\{role "user"\}\}\{\{question_rendered\}\}/);
  const evalText = j.files.find((f) => f.path.endsWith(".eval.yaml"))!.text;
  assert.match(evalText, /policy: file:\/\/docs\/policy\.txt/);
});

test(".prompt.yml and .prompty fixtures import to files that check clean and render identically", async () => {
  const gh = workspaceWith("ghprompt");
  for (const f of fs.readdirSync(gh.root).filter((n) => n.endsWith(".prompt.yml"))) {
    const r = await importAndCheck(gh, path.join(gh.root, f));
    assert.deepEqual(r.fallbacks, [], f);
    if (f === "summarize.prompt.yml") assert.ok(r.notCarried.some((n) => n.includes("github/similarity")), r.notCarried.join("; "));
  }
  const py = workspaceWith("prompty");
  for (const f of ["basic.prompty", "capital.prompty", "chat.prompty"]) {
    const r = await importAndCheck(py, path.join(py.root, f));
    assert.deepEqual(r.fallbacks, [], f);
  }
});
