// Served-model variants in driftlens.yaml (`endpoints:` instead of a GGUF path): their spec for
// the engine, and the checks that need no network — URLs that cannot work, plain http to another
// machine, a key written into the file, unknown keys. Whether an endpoint answers is checked by
// Workspace (remoteDiagnostics), only where the workspace is trusted.
import { isLoopbackHost } from "../util/net";
import type { RemoteModelSpec } from "../llm/types";
import { REMOTE_VARIANT_KEYS } from "./schemas";
import type { Diagnostic } from "./types";
import { rangeFor, type YamlSource } from "./yaml-source";
import { unknownKeyDiagnostics } from "./zod-diagnostics";

export const DEFAULT_REMOTE_TIMEOUT_S = 300;

/** Whether a driftlens.yaml variant entry describes a served model. */
export function isRemoteEntry(entry: unknown): entry is Record<string, unknown> & { endpoints: string | string[] } {
  return typeof entry === "object" && entry !== null && !Array.isArray(entry) && "endpoints" in entry;
}

/** The engine's spec of a served variant from its (schema-checked) entry. */
export function remoteSpecFrom(entry: Record<string, unknown>): RemoteModelSpec {
  const eps = entry.endpoints;
  const endpoints = (Array.isArray(eps) ? eps : [eps]).filter((e): e is string => typeof e === "string").map((e) => e.trim());
  const spec: RemoteModelSpec = {
    endpoints,
    template: entry.template === "chat" || entry.template === "completion" ? entry.template : "auto",
    timeoutMs: Math.round((typeof entry.timeoutSeconds === "number" ? entry.timeoutSeconds : DEFAULT_REMOTE_TIMEOUT_S) * 1000),
    adapters: [],
  };
  if (typeof entry.model === "string") spec.model = entry.model;
  if (typeof entry.apiKeyEnv === "string") spec.apiKeyEnv = entry.apiKeyEnv;
  if (typeof entry.concurrency === "number") spec.concurrency = entry.concurrency;
  if (typeof entry.revision === "string" || typeof entry.revision === "number") spec.revision = String(entry.revision);
  return spec;
}

/** Problems with one endpoint URL: an error message, a warning message, or nothing. */
export function endpointUrlProblem(url: string): { severity: "error" | "warning"; message: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { severity: "error", message: `'${url}' is not a URL; write the server's address, e.g. http://gpu1:8000/v1` };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { severity: "error", message: `'${url}' uses ${u.protocol.replace(/:$/, "")}; endpoints are http:// or https:// URLs` };
  if (u.username || u.password) return { severity: "error", message: `'${u.protocol}//…@${u.host}' carries credentials in the URL; remove them and set apiKeyEnv to the environment variable holding the key` };
  if (u.search || u.hash) return { severity: "error", message: `'${url}' has a query or fragment; give the server's base URL (e.g. http://gpu1:8000/v1)` };
  if (u.protocol === "http:" && !isLoopbackHost(u.hostname)) {
    return { severity: "warning", message: `plain http to ${u.host}: prompts, outputs and any API key cross the network unencrypted; use https:// (or a tunnel) for a server on another machine` };
  }
  return undefined;
}

const KEY_LIKE = ["apiKey", "api_key", "key", "token", "apiToken", "authorization", "password", "secret"];

/** The network-free checks of one served variant entry. */
export function remoteEntryDiagnostics(src: YamlSource, family: string, name: string, entry: Record<string, unknown>, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = ["models", family, "variants", name];
  if ("path" in entry) {
    out.push({ file, range: rangeFor(src, [...at, "path"], "key"), severity: "error", code: "DL101", message: `variant '${family}/${name}' has both 'path' and 'endpoints': a variant is a GGUF file or a served model, not both` });
  }
  for (const k of Object.keys(entry)) {
    if (!KEY_LIKE.includes(k)) continue;
    out.push({
      file,
      range: rangeFor(src, [...at, k], "key"),
      severity: "error",
      code: "DL125",
      message: `variant '${family}/${name}': never write a key into driftlens.yaml (it is committed and shared); put it in an environment variable and set apiKeyEnv to that variable's name`,
    });
  }
  out.push(
    ...unknownKeyDiagnostics(src, at, REMOTE_VARIANT_KEYS, file, "DL102", `served variant '${family}/${name}'`, (k) => k === "path" || KEY_LIKE.includes(k)),
  );
  const eps = entry.endpoints;
  const list = Array.isArray(eps) ? eps : [eps];
  list.forEach((u, i) => {
    if (typeof u !== "string") return;
    const p = endpointUrlProblem(u.trim());
    if (!p) return;
    const range = rangeFor(src, Array.isArray(eps) ? [...at, "endpoints", i] : [...at, "endpoints"]);
    out.push({ file, range, severity: p.severity, code: p.severity === "error" ? "DL120" : "DL121", message: `variant '${family}/${name}': ${p.message}` });
  });
  const seen = new Set<string>();
  list.forEach((u, i) => {
    if (typeof u !== "string") return;
    const k = u.trim().replace(/\/+$/, "");
    if (seen.has(k)) out.push({ file, range: rangeFor(src, [...at, "endpoints", i]), severity: "error", code: "DL120", message: `variant '${family}/${name}': endpoint ${u} is listed twice; list each server once (raise concurrency instead)` });
    seen.add(k);
  });
  return out;
}
