// The launcher's early answer (server.ts, over --stdio): reads the client's first message itself
// and, when it is `initialize`, answers it before the protocol library is loaded. The editor counts
// a language server as started once `initialize` is answered, and loading vscode-languageserver
// (dist/server-lsp.js, 460 KB) is most of what our process does before it could answer; the
// answer is static (features/capabilities.ts), so it need not wait for the library.
//
// The connection still sees the whole conversation: the launcher hands server-lsp.ts the bytes it
// read, with the `initialize` request renumbered to EARLY_INITIALIZE_ID, so vscode-languageserver
// initializes its own state (client capabilities, trace, the parent-process watchdog) from the
// same params, and its answer to that renumbered request is dropped (the client had it already).
// A first message that is not `initialize`, or that cannot be read, is handed over untouched: the
// library then answers it exactly as it would have.
//
// No imports beyond Node's own: this runs before anything else is loaded.

/** The id the replayed `initialize` request carries; the connection's answer to it is dropped. */
export const EARLY_INITIALIZE_ID = "driftlens-early-initialize";

/** What the launcher read, for server-lsp.ts to start its connection with. */
export interface EarlyStart {
  /** Bytes the connection reads before the rest of stdin. */
  replay: Buffer;
  /** Whether `initialize` was answered here (then the connection's answer to EARLY_INITIALIZE_ID is dropped). */
  answered: boolean;
  /** When the launcher began reading stdin, and when it answered: ms since the process started. */
  listeningAt: number;
  answeredAt: number;
}

/** A first message larger than this is left to the library (the editor's `initialize` is a few KB). */
const MAX_FIRST_MESSAGE = 16 * 1024 * 1024;
const SEPARATOR = Buffer.from("\r\n\r\n", "ascii");

/** The first message in `bytes`: undefined while it is incomplete, "unreadable" when its header cannot be read. */
export function splitFirstMessage(bytes: Buffer): { body: Buffer; rest: Buffer } | "unreadable" | undefined {
  const end = bytes.indexOf(SEPARATOR);
  if (end < 0) return bytes.length > 8192 ? "unreadable" : undefined;
  const length = /(?:^|\r\n)Content-Length: *(\d+) *(?:\r\n|$)/i.exec(bytes.subarray(0, end).toString("ascii"));
  if (!length) return "unreadable";
  const size = Number(length[1]);
  if (!Number.isSafeInteger(size) || size > MAX_FIRST_MESSAGE) return "unreadable";
  const start = end + SEPARATOR.length;
  if (bytes.length < start + size) return undefined;
  return { body: bytes.subarray(start, start + size), rest: bytes.subarray(start + size) };
}

function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.byteLength}\r\n\r\n`, "ascii"), body]);
}

/**
 * The answer to write and the bytes to replay, given the first message's body, what followed it,
 * and everything read so far (`all`, replayed untouched when the message is not `initialize`).
 */
export function earlyExchange(body: Buffer, rest: Buffer, all: Buffer, result: () => unknown): { answer?: Buffer; replay: Buffer } {
  let message: unknown;
  try {
    message = JSON.parse(body.toString("utf8"));
  } catch {
    return { replay: all };
  }
  const request = message as { id?: unknown; method?: unknown } | null;
  const id = request?.id;
  if (typeof request !== "object" || request === null || request.method !== "initialize" || (typeof id !== "number" && typeof id !== "string")) return { replay: all };
  return {
    answer: frame({ jsonrpc: "2.0", id, result: result() }),
    replay: Buffer.concat([frame({ ...request, id: EARLY_INITIALIZE_ID }), rest]),
  };
}

/**
 * Reads `input` up to the end of the first message, answers it on `output` when it is
 * `initialize`, and calls `then` (synchronously, with `input` paused) to start the connection.
 */
export function answerInitializeEarly(input: NodeJS.ReadStream, output: NodeJS.WriteStream, result: () => unknown, then: (start: EarlyStart) => void): void {
  const listeningAt = performance.now();
  let pending: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = (replay: Buffer, answer?: Buffer) => {
    done = true;
    input.removeListener("data", onData);
    input.removeListener("end", onEnd);
    input.pause();
    if (answer) output.write(answer);
    then({ replay, answered: answer !== undefined, listeningAt, answeredAt: performance.now() });
  };
  const onData = (chunk: Buffer) => {
    if (done) return;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const first = splitFirstMessage(pending);
    if (first === undefined) return;
    if (first === "unreadable") return finish(pending);
    const { answer, replay } = earlyExchange(first.body, first.rest, pending, result);
    finish(replay, answer);
  };
  // The client closed stdin before a whole message: the library sees the same and exits as usual.
  const onEnd = () => {
    if (!done) finish(pending);
  };
  input.on("data", onData);
  input.on("end", onEnd);
}
