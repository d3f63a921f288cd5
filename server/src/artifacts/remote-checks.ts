// The checks of served variants that ask their endpoints (DL122 does not answer, DL123 serves
// another model, DL124 adapter not on the server), with the answers kept a few seconds so typing
// in driftlens.yaml does not ask again on every keystroke. The asking itself is injected
// (WorkspaceOptions.checkEndpoint, from llm/remote): a Workspace without it asks nothing, which is
// how a restricted workspace sends nothing anywhere.
import type { EndpointCheck, EndpointStatus, RemoteModelSpec } from "../llm/types";
import type { Diagnostic, Range } from "./types";
import { rangeFor, type YamlSource } from "./yaml-source";

/** How long an answer (or a failure to answer) is reused. */
const TTL_MS = 15_000;
/** Diagnostics wait at most this long for an endpoint. */
const PROBE_TIMEOUT_MS = 1500;

export interface RemoteVariantStatus {
  variant: string;
  endpoints: EndpointStatus[];
  /** Set when live endpoints serve different models. */
  mismatch?: string;
  /** Adapters the endpoints cannot apply. */
  adapterProblems: string[];
}

export class RemoteChecks {
  private readonly cache = new Map<string, { at: number; status: Promise<EndpointStatus> }>();

  constructor(private readonly check: EndpointCheck) {}

  private endpoint(url: string, spec: RemoteModelSpec): Promise<EndpointStatus> {
    const key = JSON.stringify([url, spec.model ?? null, spec.apiKeyEnv ?? null, spec.adapters]);
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.status;
    const status = this.check(url, spec, PROBE_TIMEOUT_MS).catch((e: unknown): EndpointStatus => ({ url, error: e instanceof Error ? e.message : String(e), adapterProblems: [] }));
    this.cache.set(key, { at: Date.now(), status });
    if (this.cache.size > 128) this.cache.delete(this.cache.keys().next().value as string);
    return status;
  }

  async status(variant: string, spec: RemoteModelSpec): Promise<RemoteVariantStatus> {
    const endpoints = await Promise.all(spec.endpoints.map((u) => this.endpoint(u, spec)));
    const live = endpoints.flatMap((e) => (e.info ? [e.info] : []));
    const out: RemoteVariantStatus = { variant, endpoints, adapterProblems: [] };
    const first = live[0];
    const other = first ? live.find((i) => JSON.stringify([i.kind, i.identity]) !== JSON.stringify([first.kind, first.identity])) : undefined;
    if (first && other) out.mismatch = `${first.url} and ${other.url} serve different models (${JSON.stringify(first.identity)} vs ${JSON.stringify(other.identity)})`;
    for (const e of endpoints) for (const p of e.adapterProblems) if (!out.adapterProblems.includes(p)) out.adapterProblems.push(p);
    return out;
  }

  /** DL122/DL123 for one served variant of driftlens.yaml, at each endpoint's URL. */
  diagnostics(st: RemoteVariantStatus, file: string, src: YamlSource | undefined, family: string, name: string, fallback: Range): Diagnostic[] {
    const out: Diagnostic[] = [];
    const at = ["models", family, "variants", name, "endpoints"];
    const list = st.endpoints;
    list.forEach((e, i) => {
      if (!e.error) return;
      const range = src ? (isList(src, at) ? rangeFor(src, [...at, i]) : rangeFor(src, at)) : fallback;
      out.push({ file, range, severity: "warning", code: e.wrongModel ? "DL123" : "DL122", message: `variant '${family}/${name}': ${e.error}` });
    });
    if (st.mismatch) out.push({ file, range: fallback, severity: "warning", code: "DL123", message: `variant '${family}/${name}': ${st.mismatch}; point every endpoint of a variant at the same model` });
    return out;
  }
}

function isList(src: YamlSource, path: (string | number)[]): boolean {
  let v: unknown = src.value;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return Array.isArray(v);
}
