// starts-with (promptfoo's src/assertions/startsWith.ts).
import { quote, verdict, type Handler } from "./types";

export const startsWithHandler: Handler = {
  kind: "inline",
  evaluate: ({ value, output, inverse }) => verdict(output.startsWith(String(value)), inverse, `start with ${quote(String(value))}`),
};
