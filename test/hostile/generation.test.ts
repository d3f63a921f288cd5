// Generation that never ends: a GGUF whose chat template loops (always, or only for some
// messages) hung generation forever, and the engine worker then outlived the killed CLI and
// ignored SIGTERM. Now each case is bounded (engine.caseTimeout): a looping case fails within the
// bound and the run goes on; the worker dies with its parent and obeys SIGTERM.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { alive, CLI, ggufWithTemplate, plainGguf, runCli, waitFor, workspace } from "./harness";
import { spawn } from "node:child_process";

const LOOP = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
/** Loops only for chats of more than ten messages: node-llama-cpp's template checks use fewer. */
const LOOP_ON_LONG = `{% if messages|length > 10 %}${LOOP}{% endif %}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}<|assistant|>`;

const LONG_PROMPT = `---
config: {temperature: 0, maxOutputTokens: 4}
input:
  schema:
    country: string
    long?: boolean
---
{{#if long}}{{role "user"}}1{{role "model"}}2{{role "user"}}3{{role "model"}}4{{role "user"}}5{{role "model"}}6{{role "user"}}7{{role "model"}}8{{role "user"}}9{{role "model"}}10{{role "user"}}11{{role "model"}}12{{/if}}{{role "user"}}What is the capital of {{country}}?
`;
const CASES = `prompt: long.prompt
cases:
  - {id: a, vars: {country: France}, assert: [{type: not-contains, value: zzz}], why: x}
  - {id: loops, vars: {country: Peru, long: true}, assert: [{type: not-contains, value: zzz}], why: x}
  - {id: b, vars: {country: Chile}, assert: [{type: not-contains, value: zzz}], why: x}
`;

function loopWorkspace(caseTimeout = "4s"): string {
  const dir = workspace(
    { "long.prompt": LONG_PROMPT, "long.eval.yaml": CASES },
    `models:\n  tiny:\n    variants:\n      loop: models/loop.gguf\n      sometimes: models/sometimes.gguf\n      plain: models/plain.gguf\nengine: {gpu: cpu, threads: 1, contextSize: 512, caseTimeout: ${caseTimeout}}\n`,
  );
  fs.mkdirSync(path.join(dir, "models"));
  ggufWithTemplate(path.join(dir, "models", "loop.gguf"), LOOP + "{{ messages[0]['content'] }}");
  ggufWithTemplate(path.join(dir, "models", "sometimes.gguf"), LOOP_ON_LONG);
  plainGguf(path.join(dir, "models", "plain.gguf"));
  return dir;
}

/** CPU time (user + system) a process has used, in seconds (Linux /proc; 0 when it is gone). */
function cpuSeconds(pid: number): number {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const rest = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return 0;
  }
}

interface Report {
  runs: { variant: string; status: string; cases: { id: string; pass: boolean; error?: string }[] }[];
}

describe("generation bounds", () => {
  test("a case whose chat template loops fails within the bound; the other cases and variants go on", async () => {
    const dir = loopWorkspace();
    const r = await runCli(dir, ["eval", "long.eval.yaml", "--variant", "tiny/sometimes", "--variant", "tiny/loop", "--variant", "tiny/plain", "--format", "json"], { timeoutMs: 180_000 });
    assert.equal(r.timedOut, false, "eval hung");
    const report = JSON.parse(r.stdout) as Report;
    const run = (v: string) => report.runs.find((x) => x.variant === `tiny/${v}`)!;
    // Only the looping case fails, by timeout; the others of the same run pass.
    const some = run("sometimes");
    assert.equal(some.status, "complete");
    assert.match(some.cases.find((c) => c.id === "loops")!.error ?? "", /chat template for case loops .* did not finish within 4 s/);
    assert.deepEqual(some.cases.filter((c) => c.pass).map((c) => c.id), ["a", "b"]);
    // A template that loops on every chat fails every case of its variant, once, within the bound.
    const loop = run("loop");
    assert.equal(loop.cases.length, 3);
    for (const c of loop.cases) assert.match(c.error ?? "", /did not finish within 4 s/);
    // The variant after them still runs.
    assert.equal(run("plain").status, "complete");
    assert.equal(run("plain").cases.filter((c) => c.error).length, 0);
    // Two timeouts of 4 s plus three model runs: far from a hang.
    assert.ok(r.wallMs < 90_000, `eval took ${(r.wallMs / 1000).toFixed(0)} s`);
  });

  test("the engine worker dies with a SIGKILLed CLI, and obeys SIGTERM while stuck", async () => {
    const dir = loopWorkspace("600s");
    for (const how of ["kill the CLI", "SIGTERM the worker"] as const) {
      const cli = spawn(process.execPath, [CLI, "eval", "long.eval.yaml", "--variant", "tiny/loop"], { cwd: dir, stdio: "ignore" });
      // The worker is the CLI's child; wait until it is stuck in the template (a few seconds in).
      let worker = 0;
      const found = await waitFor(() => {
        try {
          const kids = fs.readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
          worker = kids.find((k) => fs.readFileSync(`/proc/${k}/cmdline`, "utf8").includes("engine-worker")) ?? 0;
        } catch {
          worker = 0;
        }
        return worker > 0;
      }, 60_000);
      assert.ok(found, "the engine worker started");
      // Stuck in the template: its main thread spinning. Loading the tiny model takes a fraction of
      // a second of CPU (threads: 1, nothing measured), so 3 s of CPU means the loop, however loaded
      // the machine is (a fixed wait could end before the loop starts, where 'disconnect' still works).
      const stuck = await waitFor(() => cpuSeconds(worker) >= 3, 90_000);
      assert.ok(stuck, `the worker ${worker} never spun in the template (${cpuSeconds(worker)} s of CPU)`);
      if (how === "kill the CLI") cli.kill("SIGKILL");
      else process.kill(worker, "SIGTERM");
      const gone = await waitFor(() => !alive(worker), 5000);
      assert.ok(gone, `${how}: the worker ${worker} is still alive`);
      if (cli.exitCode === null && cli.signalCode === null) {
        const exited = new Promise((r) => cli.once("exit", r));
        cli.kill("SIGKILL");
        await exited;
      }
    }
  });
});
