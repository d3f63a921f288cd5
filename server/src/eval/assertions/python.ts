// python (promptfoo's src/assertions/python.ts): the value is the body of `main(output, context)`
// when it has several lines (indented by its own first indentation) and the returned expression
// otherwise, after `import json`. The result may be a boolean, a number (passes above 0, or at
// `threshold`; the number is the score), "true"/"false", a grading result {pass, score, reason}
// (snake_case keys such as `pass_` accepted) or its JSON text; anything else fails, as in
// promptfoo. The code runs only in a trusted workspace (like javascript), in a Python 3 process of
// its own with a time limit; `context` holds Driftlens's fields (vars, latencyMs, caseId, tags,
// variant, prompt). Python is found as DRIFTLENS_PYTHON, else `python3` (`python` on Windows).
import { spawn } from "node:child_process";
import { AssertionRuntimeError, type AssertionContext, type Handler, type HandlerInput, type Verdict } from "./types";

/** promptfoo's buildPythonScript: the code as the function `main`. */
export function pythonScript(code: string): string {
  const multiline = code.includes("\n");
  let indent = "    ";
  if (multiline) {
    const m = /^(?!\s*$)\s+/m.exec(code);
    if (m) indent = m[0];
  }
  const body = multiline
    ? code
        .split("\n")
        .map((l) => `${indent}${l}`)
        .join("\n")
    : `    return ${code}`;
  return `import json\n\ndef main(output, context):\n${body}\n`;
}

// Runs the script's main() and writes {"value": …} or {"error": …} as the last line of stdout;
// what the code prints goes to stderr, so it cannot be taken for the result.
const RUNNER = `
import asyncio, inspect, json, sys
real_stdout = sys.stdout
sys.stdout = sys.stderr
def answer(obj):
    real_stdout.write("\\n" + json.dumps(obj, ensure_ascii=False) + "\\n")
    real_stdout.flush()
try:
    req = json.loads(sys.stdin.read())
    ns = {"__name__": "driftlens_assertion"}
    exec(compile(req["script"], "<python assertion>", "exec"), ns)
    r = ns["main"](req["output"], req["context"])
    if inspect.iscoroutine(r):
        r = asyncio.run(r)
    answer({"value": r})
except SystemExit as e:
    answer({"error": "the code called exit(%s)" % (e.code,)})
except BaseException as e:
    answer({"error": "%s: %s" % (type(e).__name__, e)})
`;

const MAX_OUTPUT = 1 << 20;

export function pythonExecutable(): string {
  return process.env.DRIFTLENS_PYTHON || (process.platform === "win32" ? "python" : "python3");
}

type PyOutcome = { value: unknown } | { error: string };

/** Runs `main(output, context)` of a script in a fresh Python process, stopped after `timeoutMs`. */
export function runPython(script: string, output: unknown, context: Record<string, unknown>, timeoutMs: number): Promise<PyOutcome> {
  const exe = pythonExecutable();
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    let done = false;
    const child = spawn(exe, ["-c", RUNNER], { stdio: ["pipe", "pipe", "pipe"], windowsHide: true, env: { ...process.env, PYTHONIOENCODING: "utf-8", PYTHONDONTWRITEBYTECODE: "1" } });
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      f();
    };
    const timer = setTimeout(() => finish(() => resolve({ error: `timed out after ${timeoutMs} ms` })), timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => {
      finish(() =>
        e.code === "ENOENT"
          ? reject(new AssertionRuntimeError(`python assertions need Python 3, and '${exe}' was not found; install Python 3 or set DRIFTLENS_PYTHON to its path`))
          : reject(new AssertionRuntimeError(`python assertion: could not start '${exe}': ${e.message}`)),
      );
    });
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.length > MAX_OUTPUT) finish(() => resolve({ error: `the result is larger than ${MAX_OUTPUT} bytes` }));
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.on("close", () => {
      finish(() => {
        const last = out.trimEnd().split("\n").pop() ?? "";
        try {
          const r = JSON.parse(last) as PyOutcome;
          resolve(r);
        } catch {
          const why = err.trim().split("\n").slice(-1)[0];
          resolve({ error: `Python exited without a result${why ? `: ${why}` : ""}` });
        }
      });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(JSON.stringify({ script, output, context }));
  });
}

interface Grading {
  pass: boolean;
  score: number;
  reason: string;
}

function isGrading(r: unknown): r is Grading {
  const g = r as Record<string, unknown>;
  return typeof r === "object" && r !== null && typeof g.pass === "boolean" && typeof g.score === "number" && typeof g.reason === "string";
}

function describe(r: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(r) ?? String(r);
  } catch {
    s = String(r);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** promptfoo's normalizeScriptResult for Python results, `not-` applied. Throws on a result of no known shape. */
export function normalizePythonResult(r: unknown, inverse: boolean, threshold: number | undefined): Verdict {
  const lower = typeof r === "string" ? r.toLowerCase() : undefined;
  const fromBool = (b: boolean): Verdict => {
    const pass = b !== inverse;
    return { pass, score: pass ? 1 : 0, message: pass ? "" : `the Python code returned ${b}` };
  };
  if (r === true || lower === "true") return fromBool(true);
  if (r === false || lower === "false") return fromBool(false);
  let obj = r;
  if (typeof r === "string" && r.startsWith("{")) {
    try {
      obj = JSON.parse(r) as unknown;
    } catch (e) {
      throw new Error(`the returned text is not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== "object" || obj === null) throw new Error(`the code must return a boolean, a number or {pass, score, reason}; got ${describe(r)}`);
  }
  if (typeof obj === "object" && obj !== null) {
    const m = { ...(obj as Record<string, unknown>) };
    if ("pass_" in m && !("pass" in m)) m.pass = m.pass_;
    if (!isGrading(m)) throw new Error(`the code must return a boolean, a number or {pass, score, reason}; got ${describe(m)}`);
    let raw = m.pass;
    let reason = m.reason;
    if (threshold !== undefined && m.score < threshold) {
      raw = false;
      reason = `Python score ${m.score} is less than threshold ${threshold}${reason ? `: ${reason}` : ""}`;
    }
    const pass = raw !== inverse;
    return { pass, score: m.score, message: pass === raw ? reason : pass ? "" : `the Python code returned pass: ${raw}` };
  }
  const score = Number.parseFloat(String(r));
  if (Number.isNaN(score)) throw new Error(`the code must return a boolean, a number or {pass, score, reason}; got ${describe(r)}`);
  const raw = threshold === undefined ? score > 0 : score >= threshold;
  const pass = raw !== inverse;
  return { pass, score, message: pass ? "" : `the Python code returned ${score}${threshold === undefined ? "" : ` (threshold ${threshold})`}` };
}

const DEFAULT_TIMEOUT_MS = 10_000;

async function python(input: HandlerInput, ctx: AssertionContext): Promise<Verdict> {
  if (!ctx.trusted) {
    return { pass: false, score: 0, message: "python assertions run only in a trusted workspace; trust the workspace (or pass --trust to the CLI) to run it" };
  }
  const context = { vars: ctx.vars ?? {}, latencyMs: ctx.latencyMs, ...(ctx.extra ?? {}) };
  const output = ctx.outputValue !== undefined ? ctx.outputValue : input.output;
  const r = await runPython(pythonScript(String(input.value)), output, JSON.parse(JSON.stringify(context)) as Record<string, unknown>, ctx.pythonTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  if ("error" in r) return { pass: false, score: 0, message: `Python code execution failed: ${r.error}` };
  try {
    return normalizePythonResult(r.value, input.inverse, input.assertion.threshold);
  } catch (e) {
    return { pass: false, score: 0, message: `Python code execution failed: ${(e as Error).message}` };
  }
}

export const pythonHandler: Handler = { kind: "context", evaluate: python };
