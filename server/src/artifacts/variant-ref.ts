// Variant references: `family/variant` plus zero or more adapters with scales,
// e.g. `tiny/q4_0`, `tiny/f16+formal@0.5+concise@0.25`. Adapters are named by the basename of
// their `*.adapter.yaml` file.

export interface VariantRefAdapter {
  name: string;
  /** Scale given in the ref; undefined means the adapter config's own `scale`. */
  scale?: number;
}

export interface VariantRef {
  family: string;
  variant: string;
  adapters: VariantRefAdapter[];
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Parses a variant ref; returns an error message instead of throwing. */
export function tryParseVariantRef(ref: string): { ref: VariantRef } | { error: string } {
  const text = ref.trim();
  const [head, ...rest] = text.split("+");
  const slash = (head ?? "").indexOf("/");
  if (!head || slash <= 0 || slash === head.length - 1) {
    return { error: `'${ref}' is not a variant ref: write family/variant, e.g. tiny/q4_0 or tiny/f16+formal@0.5` };
  }
  const family = head.slice(0, slash);
  const variant = head.slice(slash + 1);
  if (!NAME.test(family)) return { error: `'${family}' is not a valid family name in '${ref}' (letters, digits, '_', '.', '-')` };
  if (!NAME.test(variant)) return { error: `'${variant}' is not a valid variant name in '${ref}' (letters, digits, '_', '.', '-')` };
  const adapters: VariantRefAdapter[] = [];
  for (const part of rest) {
    const at = part.lastIndexOf("@");
    const name = at >= 0 ? part.slice(0, at) : part;
    if (!NAME.test(name)) return { error: `'${part}' is not an adapter in '${ref}': write +name or +name@scale` };
    if (at >= 0) {
      const s = part.slice(at + 1);
      const scale = Number(s);
      if (s === "" || !Number.isFinite(scale)) return { error: `adapter scale '${s}' in '${ref}' is not a number` };
      adapters.push({ name, scale });
    } else adapters.push({ name });
  }
  return { ref: { family, variant, adapters } };
}

/** Parses a variant ref; throws an Error with a clear message when it is malformed. */
export function parseVariantRef(ref: string): VariantRef {
  const r = tryParseVariantRef(ref);
  if ("error" in r) throw new Error(r.error);
  return r.ref;
}

/** Canonical text of a ref (scales printed only where given). */
export function formatVariantRef(ref: VariantRef): string {
  return `${ref.family}/${ref.variant}${ref.adapters.map((a) => `+${a.name}${a.scale === undefined ? "" : `@${a.scale}`}`).join("")}`;
}
