// regex (promptfoo's src/assertions/regex.ts): `new RegExp(value)`, no flags, matched anywhere.
// Bounded: a pattern with nested repetition can backtrack for longer than anyone waits, so it
// runs in the pattern worker under a time limit (./bounded.ts).
import { verdict, type Handler } from "./types";

export const regexHandler: Handler = {
  kind: "bounded",
  activity: "matching the regular expression",
  evaluate: ({ value, output, inverse }) => verdict(new RegExp(String(value)).test(output), inverse, `match /${String(value)}/`),
};
