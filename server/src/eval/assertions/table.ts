// Every assertion type's handler, one entry per type: a type without one fails to compile. The
// value rules for each type live beside the checker (artifacts/assertions/specs.ts, the same keys).
//
// Adding a type: its name in ASSERTION_TYPES (artifacts/assertions/types.ts); its value rules,
// hover text and any extra keys it reads in ASSERTION_SPECS (specs.ts), which `check` and the
// evaluator both apply; its handler here, in a file of its own. A handler that needs something the
// run supplies (an engine, a grader model, embeddings) is a `context` handler: it reads it from the
// AssertionContext (./types.ts), may be async, and throws AssertionRuntimeError when it cannot
// judge (the case becomes an error). Give it promptfoo's semantics, and pairs in
// test/differential/pairs.ts that prove it.
import type { AssertionType } from "../../artifacts/assertions";
import { containsHandlers } from "./contains";
import { equalsHandler } from "./equals";
import { javascriptHandler } from "./javascript";
import { jsonHandlers } from "./json";
import { latencyHandler } from "./latency";
import { levenshteinHandler } from "./levenshtein";
import { regexHandler } from "./regex";
import { similarHandlers } from "./similar";
import { startsWithHandler } from "./starts-with";
import type { Handler } from "./types";
import { wordCountHandler } from "./word-count";

export const HANDLERS: Record<AssertionType, Handler> = {
  equals: equalsHandler,
  ...containsHandlers,
  "starts-with": startsWithHandler,
  regex: regexHandler,
  ...jsonHandlers,
  levenshtein: levenshteinHandler,
  "word-count": wordCountHandler,
  latency: latencyHandler,
  ...similarHandlers,
  javascript: javascriptHandler,
};
