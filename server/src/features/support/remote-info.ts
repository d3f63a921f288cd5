// Hover markdown for a served variant: what its endpoints report (server kind, model id, context
// length, slots, build, prompt format, LoRA adapters) or why one did not answer. Everything a
// server says is untrusted text: escaped before it reaches markdown.
import type { RemoteVariantStatus } from "../../artifacts/remote-checks";
import type { ResolvedVariant } from "../../artifacts/workspace";
import { templateFor } from "../../llm/remote/probe";

/** Escapes text for a markdown table cell (no links, no HTML, no emphasis from a server's strings). */
export function mdText(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ").slice(0, 300);
}

export function remoteMarkdown(v: ResolvedVariant, st: RemoteVariantStatus | undefined): string {
  const r = v.remote!;
  const title = `**${mdText(v.id)}**${v.isReference ? " (reference)" : ` (reference: ${mdText(v.referenceId)})`}: served model`;
  const rows: [string, string][] = [];
  if (r.model) rows.push(["model", mdText(r.model)]);
  rows.push(["endpoints", r.endpoints.map(mdText).join(", ")]);
  if (r.concurrency !== undefined) rows.push(["concurrency", `${r.concurrency} per endpoint`]);
  if (r.revision !== undefined) rows.push(["revision", mdText(r.revision)]);
  if (r.apiKeyEnv) rows.push(["API key", `from $${mdText(r.apiKeyEnv)} (${process.env[r.apiKeyEnv] ? "set" : "not set"})`]);
  if (r.adapters.length) rows.push(["adapters", r.adapters.map((a) => `${mdText(a.name)} @ ${a.scale}`).join(", ")]);
  const parts = [`${title}\n\n| | |\n|---|---|\n${rows.map(([k, x]) => `| ${k} | ${x} |`).join("\n")}`];
  if (!st) {
    parts.push("_The endpoints are not asked in a restricted workspace (nothing is sent anywhere); trust the workspace to see what they serve._");
    return parts.join("\n\n");
  }
  for (const e of st.endpoints) {
    if (!e.info) {
      parts.push(`\`${mdText(e.url)}\`: **does not answer**: ${mdText(e.error ?? "unknown error")}`);
      continue;
    }
    const i = e.info;
    const facts: [string, string][] = [
      ["server", i.kind],
      ["model id", mdText(i.model)],
      ["context length", i.contextLength !== undefined ? i.contextLength.toLocaleString("en-US") : "not reported"],
      ["slots", i.slots !== undefined ? String(i.slots) : r.concurrency !== undefined ? `not reported (concurrency ${r.concurrency})` : "not reported (concurrency 4)"],
      ["build", i.build ? mdText(i.build) : "not reported"],
      ["prompt format", templateFor(r, i) === "chat" ? "chat completions (the server applies the chat template)" : "plain text, as the local engine builds it (no chat template)"],
    ];
    if (i.loraAdapters?.length) facts.push(["LoRA adapters", i.loraAdapters.map((a) => mdText(a.path.split(/[\\/]/).pop() ?? a.path)).join(", ")]);
    parts.push(`\`${mdText(i.url)}\`\n\n| | |\n|---|---|\n${facts.map(([k, x]) => `| ${k} | ${x} |`).join("\n")}`);
  }
  if (st.mismatch) parts.push(`⚠ ${mdText(st.mismatch)}`);
  for (const p of st.adapterProblems) parts.push(`⚠ ${mdText(p)}`);
  return parts.join("\n\n");
}
