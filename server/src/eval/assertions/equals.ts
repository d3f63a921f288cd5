// equals (promptfoo's src/assertions/equals.ts): a mapping or list value (null too) is compared
// with the output parsed as JSON, deeply and strictly; anything else as text.
import { isDeepStrictEqual } from "node:util";
import { quote, verdict, type Handler } from "./types";

export const equalsHandler: Handler = {
  kind: "inline",
  evaluate: ({ value, output, inverse }) => {
    if (typeof value === "object") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(output);
      } catch {
        return verdict(false, inverse, `be JSON equal to ${JSON.stringify(value)}`, "the output is not JSON");
      }
      return verdict(isDeepStrictEqual(value, parsed), inverse, `be JSON equal to ${JSON.stringify(value)}`, `got ${quote(output)}`);
    }
    return verdict(String(value) === output, inverse, `equal ${quote(String(value))}`, `got ${quote(output)}`);
  },
};
