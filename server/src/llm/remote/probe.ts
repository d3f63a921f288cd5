// What a served model's endpoint is: which server (llama-server, vLLM, Ollama, another
// OpenAI-compatible one), which model it serves, its context, slots and build, whether the model
// has its own chat template, which LoRA adapters it has loaded. Asked once per endpoint (cached a
// few seconds) and combined into the variant's identity: the fingerprint its cached generations
// are keyed by.
import { createHash } from "node:crypto";
import type { EndpointInfo, RemoteModelSpec, ServerKind } from "../types";
import { adapterProblems } from "./generate";
import { displayUrl, RemoteError, requestJson } from "./http";

export type { EndpointInfo, ServerKind } from "../types";

/** The chat template llama-server falls back to when the model has none (common/chat.cpp). */
const LLAMA_SERVER_CHATML_FALLBACK = [
  "{%- for message in messages -%}",
  "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "  {{- '<|im_start|>assistant\n' -}}",
  "{%- endif -%}",
].join("\n");

/** Splits an endpoint URL into the server root and the /v1 API root. */
export function endpointRoots(url: string): { base: string; v1: string } {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  const p = u.pathname.replace(/\/+$/, "");
  if (/\/v1$/.test(p)) {
    u.pathname = p.slice(0, -3);
    const base = u.toString().replace(/\/+$/, "");
    return { base, v1: `${base}/v1` };
  }
  u.pathname = p;
  const base = u.toString().replace(/\/+$/, "");
  return { base, v1: `${base}/v1` };
}

interface ModelsList {
  data?: { id?: unknown; owned_by?: unknown; max_model_len?: unknown; root?: unknown; parent?: unknown; meta?: Record<string, unknown> | null }[];
}

interface LlamaProps {
  total_slots?: unknown;
  model_path?: unknown;
  build_info?: unknown;
  chat_template?: unknown;
  default_generation_settings?: { n_ctx?: unknown };
}

const PROBE_TIMEOUT_MS = 5000;
const CACHE_TTL_MS = 5000;
const cache = new Map<string, { at: number; info: Promise<EndpointInfo> }>();

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const basename = (p: string) => p.split(/[\\/]/).pop() ?? p;

/**
 * Asks one endpoint what it is and what it serves; throws a RemoteError naming the endpoint when
 * it does not answer or does not serve `spec.model`. Answers are cached for a few seconds.
 */
export function probeEndpoint(url: string, spec: Pick<RemoteModelSpec, "model" | "apiKeyEnv">, opts: { fresh?: boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<EndpointInfo> {
  const key = JSON.stringify([url, spec.model ?? null, spec.apiKeyEnv ?? null]);
  const hit = cache.get(key);
  if (hit && !opts.fresh && Date.now() - hit.at < CACHE_TTL_MS) return hit.info;
  const info = doProbe(url, spec, opts.timeoutMs ?? PROBE_TIMEOUT_MS, opts.signal);
  cache.set(key, { at: Date.now(), info });
  info.catch(() => cache.delete(key));
  if (cache.size > 256) cache.delete(cache.keys().next().value as string);
  return info;
}

async function doProbe(url: string, spec: Pick<RemoteModelSpec, "model" | "apiKeyEnv">, timeoutMs: number, signal?: AbortSignal): Promise<EndpointInfo> {
  const { base, v1 } = endpointRoots(url);
  const req = { apiKeyEnv: spec.apiKeyEnv, timeoutMs, ...(signal ? { signal } : {}) };
  const list = await requestJson<ModelsList>(`${v1}/models`, req);
  const data = Array.isArray(list?.data) ? list.data : [];
  const models = data.map((d) => str(d.id)).filter((x): x is string => x !== undefined);
  const owner = str(data[0]?.owned_by) ?? "";
  let kind: ServerKind = owner === "llamacpp" ? "llama-server" : owner === "vllm" ? "vllm" : owner === "library" || owner === "ollama" ? "ollama" : "openai";
  let props: LlamaProps | undefined;
  if (kind === "openai" || kind === "llama-server") {
    // llama-server answers /props; a server that does not is another OpenAI-compatible one.
    props = await requestJson<LlamaProps>(`${base}/props`, req).catch((e: unknown) => {
      if (kind === "llama-server") throw e;
      return undefined;
    });
    if (props && (num(props.total_slots) !== undefined || str(props.build_info))) kind = "llama-server";
    else props = undefined;
  }
  // llama-server serves one model whatever name a request carries; other servers route by name.
  if (kind !== "llama-server") {
    if (!models.length) throw new RemoteError("protocol", `${displayUrl(url)} lists no models at ${v1}/models`);
    if (spec.model && !models.includes(spec.model)) {
      throw new RemoteError("client", `${displayUrl(url)} does not serve '${spec.model}' (it serves ${models.slice(0, 8).join(", ")}${models.length > 8 ? ", …" : ""}); set 'model:' to one of those`);
    }
    if (!spec.model && models.length > 1) {
      throw new RemoteError("client", `${displayUrl(url)} serves several models (${models.slice(0, 8).join(", ")}${models.length > 8 ? ", …" : ""}); set 'model:' to the one to use`);
    }
  }
  const model = spec.model ?? models[0] ?? "default";
  const entry = kind === "llama-server" ? data[0] : (data.find((d) => str(d.id) === model) ?? data[0]);
  const info: EndpointInfo = { url: displayUrl(url), base, v1, kind, model, models, identity: {} };
  if (kind === "llama-server" && props) {
    const meta = entry?.meta ?? {};
    info.slots = num(props.total_slots);
    const b = str(props.build_info);
    if (b) info.build = b;
    info.contextLength = num(meta.n_ctx) ?? num(props.default_generation_settings?.n_ctx);
    info.nVocab = num(meta.n_vocab);
    const tmpl = str(props.chat_template);
    info.ownChatTemplate = tmpl !== undefined && tmpl.trim() !== LLAMA_SERVER_CHATML_FALLBACK;
    const pieces = await requestJson<{ tokens?: { piece?: unknown }[] }>(`${base}/tokenize`, { ...req, body: { content: "a", add_special: false, parse_special: false, with_pieces: true } }).catch(() => undefined);
    const first = pieces?.tokens?.[0]?.piece;
    info.spacePrefix = typeof first === "string" && first.startsWith(" ");
    const adapters = await requestJson<unknown>(`${base}/lora-adapters`, req).catch(() => []);
    info.loraAdapters = Array.isArray(adapters)
      ? adapters.flatMap((a: { id?: unknown; path?: unknown; scale?: unknown }) => (num(a.id) !== undefined && str(a.path) ? [{ id: num(a.id)!, path: str(a.path)!, scale: num(a.scale) ?? 0 }] : []))
      : [];
    info.identity = {
      file: str(props.model_path) ? basename(str(props.model_path)!) : null,
      n_params: meta.n_params ?? null,
      size: meta.size ?? null,
      ftype: meta.ftype ?? null,
      n_vocab: meta.n_vocab ?? null,
      n_embd: meta.n_embd ?? null,
      n_ctx_train: meta.n_ctx_train ?? null,
      chat_template: tmpl ? createHash("sha256").update(tmpl).digest("hex").slice(0, 16) : null,
    };
  } else if (kind === "vllm") {
    info.contextLength = num(entry?.max_model_len);
    const v = await requestJson<{ version?: unknown }>(`${base}/version`, req).catch(() => undefined);
    if (str(v?.version)) info.build = `vllm ${str(v?.version)}`;
    info.identity = { id: model, root: str(entry?.root) ?? null, parent: str(entry?.parent) ?? null, max_model_len: entry?.max_model_len ?? null };
  } else {
    if (kind === "ollama") {
      const v = await requestJson<{ version?: unknown }>(`${base}/api/version`, req).catch(() => undefined);
      if (str(v?.version)) info.build = `ollama ${str(v?.version)}`;
    }
    info.identity = { id: model, owned_by: owner || null };
  }
  return info;
}

export interface RemoteIdentity {
  /** sha256 of what identifies the served weights, the model name, the revision and the adapters. */
  fingerprint: string;
  /** The servers' kind and builds: the remote counterpart of the local engine version. */
  engineVersion: string;
  /** Prompt format: the served model's own chat template, or the local engine's plain text. */
  template: "chat" | "completion";
  /** Endpoints that answered, in configured order. */
  live: EndpointInfo[];
  /** Endpoints that did not answer, or cannot apply the variant's adapters, with why. */
  dead: { url: string; error: string }[];
}

/** Chat or plain text for this endpoint, as the local engine would choose for the same GGUF. */
export function templateFor(spec: Pick<RemoteModelSpec, "template">, info: EndpointInfo): "chat" | "completion" {
  if (spec.template !== "auto") return spec.template;
  if (info.kind === "llama-server") return info.ownChatTemplate ? "chat" : "completion";
  return "chat";
}

/**
 * Probes every endpoint of a remote variant. Throws a RemoteError when none answers (naming each
 * and why) or when the live ones serve different models; otherwise the variant's identity.
 */
export async function identifyRemote(variant: string, spec: RemoteModelSpec, opts: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<RemoteIdentity> {
  const results = await Promise.all(
    spec.endpoints.map((u) =>
      probeEndpoint(u, spec, opts).then(
        (info) => ({ info }),
        (e: unknown) => ({ error: e instanceof Error ? e.message : String(e), url: displayUrl(u) }),
      ),
    ),
  );
  const answered = results.flatMap((r) => ("info" in r ? [r.info] : []));
  const dead = results.flatMap((r) => ("error" in r ? [{ url: r.url, error: r.error }] : []));
  if (!answered.length) {
    throw new RemoteError("refused", `variant ${variant}: no endpoint answers: ${dead.map((d) => d.error).join("; ")}`);
  }
  // An endpoint that cannot apply the variant's adapters would answer with the base model under
  // the adapter's name: it serves none of this variant's cases.
  const live: EndpointInfo[] = [];
  const unfit: string[] = [];
  for (const info of answered) {
    const problems = adapterProblems(info, spec.adapters);
    if (!problems.length) live.push(info);
    else {
      dead.push({ url: info.url, error: problems.join("; ") });
      unfit.push(...problems);
    }
  }
  if (!live.length) {
    const others = dead.filter((d) => !answered.some((i) => i.url === d.url)).map((d) => d.error);
    throw new RemoteError("client", `variant ${variant}: no endpoint can apply its adapters: ${[...unfit, ...others].join("; ")}`);
  }
  const first = live[0]!;
  const idOf = (i: EndpointInfo) => JSON.stringify([i.kind, i.identity, templateFor(spec, i)]);
  const other = live.find((i) => idOf(i) !== idOf(first));
  if (other) {
    throw new RemoteError(
      "client",
      `variant ${variant}: its endpoints serve different models (${first.url}: ${JSON.stringify(first.identity)}; ${other.url}: ${JSON.stringify(other.identity)}); point every endpoint of a variant at the same model`,
    );
  }
  const builds = [...new Set(live.map((i) => i.build ?? "unknown"))].sort();
  const fingerprint = createHash("sha256")
    .update(JSON.stringify(["remote/1", first.kind, first.identity, spec.model ?? first.model, spec.revision ?? null, spec.adapters.map((a) => [a.name, a.scale]), templateFor(spec, first)]))
    .digest("hex");
  return { fingerprint, engineVersion: `remote/1 ${first.kind} ${builds.join(",")}`, template: templateFor(spec, first), live, dead };
}
