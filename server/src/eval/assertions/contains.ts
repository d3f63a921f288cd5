// contains, icontains, contains-any, contains-all, icontains-any, icontains-all (promptfoo's
// src/assertions/contains.ts): values are compared as text (String(item)); a comma-separated
// string is split by promptfoo's CSV rules (artifacts/assertions/csv.ts).
import { listItems } from "../../artifacts/assertions";
import { quote, verdict, type Handler, type HandlerInput } from "./types";

function contains(ignoreCase: boolean): Handler {
  return {
    kind: "inline",
    evaluate: ({ value, output, inverse }) => {
      const v = String(value);
      const holds = ignoreCase ? output.toLowerCase().includes(v.toLowerCase()) : output.includes(v);
      return verdict(holds, inverse, `contain ${quote(v)}`);
    },
  };
}

function items(input: HandlerInput): string[] {
  return (listItems(input.value).items ?? []).map((x) => String(x));
}

function containsSome(ignoreCase: boolean, all: boolean): Handler {
  return {
    kind: "inline",
    evaluate: (input) => {
      const list = items(input);
      const hay = ignoreCase ? input.output.toLowerCase() : input.output;
      const has = (s: string) => hay.includes(ignoreCase ? s.toLowerCase() : s);
      if (!all) return verdict(list.some(has), input.inverse, `contain one of ${JSON.stringify(list)}`);
      const missing = list.filter((s) => !has(s));
      return verdict(missing.length === 0, input.inverse, `contain all of ${JSON.stringify(list)}`, missing.length ? `missing ${JSON.stringify(missing)}` : "");
    },
  };
}

export const containsHandlers = {
  contains: contains(false),
  icontains: contains(true),
  "contains-any": containsSome(false, false),
  "contains-all": containsSome(false, true),
  "icontains-any": containsSome(true, false),
  "icontains-all": containsSome(true, true),
} satisfies Record<string, Handler>;
