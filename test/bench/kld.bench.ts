// Corpus KL divergence benchmark:
//   kld.vs_llama_perplexity_ratio   wall time of `driftlens kld` (a real process: node dist/cli.js)
//                                   ÷ llama-perplexity's two passes (--kl-divergence-base, then
//                                   --kl-divergence) on the same text, models, ctx and threads;
//                                   goal ≤ 1.0 (we write no logits file)
// Input: stories260K (F32, the reference) against its Q4_0 from llama-quantize, the TinyStories
// fixture text, ctx 128, every chunk, 1 thread on both sides. llama-perplexity is built by
// test/tools/llama-tools.sh --like-engine (the CPU kernels node-llama-cpp's prebuilt binary uses).
// The two sides alternate over rounds and the medians are compared (the machine is shared).
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DIST, FIXTURES, REPO_ROOT, SHARED } from "../helpers/paths";
import { main, median, report, selected } from "./harness";

const ROUNDS = 5;
const CTX = 128;
const THREADS = 1;

function timed(cmd: string, args: string[]): { ms: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(" ")} … exited ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`);
  return { ms, out: `${r.stdout}\n${r.stderr}` };
}

async function vsLlamaPerplexity(): Promise<void> {
  const bin = execFileSync("bash", [path.join(REPO_ROOT, "test", "tools", "llama-tools.sh"), "--like-engine"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
  const cli = path.join(DIST, "cli.js");
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing; build first (npm run bench builds it)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-kld-"));
  try {
    const ref = path.join(SHARED, "models", "stories260K.gguf");
    const cand = path.join(dir, "stories-q4_0.gguf");
    execFileSync(path.join(bin, "llama-quantize"), [ref, cand, "q4_0", "1"], { stdio: "ignore" });
    const text = path.join(FIXTURES, "kld", "tinystories.txt");
    const base = path.join(dir, "base.kld");
    const t = ["-t", String(THREADS), "-tb", String(THREADS)];
    const llama = () =>
      timed(path.join(bin, "llama-perplexity"), ["-m", ref, "-f", text, "-c", String(CTX), "--kl-divergence-base", base, ...t]).ms +
      timed(path.join(bin, "llama-perplexity"), ["-m", cand, "-c", String(CTX), "--kl-divergence-base", base, "--kl-divergence", ...t]).ms;
    let chunks = 0;
    let tokens = 0;
    const ours = () => {
      const r = timed(process.execPath, [cli, "kld", "--reference", ref, "--variant", cand, "--text", text, "--ctx", String(CTX), "--threads", String(THREADS), "--format", "json"]);
      const j = JSON.parse(r.out.slice(0, r.out.lastIndexOf("}") + 1));
      chunks = j.chunks;
      tokens = j.tokens;
      return r.ms;
    };
    // Warm-up of both (page cache, the engine's first start), and which path reads the logits.
    const probe = spawnSync(process.execPath, [cli, "kld", "--reference", ref, "--variant", cand, "--text", text, "--ctx", String(CTX), "--chunks", "1", "--threads", String(THREADS), "--format", "json"], {
      encoding: "utf8",
      env: { ...process.env, DRIFTLENS_DEBUG: "1" },
    });
    const logitsPath = /bulk logits: loaded/.test(probe.stderr)
      ? "logits through the bulk_logits addon"
      : `logits through node-llama-cpp per position (${/bulk logits not used: ([^\n]*)/.exec(probe.stderr)?.[1] ?? "addon not used"})`;
    ours();
    llama();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        a.push(ours());
        b.push(llama());
      } else {
        b.push(llama());
        a.push(ours());
      }
    }
    const ratio = median(a) / median(b);
    report(
      "kld.vs_llama_perplexity_ratio",
      Number(ratio.toFixed(3)),
      "ratio",
      1.0,
      "lower",
      `driftlens kld ${Math.round(median(a))} ms vs llama-perplexity base + KL passes ${Math.round(median(b))} ms (medians of ${ROUNDS}, alternating); stories260K F32 vs Q4_0, ${chunks} chunks × ${CTX} tokens, ${tokens} scored, ${THREADS} thread; vocabulary 512; ${logitsPath}`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main("kld", async () => {
  if (selected("kld.vs_llama_perplexity_ratio")) await vsLlamaPerplexity();
});
