// Ollama model names, parsed the way Ollama's types/model package parses them:
// [host/][namespace/]model[:tag], filled with registry.ollama.ai / library / latest, every part
// checked with Ollama's character rules (first character a letter, digit or '_'; then also '-',
// '.' (not in a namespace) and ':' (host only)). Names compare case-insensitively.

export interface OllamaName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

export const OLLAMA_DEFAULT_HOST = "registry.ollama.ai";
/** Current Ollama releases write public models under this host in manifests-v2/. */
export const OLLAMA_V2_HOST = "ollama.com";
export const OLLAMA_DEFAULT_NAMESPACE = "library";
export const OLLAMA_DEFAULT_TAG = "latest";

type Part = "host" | "namespace" | "model" | "tag";

function validPart(kind: Part, s: string): boolean {
  if (s.length < 1 || s.length > (kind === "host" ? 350 : 80)) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const alnum = /[A-Za-z0-9_]/.test(c);
    if (i === 0) {
      if (!alnum) return false;
      continue;
    }
    if (alnum || c === "-") continue;
    if (c === "." && kind !== "namespace") continue;
    if (c === ":" && kind === "host") continue;
    return false;
  }
  return true;
}

/** Parses an Ollama name; `error` says what is wrong and how a name is written. */
export function parseOllamaName(text: string): OllamaName | { error: string } {
  // Ollama drops any scheme before the host (`https://ollama.com/library/x`, `scheme://host:port/…`).
  let s = text.trim().replace(/^[^/]*:\/\//, "");
  const bad = (why: string) => ({ error: `'${text.trim()}' is not an Ollama model name: ${why}; write model[:tag], namespace/model[:tag] or host/namespace/model[:tag], e.g. llama3.2:1b` });
  if (!s) return bad("it is empty");
  if (s.includes("@")) return bad("digests (@sha256-…) are not supported, name the model by its tag");
  let tag = OLLAMA_DEFAULT_TAG;
  if (s.lastIndexOf(":") > s.lastIndexOf("/")) {
    tag = s.slice(s.lastIndexOf(":") + 1);
    s = s.slice(0, s.lastIndexOf(":"));
    if (!tag) return bad("the tag after ':' is empty");
  }
  const parts = s.split("/");
  if (parts.length > 3) return bad("it has more than three '/'-separated parts");
  if (parts.some((p) => p === "")) return bad("it has an empty part");
  const model = parts[parts.length - 1]!;
  const namespace = parts.length >= 2 ? parts[parts.length - 2]! : OLLAMA_DEFAULT_NAMESPACE;
  const host = parts.length === 3 ? parts[0]! : OLLAMA_DEFAULT_HOST;
  const checks: [Part, string][] = [
    ["host", host],
    ["namespace", namespace],
    ["model", model],
    ["tag", tag],
  ];
  for (const [kind, v] of checks) if (!validPart(kind, v)) return bad(`'${v}' is not a valid ${kind}`);
  return { host, namespace, model, tag };
}

export function isPublicHost(host: string): boolean {
  return host.toLowerCase() === OLLAMA_DEFAULT_HOST || host.toLowerCase() === OLLAMA_V2_HOST;
}

/** The shortest display form, as `ollama list` shows it: `llama3.2:1b`, `user/model:tag`, `host/ns/model:tag`. */
export function shortOllamaName(n: OllamaName): string {
  if (!isPublicHost(n.host)) return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
  if (n.namespace.toLowerCase() !== OLLAMA_DEFAULT_NAMESPACE) return `${n.namespace}/${n.model}:${n.tag}`;
  return `${n.model}:${n.tag}`;
}
