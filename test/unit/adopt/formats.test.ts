// The adopted formats read and rendered as their own tools do: GitHub Models `.prompt.yml`
// (gh-models' templating and string evaluators, checked against a transcription of its Go code on
// thousands of generated inputs), Prompty (front matter, sample/inputs, jinja2 and mustache, the
// role-line chat parser), and promptfoo's short assertion syntax and var handling.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { goValue, stringEvaluatorAssertion, templateString } from "../../../server/src/artifacts/adopt/gh-prompt";
import { checkTemplate } from "../../../server/src/artifacts/adopt/nunjucks";
import { assertionFromString, parseCommaSeparated, testCaseFromCsvRow } from "../../../server/src/artifacts/adopt/promptfoo-csv";
import { RENDER_VAR, renderPromptfooString } from "../../../server/src/artifacts/adopt/promptfoo-render";
import { parsePromptyChat } from "../../../server/src/artifacts/adopt/prompty";
import { adoptedView } from "../../../server/src/artifacts/adopt/view";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { evaluateAssertions } from "../../../server/src/eval/assertions";
import { mulberry32 } from "../../../server/src/util/prng";
import { FIXTURES, tempDir } from "../../helpers/paths";

const GH = path.join(FIXTURES, "adopt", "ghprompt");
const PROMPTY = path.join(FIXTURES, "adopt", "prompty");

/** A workspace copy of a fixture folder with driftlens.yaml mapping every model the fixtures name. */
function mapped(dir: string): Workspace {
  const root = tempDir("driftlens-adopt-");
  fs.cpSync(dir, root, { recursive: true });
  fs.writeFileSync(path.join(root, "model.gguf"), "");
  fs.writeFileSync(
    path.join(root, "driftlens.yaml"),
    `models:\n  tiny:\n    variants: {f32: model.gguf}\nproviders:\n${["openai/gpt-4o-mini", "openai/gpt-4.1-nano", "openai/gpt-4o", "gpt-35-turbo", "gpt-4o-mini"].map((p) => `  ${JSON.stringify(p)}: tiny/f32\n`).join("")}`,
  );
  return new Workspace(root);
}

const text = (ms: { role: string; content: { text: string }[] }[]) => ms.map((m) => [m.role, m.content.map((c) => c.text).join("")]);

// ---------- GitHub Models .prompt.yml ----------

test(".prompt.yml fixtures written as GitHub documents them give no diagnostics but the hosted-evaluator warning", async () => {
  const ws = mapped(GH);
  for (const f of fs.readdirSync(ws.root).filter((n) => n.endsWith(".prompt.yml"))) {
    const d = await ws.diagnose(path.join(ws.root, f));
    const expected = f === "summarize.prompt.yml" ? ["DL605"] : [];
    assert.deepEqual(
      d.map((x) => x.code),
      expected,
      `${f}: ${JSON.stringify(d.map((x) => x.message))}`,
    );
  }
});

test(".prompt.yml renders as gh-models templates: {{name}} replaced, values in Go's %v form, text kept as written", async () => {
  const ws = mapped(GH);
  const sum = ws.adopted(path.join(ws.root, "summarize.prompt.yml"));
  assert.deepEqual(text((await sum.prompts[0]!.render(sum.cases[0]!.vars)).messages), [
    ["system", "You are a text summarizer. Your only job is to summarize text given to you."],
    ["user", 'Summarize the given text, beginning with "Summary -":\n<text>\nThe quick brown fox jumped over the lazy dog.\nThe dog was too tired to react.\n\n</text>\n'],
  ]);
  assert.deepEqual(sum.prompts[0]!.config, { temperature: 0.5 });
  const sent = ws.adopted(path.join(ws.root, "sentiment.prompt.yml"));
  assert.deepEqual(text((await sent.prompts[0]!.render(sent.cases[1]!.vars)).messages)[1], ["user", "Review (1 stars): Broke after two days."]);
  assert.deepEqual(sent.prompts[0]!.config, { temperature: 0, maxOutputTokens: 5, topP: 1 });
  const ex = ws.adopted(path.join(ws.root, "extract.prompt.yml"));
  assert.deepEqual((ex.prompts[0]!.outputSchema as { required: string[] }).required, ["name", "age"]);
  // gh-models' TemplateString: exact `{{key}}` only; unknown names and spaced forms stay as written.
  assert.equal(templateString("{{a}} {{ a }} {{b}} {{a}}", { a: 1.5 }), "1.5 {{ a }} {{b}} 1.5");
  assert.equal(goValue(true), "true");
  assert.equal(goValue([1, "x"]), "[1 x]");
  assert.equal(goValue({ b: 2, a: "z" }), "map[a:z b:2]");
  assert.equal(goValue(null), "<nil>");
  assert.equal(goValue(1e-7), "1e-07");
});

/** gh-models' string evaluator (cmd/eval/eval.go), transcribed: response trimmed, contains/startsWith/endsWith lower-cased. */
function ghReference(kind: "equals" | "contains" | "startsWith" | "endsWith", value: string, response: string): boolean {
  const space = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  let a = 0;
  let b = response.length;
  while (a < b && space.test(response[a]!)) a++;
  while (b > a && space.test(response[b - 1]!)) b--;
  const r = response.slice(a, b);
  if (kind === "equals") return r === value;
  const lr = r.toLowerCase();
  const lv = value.toLowerCase();
  return kind === "contains" ? lr.includes(lv) : kind === "startsWith" ? lr.startsWith(lv) : lr.endsWith(lv);
}

test("gh-models string evaluators run with gh-models' meaning on 4,000 generated responses", async () => {
  const rnd = mulberry32(14);
  const alphabet = ["a", "B", "c", " ", "\n", "\t", "é", "É", ".", "*", "(", ")", "[", "$", "^", "\\", "/", "-", "\u00a0", "\u0085", "\ufeff", "Summary", "-"];
  const pick = () => alphabet[Math.floor(rnd() * alphabet.length)]!;
  const word = (n: number) => Array.from({ length: n }, pick).join("");
  let checked = 0;
  const problems: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const value = word(1 + Math.floor(rnd() * 4));
    if (!value) continue;
    const core = rnd() < 0.5 ? value : value.toUpperCase();
    const responses = [word(3) + core + word(2), core, ` ${core} `, `\n${core}`, word(5), core.toLowerCase() + word(2)];
    for (const kind of ["equals", "contains", "startsWith", "endsWith"] as const) {
      const a = stringEvaluatorAssertion(kind, value, "e");
      for (const response of responses) {
        const ev = await evaluateAssertions([a], response);
        checked++;
        if (ev.pass !== ghReference(kind, value, response)) problems.push(`${kind} ${JSON.stringify(value)} on ${JSON.stringify(response)}: Driftlens ${ev.pass}`);
      }
    }
  }
  assert.deepEqual(problems.slice(0, 10), []);
  assert.ok(checked >= 4000);
});

// ---------- Prompty ----------

test("Prompty fixtures (1.x and 2.x layouts, jinja2 and mustache) give no diagnostics with their models mapped", async () => {
  const ws = mapped(PROMPTY);
  for (const f of fs.readdirSync(ws.root).filter((n) => n.endsWith(".prompty"))) {
    assert.deepEqual(await ws.diagnose(path.join(ws.root, f)), [], f);
  }
});

test("Prompty renders as its runtime: sample under the inputs, jinja2 loops, role lines into messages, contents trimmed", async () => {
  const ws = mapped(PROMPTY);
  const basic = ws.adopted(path.join(ws.root, "basic.prompty"));
  assert.deepEqual(text((await basic.prompts[0]!.render({ question: "Who are you?" })).messages), [
    [
      "system",
      "You are an AI assistant who helps people find information.\nAs the assistant, you answer questions briefly, succinctly,\nand in a personable manner using markdown and even add some personal flair with appropriate emojis.\n\n# Customer\nYou are helping Jane Doe to find answers to their questions.\nUse their name to address them in your responses.",
    ],
    ["user", "Who are you?"],
  ]);
  assert.deepEqual(basic.prompts[0]!.config, { temperature: 0.2, maxOutputTokens: 128 });
  assert.equal(basic.prompts[0]!.providers[0]!.id, "gpt-35-turbo");
  const chat = ws.adopted(path.join(ws.root, "chat.prompty"));
  const msgs = text((await chat.prompts[0]!.render({})).messages);
  assert.deepEqual(
    msgs.map((m) => m[0]),
    ["system", "user", "model", "user"],
  );
  assert.equal(msgs[1]![1], "Hi, I am shopping for camping gear.");
  assert.equal(msgs[3]![1], "What tent is good for a family of four?");
  assert.match(msgs[0]![1]!, /catalog: 2\nitem: Alpine Explorer Tent/);
  const cap = ws.adopted(path.join(ws.root, "capital.prompty"));
  assert.deepEqual(text((await cap.prompts[0]!.render({})).messages), [["user", "What is the capital of France?"]]);
  assert.equal(cap.prompts[0]!.providers[0]!.id, "gpt-4o-mini");
  const greet = ws.adopted(path.join(ws.root, "greeting.prompty"));
  // mustache escapes HTML in {{name}}, as Prompty's mustache renderers do.
  assert.deepEqual(text((await greet.prompts[0]!.render({ name: "A&B" })).messages)[1], ["user", "Say hello to A&amp;B."]);
});

test("Prompty's chat parser: text before the first role line is a system message, '# role:' works, a role word inside a line is text", () => {
  const m = (s: string) => parsePromptyChat(s).map((x) => [x.role, x.content[0]!.text]);
  assert.deepEqual(m("Be kind.\n\nuser:\nHi"), [
    ["system", "Be kind."],
    ["user", "Hi"],
  ]);
  assert.deepEqual(m("# System:\nA\n  User :  \nB\nassistant:\nC\n"), [
    ["system", "A"],
    ["user", "B"],
    ["model", "C"],
  ]);
  assert.deepEqual(m("system:\nTell the user: hello\nuser:\nx\nassistant:\n"), [
    ["system", "Tell the user: hello"],
    ["user", "x"],
  ]);
  assert.throws(() => parsePromptyChat("user:\nuser:\nx"), /invalid prompt format/);
});

test("eval sets naming a .prompty are checked against its inputs and sample", async () => {
  const ws = mapped(PROMPTY);
  fs.writeFileSync(path.join(ws.root, "x.eval.yaml"), "prompt: capital.prompty\ncases:\n  - id: a\n    vars: {country: France, colour: red}\n    why: w\n");
  const d = await ws.diagnose(path.join(ws.root, "x.eval.yaml"));
  assert.deepEqual(
    d.map((x) => x.code),
    ["DL306"],
  );
  assert.deepEqual(await ws.diagnose(path.join(ws.root, "basic.eval.yaml")), []);
});

// ---------- promptfoo ----------

test("promptfoo's __expected syntax becomes the assertions promptfoo makes of it", () => {
  const cases: [string, unknown][] = [
    ["contains: hello", { type: "contains", value: "hello" }],
    ["not-icontains: Hello ", { type: "not-icontains", value: "Hello" }],
    ['icontains-any: "a, b",c,"d""e"', { type: "icontains-any", value: ["a, b", "c", 'd"e'] }],
    ["similar(0.9): the sky", { type: "similar", value: "the sky", threshold: 0.9 }],
    ["similar: the sky", { type: "similar", value: "the sky", threshold: 0.8 }],
    ["levenshtein(5): kitten", { type: "levenshtein", value: "kitten", threshold: 5 }],
    ["starts-with: Yes", { type: "starts-with", value: "Yes", threshold: 0.75 }],
    ["javascript: output.length > 3", { type: "javascript", value: "output.length > 3" }],
    ["fn: output === 'x'", { type: "javascript", value: "output === 'x'" }],
    ["grade: is polite", { type: "llm-rubric", value: " is polite" }],
    ["python: len(output) > 1", { type: "python", value: "len(output) > 1" }],
    ["is-json", { type: "is-json", value: undefined }],
    ["Just text", { type: "equals", value: "Just text" }],
    ["regex: ^a.*z$", { type: "regex", value: "^a.*z$" }],
  ];
  for (const [s, want] of cases) assert.deepEqual(JSON.parse(JSON.stringify(assertionFromString(s))), JSON.parse(JSON.stringify(want)), s);
  assert.deepEqual(parseCommaSeparated(' x , "y,z" ,, w'), ["x", "y,z", "w"]);
  assert.throws(() => parseCommaSeparated('"open'), /Unterminated/);
  const row = testCaseFromCsvRow({ q: "hi", __expected1: "contains: a", __expected2: "icontains: B", __metadata: "x", "__metadata:tags[]": "a,b\\,c", __threshold: "0.5", __description: "d", "__config:__expected2:threshold": "0.3", _expected: "oops" });
  assert.deepEqual(row.vars, { q: "hi", _expected: "oops" });
  assert.equal(row.assert[1]!.threshold, 0.3);
  assert.deepEqual(row.metadata, { tags: ["a", "b,c"], threshold: 0.3 });
  assert.equal(row.threshold, 0.5);
  assert.equal(row.problems.length, 2);
});

test("promptfoo rendering: vars lose one trailing newline, reference each other, a JSON prompt renders string by string", () => {
  const r = (raw: string, vars: Record<string, unknown>) => renderPromptfooString(raw, vars, { env: { TEAM: "core" } });
  assert.equal(r("{{ a }}|{{ b }}|{{ env.TEAM }}", { a: "x\n\n", b: "{{a}}!" }), "x\n|x\n!|core");
  assert.equal(r('[{"role":"user","content":"{{ q | upper }}"}]', { q: "hi" }), '[\n  {\n    "role": "user",\n    "content": "HI"\n  }\n]');
  assert.equal(r("{{ x }}", { x: "raw", [RENDER_VAR]: { vars: { x: "loaded" }, prefix: "P:", suffix: ":S" } }), "P:loaded:S");
});

test("templates cannot reach code: constructor lookups are refused when checking and when rendering", () => {
  const evil = '{{ "".constructor.constructor("return process")().pid }}';
  assert.deepEqual(checkTemplate(evil).blocked, ["constructor"]);
  assert.throws(() => renderPromptfooString(evil, {}, { env: {} }), /Unable to call/);
  assert.throws(() => renderPromptfooString('{% set k = "constr" + "uctor" %}{{ range[k][k]("return process")().pid }}', {}, { env: {} }), /Unable to call/);
  assert.throws(() => renderPromptfooString('{{ cycler.constructor("return process")().pid }}', {}, { env: {} }), /Unable to call/);
  assert.throws(() => renderPromptfooString("{% for i in range(1000000000) %}x{% endfor %}", {}, { env: {} }), /range\(\) of/);
});

test("providers: maps promptfoo providers by id or by label; an unmapped one is DL800 at the provider", async () => {
  const root = tempDir("driftlens-adopt-map-");
  fs.writeFileSync(path.join(root, "model.gguf"), "");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  tiny:\n    variants: {f32: model.gguf}\nproviders:\n  haiku: tiny/f32\n  "openai:gpt-4o-mini": tiny/f32\n`);
  fs.writeFileSync(path.join(root, "promptfooconfig.yaml"), `prompts: ["Hi {{x}}"]\nproviders:\n  - openai:gpt-4o-mini\n  - {id: "anthropic:messages:claude-3-5-haiku-20241022", label: haiku}\n  - openai:o3\ntests:\n  - vars: {x: 1}\n`);
  const ws = new Workspace(root);
  const d = await ws.diagnose(path.join(root, "promptfooconfig.yaml"));
  assert.deepEqual(
    d.map((x) => [x.code, x.range.start.line, x.message.slice(0, 12)]),
    [["DL800", 4, "'openai:o3' "]],
  );
  const p = adoptedView(ws).prompt(`${path.join(root, "promptfooconfig.yaml")}#prompt 1`) as { variants: string[] };
  assert.deepEqual(p.variants, ["tiny/f32", "provider:openai:o3"]);
});

test("a promptfoo config (a .prompt.yml) cut into test items parses to the same value and ranges as a whole parse", async () => {
  const { parseConfigYaml } = await import("../../../server/src/artifacts/adopt/promptfoo-yaml.js");
  const { parseYaml, rangeFor } = await import("../../../server/src/artifacts/yaml-source.js");
  const dir = path.join(FIXTURES, "adopt", "promptfoo");
  const texts = fs.readdirSync(dir).map((d) => fs.readFileSync(path.join(dir, d, "promptfooconfig.yaml"), "utf8"));
  // Edge shapes: tests last, tests first, comments and blank lines between items, a tail after tests.
  texts.push("tests:\n  # first\n  - vars: {a: 1}\n\n  - vars: {a: 2}\n    assert: [{type: equals, value: '2'}]\nprompts: [x]\n# end\n");
  texts.push("prompts: [x]\ntests:\n- vars: {a: 1}\n- description: b\n  vars:\n    a: |\n      two\n      lines\n");
  for (const text of texts) {
    const whole = parseYaml(text, "f", "DL500");
    const cut = parseConfigYaml(text, "f");
    assert.deepEqual(cut.value, whole.value, text.slice(0, 40));
    const tests = (whole.value as { tests?: unknown[] }).tests ?? [];
    for (let i = 0; i < tests.length; i++) {
      assert.deepEqual(cut.rangeOf(["tests", i]), rangeFor(whole, ["tests", i]), `tests[${i}]`);
      assert.deepEqual(cut.rangeOf(["tests", i, "vars"], "key"), rangeFor(whole, ["tests", i, "vars"], "key"), `tests[${i}].vars`);
    }
    assert.deepEqual(cut.rangeOf(["prompts"]), rangeFor(whole, ["prompts"]));
  }
  // .prompt.yml files cut at testData.
  for (const f of fs.readdirSync(GH)) {
    const text = fs.readFileSync(path.join(GH, f), "utf8");
    const whole = parseYaml(text, "f", "DL600");
    const cut = parseConfigYaml(text, "f", "DL600", "testData");
    assert.deepEqual(cut.value, whole.value, f);
    const items = (whole.value as { testData?: unknown[] }).testData ?? [];
    assert.ok(items.length > 0, f);
    for (let i = 0; i < items.length; i++) assert.deepEqual(cut.rangeOf(["testData", i]), rangeFor(whole, ["testData", i]), `${f} testData[${i}]`);
    assert.deepEqual(cut.rangeOf(["messages", 0, "content"]), rangeFor(whole, ["messages", 0, "content"]), f);
  }
});

test("a promptfoo test unchanged since the last parse reuses its cases at its new place; one that reports or reads a file is worked out again", async () => {
  const { parsePromptfoo } = await import("../../../server/src/artifacts/adopt/promptfoo.js");
  const { engineKnows } = await import("../../../server/src/artifacts/adopt/index.js");
  const root = tempDir("driftlens-adopt-memo-");
  const file = path.join(root, "promptfooconfig.yaml");
  fs.writeFileSync(path.join(root, "topic.txt"), "tides");
  const reader = { root, read: (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined), exists: (f: string) => fs.existsSync(f) };
  const tests = [
    "  - vars: {q: one}\n    assert: [{type: icontains, value: one}]",
    "  - description: two\n    vars: {q: [a, b]}\n    assert: [{type: regex, value: '^[A-Z]'}]",
    "  - vars: {q: file://topic.txt}",
    "  - vars: {q: three}\n    colour: red",
    "  - vars: {q: four}\n    assert: [{type: llm-rubric, value: polite}, {type: equals, value: 4}]",
  ];
  const config = (pad: string) => `prompts: ["Say {{q}}"]\n${pad}defaultTest:\n  assert: [{type: not-icontains, value: sorry}]\ntests:\n${tests.join("\n")}\n`;
  const plain = (s: ReturnType<typeof parsePromptfoo>) => ({ cases: s.cases.map((c) => ({ ...c })), diagnostics: s.diagnostics, notCarried: s.notCarried });
  const before = parsePromptfoo(config(""), file, reader, { engineKnows });
  // Three lines inserted above: every range moves.
  const after = parsePromptfoo(config("# a\n# b\n# c\n"), file, reader, { engineKnows });
  // The same parse with every test worked out afresh (a different engineKnows is a different memo key).
  const cold = parsePromptfoo(config("# a\n# b\n# c\n"), file, reader, { engineKnows: (t) => engineKnows(t) });
  assert.deepEqual(plain(after), plain(cold));
  assert.equal(after.cases[0]!.range.start.line, before.cases[0]!.range.start.line + 3);
  assert.ok(after.diagnostics.some((d) => d.code === "DL502") && after.diagnostics.some((d) => d.code === "DL507"));
  // Reused: the clean tests' vars are the very objects of the earlier parse; not reused: the rest.
  const same = after.cases.map((c, i) => c.vars === before.cases[i]!.vars);
  assert.deepEqual(same, [true, true, true, false, false, false]);
  // A var file's change is seen though its test is unchanged.
  fs.writeFileSync(path.join(root, "topic.txt"), "moons");
  const edited = parsePromptfoo(config("# a\n# b\n# c\n"), file, reader, { engineKnows });
  assert.equal((edited.cases[3]!.vars.__promptfoo as { vars: Record<string, unknown> }).vars.q, "moons");
});

test("promptfoo assertions are checked with each case's vars, and check reports word for word what the run refuses", async () => {
  const { parsePromptfoo } = await import("../../../server/src/artifacts/adopt/promptfoo.js");
  const { engineKnows } = await import("../../../server/src/artifacts/adopt/index.js");
  const { evaluateAssertion } = await import("../../../server/src/eval/assertions/index.js");
  const root = tempDir("driftlens-adopt-check-");
  const file = path.join(root, "promptfooconfig.yaml");
  const reader = { root, read: (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined), exists: (f: string) => fs.existsSync(f) };
  const text = [
    'prompts: ["About {{city}}"]',
    "defaultTest:",
    "  assert:",
    '    - {type: icontains, value: "{{city}}"}',
    "tests:",
    "  - vars: {city: Paris}",
    "    assert:",
    '      - {type: contains-any, value: ["{{city}}", "{{country}}"]}',
    "  - vars: {place: Lyon}",
    "    assert:",
    '      - {type: regex, value: "{{place}}["}',
    '      - {type: contains, value: "plain", provider: openai:gpt-4o}',
    "",
  ].join("\n");
  const suite = parsePromptfoo(text, file, reader, { engineKnows });
  const got = suite.diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.character, d.message.split(":")[0]]).sort((a, b) => Number(a[1]) - Number(b[1]));
  assert.deepEqual(got, [
    // defaultTest's {{city}}: tests[1] sets no city (reported at defaultTest's value, naming the test).
    ["DL330", 3, 31, "tests[1]"],
    // Item 2 of contains-any: tests[0] sets no country.
    ["DL330", 7, 49, "tests[0]"],
    // tests[1] sets no city, which the prompt uses.
    ["DL509", 8, 4, "case 'place=Lyon' sets no 'city', which prompt 'prompt 1' uses; promptfoo renders it empty"],
    // Rendered with tests[1]'s vars, the pattern "Lyon[" is not a regular expression.
    ["DL513", 10, 29, "tests[1]"],
    // A promptfoo key Driftlens ignores on this type: a warning where it is written.
    ["DL502", 11, 51, "tests[1]"],
  ]);
  // Each case's errors at run time are the check's messages, word for word.
  for (const c of suite.cases) {
    const where = c === suite.cases[0] ? "tests[0]" : "tests[1]";
    const fromCheck = suite.diagnostics.filter((d) => d.severity === "error" && d.message.startsWith(`${where}: `)).map((d) => d.message.slice(where.length + 2));
    const fromRun: string[] = [];
    for (const a of c.assert) {
      const r = await evaluateAssertion(a, "About Paris", { vars: c.vars });
      if (r.error) fromRun.push(r.message);
    }
    assert.deepEqual(fromRun.sort(), fromCheck.sort(), where);
    assert.ok(fromRun.length > 0, where);
  }
});

test("promptfoo transforms and python/javascript assertions are kept to run; file transforms and contextTransform are warnings at their place", async () => {
  const root = tempDir("driftlens-adopt-code-");
  fs.cpSync(path.join(FIXTURES, "adopt", "promptfoo", "code"), root, { recursive: true });
  fs.writeFileSync(path.join(root, "model.gguf"), "");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  tiny:\n    variants: {f32: model.gguf}\nproviders:\n  "openai:gpt-4o-mini": tiny/f32\n`);
  const ws = new Workspace(root);
  const file = path.join(root, "promptfooconfig.yaml");
  assert.deepEqual(await ws.diagnose(file), [], "the code fixture checks clean");
  const suite = ws.adopted(file);
  const [parsed, words] = suite.cases;
  assert.equal(parsed!.transform, "JSON.parse(output.slice(output.indexOf('{')))");
  assert.equal(words!.transform, undefined);
  assert.deepEqual(
    parsed!.assert.map((a) => a.type),
    ["javascript", "javascript", "python", "equals", "is-json", "not-javascript"],
  );
  assert.equal(words!.assert.filter((a) => "transform" in a).length, 3, "assertion transforms kept");
  assert.deepEqual(words!.dropped, []);
  // The runner's view hands both on; native eval sets never set assertionTransforms.
  const es = adoptedView(ws).evalSet(file) as { cases: { transform?: string; assertionTransforms?: boolean }[] };
  assert.deepEqual(
    es.cases.map((c) => [c.transform, c.assertionTransforms]),
    [
      [parsed!.transform, true],
      [undefined, true],
    ],
  );
  // Evaluated as the run does (trusted), on the text the echo provider returns: every assertion
  // passes but defaultTest's `output.length > 10`, which sees the transformed object (no length),
  // as in promptfoo (the differential suite runs this fixture through promptfoo's CLI).
  const echo = 'Reply with JSON: {"city": "Paris", "country": "France"}';
  const ev = await evaluateAssertions(parsed!.assert, echo, { vars: parsed!.vars, trusted: true, transform: parsed!.transform, assertionTransforms: true });
  assert.deepEqual(
    ev.assertions.map((a) => a.pass),
    [false, true, true, true, true, true],
  );
  // What does not run: a transform from a file (the test's or an assertion's) and contextTransform.
  fs.writeFileSync(
    file,
    [
      'prompts: ["About {{city}}"]',
      "providers: [openai:gpt-4o-mini]",
      "tests:",
      "  - vars: {city: Paris}",
      "    options: {transform: file://transform.js}",
      "    assert:",
      "      - {type: contains, value: P, transform: file://t.py}",
      "      - {type: contains, value: P, contextTransform: output}",
      "      - {type: python, value: output == 'x'}",
      "",
    ].join("\n"),
  );
  const d = (await new Workspace(root).diagnose(file)).map((x) => [x.code, x.range.start.line, x.severity]);
  assert.deepEqual(d, [
    ["DL508", 3, "warning"],
    ["DL508", 6, "warning"],
    ["DL508", 7, "warning"],
  ]);
});
