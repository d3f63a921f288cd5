// Every assertion type's handler, one entry per type: a type without one fails to compile. The
// value rules for each type live beside the checker (artifacts/assertions/specs.ts, the same keys).
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
