// Every suite in ../shared/spec/dotprompt through our renderer, file by file: the template as a
// .prompt, partials as _name.prompt beside it, the suite's data passed whole. Deviations, if any,
// are listed in docs/formats.md; this test has none to skip.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import YAML from "yaml";
import { parsePrompt } from "../../../server/src/artifacts/prompt";
import { filePartialResolver, renderPrompt } from "../../../server/src/artifacts/render";
import { SHARED, tempDir } from "../../helpers/paths";

interface SpecTest {
  desc?: string;
  data?: Record<string, unknown>;
  options?: { input?: { default?: Record<string, unknown> } } & Record<string, unknown>;
  expect: Record<string, unknown> & { messages: unknown[] };
}
interface Suite {
  name: string;
  template: string;
  partials?: Record<string, string>;
  resolverPartials?: Record<string, string>;
  /** Suite-level data, merged under each test's data. */
  data?: Record<string, unknown>;
  tests: SpecTest[];
}

const SPEC = path.join(SHARED, "spec", "dotprompt");

function specFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? specFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : []))
    .sort();
}

const files = specFiles(SPEC);

test("the spec folder has suites", () => {
  assert.ok(files.length >= 10, `expected the Dotprompt spec suites in ${SPEC}, found ${files.length}`);
});

for (const specFile of files) {
  const suites = YAML.parse(fs.readFileSync(specFile, "utf8")) as Suite[];
  const rel = path.relative(SPEC, specFile);
  for (const suite of suites) {
    test(`dotprompt spec ${rel} / ${suite.name}`, async () => {
      const dir = tempDir("driftlens-spec-");
      const promptFile = path.join(dir, `${suite.name}.prompt`);
      fs.writeFileSync(promptFile, suite.template);
      for (const [name, source] of Object.entries({ ...(suite.partials ?? {}), ...(suite.resolverPartials ?? {}) })) {
        fs.writeFileSync(path.join(dir, `_${name}.prompt`), source);
      }
      const doc = parsePrompt(fs.readFileSync(promptFile, "utf8"), promptFile);
      assert.deepEqual(doc.diagnostics.filter((d) => d.severity === "error"), [], "spec templates parse without errors");
      for (const t of suite.tests) {
        const options = t.options?.input ? { input: t.options.input } : {};
        const out = await renderPrompt(doc, { ...(suite.data ?? {}), ...(t.data ?? {}) } as never, filePartialResolver(promptFile), options);
        const label = `${suite.name}: ${t.desc ?? ""}`;
        assert.deepEqual(JSON.parse(JSON.stringify(out.messages)), t.expect.messages, `${label}: messages`);
        for (const [k, v] of Object.entries(t.expect)) {
          if (k === "messages") continue;
          assert.deepEqual(JSON.parse(JSON.stringify(out[k] ?? null)), v, `${label}: ${k}`);
        }
      }
    });
  }
}
