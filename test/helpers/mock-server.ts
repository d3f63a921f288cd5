// MOCK servers, for the few things llama-server cannot do: answer HTTP 429 with Retry-After, speak
// vLLM's shapes (owned_by "vllm", /tokenize with `prompt`, /v1/completions `prompt_logprobs`), or
// look like a server without prompt logprobs (Ollama's /v1). Each is a proxy in front of a REAL
// llama-server: every number it returns (tokens, probabilities) comes from that server; the mock
// only changes the envelope. Named "mock" wherever used.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LlamaServer } from "./llama-server";

export interface MockServer {
  url: string;
  /** Requests received: method, path, time (performance.now()), status answered, headers. */
  requests: { method: string; path: string; at: number; status: number; authorization?: string }[];
  close(): Promise<void>;
}

export interface MockOptions {
  upstream: LlamaServer;
  personality: "vllm" | "ollama" | "llama-server";
  /**
   * Fault injection on requests whose path starts with one of `paths`, for the first `count` of
   * them: HTTP 429 with Retry-After, HTTP 500, or no answer at all ("hang").
   */
  fault?: { paths: string[]; count: number; answer: 429 | 500 | "hang"; retryAfterSeconds?: number };
  /** Model id to list at /v1/models (default "mock-model"). */
  modelId?: string;
}

const readBody = (req: http.IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = "";
    req.on("data", (c: Buffer) => (s += c.toString()));
    req.on("end", () => resolve(s));
  });

async function upstreamJson(up: LlamaServer, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const base = up.url.replace(/\/v1$/, "");
  const r = await fetch(`${base}${route}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  try {
    return { status: r.status, json: JSON.parse(text) };
  } catch {
    return { status: r.status, json: { error: text } };
  }
}

/** vLLM's prompt_logprobs, computed by a real llama-server one position at a time (full vocabulary). */
async function vllmPromptLogprobs(up: LlamaServer, prompt: number[], k: number, nVocab: number): Promise<(Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[]> {
  const out: (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] = [null];
  for (let j = 1; j < prompt.length; j++) {
    const r = await upstreamJson(up, "/completion", { prompt: prompt.slice(0, j), n_predict: 1, n_probs: nVocab, temperature: 0, cache_prompt: true });
    const top = ((r.json as { completion_probabilities?: { top_logprobs?: { id: number; logprob: number; token: string }[] }[] }).completion_probabilities?.[0]?.top_logprobs ?? []).slice();
    top.sort((a, b) => b.logprob - a.logprob);
    const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    top.slice(0, k).forEach((t, i) => (entry[String(t.id)] = { logprob: t.logprob, rank: i + 1, decoded_token: t.token }));
    const actual = prompt[j]!;
    const idx = top.findIndex((t) => t.id === actual);
    if (idx >= 0) entry[String(actual)] = { logprob: top[idx]!.logprob, rank: idx + 1, decoded_token: top[idx]!.token };
    out.push(entry);
  }
  return out;
}

export async function startMockServer(opts: MockOptions): Promise<MockServer> {
  const up = opts.upstream;
  const requests: MockServer["requests"] = [];
  let faults = 0;
  const hanging: http.ServerResponse[] = [];
  const modelId = opts.modelId ?? "mock-model";
  let nVocab: number | undefined;
  const server = http.createServer(async (req, res) => {
    const at = performance.now();
    const url = new URL(req.url ?? "/", "http://x");
    const route = url.pathname;
    const body = await readBody(req);
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      requests.push({ method: req.method ?? "GET", path: route, at, status, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(json));
    };
    try {
      const f = opts.fault;
      if (f && f.paths.some((p) => route.startsWith(p)) && faults < f.count) {
        faults++;
        if (f.answer === 429) return send(429, { error: { message: "rate limited (mock)" } }, f.retryAfterSeconds !== undefined ? { "retry-after": String(f.retryAfterSeconds) } : {});
        if (f.answer === 500) return send(500, { error: { message: "internal error (mock)" } });
        requests.push({ method: req.method ?? "GET", path: route, at, status: 0 });
        hanging.push(res);
        return;
      }
      const parsed = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
      if (opts.personality === "llama-server") {
        const r = await upstreamJson(up, route, parsed);
        return send(r.status, r.json);
      }
      if (route === "/v1/models") {
        return send(200, { object: "list", data: [{ id: modelId, object: "model", owned_by: opts.personality === "vllm" ? "vllm" : "library", root: modelId, max_model_len: 512 }] });
      }
      if (opts.personality === "vllm" && route === "/version") return send(200, { version: "0.0.0-mock" });
      if (opts.personality === "ollama" && route === "/api/version") return send(200, { version: "0.0.0-mock" });
      if (opts.personality === "vllm" && route === "/tokenize" && parsed) {
        if (typeof parsed.prompt !== "string") return send(400, { error: { message: "mock vLLM tokenizes `prompt` only" } });
        const r = await upstreamJson(up, "/tokenize", { content: parsed.prompt, add_special: parsed.add_special_tokens !== false, parse_special: false });
        const tokens = (r.json as { tokens: number[] }).tokens;
        return send(200, { tokens, count: tokens.length, max_model_len: 512 });
      }
      if (route === "/v1/completions" && parsed && opts.personality === "vllm" && typeof parsed.prompt_logprobs === "number") {
        if (parsed.prompt_logprobs > 20) return send(400, { error: { message: "Requested prompt logprobs of 21, which is greater than max allowed: 20" } });
        if (!Array.isArray(parsed.prompt)) return send(400, { error: { message: "mock vLLM wants token ids for prompt_logprobs" } });
        nVocab ??= ((await upstreamJson(up, "/v1/models")).json as { data: { meta: { n_vocab: number } }[] }).data[0]!.meta.n_vocab;
        const pl = await vllmPromptLogprobs(up, parsed.prompt as number[], parsed.prompt_logprobs, nVocab);
        return send(200, { object: "text_completion", model: modelId, choices: [{ index: 0, text: "", finish_reason: "length", prompt_logprobs: pl, logprobs: null }] });
      }
      if ((route === "/v1/completions" || route === "/v1/chat/completions") && parsed) {
        // Generation: the real server's answer (vLLM-only fields dropped, the model renamed).
        const { return_tokens_as_token_ids: _a, prompt_logprobs: _b, ...rest } = parsed;
        const r = await upstreamJson(up, route, rest);
        if (r.json && typeof r.json === "object") (r.json as { model?: string }).model = modelId;
        return send(r.status, r.json);
      }
      return send(404, { error: { message: `mock ${opts.personality} has no route ${route}` } });
    } catch (e) {
      return send(502, { error: { message: `mock proxy: ${(e as Error).message}` } });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const h of hanging) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A listener that records every request and answers 404: proves that nothing was sent. */
export async function startRecorder(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/v1`, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}
