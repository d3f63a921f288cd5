// The endpoint check diagnostics and hovers use (Workspace's `checkEndpoint` option): one fresh
// probe with a short time limit, and whether the endpoint can apply the spec's adapters.
import type { EndpointCheck } from "../types";
import { adapterProblems } from "./generate";
import { RemoteError } from "./http";
import { probeEndpoint } from "./probe";

export const checkEndpoint: EndpointCheck = (url, spec, timeoutMs) =>
  probeEndpoint(url, spec, { fresh: true, timeoutMs }).then(
    (info) => ({ url, info, adapterProblems: adapterProblems(info, spec.adapters) }),
    (e: unknown) => ({ url, error: e instanceof Error ? e.message : String(e), wrongModel: e instanceof RemoteError && e.kind === "client", adapterProblems: [] }),
  );
