// is-json, json-schema and contains-json (promptfoo's src/assertions/json.ts). Bounded: schema
// validation runs user patterns (`pattern`, `patternProperties`) and the JSON search of
// contains-json is quadratic on adversarial text, so all three run in the pattern worker.
import { compileSchema, loadYaml, schemaErrorsText } from "../../artifacts/assertions";
import type { ValidateFunction } from "ajv";
import { type Handler, type HandlerInput, type Verdict } from "./types";

/** The compiled schema of a checked value (prepareAssertion already refused one that does not compile). */
function validatorFor(value: unknown): { validate: ValidateFunction; errors: () => string } {
  const r = compileSchema(value);
  if (!r.ok) throw new Error(r.error);
  return { validate: r.validate, errors: () => schemaErrorsText(r.validate, r.draft) };
}

function isJson({ value, output, inverse }: HandlerInput): Verdict {
  let parsed: unknown;
  let ok = true;
  try {
    parsed = JSON.parse(output);
  } catch {
    ok = false;
  }
  if (ok && value) {
    const v = validatorFor(value);
    const valid = v.validate(parsed);
    const pass = valid !== inverse;
    if (!pass) return { pass, score: 0, message: inverse ? "expected output to not be JSON matching the schema" : `the output is JSON that does not match the schema: ${v.errors()}` };
    return { pass, score: 1, message: "" };
  }
  const pass = ok !== inverse;
  return { pass, score: pass ? 1 : 0, message: pass ? "" : inverse ? "expected output to not be valid JSON" : "expected output to be valid JSON" };
}

/**
 * Turns `//` comments into YAML `#` comments, line by line, outside quoted strings and except in
 * URLs, the way promptfoo's convertSlashCommentsToHash does before it reads a candidate object.
 */
function slashCommentsToHash(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      let mode: "text" | "single" | "double" = "text";
      let out = "";
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        const prev = i > 0 ? line[i - 1]! : "";
        if (mode === "text") {
          if (c === "'" && !/[a-zA-Z]/.test(prev)) mode = "single";
          else if (c === '"') mode = "double";
          else if (c === "/" && line[i + 1] === "/") {
            let tokenStart = 0;
            for (let j = i - 1; j >= 0; j--) {
              if (/\s/.test(line[j]!)) {
                tokenStart = j + 1;
                break;
              }
            }
            if (line.slice(tokenStart, i + 2).includes("://")) {
              // Part of a URL: kept.
              out += c;
              continue;
            }
            let slashes = 2;
            while (i + slashes < line.length && line[i + slashes] === "/") slashes++;
            return out + "#".repeat(Math.floor(slashes / 2)) + line.slice(i + slashes);
          }
        } else if (mode === "single") {
          // String(undefined) at the end of a line contains letters: a quote there does not close (as in promptfoo).
          if (c === "'" && !escaped(line, i) && !/[a-zA-Z]/.test(String(line[i + 1]))) mode = "text";
        } else if (c === '"' && !escaped(line, i)) mode = "text";
        out += c;
      }
      return out;
    })
    .join("\n");
}

function escaped(line: string, at: number): boolean {
  let n = 0;
  for (let i = at - 1; i >= 0 && line[i] === "\\"; i--) n++;
  return n % 2 === 1;
}

const MAX_OBJECT_LENGTH = 100_000;

/**
 * The JSON objects in a text, as promptfoo's extractJsonObjects finds them: from each `{`, the
 * span up to its balancing `}` (braces counted without regard to strings; an unclosed span is
 * closed at the end of the text) read as YAML in JSON mode, `//` comments allowed; an object that
 * reads is taken and the search goes on after it. Objects inside a top-level list are found too;
 * a bare list or scalar is not an object.
 */
export function extractJsonObjects(text: string): object[] {
  const found: object[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "{") continue;
    let open = 1;
    let close = 0;
    let j = i + 1;
    const limit = Math.min(i + MAX_OBJECT_LENGTH, text.length);
    while (j < limit && open > close) {
      if (text[j] === "{") open++;
      if (text[j] === "}") close++;
      j++;
      if (open === close || j === text.length || j === i + MAX_OBJECT_LENGTH) {
        let candidate = text.slice(i, j);
        if (open > close) candidate += "}".repeat(open - close);
        try {
          const parsed = loadYaml(slashCommentsToHash(candidate), { json: true });
          if (typeof parsed === "object" && parsed !== null) {
            found.push(parsed);
            i = j - 1;
            break;
          }
        } catch {
          if (open === close) break;
        }
      }
    }
  }
  return found;
}

function containsJson({ value, output, inverse }: HandlerInput): Verdict {
  const objects = extractJsonObjects(output);
  let pass = inverse ? objects.length === 0 : objects.length > 0;
  let message = inverse ? "expected output to not contain a JSON object" : "expected output to contain a JSON object";
  if (value) {
    const v = objects.length ? validatorFor(value) : undefined;
    for (const o of objects) {
      const valid = v!.validate(o);
      pass = valid !== inverse;
      if (valid) {
        if (inverse) message = "expected output to not contain a JSON object matching the schema";
        break;
      }
      message = `no JSON object in the output matches the schema: ${v!.errors()}`;
    }
  }
  return { pass, score: pass ? 1 : 0, message: pass ? "" : message };
}

export const jsonHandlers = {
  "is-json": { kind: "bounded", activity: "validating the output against the JSON Schema", evaluate: isJson },
  // Driftlens's own name for is-json with a (required) schema.
  "json-schema": { kind: "bounded", activity: "validating the output against the JSON Schema", evaluate: isJson },
  "contains-json": { kind: "bounded", activity: "searching the output for JSON objects", evaluate: containsJson },
} satisfies Record<string, Handler>;
