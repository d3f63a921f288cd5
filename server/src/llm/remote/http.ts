// HTTP for served models: one JSON request with a time limit, the API key from the environment,
// and every failure sorted into what the scheduler needs to decide (retry elsewhere, wait, drop
// the endpoint, or fail the one case). Messages never carry the key or request headers.
export { isLoopbackHost } from "../../util/net";

/**
 * How a request failed:
 * - refused / connection / timeout / server / protocol / auth: the endpoint's fault (the case is
 *   retried elsewhere; the endpoint backs off and is dropped after repeated failures);
 * - rate-limited: HTTP 429, wait `retryAfterMs` and retry (not a failure of the endpoint);
 * - client: the server rejected this request (HTTP 4xx: e.g. the prompt exceeds its context);
 * - unsupported: the server has no such route (HTTP 404/405/501) — a capability, not a failure;
 * - cancelled: the caller aborted.
 */
export type RemoteErrorKind = "refused" | "connection" | "timeout" | "server" | "protocol" | "auth" | "rate-limited" | "client" | "unsupported" | "cancelled";

export class RemoteError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "RemoteError";
  }

  /** The endpoint, not the request, is at fault. */
  get endpointFault(): boolean {
    return this.kind === "refused" || this.kind === "connection" || this.kind === "timeout" || this.kind === "server" || this.kind === "protocol" || this.kind === "auth";
  }
}

/** The largest answer read from a server: a hostile or broken one cannot exhaust memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The body as text, refusing more than MAX_RESPONSE_BYTES. */
async function readCapped(res: Response, url: string): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) throw new RemoteError("protocol", `${displayUrl(url)} answered ${declared} bytes, more than Driftlens reads (${MAX_RESPONSE_BYTES})`);
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new RemoteError("protocol", `${displayUrl(url)} answered more than ${MAX_RESPONSE_BYTES} bytes; Driftlens stopped reading`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export interface RequestOptions {
  method?: "GET" | "POST";
  body?: unknown;
  /** Environment variable holding the API key; the key itself is never passed around. */
  apiKeyEnv?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Reads the API key from the environment (undefined when no variable is named or it is empty). */
export function apiKeyFrom(envName: string | undefined): string | undefined {
  if (!envName) return undefined;
  const v = process.env[envName];
  return v && v.length ? v : undefined;
}

/** The URL without credentials, query or fragment: what messages and reports may show. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date); undefined when absent. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function networkError(e: unknown, url: string, timeoutMs: number, timedOut: boolean, cancelled: boolean): RemoteError {
  if (cancelled) return new RemoteError("cancelled", `request to ${displayUrl(url)} cancelled`);
  if (timedOut) return new RemoteError("timeout", `${displayUrl(url)} did not answer within ${Math.round(timeoutMs / 1000)} s`);
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (e as { code?: string })?.code;
  if (code === "ECONNREFUSED") return new RemoteError("refused", `${displayUrl(url)} refused the connection (is the server running?)`);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new RemoteError("refused", `${displayUrl(url)}: host not found`);
  if (code === "UND_ERR_CONNECT_TIMEOUT") return new RemoteError("timeout", `${displayUrl(url)}: connection timed out`);
  const why = cause?.message ?? (e instanceof Error ? e.message : String(e));
  // fetch refuses a few ports outright (the WHATWG "bad ports": 6000, 6665-6669, 10080, …).
  if (/bad port/i.test(why)) return new RemoteError("refused", `${displayUrl(url)}: port ${new URL(url).port} is one fetch refuses to connect to (a blocked port); serve on another port`);
  return new RemoteError("connection", `${displayUrl(url)}: connection failed (${code ?? why})`);
}

/** One short line of a server's error body (JSON {error: {message}} or text). */
function errorText(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const m = typeof j.error === "string" ? j.error : (j.error?.message ?? j.message ?? j.detail);
    if (typeof m === "string") return m.split("\n")[0]!.slice(0, 300);
  } catch {
    // not JSON
  }
  return body.replace(/\s+/g, " ").trim().slice(0, 300);
}

/** Sends one request and returns the parsed JSON body; throws a RemoteError otherwise. */
export async function requestJson<T = unknown>(url: string, opts: RequestOptions): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const key = apiKeyFrom(opts.apiKeyEnv);
  if (key) headers.authorization = `Bearer ${key}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: opts.method ?? (opts.body === undefined ? "GET" : "POST"), headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), signal });
    text = await readCapped(res, url);
  } catch (e) {
    if (e instanceof RemoteError) throw e;
    throw networkError(e, url, opts.timeoutMs, timeout.signal.aborted, opts.signal?.aborted ?? false);
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    const why = errorText(text);
    const where = `${displayUrl(url)} answered HTTP ${res.status}${why ? `: ${why}` : ""}`;
    if (res.status === 429) throw new RemoteError("rate-limited", where, 429, parseRetryAfter(res.headers.get("retry-after")));
    if (res.status === 401 || res.status === 403) {
      throw new RemoteError("auth", `${where}${opts.apiKeyEnv ? (key ? ` (the key in $${opts.apiKeyEnv} was refused)` : ` ($${opts.apiKeyEnv} is not set)`) : " (set apiKeyEnv to the environment variable holding the key)"}`, res.status);
    }
    if (res.status === 404 || res.status === 405 || res.status === 501) throw new RemoteError("unsupported", where, res.status);
    if (res.status >= 500 || res.status === 408) throw new RemoteError("server", where, res.status);
    throw new RemoteError("client", where, res.status);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RemoteError("protocol", `${displayUrl(url)} answered with something that is not JSON: ${text.slice(0, 120)}`);
  }
}
