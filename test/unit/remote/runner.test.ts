// Evals on served variants over real llama-server processes (stories260K, one thread, loopback):
// spread over endpoints, cached and fingerprinted by what the servers report, surviving a server
// killed mid-run, resumable, and never storing or reporting the API key.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { evalCommand } from "../../../server/src/cli/eval";
import { formatReport } from "../../../server/src/eval/format";
import { startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { runCommand } from "../compare/quickstart";
import { outcomes, runServed, served, servedWorkspace, STORIES, type ServedWorkspace } from "./helpers";

let a: LlamaServer;
let b: LlamaServer;
let c: LlamaServer;
let w: ServedWorkspace;
let baseline: ReturnType<typeof outcomes>;
const extra: LlamaServer[] = [];

before(async () => {
  [a, b, c] = await Promise.all([startLlamaServer({ model: STORIES }), startLlamaServer({ model: STORIES }), startLlamaServer({ model: STORIES })]);
  w = servedWorkspace({ one: served([a.url]), three: served([a.url, b.url, c.url]) });
  const local = await runServed(w, ["story/local"], { noCache: true });
  assert.equal(local.report.runs[0]!.status, "complete", local.report.runs[0]!.error);
  baseline = outcomes(local.report);
});

after(async () => {
  await Promise.all([a, b, c, ...extra].map((s) => s?.stop()));
});

test("one eval over 3 endpoints uses all three and reports the same as over one, and as the local engine on the same GGUF", async () => {
  const three = await runServed(w, ["story/three"], { noCache: true });
  const run3 = three.report.runs[0]!;
  assert.equal(run3.status, "complete", run3.error);
  assert.equal(three.localStarted, false, "a served run starts no local engine");
  assert.deepEqual(
    run3.endpoints!.map((e) => e.url),
    [a.url, b.url, c.url],
  );
  for (const e of run3.endpoints!) {
    assert.ok(e.cases > 0, `${e.url} served ${e.cases} cases`);
    assert.equal(e.failed, false);
    assert.equal(e.error, null);
  }
  assert.equal(
    run3.endpoints!.reduce((n, e) => n + e.cases, 0),
    30,
  );
  assert.equal(run3.backend, "remote llama-server");
  assert.deepEqual(outcomes(three.report), baseline);

  const one = await runServed(w, ["story/one"], { noCache: true });
  assert.equal(one.report.runs[0]!.status, "complete");
  assert.deepEqual(one.report.runs[0]!.endpoints!.map((e) => [e.url, e.cases]), [[a.url, 30]]);
  assert.deepEqual(outcomes(one.report), outcomes(three.report));
  // The whole report, timings and endpoints aside. Probabilities agree to 1e-6, not bit for bit:
  // with prompt caching a server evaluates the part of a prompt it does not hold yet, and which
  // part that is depends on the case it ran before (llama.cpp's logits differ in the last bits
  // between batch sizes; the local engine's prefix reuse does the same).
  const strip = (r: typeof run3) => ({ ...r, variant: "", endpoints: [], id: "", summary: { ...r.summary, wallMs: 0, tokensPerSecond: 0 }, cases: r.cases.map((x) => ({ ...x, timings: null, tokens: x.tokens.map((t) => ({ ...t, prob: 0, top: t.top.map((y) => ({ ...y, prob: 0 })) })) })) });
  assert.deepEqual(strip(one.report.runs[0]!), strip(run3));
  const probs = (r: typeof run3) => r.cases.flatMap((x) => x.tokens.flatMap((t) => [t.prob, ...t.top.map((y) => y.prob)]));
  const p1 = probs(one.report.runs[0]!);
  probs(run3).forEach((p, i) => assert.ok(Math.abs(p - p1[i]!) < 1e-6, `probability ${i}: ${p} vs ${p1[i]}`));
});

test("a rerun is fully cached (nothing generated), a changed revision is not", async () => {
  const again = await runServed(w, ["story/three"]);
  const run = again.report.runs[0]!;
  assert.equal(run.status, "complete");
  assert.equal(run.summary.cached, 30);
  assert.equal(run.summary.generated, 0);
  assert.ok(run.endpoints!.every((e) => e.cases === 0 && !e.failed));
  assert.deepEqual(outcomes(again.report), baseline);

  w.setVariants({ one: served([a.url]), three: served([a.url, b.url, c.url], 'revision: "2026-12-01"') });
  const revised = await runServed(w, ["story/three"]);
  const r2 = revised.report.runs[0]!;
  assert.equal(r2.status, "complete");
  assert.equal(r2.summary.generated, 30, "a new revision is a new fingerprint: nothing cached");
  assert.notEqual(r2.modelFingerprint, run.modelFingerprint);
  assert.deepEqual(outcomes(revised.report), baseline);
  w.setVariants({ one: served([a.url]), three: served([a.url, b.url, c.url]) });
});

test("SIGKILL of one server mid-run: the run completes on the others and the report names it and why", async () => {
  const d = await startLlamaServer({ model: STORIES });
  extra.push(d);
  w.setVariants({ pair: served([a.url, d.url]) });
  let killedAt = -1;
  const { report } = await runServed(w, ["story/pair"], {
    noCache: true,
    onProgress: (p) => {
      if (killedAt < 0 && p.done >= 4) {
        killedAt = p.done;
        d.kill();
      }
    },
  });
  const run = report.runs[0]!;
  assert.ok(killedAt >= 4 && killedAt < 30, `killed after ${killedAt} cases`);
  assert.equal(run.status, "complete", run.error);
  assert.equal(run.cases.length, 30);
  const dead = run.endpoints!.find((e) => e.url === d.url)!;
  const live = run.endpoints!.find((e) => e.url === a.url)!;
  assert.equal(dead.failed, true);
  assert.match(dead.error ?? "", /refused the connection|connection failed/);
  assert.equal(live.failed, false);
  assert.equal(live.cases + dead.cases, 30);
  assert.ok(live.cases > 30 - killedAt, "the killed server's cases ran on the other one");
  assert.deepEqual(outcomes(report), baseline);
  const json = formatReport(report, "json", w.root);
  assert.match(json, new RegExp(`"url": "${d.url.replace(/[/.]/g, "\\$&")}"`));
  const text = formatReport(report, "text", w.root);
  assert.ok(text.includes(`${d.url} ${dead.cases} case`) && /\(failed: .*(refused|connection failed)/.test(text), text);
});

test("every server killed mid-run: the run fails naming each endpoint, keeps its results, and a rerun on new servers resumes it", async () => {
  const [e, f] = await Promise.all([startLlamaServer({ model: STORIES }), startLlamaServer({ model: STORIES })]);
  extra.push(e, f);
  w.setVariants({ pool: served([e.url, f.url], 'revision: "resume"') });
  let killed = false;
  const first = await runServed(w, ["story/pool"], {
    noCache: true,
    onProgress: (p) => {
      if (!killed && p.done >= 6) {
        killed = true;
        e.kill();
        f.kill();
      }
    },
  });
  const r1 = first.report.runs[0]!;
  assert.equal(r1.status, "failed");
  assert.match(r1.error ?? "", /every endpoint failed/);
  assert.ok(r1.error!.includes(e.url) && r1.error!.includes(f.url), r1.error);
  const stored = r1.cases.length;
  assert.ok(stored >= 6 && stored < 30, `${stored} results kept`);

  const [g, h] = await Promise.all([startLlamaServer({ model: STORIES }), startLlamaServer({ model: STORIES })]);
  extra.push(g, h);
  w.setVariants({ pool: served([g.url, h.url], 'revision: "resume"') });
  const second = await runServed(w, ["story/pool"]);
  const r2 = second.report.runs[0]!;
  assert.equal(r2.status, "complete", r2.error);
  assert.equal(r2.resumed, true, "same served model, same fingerprint: the interrupted run is resumed");
  assert.equal(r2.id, r1.id);
  assert.equal(r2.summary.generated, 30 - stored);
  assert.deepEqual(outcomes(second.report), baseline);
});

test("the API key comes from the environment only: sent to the server, never in the store or any report", async () => {
  const KEY = "sk-driftlens-test-9f8e7d6c5b4a";
  const s = await startLlamaServer({ model: STORIES, args: ["--api-key", KEY] });
  extra.push(s);
  const ws = servedWorkspace({ keyed: served([s.url], "apiKeyEnv: DRIFTLENS_TEST_KEY") }, 6);
  const env = process.env.DRIFTLENS_TEST_KEY;
  try {
    delete process.env.DRIFTLENS_TEST_KEY;
    const missing = await runCommand(evalCommand, ["--variant", "story/keyed", "--format", "json"], ws.root);
    assert.equal(missing.code, 2);
    assert.match(missing.out + missing.err, /\$DRIFTLENS_TEST_KEY is not set/);

    process.env.DRIFTLENS_TEST_KEY = KEY;
    const outputs: string[] = [];
    for (const format of ["json", "text", "junit", "markdown"]) {
      const r = await runCommand(evalCommand, ["--variant", "story/keyed", "--format", format], ws.root);
      assert.ok(r.code === 0 || r.code === 1, r.err);
      outputs.push(r.out, r.err);
    }
    assert.match(outputs[0]!, /"status": "complete"/);
    for (const o of outputs) assert.ok(!o.includes(KEY), "a report or message shows the key");
    const dir = path.dirname(ws.store);
    for (const f of fs.readdirSync(dir)) {
      const bytes = fs.readFileSync(path.join(dir, f));
      assert.equal(bytes.indexOf(Buffer.from(KEY)), -1, `${f} holds the key`);
    }
  } finally {
    if (env === undefined) delete process.env.DRIFTLENS_TEST_KEY;
    else process.env.DRIFTLENS_TEST_KEY = env;
  }
});
