// Per-endpoint lines of a served variant's run report (`endpoints: [{url, cases, failed, error}]`).
import type { RemoteIdentity } from "./probe";
import type { EndpointReport } from "./scheduler";

export type { EndpointReport } from "./scheduler";

/** Endpoints as a probe found them, before any case ran: live ones with 0 cases, dead ones failed. */
export function servedEndpointReports(id: RemoteIdentity): EndpointReport[] {
  return [...id.live.map((i) => ({ url: i.url, cases: 0, failed: false, error: null, retries: 0 })), ...id.dead.map((d) => ({ url: d.url, cases: 0, failed: true, error: d.error, retries: 0 }))];
}

/** The endpoint reports a RoutingEngine batch returned, if it ran on endpoints. */
export function endpointsOf(batch: unknown): EndpointReport[] | undefined {
  const eps = (batch as { endpoints?: unknown } | undefined)?.endpoints;
  return Array.isArray(eps) ? (eps as EndpointReport[]) : undefined;
}
