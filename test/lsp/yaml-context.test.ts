// The line-based YAML cursor that completion, hover and definition use (pure; no server).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { yamlCursor } from "../../server/src/features/support/yaml-context";
import { createScheduler } from "../../server/src/features/support/scheduler";

const EVAL = `prompt: capital.prompt
cases:
  - id: france
    vars: {country: France}
    assert:
      - {type: icontains, value: paris}
      - type: regex
        value: "^P"
    tags: [europe, big]
    why: "Baseline"
base:
  model: tiny/f16
`;

describe("yamlCursor", () => {
  const at = (line: number, character: number) => yamlCursor(EVAL, { line, character });

  it("finds block keys through list items", () => {
    const c = at(2, 10);
    assert.deepEqual(c.path, ["cases", "id"]);
    assert.equal(c.inValue, true);
    assert.equal(c.value, "france");
    assert.equal(c.valuePrefix, "fr");
  });

  it("finds keys inside flow mappings", () => {
    const c = at(5, 16);
    assert.deepEqual(c.path, ["cases", "assert", "type"]);
    assert.equal(c.value, "icontains");
    assert.deepEqual(c.valueRange, { start: { line: 5, character: 15 }, end: { line: 5, character: 24 } });
    assert.deepEqual(at(3, 20).path, ["cases", "vars", "country"]);
  });

  it("finds items of flow lists and unquotes values", () => {
    const c = at(8, 20);
    assert.deepEqual(c.path, ["cases", "tags"]);
    assert.equal(c.inListItem, true);
    assert.equal(c.value, "big");
    assert.equal(at(7, 16).value, "^P");
  });

  it("tells key position from value position", () => {
    const k = at(4, 6);
    assert.equal(k.key, "assert");
    assert.equal(k.inValue, false);
    assert.deepEqual(at(11, 12).path, ["base", "model"]);
  });

  it("handles a line offset (front matter inside a .prompt)", () => {
    const fm = "model: tiny/f16\ninput:\n  schema:\n    country: string\n";
    const c = yamlCursor(fm, { line: 4, character: 6 }, 1);
    assert.deepEqual(c.path, ["input", "schema", "country"]);
  });
});

describe("scheduler", () => {
  it("runs only the last of a burst and aborts a running job when rescheduled", async () => {
    const errors: unknown[] = [];
    const s = createScheduler((_k, e) => errors.push(e));
    const ran: number[] = [];
    let aborted = false;
    for (let i = 0; i < 5; i++) s.schedule("k", 10, async () => void ran.push(i));
    await s.idle();
    assert.deepEqual(ran, [4]);
    s.schedule("k", 0, (signal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => ((aborted = true), resolve()))));
    await new Promise((r) => setTimeout(r, 20));
    s.schedule("k", 0, async () => void ran.push(9));
    await s.idle();
    assert.equal(aborted, true);
    assert.deepEqual(ran, [4, 9]);
    assert.deepEqual(errors, []);
    s.dispose();
  });

  it("with no delay: never inline, only the last of a synchronous burst, and cancel and dispose call it off", async () => {
    const s = createScheduler(() => undefined);
    const ran: string[] = [];
    for (let i = 0; i < 3; i++) s.schedule("a", 0, async () => void ran.push(`a${i}`));
    assert.equal(ran.length, 0, "not run inline");
    s.schedule("b", 0, async () => void ran.push("b"));
    s.cancel("b");
    s.schedule("c", 0, async () => void ran.push("c"));
    s.schedule("slow", 50, async () => void ran.push("slow"));
    await s.idle();
    assert.deepEqual(ran, ["a2", "c", "slow"]);
    s.schedule("d", 0, async () => void ran.push("d"));
    s.schedule("e", 30, async () => void ran.push("e"));
    s.dispose();
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(ran, ["a2", "c", "slow"], "disposed before they ran");
  });
});
