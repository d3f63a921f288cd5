// Runs promptfoo's own assertions (runAssertion / runAssertions from the npm package installed in
// .cache/promptfoo by setup.sh) on the pairs in a JSON file and writes their outcomes as JSON:
//   node test/differential/oracle.mjs PROMPTFOO_DIR PAIRS.json OUT.json
// Run in its own process (by differential/promptfoo.test.ts) with telemetry, update checks and
// environment variables in templates turned off, in a scratch folder, so nothing reaches the
// network or the user's files. Embeddings for `similar` come from the pair (`embeddings`: text →
// vector), through a provider object, so both sides embed identically.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [promptfooDir, pairsFile, outFile] = process.argv.slice(2);
const entry = path.join(promptfooDir, "node_modules", "promptfoo", "dist", "src", "index.js");
const pf = await import(pathToFileURL(entry).href);
const { runAssertion, runAssertions } = pf.assertions;

function providerFor(embeddings) {
  return {
    id: () => "driftlens-differential-embedder",
    callApi: async () => ({ output: "" }),
    callEmbeddingApi: async (text) => {
      const embedding = embeddings?.[text];
      return embedding ? { embedding } : { error: `no embedding for ${JSON.stringify(text)}` };
    },
  };
}

/** The outcome: {pass, score} or {error}; a run that does not finish is stopped by the caller. */
async function one(pair) {
  const test = { vars: pair.vars ?? {}, options: { provider: providerFor(pair.embeddings) } };
  const providerResponse = { output: pair.output };
  try {
    if (pair.assertions) {
      const r = await runAssertions({ test: { ...test, assert: pair.assertions, ...(pair.threshold !== undefined ? { threshold: pair.threshold } : {}) }, providerResponse, latencyMs: pair.latencyMs });
      return { pass: r.pass, score: r.score, reason: String(r.reason ?? "") };
    }
    const r = await runAssertion({ assertion: pair.assertion, test, providerResponse, latencyMs: pair.latencyMs });
    return { pass: r.pass, score: r.score, reason: String(r.reason ?? "").split("\n")[0] };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e).split("\n")[0] };
  }
}

const pairs = JSON.parse(fs.readFileSync(pairsFile, "utf8"));
const out = {};
for (const p of pairs) out[p.id] = await one(p);
fs.writeFileSync(outFile, JSON.stringify(out));
process.exit(0);
