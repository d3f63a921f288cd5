// driftlens.yaml's `providers:` map: the providers adopted files name (promptfoo provider ids such
// as `openai:gpt-4o-mini`, `.prompt.yml` models such as `openai/gpt-4o`, Prompty model ids or
// deployment names) → the local variant that stands in for each. `--variant` overrides it.
import type { Range } from "../types";
import { rangeFor, type YamlSource } from "../yaml-source";

export interface ProviderEntry {
  /** The variant ref as written (`tiny/f32`, `qwen/q4_k_m+formal@0.5`). */
  variant: string;
  /** Range of the value (the variant). */
  range?: Range;
  /** Range of the key (the provider id). */
  keyRange?: Range;
}

export type ProviderMap = Record<string, ProviderEntry>;

export function providerMap(parsed: Record<string, string> | undefined, src: YamlSource | undefined): ProviderMap {
  const out: ProviderMap = {};
  for (const [id, variant] of Object.entries(parsed ?? {})) {
    out[id] = { variant: variant.trim(), ...(src ? { range: rangeFor(src, ["providers", id]), keyRange: rangeFor(src, ["providers", id], "key") } : {}) };
  }
  return out;
}

/** The variant a provider maps to: by its id, else by its label (promptfoo providers have labels). */
export function mappedVariant(map: ProviderMap, id: string, label?: string): string | undefined {
  return map[id]?.variant ?? (label !== undefined ? map[label]?.variant : undefined);
}

/** Marker for an unmapped provider among a prompt's variant refs; resolving it fails with the fix. */
export const UNMAPPED_PREFIX = "provider:";

export function unmappedRef(id: string): string {
  return `${UNMAPPED_PREFIX}${id}`;
}

/** The message for an eval of an unmapped provider: what to add to driftlens.yaml. */
export function unmappedMessage(id: string, file: string): string {
  return `provider '${id}' of ${file} is not mapped to a local variant: add it to driftlens.yaml as\n  providers:\n    ${JSON.stringify(id)}: family/variant\nor pass --variant`;
}
