// latency (promptfoo's src/assertions/latency.ts): generation wall time against `threshold` ms.
import { AssertionRuntimeError, type Handler } from "./types";

export const latencyHandler: Handler = {
  kind: "context",
  evaluate: ({ assertion, inverse }, ctx) => {
    const max = assertion.threshold!;
    // promptfoo refuses to judge an output without a measured latency; so does Driftlens (its own
    // cached results keep the time measured when they were generated).
    if (ctx.latencyMs === undefined) throw new AssertionRuntimeError("no latency was measured for this output, so 'latency' cannot judge it");
    const ok = ctx.latencyMs <= max;
    const pass = ok !== inverse;
    return { pass, score: pass ? 1 : 0, message: `latency ${Math.round(ctx.latencyMs)} ms ${ok ? "≤" : ">"} ${max} ms` };
  },
};
