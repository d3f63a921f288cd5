import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, ProgressBar } from "../../../server/src/cli/progress";

test("TTY: one line redrawn in place with done/total, tokens/s and ETA, throttled, ended by done()", () => {
  let out = "";
  let now = 0;
  const bar = new ProgressBar({ write: (s) => (out += s), isTTY: true, columns: 100, now: () => now });
  bar.update({ done: 3, total: 12, tokensPerSecond: 41.26, etaMs: 65_000, label: "tiny/q4_0" });
  assert.match(out, /^\r\[#+-+\] 3\/12 cases {2}41\.3 tok\/s {2}ETA 1m05s {2}tiny\/q4_0\x1b\[K$/);
  const before = out;
  now += 10;
  bar.update({ done: 4, total: 12 }); // throttled
  assert.equal(out, before);
  now += 100;
  bar.update({ done: 12, total: 12, tokensPerSecond: 40 });
  assert.ok(out.endsWith("12/12 cases  40.0 tok/s\x1b[K"), JSON.stringify(out.slice(-40)));
  assert.ok(!out.slice(before.length).includes("ETA"), "no ETA once finished");
  bar.log("warning: x");
  assert.ok(out.endsWith("\r\x1b[Kwarning: x\n"));
  bar.update({ done: 12, total: 12 }, true);
  bar.done();
  assert.ok(out.endsWith("\n"));
  assert.ok(out.split("\n").every((l) => l.replace(/\x1b\[K/g, "").split("\r").every((seg) => seg.length <= 99)));
});

test("not a TTY: plain lines, at most one per interval, always the last", () => {
  const lines: string[] = [];
  let now = 0;
  const bar = new ProgressBar({ write: (s) => lines.push(s), isTTY: false, now: () => now, plainIntervalMs: 2000 });
  bar.update({ done: 0, total: 3, etaMs: null });
  now += 500;
  bar.update({ done: 1, total: 3, etaMs: 1000 });
  now += 2000;
  bar.update({ done: 2, total: 3, etaMs: 1000 });
  bar.update({ done: 3, total: 3 });
  assert.deepEqual(lines, ["0/3 cases  ETA ?\n", "2/3 cases  ETA 1s\n", "3/3 cases\n"]);
  assert.ok(lines.every((l) => !l.includes("\r") && !l.includes("\x1b")));
});

test("durations", () => {
  assert.equal(formatDuration(400), "0s");
  assert.equal(formatDuration(59_400), "59s");
  assert.equal(formatDuration(61_000), "1m01s");
  assert.equal(formatDuration(3_720_000), "1h02m");
  assert.equal(formatDuration(-1), "?");
});
