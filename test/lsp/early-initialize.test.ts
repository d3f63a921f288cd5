// The launcher answers `initialize` over stdio before it loads the protocol library
// (server/src/server-early.ts). Each test runs the same conversation against the server twice:
// with the early answer (the default) and with DRIFTLENS_SERVER_EARLY_INITIALIZE=0, where
// vscode-languageserver answers everything itself, and the two must say the same.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { EARLY_INITIALIZE_ID, splitFirstMessage } from "../../server/src/server-early";
import { DIST, tempDir } from "../helpers/paths";
import { fileUri, LspClient, positionOf } from "./client";
import { CAPITAL_PROMPT } from "./fixtures";

const LIBRARY = { DRIFTLENS_SERVER_EARLY_INITIALIZE: "0" };

function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.byteLength}\r\n\r\n`, "ascii"), body]);
}

/** The server as a process speaking raw bytes: what it wrote (parsed), and how it ended. */
class RawServer {
  readonly messages: { id?: unknown; method?: string; result?: unknown; error?: { code: number }; params?: { message?: string } }[] = [];
  private pending: Buffer = Buffer.alloc(0);
  readonly exited: Promise<number | null>;
  stderr = "";
  private readonly proc: ChildProcess;

  constructor(env: NodeJS.ProcessEnv, serverPath = path.join(DIST, "server.js")) {
    this.proc = spawn(process.execPath, [serverPath, "--stdio"], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code) => resolve(code)));
    this.proc.stderr!.on("data", (d: Buffer) => void (this.stderr += d.toString()));
    this.proc.stdout!.on("data", (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      for (let first = splitFirstMessage(this.pending); first && first !== "unreadable"; first = splitFirstMessage(this.pending)) {
        this.messages.push(JSON.parse(first.body.toString("utf8")) as RawServer["messages"][number]);
        this.pending = first.rest;
      }
      assert.notEqual(splitFirstMessage(this.pending), "unreadable", `the server wrote something that is not a protocol message: ${this.pending.toString()}`);
    });
  }

  /** Writes `bytes` in pieces of `piece` bytes, a turn of the event loop apart. */
  async send(bytes: Buffer, piece = bytes.length): Promise<void> {
    for (let i = 0; i < bytes.length; i += piece) {
      this.proc.stdin!.write(bytes.subarray(i, i + piece));
      await new Promise((r) => setImmediate(r));
    }
  }

  end(): void {
    this.proc.stdin!.end();
  }

  async until(what: string, pred: () => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ends stdin and waits for the exit (killing it after 10 s: a server that hangs fails the test). */
  async close(): Promise<number | null> {
    this.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { processId: process.pid, rootUri: null, workspaceFolders: null, capabilities: {}, initializationOptions: { scanOnStartup: false } } };

/** Responses only, without the logs and server → client requests that come after initialized. */
function responses(s: RawServer) {
  return s.messages.filter((m) => m.method === undefined);
}

describe("the launcher's early initialize answer", () => {
  it("is the library's answer, and the server then serves as usual", async () => {
    const dir = tempDir("driftlens-lsp-early-");
    const file = path.join(dir, "first.prompt");
    fs.writeFileSync(file, CAPITAL_PROMPT);
    const results = [];
    for (const env of [{}, LIBRARY]) {
      const c = await LspClient.start({ folders: [dir], settings: { scanOnStartup: false }, env });
      try {
        results.push(c.initializeResult);
        await c.open(file);
        const items = await c.completion(fileUri(file), positionOf(CAPITAL_PROMPT, "{{country", 0, 2));
        assert.ok(items.some((i) => i.label === "country"), JSON.stringify(items.map((i) => i.label)));
        const line = c.logs.find((l) => l.includes("initialize answered"));
        assert.ok(line, c.logs.join("\n"));
        assert.equal(line.includes("answered by the launcher, protocol library loaded by"), env === LIBRARY ? false : true, line);
      } finally {
        await c.stop();
      }
    }
    assert.deepEqual(results[0], results[1]);
  });

  it("reads a first message however stdin cuts it, answers it once, and exits on exit", async () => {
    for (const piece of [1, 7, 64, 100_000]) {
      const s = new RawServer({});
      const shutdown = frame({ jsonrpc: "2.0", id: 2, method: "shutdown" });
      // initialize and initialized in one write (a client may), then shutdown and exit.
      await s.send(Buffer.concat([frame(INITIALIZE), frame({ jsonrpc: "2.0", method: "initialized", params: {} })]), piece);
      await s.until("the initialize answer", () => responses(s).length >= 1);
      await s.send(Buffer.concat([shutdown, frame({ jsonrpc: "2.0", method: "exit" })]), piece);
      assert.equal(await s.exited, 0, `pieces of ${piece} bytes: exit after shutdown is a clean exit`);
      const ids = responses(s).map((m) => m.id);
      assert.deepEqual(ids, [1, 2], `pieces of ${piece} bytes: one answer each, none to ${EARLY_INITIALIZE_ID}`);
      assert.ok((responses(s)[0]!.result as { capabilities?: unknown }).capabilities, "the initialize answer holds the capabilities");
    }
  });

  it("leaves a first message that is not initialize to the library, which answers as it always did", async () => {
    const answers = [];
    for (const env of [{}, LIBRARY]) {
      const s = new RawServer(env);
      await s.send(frame({ jsonrpc: "2.0", id: 5, method: "textDocument/hover", params: { textDocument: { uri: "file:///x.prompt" }, position: { line: 0, character: 0 } } }));
      await s.until("an answer to the early request", () => responses(s).length >= 1);
      answers.push(responses(s));
      await s.close();
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.equal(answers[0]![0]!.id, 5);
  });

  it("on a header without Content-Length or stdin closed mid-message, behaves as the library does and never hangs", async () => {
    for (const input of [Buffer.from("Content-Type: nonsense\r\n\r\n{}"), frame(INITIALIZE).subarray(0, 40)]) {
      const outcomes = [];
      for (const env of [{}, LIBRARY]) {
        const s = new RawServer(env);
        await s.send(input);
        outcomes.push({ code: await s.close(), messages: s.messages });
      }
      assert.deepEqual(outcomes[0], outcomes[1], `input ${JSON.stringify(input.toString())}`);
      assert.equal(outcomes[0]!.code, 1, "stdin ended without shutdown: exit code 1, as the library exits");
    }
  });

  it("without its connection bundle, says which file is missing and what to do, and exits (no stack trace)", async () => {
    const lonely = tempDir("driftlens-lsp-nolsp-");
    fs.copyFileSync(path.join(DIST, "server.js"), path.join(lonely, "server.js"));
    for (const env of [{}, LIBRARY]) {
      const s = new RawServer(env, path.join(lonely, "server.js"));
      await s.send(frame(INITIALIZE));
      const timer = setTimeout(() => void s.close(), 10_000);
      const code = await s.exited;
      clearTimeout(timer);
      assert.equal(code, 1, s.stderr);
      assert.match(s.stderr, /^Driftlens could not load its language server \(\S+server-lsp\.js\): .+\. Reinstall the extension or rebuild with npm run build\.\n$/, s.stderr);
    }
  });

  it("sends console output to the client's log, never into stdout", async () => {
    // A preload that writes to the console once the server runs: it must arrive as a log message.
    const preload = path.join(tempDir("driftlens-lsp-console-"), "console.js");
    fs.writeFileSync(preload, `setTimeout(() => { console.log("hello from", "console.log", { n: 1 }); console.error("and console.error"); }, 300);\n`);
    for (const env of [{}, LIBRARY]) {
      const c = await LspClient.start({ settings: { scanOnStartup: false }, env, execArgv: ["--require", preload] });
      try {
        const deadline = Date.now() + 10_000;
        while (!c.logs.includes("and console.error") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(c.logs.includes("hello from console.log { n: 1 }") && c.logs.includes("and console.error"), c.logs.join("\n"));
        assert.ok(c.alive);
      } finally {
        await c.stop();
      }
    }
  });
});

describe("splitFirstMessage", () => {
  it("finds the first message at every cut of a stream of several, and no sooner", () => {
    const stream = Buffer.concat([frame(INITIALIZE), frame({ jsonrpc: "2.0", method: "initialized", params: { é: "ünïcode ✓" } }), frame({ jsonrpc: "2.0", id: 2, method: "shutdown" })]);
    const firstLength = frame(INITIALIZE).length;
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = splitFirstMessage(stream.subarray(0, cut));
      if (cut < firstLength) assert.equal(r, undefined, `cut at ${cut}`);
      else {
        assert.ok(r && r !== "unreadable", `cut at ${cut}`);
        assert.deepEqual(JSON.parse(r.body.toString("utf8")), INITIALIZE);
        assert.deepEqual(r.rest, stream.subarray(firstLength, cut));
      }
    }
  });

  it("calls a header unreadable without Content-Length, with a huge one, or when it never ends", () => {
    assert.equal(splitFirstMessage(Buffer.from("Content-Type: x\r\n\r\n{}")), "unreadable");
    assert.equal(splitFirstMessage(Buffer.from("Content-Length: 99999999999\r\n\r\n{}")), "unreadable");
    assert.equal(splitFirstMessage(Buffer.alloc(10_000, 0x41)), "unreadable");
    const other = splitFirstMessage(Buffer.from("content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}"));
    assert.ok(other && other !== "unreadable" && other.body.toString() === "{}", "any case, and another header beside it");
  });
});
